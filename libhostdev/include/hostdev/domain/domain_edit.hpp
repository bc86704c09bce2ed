// Byte-preserving edits of a libvirt domain definition. Every edit is a
// textual splice into the original text; everything not touched by an edit
// (declaration, comments, attribute order, quotes, whitespace, line ends)
// stays exactly as written. New text follows the document's own style: its
// indentation step (tabs stay tabs), quote character and line ends.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/domain/domain.hpp"

namespace hostdev {

struct InjectedHostdev {
    PciAddress source;
    bool managed = false;                     // written explicitly as managed='yes' or 'no'
    std::optional<PciAddress> guest_address;  // <address type='pci' .../> when set
    bool guest_multifunction = false;         // multifunction='on' on that guest address
};

struct DomainEdits {
    // New <hostdev> elements, in this order, after the last existing <hostdev>
    // of <devices> (else at the end of <devices>). A source address that is
    // already a PCI hostdev or hostdev interface of the domain is not injected
    // again.
    std::vector<InjectedHostdev> inject;
    // Existing PCI hostdevs or hostdev interfaces (by source address) whose
    // guest <address> must carry multifunction='on'.
    std::vector<PciAddress> set_guest_multifunction;
    // Make <features><kvm><hidden state='on'/></kvm></features> true, creating
    // only what is missing.
    bool ensure_kvm_hidden = false;
    // The domain's device pins (domain.hpp, DevicePin) become exactly these, in
    // this order: the <hostdev:pins> element is written anew (in <metadata>,
    // created after <name>/<uuid>/<title>/<description> when missing); an
    // empty list removes it. nullopt leaves the pins as they are.
    std::optional<std::vector<DevicePin>> pins;
    // Each PCI hostdev or hostdev interface whose source is `from` gets the
    // source address `to` (its <source><address> attributes rewritten).
    struct SourceMove {
        PciAddress from, to;
    };
    std::vector<SourceMove> move_source;

    [[nodiscard]] bool empty() const {
        return inject.empty() && set_guest_multifunction.empty() && !ensure_kvm_hidden && !pins && move_source.empty();
    }
};

namespace detail {
struct ParsedDomain;
}

// A domain definition parsed once, with the checks of parse_domain_xml, for
// reading (domain()) and for editing (apply_domain_edits) without parsing the
// same text again. The text must outlive it.
class DomainDocument {
public:
    static Result<DomainDocument> parse(std::string_view text, std::string_view filename);
    DomainDocument(DomainDocument&&) noexcept;
    DomainDocument& operator=(DomainDocument&&) noexcept;
    ~DomainDocument();
    [[nodiscard]] const Domain& domain() const;
    [[nodiscard]] std::string_view text() const;  // the text it was parsed from
    // The exact text of the element of domain().passthrough[i], from its
    // start tag to its end tag ("" for an index out of range): what
    // virt-hostdev gives back to libvirt to plug a device in again.
    [[nodiscard]] std::string_view element_text(std::size_t i) const;
    [[nodiscard]] const detail::ParsedDomain& parsed() const { return *parsed_; }

private:
    explicit DomainDocument(std::unique_ptr<detail::ParsedDomain> parsed);
    std::unique_ptr<detail::ParsedDomain> parsed_;
};

// Applies `edits` to a parsed document; the same as below without a second parse.
Result<std::string> apply_domain_edits(const DomainDocument& document, const DomainEdits& edits,
                                       std::string_view filename);

// Applies `edits` to `original` (a domain definition, parsed with the checks of
// parse_domain_xml). Empty edits return `original` unchanged; applying the
// same edits to the result changes nothing. Errors: the input does not parse,
// or set_guest_multifunction names a hostdev that is absent or has no guest
// <address>.
Result<std::string> apply_domain_edits(std::string_view original, const DomainEdits& edits, std::string_view filename);

}  // namespace hostdev
