// Internal: a parsed domain definition with everything the editor needs to
// splice text into the original bytes (the pugixml tree for meaning, the
// skeleton for exact positions).
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "base/xml_scan.hpp"
#include "hostdev/domain/domain.hpp"

namespace hostdev::detail {

struct ParsedDomain {
    explicit ParsedDomain(std::string_view t) : text(t), lines(t) {}

    std::string_view text;  // the caller's buffer; must outlive this object
    LineIndex lines;
    XmlSkeleton skeleton;
    pugi::xml_document doc;
    Domain domain;
    // The element of each entry of domain.passthrough, same index.
    std::vector<pugi::xml_node> passthrough_nodes;
    // The <pins> element of hostdev's namespace in <metadata>, when there is one.
    pugi::xml_node pins_node;

    [[nodiscard]] int line_of(const pugi::xml_node& node) const;
    // The skeleton element of a pugixml element, or nullptr.
    [[nodiscard]] const ScanElement* element(const pugi::xml_node& node) const;
};

// The kind of libvirt document a file must be: its root element, and its name
// in messages ("file is UTF-16 encoded; domain definitions must be UTF-8").
struct DocumentKind {
    std::string_view root;  // "domain"
    std::string_view noun;  // "domain definition"
};
inline constexpr DocumentKind kDomainDocument{"domain", "domain definition"};
inline constexpr DocumentKind kNetworkDocument{"network", "network definition"};

// An attribute's value, nullopt when absent.
inline std::optional<std::string_view> attr_value(const pugi::xml_node& node, const char* name) {
    pugi::xml_attribute a = node.attribute(name);
    if (!a) return std::nullopt;
    return std::string_view(a.value());
}

// "FILE:LINE: what" (no line when line is 0).
Error error_at(std::string_view file, int line, std::string_view what);

// Loads a document under the hostile-input rules (size, encoding, no DTD,
// depth, well-formedness) and checks its root element; pd.domain is left
// untouched.
Status load_document(ParsedDomain& pd, std::string_view file, const DocumentKind& kind);

Result<std::unique_ptr<ParsedDomain>> parse_domain_document(std::string_view text, std::string_view filename);

}  // namespace hostdev::detail
