#include "hostdev/domain/network.hpp"

#include <memory>
#include <string>

#include "domain/domain_internal.hpp"

namespace hostdev {
namespace {

using detail::attr_value;
using detail::error_at;
using detail::ParsedDomain;

// One <address> of the pool. libvirt requires type='pci' on each and reads
// the numbers as it reads a hostdev's source address.
Result<NetworkPoolAddress> pool_address_of(const ParsedDomain& pd, const pugi::xml_node& a, std::string_view file) {
    NetworkPoolAddress p;
    p.line = pd.line_of(a);
    auto type = attr_value(a, "type");
    if (!type) return error_at(file, p.line, "<forward><address> has no type (libvirt requires type='pci')");
    if (*type != "pci")
        return error_at(file, p.line, "<forward><address type='" + std::string(*type) + "'> is not a PCI address");
    auto addr = PciAddress::from_libvirt(attr_value(a, "domain"), attr_value(a, "bus"), attr_value(a, "slot"),
                                         attr_value(a, "function"));
    if (!addr) return error_at(file, p.line, "<forward><address>: " + addr.error().message);
    p.address = *addr;
    return p;
}

// <forward>: its mode, managed, and the pool.
Status read_forward(const ParsedDomain& pd, const pugi::xml_node& fwd, Network& n, std::string_view file) {
    n.forward_line = pd.line_of(fwd);
    n.forward_mode = std::string(attr_value(fwd, "mode").value_or(""));
    if (auto managed = attr_value(fwd, "managed")) {
        if (*managed == "yes")
            n.managed = true;
        else if (*managed != "no")
            return error_at(file, n.forward_line, "managed='" + std::string(*managed) + "' must be 'yes' or 'no'");
    }
    for (pugi::xml_node c : fwd.children()) {
        if (c.type() != pugi::node_element) continue;
        const std::string_view name = c.name();
        if (name == "pf") {
            auto dev = attr_value(c, "dev");
            if (!dev || dev->empty()) return error_at(file, pd.line_of(c), "<pf> has no dev attribute");
            n.pfs.push_back(NetworkPf{std::string(*dev), pd.line_of(c)});
        } else if (name == "address") {
            auto a = pool_address_of(pd, c, file);
            if (!a) return a.error();
            n.addresses.push_back(*a);
        }
    }
    return ok_status();
}

}  // namespace

Result<Network> parse_network_xml(std::string_view text, std::string_view filename) {
    ParsedDomain pd(text);
    HOSTDEV_TRY(detail::load_document(pd, filename, detail::kNetworkDocument));
    pugi::xml_node root = pd.doc.document_element();
    Network n;
    n.name = root.child("name").text().get();
    if (pugi::xml_node fwd = root.child("forward")) HOSTDEV_TRY(read_forward(pd, fwd, n, filename));
    return n;
}

}  // namespace hostdev
