#include "hostdev/host/host.hpp"

#include <algorithm>
#include <utility>

#include "hostdev/base/text.hpp"

namespace hostdev {

std::string_view to_string(HostRole role) {
    switch (role) {
        case HostRole::RootFilesystem: return "root-filesystem";
        case HostRole::DefaultRoute: return "default-route";
        case HostRole::HostKeyboard: return "host-keyboard";
        case HostRole::BootVga: return "boot-vga";
    }
    return "unknown";
}

std::optional<HostRole> host_role_from_string(std::string_view text) {
    for (auto r : {HostRole::RootFilesystem, HostRole::DefaultRoute, HostRole::HostKeyboard, HostRole::BootVga})
        if (to_string(r) == text) return r;
    return std::nullopt;
}

std::string_view describe(HostRole role) {
    switch (role) {
        case HostRole::RootFilesystem: return "controller of the root filesystem";
        case HostRole::DefaultRoute: return "network interface of the default route";
        case HostRole::HostKeyboard: return "USB controller with the host keyboard";
        case HostRole::BootVga: return "boot display (boot_vga)";
    }
    return "unknown role";
}

std::string_view to_string(DeviceKind kind) {
    switch (kind) {
        case DeviceKind::Bridge: return "bridge";
        case DeviceKind::Platform: return "platform";
        case DeviceKind::Endpoint: return "endpoint";
    }
    return "endpoint";
}

DeviceKind PciDevice::kind() const {
    const std::uint16_t id = class_id();
    using namespace pci_class;
    if (id == kBridgePci || id == kBridgePciSemiTransparent ||
        (header_type && (*header_type == kHeaderTypeBridge || *header_type == kHeaderTypeCardbus)))
        return DeviceKind::Bridge;
    if (id == kBridgeHost || id == kBridgeIsa || id == kMemoryRam || id == kMemoryOther || id == kSerialSmbus)
        return DeviceKind::Platform;
    return DeviceKind::Endpoint;
}

bool PciDevice::has_role(HostRole role) const { return std::find(roles.begin(), roles.end(), role) != roles.end(); }

const PciDevice* Host::find(const PciAddress& address) const {
    auto it = std::lower_bound(devices.begin(), devices.end(), address,
                               [](const PciDevice& d, const PciAddress& a) { return d.address < a; });
    return it != devices.end() && it->address == address ? &*it : nullptr;
}

PciDevice* Host::find(const PciAddress& address) { return const_cast<PciDevice*>(std::as_const(*this).find(address)); }

const IommuGroup* Host::group_of(const PciAddress& address) const {
    const PciDevice* d = find(address);
    if (!d || !d->iommu_group) return nullptr;
    auto it = groups.find(*d->iommu_group);
    return it == groups.end() ? nullptr : &it->second;
}

const PciDevice* Host::find_netdev(std::string_view netdev) const {
    for (const auto& d : devices)
        if (std::find(d.netdevs.begin(), d.netdevs.end(), netdev) != d.netdevs.end()) return &d;
    return nullptr;
}

std::vector<const PciDevice*> Host::ungrouped() const {
    std::vector<const PciDevice*> out;
    for (const auto& d : devices)
        if (!d.iommu_group) out.push_back(&d);
    return out;
}

void Host::normalize() {
    std::sort(devices.begin(), devices.end(),
              [](const PciDevice& a, const PciDevice& b) { return a.address < b.address; });
    for (auto& [n, g] : groups) g.members.clear();
    for (const auto& d : devices) {
        if (!d.iommu_group) continue;
        auto& g = groups[*d.iommu_group];
        g.number = *d.iommu_group;
        g.members.push_back(d.address);
    }
    for (auto& d : devices) {
        std::sort(d.roles.begin(), d.roles.end());
        d.roles.erase(std::unique(d.roles.begin(), d.roles.end()), d.roles.end());
        std::sort(d.virtfns.begin(), d.virtfns.end());
    }
}

DeviceIdentity identity_of(const PciDevice& d) {
    auto read = [&](IdentityField f) {
        return std::find(d.unread_identity.begin(), d.unread_identity.end(), f) == d.unread_identity.end();
    };
    DeviceIdentity id;
    if (read(IdentityField::Vendor)) id.vendor = d.vendor;
    if (read(IdentityField::Device)) id.device = d.device;
    if (read(IdentityField::Subsystem)) {
        id.subsystem_vendor = d.subsystem_vendor;
        id.subsystem_device = d.subsystem_device;
    }
    if (read(IdentityField::Class)) id.class_code = d.class_code;
    if (read(IdentityField::Revision)) id.revision = d.revision;
    if (read(IdentityField::SlotPath)) id.slot_path = slot_path(d.address, d.parent_bridges);
    if (read(IdentityField::Serial)) id.serials = d.serials;
    return id;
}

std::string describe_device(const PciDevice& d) {
    std::string name = d.vendor_name.empty() ? std::string() : d.vendor_name + " ";
    name += d.device_name.empty() ? "Device " + pci_ids(d.vendor, d.device) : d.device_name;
    std::string cls = d.class_name.empty() ? "Class" : d.class_name;
    return d.address.str() + " (" + cls + ": " + name + ")";
}

IommuVendorFacts iommu_vendor_facts(std::string_view cpu_vendor) {
    if (cpu_vendor == "GenuineIntel")
        return {"VT-d (\"Intel Virtualization Technology for Directed I/O\")", "intel_iommu"};
    if (cpu_vendor == "AuthenticAMD" || cpu_vendor == "HygonGenuine")
        return {"AMD-Vi (often called \"IOMMU\" or \"SVM/IOMMU\")", "amd_iommu"};
    return {"VT-d (Intel) or AMD-Vi (AMD)", ""};
}

std::string no_iommu_advice(const Host& host) {
    const IommuVendorFacts facts = iommu_vendor_facts(host.cpu_vendor);
    std::string s = "no IOMMU is active on this host, so no device can be passed through. Enable ";
    s += facts.firmware;
    s += " in the firmware setup, and add ";
    if (facts.param.empty())
        s += "intel_iommu=on (Intel) or amd_iommu=on (AMD), with iommu=pt,";
    else
        s += std::string(facts.param) + "=on iommu=pt";
    s += " to the kernel command line, then reboot.";
    return s;
}

}  // namespace hostdev
