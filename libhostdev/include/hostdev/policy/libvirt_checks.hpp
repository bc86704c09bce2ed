// Checks that only a libvirt connection can make, for virt-hostdev, next to
// the planner: the host uses libvirt shows below a function a domain takes,
// and domains of one connection competing for an IOMMU group. Values in,
// problems out; nothing links libvirt.
#pragma once

#include <string>
#include <vector>

#include "hostdev/host/nodedev.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

// Warnings for the functions a plan takes from the host (requested, covered or
// injected members) that carry host network interfaces or disks as libvirt
// shows them: libvirt cannot say whether the host needs them.
std::vector<Problem> host_use_problems(const Plan& plan, const LibvirtHost& host);

// What one domain of a connection assigns, for the checks across domains.
struct DomainAssignment {
    std::string name;
    bool autostart = false;
    std::vector<int> groups;            // IOMMU groups of its plan
    std::vector<PciAddress> ungrouped;  // requested devices with no known group
};
// The assignment of a judged domain: its plan's groups, and its requested
// devices that the host shows in no group.
DomainAssignment assignment_of(std::string name, bool autostart, const FixResult& result, const Host& host);

// Two domains assigning devices of one IOMMU group (or the same device, where
// no group is known) can never run at the same time: a warning for each. When
// both start automatically, the second fails at every host boot: an error for
// each. Returns one list of problems per domain, in input order.
std::vector<std::vector<Problem>> cross_domain_problems(const std::vector<DomainAssignment>& domains);

}  // namespace hostdev
