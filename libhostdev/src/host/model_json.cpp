#include "host/model_json.hpp"

#include <cstdio>
#include <limits>

#include "hostdev/base/json_reader.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev::json_model {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

template <class T>
ordered_json opt(const std::optional<T>& v) {
    return v ? ordered_json(*v) : ordered_json(nullptr);
}

// Linux's largest NUMA node count is 1 << 10; this leaves room and refuses nonsense.
constexpr std::int64_t kMaxNumaNode = 1 << 16;

ordered_json addresses(const std::vector<PciAddress>& v) {
    ordered_json a = ordered_json::array();
    for (const auto& x : v) a.push_back(x.str());
    return a;
}

using hostdev::json::Need;

// Typed readers over json::Fields for the model's own spellings; each records
// the first error ("host.json: devices[3].vendor: expected a hexadecimal string").
std::optional<std::uint32_t> hex_field(hostdev::json::Fields& f, std::string_view key, std::uint32_t max, Need need) {
    const json* v = f.get(key);
    if (!v) {
        if (need == Need::Required) f.fail(key, "missing (expected a hexadecimal string)");
        return std::nullopt;
    }
    if (!v->is_string()) {
        f.fail(key, "expected a hexadecimal string");
        return std::nullopt;
    }
    auto r = parse::sysfs_hex(v->get<std::string>(), max);
    if (!r) {
        f.fail(key, "expected a hexadecimal string up to " + hex(max, 1) + ": " + r.error().message);
        return std::nullopt;
    }
    return *r;
}

std::optional<PciAddress> address_of(hostdev::json::Fields& f, std::string_view key, std::string_view text) {
    auto a = PciAddress::parse(text);
    if (!a) {
        f.fail(key, a.error().message);
        return std::nullopt;
    }
    return *a;
}

std::optional<PciAddress> address_field(hostdev::json::Fields& f, std::string_view key, Need need) {
    auto s = f.string(key, need);
    return s ? address_of(f, key, *s) : std::nullopt;
}

std::vector<PciAddress> address_list(hostdev::json::Fields& f, std::string_view key) {
    std::vector<PciAddress> out;
    for (const auto& s : f.strings(key).value_or(std::vector<std::string>{})) {
        auto a = address_of(f, key, s);
        if (!a) break;
        out.push_back(*a);
    }
    return out;
}

std::optional<int> int_field(hostdev::json::Fields& f, std::string_view key, std::int64_t min, std::int64_t max) {
    auto n = f.integer(key, min, max);
    return n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
}

}  // namespace

ordered_json device(const PciDevice& d) {
    ordered_json j;
    j["address"] = d.address.str();
    j["vendor"] = hex(d.vendor, 4);
    j["device"] = hex(d.device, 4);
    j["class"] = pci_class_code(d.class_code);
    j["driver"] = opt(d.driver);
    // null where the source does not show them (node devices): unknown, never 0.
    const DeviceIdentity id = identity_of(d);
    auto hex_or_null = [](const auto& v, int width) {
        return v ? ordered_json(hex(static_cast<unsigned>(*v), width)) : ordered_json(nullptr);
    };
    j["subsystem_vendor"] = hex_or_null(id.subsystem_vendor, 4);
    j["subsystem_device"] = hex_or_null(id.subsystem_device, 4);
    j["revision"] = hex_or_null(id.revision, 2);
    j["header_type"] = d.header_type ? ordered_json(int{*d.header_type}) : ordered_json(nullptr);
    j["kind"] = std::string(to_string(d.kind()));
    j["vendor_name"] = d.vendor_name;
    j["device_name"] = d.device_name;
    j["class_name"] = d.class_name;
    j["driver_override"] = opt(d.driver_override);
    j["iommu_group"] = opt(d.iommu_group);
    j["boot_vga"] = opt(d.boot_vga);
    j["reset_methods"] = opt(d.reset_methods);
    j["physfn"] = d.physfn ? ordered_json(d.physfn->str()) : ordered_json(nullptr);
    j["virtfns"] = addresses(d.virtfns);
    if (!d.netdevs.empty()) j["netdevs"] = d.netdevs;  // only devices with network interfaces have the key
    j["parent_bridges"] = addresses(d.parent_bridges);
    j["numa_node"] = opt(d.numa_node);
    j["modalias"] = opt(d.modalias);
    j["mdev_parent"] = d.mdev_parent;
    j["vgpu_type"] = opt(d.vgpu_type);
    ordered_json roles = ordered_json::array();
    for (auto r : d.roles) roles.push_back(std::string(to_string(r)));
    j["roles"] = roles;
    j["problems"] = d.problems;
    return j;
}

