// The sibling policy (README "hostdev-fix", DESIGN "Sibling policy") in one
// place: for one device on a host, may it leave the host, must it leave for
// its IOMMU group to be viable, and why. Every user asks here: the planner
// (hostdev-fix, virt-hostdev, boot-config), the binder (detach and the hook,
// through the planner) and doctor's passthrough candidates.
//
//   device                                          departure   as a request
//   PCI bridge (class 0x0604/0x0609, header 1/2)     MayStay     refused: not assignable
//   platform function with no driver bound           MayStay     allowed
//   platform function with a driver bound            Blocked     refused (host-critical)
//   endpoint with a host role (root filesystem,      Blocked     refused (in use by the host)
//     default route, host keyboard)
//   mdev parent (mdev_supported_types/ present)      Blocked     refused (its mdevs are passed instead)
//   SR-IOV vGPU function with a vGPU type set         Blocked     refused (passed as a vGPU by its
//     (nvidia/current_vgpu_type nonzero)                          vendor driver)
//   SR-IOV physical function with VFs enabled         Blocked     refused (unbinding its driver removes
//     (virtfn links)                                              its VFs; sriov_numvfs=0 first)
//   any other endpoint (the boot display too)        Goes        allowed
#pragma once

#include <optional>
#include <string>

#include "hostdev/host/host.hpp"

namespace hostdev {

struct Departure {
    enum class Kind {
        Goes,     // an endpoint: it may leave, and its group is viable only when it does
        MayStay,  // the kernel lets it stay with the host (bridge, idle platform function)
        Blocked,  // it must not leave the host
    } kind = Kind::Goes;
    // Why, in the words of a group member's reason ("PCI bridge: the kernel
    // lets bridges stay with the host"); empty for Goes.
    std::string reason;
    // Can it be given to a guest when a domain asks for it? Bridges cannot.
    bool assignable = true;
};

Departure departure_of(const PciDevice& device);

// Why a device is left alone on purpose, when it is: the host serves it to
// guests in another way (an mdev parent's mediated devices, a vGPU function
// passed by its vendor driver), so it is never detached. nullopt otherwise.
std::optional<std::string> mediated_use(const PciDevice& device);

// Why a device a domain (or `hostdev detach`) asks for cannot leave the host,
// in a sentence that names it; nullopt when it may. The same rule as for a
// sibling: a bridge, a bound platform function or a device with a host role
// is refused.
std::optional<std::string> refusal_of_request(const PciDevice& device);

// A passthrough candidate for doctor's per-device checks: a device whose
// departure is Goes (an endpoint the host does not need; the boot display is
// one, single-GPU passthrough gives it away on purpose).
bool is_passthrough_candidate(const PciDevice& device);

}  // namespace hostdev
