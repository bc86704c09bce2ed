#include "hostdev/policy/policy.hpp"

namespace hostdev {
namespace {

// Host roles that forbid a device leaving the host (the boot display only warns).
std::optional<HostRole> blocking_role(const PciDevice& d) {
    for (auto r : d.roles)
        if (r != HostRole::BootVga) return r;
    return std::nullopt;
}

}  // namespace

std::optional<std::string> mediated_use(const PciDevice& d) {
    if (d.mdev_parent)
        return "an mdev parent (mdev_supported_types): its mediated devices are passed to guests instead, and "
               "detaching it would destroy them";
    if (d.vgpu_type)
        return "a vGPU function with vGPU type " + std::to_string(*d.vgpu_type) + " set (nvidia/current_vgpu_type" +
               (d.driver ? ", served by " + *d.driver : std::string()) +
               "): the vendor driver passes it as a vGPU; clear the type (echo 0) to pass it through";
    return std::nullopt;
}

namespace {

// An SR-IOV physical function with virtual functions enabled: unbinding its
// driver disables SR-IOV (the PF driver's sriov_configure(0)), so every VF,
// the ones asked for among them, disappears from the host.
std::optional<std::string> enabled_vfs(const PciDevice& d) {
    if (d.virtfns.empty()) return std::nullopt;
    return "an SR-IOV physical function with " + std::to_string(d.virtfns.size()) + " virtual function" +
           (d.virtfns.size() == 1 ? "" : "s") + " enabled" + (d.driver ? " by " + *d.driver : std::string()) +
           ": taking it from its driver removes them; pass a VF from a group of its own (a port with ACS), or "
           "set sriov_numvfs to 0 to pass the PF itself";
}

}  // namespace

Departure departure_of(const PciDevice& d) {
    if (d.is_bridge())
        return {Departure::Kind::MayStay, "PCI bridge: the kernel lets bridges stay with the host", false};
    if (d.is_platform_function() && !d.driver)
        return {Departure::Kind::MayStay, "platform function with no driver bound", true};
    if (d.is_platform_function())
        return {Departure::Kind::Blocked,
                "platform function bound to " + *d.driver + ": host-critical, cannot leave the host", true};
    if (auto role = blocking_role(d))
        return {Departure::Kind::Blocked, "in use by the host: " + std::string(describe(*role)), true};
    if (auto why = mediated_use(d)) return {Departure::Kind::Blocked, "left alone on purpose: " + *why, true};
    if (auto why = enabled_vfs(d)) return {Departure::Kind::Blocked, *why, true};
    return {};
}

std::optional<std::string> refusal_of_request(const PciDevice& d) {
    if (d.is_bridge())
        return describe_device(d) +
               " is a PCI bridge: bridges cannot be assigned to a guest; assign the devices behind it";
    if (auto role = blocking_role(d))
        return describe_device(d) + " is needed by the host: " + std::string(describe(*role)) +
               "; assigning it would take it away from the host";
    if (auto why = mediated_use(d)) return describe_device(d) + " is left alone on purpose: it is " + *why;
    const Departure dep = departure_of(d);
    if (dep.kind == Departure::Kind::Blocked) return describe_device(d) + " cannot leave the host: " + dep.reason;
    return std::nullopt;
}

bool is_passthrough_candidate(const PciDevice& d) { return departure_of(d).kind == Departure::Kind::Goes; }

}  // namespace hostdev