Result<PciDevice> device_from(const json& j, const std::string& file, const std::string& path) {
    hostdev::json::Fields f(j, file, path);
    PciDevice d;
    if (auto a = address_field(f, "address", Need::Required)) d.address = *a;
    d.vendor = static_cast<std::uint16_t>(hex_field(f, "vendor", 0xffff, Need::Required).value_or(0));
    d.device = static_cast<std::uint16_t>(hex_field(f, "device", 0xffff, Need::Required).value_or(0));
    d.class_code = hex_field(f, "class", 0xffffff, Need::Required).value_or(0);
    d.driver = f.string("driver");
    // Absent or null: unknown (PciDevice::unread_identity), so never compared with a pin.
    auto sub_vendor = hex_field(f, "subsystem_vendor", 0xffff, Need::Optional);
    auto sub_device = hex_field(f, "subsystem_device", 0xffff, Need::Optional);
    if (sub_vendor && sub_device) {
        d.subsystem_vendor = static_cast<std::uint16_t>(*sub_vendor);
        d.subsystem_device = static_cast<std::uint16_t>(*sub_device);
    } else {
        d.unread_identity.push_back(IdentityField::Subsystem);
    }
    if (auto rev = hex_field(f, "revision", 0xff, Need::Optional))
        d.revision = static_cast<std::uint8_t>(*rev);
    else
        d.unread_identity.push_back(IdentityField::Revision);
    if (auto h = int_field(f, "header_type", 0, 0x7f)) d.header_type = static_cast<std::uint8_t>(*h);
    d.vendor_name = f.string("vendor_name").value_or("");
    d.device_name = f.string("device_name").value_or("");
    d.class_name = f.string("class_name").value_or("");
    d.driver_override = f.string("driver_override");
    d.iommu_group = int_field(f, "iommu_group", 0, std::numeric_limits<int>::max());
    d.boot_vga = f.boolean("boot_vga");
    d.reset_methods = f.strings("reset_methods");
    d.physfn = address_field(f, "physfn", Need::Optional);
    d.virtfns = address_list(f, "virtfns");
    d.netdevs = f.strings("netdevs").value_or(std::vector<std::string>{});
    d.parent_bridges = address_list(f, "parent_bridges");
    // -1 is how sysfs spells "no NUMA node": unknown, as null is.
    if (auto n = int_field(f, "numa_node", -1, kMaxNumaNode); n && *n >= 0) d.numa_node = *n;
    d.modalias = f.string("modalias");
    d.mdev_parent = f.boolean("mdev_parent").value_or(false);
    if (auto v = int_field(f, "vgpu_type", 1, std::numeric_limits<int>::max())) d.vgpu_type = static_cast<unsigned>(*v);
    for (const auto& r : f.strings("roles").value_or(std::vector<std::string>{})) {
        auto role = host_role_from_string(r);
        if (!role) {
            f.fail("roles",
                   "unknown host role '" + r + "' (known: root-filesystem, default-route, host-keyboard, boot-vga)");
            break;
        }
        d.roles.push_back(*role);
    }
    d.problems = f.strings("problems").value_or(std::vector<std::string>{});
    if (const auto& e = f.error()) return *e;
    return d;
}

}  // namespace hostdev::json_model
