// The parts of a libvirt network definition that hostdev reads: its name and
// how it forwards, and for <forward mode='hostdev'> its pool of PCI devices.
// libvirt gives a domain's <interface type='network'> a free device of the
// pool when the domain starts. The pool is either the SR-IOV virtual
// functions of one PF network interface, or a list of PCI addresses:
//   <network>
//     <name>sriov-pool</name>
//     <forward mode='hostdev' managed='yes'>
//       <pf dev='enp3s0f0'/>
//       <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/>
//     </forward>
//   </network>
// Read under the same hostile-input rules as a domain definition (no DTD, no
// entities, bounded size and depth, UTF-8 only); errors name the file and line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev {

struct NetworkPf {
    std::string dev;  // <pf dev='...'/>: a network interface name on the host
    int line = 0;
};

struct NetworkPoolAddress {
    PciAddress address;  // <address type='pci' .../> child of <forward>, read as libvirt reads it
    int line = 0;
};

struct Network {
    std::string name;                         // <name>
    std::optional<std::string> forward_mode;  // <forward mode=...>; "" without mode, nullopt without <forward>
    bool managed = false;                     // <forward managed='yes'>
    std::vector<NetworkPf> pfs;
    std::vector<NetworkPoolAddress> addresses;
    int forward_line = 0;  // line of <forward>, 0 without one

    // <forward mode='hostdev'>: its interfaces are PCI devices from the pool.
    [[nodiscard]] bool is_hostdev() const { return forward_mode == "hostdev"; }
};

// Parses a network definition. Errors read "FILE:LINE: what is wrong" where a
// line is known, "FILE: what is wrong" otherwise.
Result<Network> parse_network_xml(std::string_view text, std::string_view filename);

}  // namespace hostdev
