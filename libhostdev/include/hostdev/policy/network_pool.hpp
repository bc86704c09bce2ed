// A domain's hostdev networks, judged on a host. An <interface type='network'>
// on a network with <forward mode='hostdev'> gets a free device of the
// network's pool when the domain starts (libvirt, qemuProcessPrepareHost),
// and libvirt detaches that one device only. Each pool device is judged as a
// possible assignment by the one sibling policy (policy.hpp, departure_of):
//   no pool at all, a pool device absent, a pf dev that is no
//     interface on the host, or a PF without virtual functions    error
//   pool device that may not be assigned (a bridge, a device the
//     host needs, no IOMMU group)                                  error
//   another member of its IOMMU group that must not leave the host error
//     (libvirt may pick this device: that start cannot succeed)
//   another endpoint of its group on a host driver                 warning
//     (the hostdev hook moves it to vfio-pci at "start begin", when the
//     XML names the device libvirt picked, and returns it at release;
//     without the hook QEMU refuses the group as not viable)
//   a network the caller did not give                              note
// Bridges, idle platform functions and unbound or vfio-pci endpoints keep a
// group viable and say nothing.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/network.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

// Network definitions by name.
using Networks = std::map<std::string, Network, std::less<>>;

// Adds a definition read from `file`; a definition without a name, or a
// second one of a name, is an error naming the file.
Status add_network(Networks& networks, Network network, std::string_view file);

// The problems of every hostdev network `domain` uses (each network once, in
// the order its first interface appears). A network not in `networks` is a
// note that ends with `not_given_hint` ("pass --network FILE").
std::vector<Problem> judge_network_pools(const Domain& domain, const Networks& networks, const Host& host,
                                         std::string_view not_given_hint);

}  // namespace hostdev
