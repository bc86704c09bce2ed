#include "hostdev/base/identity.hpp"

#include "hostdev/base/text.hpp"

namespace hostdev {

std::string_view to_string(IdentityField field) {
    switch (field) {
        case IdentityField::Vendor: return "vendor";
        case IdentityField::Device: return "device";
        case IdentityField::Subsystem: return "subsystem";
        case IdentityField::Class: return "class";
        case IdentityField::Revision: return "revision";
        case IdentityField::SlotPath: return "slot path";
        case IdentityField::Serial: return "serial";
    }
    return "serial";
}

std::string slot_path(const PciAddress& device, const std::vector<PciAddress>& parents_nearest_first) {
    const PciAddress& top = parents_nearest_first.empty() ? device : parents_nearest_first.back();
    std::string s = hex(top.domain, 4) + ":" + hex(top.bus, 2);
    auto hop = [&](const PciAddress& a) { s += "/" + hex(a.slot, 2) + "." + hex(a.function, 1); };
    for (auto it = parents_nearest_first.rbegin(); it != parents_nearest_first.rend(); ++it) hop(*it);
    hop(device);
    return s;
}

namespace {

// The serials of both sides, kind by kind.
struct SerialPairs {
    int known_on_both = 0;
    int equal = 0;
};
SerialPairs serial_pairs(const DeviceSerials& a, const DeviceSerials& b) {
    SerialPairs p;
    auto one = [&](const std::optional<std::string>& x, const std::optional<std::string>& y) {
        if (!x || !y) return;
        ++p.known_on_both;
        if (*x == *y) ++p.equal;
    };
    one(a.dsn, b.dsn);
    one(a.nvme, b.nvme);
    one(a.mac, b.mac);
    return p;
}

template <typename T>
void compare_field(const std::optional<T>& pinned, const std::optional<T>& actual, IdentityField field,
                   IdentityComparison& out) {
    if (!pinned) return;
    if (!actual)
        out.not_compared.push_back(field);
    else if (*pinned != *actual)
        out.differ.push_back(field);
}

template <typename T>
bool agrees(const std::optional<T>& a, const std::optional<T>& b) {
    return !a || !b || *a == *b;
}

}  // namespace

IdentityComparison compare_identity(const DeviceIdentity& pinned, const DeviceIdentity& actual) {
    IdentityComparison out;
    compare_field(pinned.vendor, actual.vendor, IdentityField::Vendor, out);
    compare_field(pinned.device, actual.device, IdentityField::Device, out);
    if (pinned.subsystem_vendor || pinned.subsystem_device) {
        if (!actual.subsystem_vendor || !actual.subsystem_device)
            out.not_compared.push_back(IdentityField::Subsystem);
        else if (pinned.subsystem_vendor != actual.subsystem_vendor ||
                 pinned.subsystem_device != actual.subsystem_device)
            out.differ.push_back(IdentityField::Subsystem);
    }
    compare_field(pinned.class_code, actual.class_code, IdentityField::Class, out);
    compare_field(pinned.revision, actual.revision, IdentityField::Revision, out);
    compare_field(pinned.slot_path, actual.slot_path, IdentityField::SlotPath, out);
    if (!pinned.serials.empty()) {
        SerialPairs p = serial_pairs(pinned.serials, actual.serials);
        if (p.known_on_both == 0)
            out.not_compared.push_back(IdentityField::Serial);
        else if (p.equal != p.known_on_both)
            out.differ.push_back(IdentityField::Serial);
    }
    return out;
}

bool same_model(const DeviceIdentity& pinned, const DeviceIdentity& actual) {
    return agrees(pinned.vendor, actual.vendor) && agrees(pinned.device, actual.device) &&
           agrees(pinned.subsystem_vendor, actual.subsystem_vendor) &&
           agrees(pinned.subsystem_device, actual.subsystem_device) && agrees(pinned.class_code, actual.class_code);
}

bool same_serial(const DeviceIdentity& pinned, const DeviceIdentity& actual) {
    SerialPairs p = serial_pairs(pinned.serials, actual.serials);
    return p.known_on_both > 0 && p.equal == p.known_on_both;
}

std::string identity_value(const DeviceIdentity& id, IdentityField field) {
    const std::string unknown = "unknown";
    switch (field) {
        case IdentityField::Vendor: return id.vendor ? hex(*id.vendor, 4) : unknown;
        case IdentityField::Device: return id.device ? hex(*id.device, 4) : unknown;
        case IdentityField::Subsystem:
            return id.subsystem_vendor && id.subsystem_device ? pci_ids(*id.subsystem_vendor, *id.subsystem_device)
                                                              : unknown;
        case IdentityField::Class: return id.class_code ? hex(*id.class_code, 6) : unknown;
        case IdentityField::Revision: return id.revision ? hex(*id.revision, 2) : unknown;
        case IdentityField::SlotPath: return id.slot_path.value_or(unknown);
        case IdentityField::Serial: {
            std::vector<std::string> s;
            if (id.serials.dsn) s.push_back("dsn " + *id.serials.dsn);
            if (id.serials.nvme) s.push_back("nvme serial " + *id.serials.nvme);
            if (id.serials.mac) s.push_back("mac " + *id.serials.mac);
            return s.empty() ? unknown : join(s, ", ");
        }
    }
    return unknown;
}

std::string describe_identity(const DeviceIdentity& id) {
    std::vector<std::string> parts;
    if (id.vendor || id.device)
        parts.push_back(identity_value(id, IdentityField::Vendor) + ":" + identity_value(id, IdentityField::Device));
    if (id.subsystem_vendor && id.subsystem_device)
        parts.push_back("subsystem " + identity_value(id, IdentityField::Subsystem));
    if (id.class_code) parts.push_back("class " + identity_value(id, IdentityField::Class));
    if (id.revision) parts.push_back("rev " + identity_value(id, IdentityField::Revision));
    if (id.slot_path) parts.push_back("slot path " + *id.slot_path);
    if (!id.serials.empty()) parts.push_back(identity_value(id, IdentityField::Serial));
    return join(parts, " ");
}

}  // namespace hostdev
