#include "host/model_json.hpp"

#include <algorithm>
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

bool unread(const PciDevice& d, IdentityField f) {
    return std::find(d.unread_identity.begin(), d.unread_identity.end(), f) != d.unread_identity.end();
}

// "serials": {"dsn": ..., "nvme": ..., "mac": ...}, null for each unknown.
ordered_json serials_json(const DeviceSerials& s) {
    ordered_json j;
    j["dsn"] = opt(s.dsn);
    j["nvme"] = opt(s.nvme);
    j["mac"] = opt(s.mac);
    return j;
}

// The identity keys an older snapshot may lack (written before they were):
// each one absent (or null) puts its field in unread_identity, never zeros
// that a pin would be compared with.
void read_identity_keys(hostdev::json::Fields& f, PciDevice& d) {
    auto mark = [&](IdentityField field) { d.unread_identity.push_back(field); };
    if (!f.has("subsystem_vendor") || !f.has("subsystem_device")) mark(IdentityField::Subsystem);
    if (!f.has("revision")) mark(IdentityField::Revision);
    if (!f.has("parent_bridges")) mark(IdentityField::SlotPath);
    auto serials = f.object("serials");
    if (!serials) {
        mark(IdentityField::Serial);
        return;
    }
    d.serials.dsn = serials->string("dsn");
    d.serials.nvme = serials->string("nvme");
    d.serials.mac = serials->string("mac");
    f.absorb(*serials);
}

}  // namespace

ordered_json device(const PciDevice& d) {
    ordered_json j;
    j["address"] = d.address.str();
    j["vendor"] = hex(d.vendor, 4);
    j["device"] = hex(d.device, 4);
    j["class"] = pci_class_code(d.class_code);
    j["driver"] = opt(d.driver);
    // A field the source did not show is null (unknown), as an older snapshot's absent key reads.
    const bool subsystem = !unread(d, IdentityField::Subsystem);
    j["subsystem_vendor"] = subsystem ? ordered_json(hex(d.subsystem_vendor, 4)) : ordered_json(nullptr);
    j["subsystem_device"] = subsystem ? ordered_json(hex(d.subsystem_device, 4)) : ordered_json(nullptr);
    j["revision"] = unread(d, IdentityField::Revision) ? ordered_json(nullptr) : ordered_json(hex(d.revision, 2));
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
    j["parent_bridges"] =
        unread(d, IdentityField::SlotPath) ? ordered_json(nullptr) : ordered_json(addresses(d.parent_bridges));
    j["numa_node"] = opt(d.numa_node);
    j["modalias"] = opt(d.modalias);
    j["mdev_parent"] = d.mdev_parent;
    j["vgpu_type"] = opt(d.vgpu_type);
    j["serials"] = unread(d, IdentityField::Serial) ? ordered_json(nullptr) : serials_json(d.serials);
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
    d.subsystem_vendor =
        static_cast<std::uint16_t>(hex_field(f, "subsystem_vendor", 0xffff, Need::Optional).value_or(0));
    d.subsystem_device =
        static_cast<std::uint16_t>(hex_field(f, "subsystem_device", 0xffff, Need::Optional).value_or(0));
    d.revision = static_cast<std::uint8_t>(hex_field(f, "revision", 0xff, Need::Optional).value_or(0));
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
    read_identity_keys(f, d);
    if (const auto& e = f.error()) return *e;
    return d;
}

namespace {

using Json = nlohmann::json;
using nlohmann::ordered_json;

ordered_json facts_json(const GpuHolders& h) {
    ordered_json j = ordered_json::object();
    if (h.consoles) {
        j["consoles"] = ordered_json::array();
        for (const auto& c : *h.consoles)
            j["consoles"].push_back({{"index", c.index}, {"name", c.name}, {"bound", c.bound}});
    }
    if (h.framebuffers) {
        j["framebuffers"] = ordered_json::array();
        for (const auto& fb : *h.framebuffers) {
            ordered_json e = {{"index", fb.index}};
            if (fb.name) e["name"] = *fb.name;
            if (fb.pci_device) e["pci_device"] = fb.pci_device->str();
            if (fb.platform_device) e["platform_device"] = *fb.platform_device;
            j["framebuffers"].push_back(e);
        }
    }
    if (h.firmware_devices) {
        j["firmware_devices"] = ordered_json::array();
        for (const auto& d : *h.firmware_devices) {
            ordered_json e = {{"name", d.name}};
            if (d.driver) e["driver"] = *d.driver;
            if (d.unbindable) e["unbindable"] = *d.unbindable;
            j["firmware_devices"].push_back(e);
        }
    }
    if (h.drm_nodes) {
        j["drm_nodes"] = ordered_json::array();
        for (const auto& n : *h.drm_nodes) j["drm_nodes"].push_back({{"name", n.name}, {"device", n.device.str()}});
    }
    return j;
}

}  // namespace

ordered_json gpu_holders(const GpuHolders& h) {
    ordered_json j = facts_json(h);
    if (h.processes) {
        j["processes"] = ordered_json::array();
        for (const auto& p : *h.processes) {
            ordered_json e = {{"pid", p.pid}, {"comm", p.comm}, {"nodes", p.nodes}};
            if (p.unit) e["unit"] = *p.unit;
            j["processes"].push_back(std::move(e));
        }
    }
    if (h.scan_bound_hit) j["scan_bound_hit"] = *h.scan_bound_hit;
    if (h.display_manager) {
        ordered_json dm = {{"unit", h.display_manager->unit}};
        if (h.display_manager->active) dm["active"] = *h.display_manager->active;
        if (h.display_manager->unit_file) dm["unit_file"] = *h.display_manager->unit_file;
        j["display_manager"] = dm;
    }
    j["problems"] = h.problems;
    return j;
}

namespace {

// Each element of the array `key` of `f` read by `read`, absorbed into `f`.
template <class T, class F>
std::optional<std::vector<T>> each(hostdev::json::Fields& f, const char* key, F&& read) {
    const Json* list = f.array(key);
    if (!list) return std::nullopt;
    std::vector<T> out;
    for (std::size_t i = 0; i < list->size(); ++i) {
        hostdev::json::Fields e((*list)[i], f.file(), hostdev::json::element(f.path(), key, i));
        if (auto v = read(e)) out.push_back(std::move(*v));
        f.absorb(e);
        if (!f.ok()) return std::nullopt;
    }
    return out;
}

constexpr std::int64_t kMaxIndex = 999999999;

}  // namespace

GpuHolders gpu_holders_from(hostdev::json::Fields& f) {
    using Need = hostdev::json::Need;
    GpuHolders h;
    h.consoles = each<VtConsole>(f, "consoles", [](hostdev::json::Fields& e) -> std::optional<VtConsole> {
        auto i = e.integer("index", 0, kMaxIndex, Need::Required);
        auto n = e.string("name", Need::Required);
        auto b = e.boolean("bound", Need::Required);
        if (!i || !n || !b) return std::nullopt;
        return VtConsole{static_cast<int>(*i), *n, *b};
    });
    h.framebuffers = each<Framebuffer>(f, "framebuffers", [](hostdev::json::Fields& e) -> std::optional<Framebuffer> {
        auto i = e.integer("index", 0, kMaxIndex, Need::Required);
        if (!i) return std::nullopt;
        return Framebuffer{static_cast<int>(*i), e.string("name"), address_field(e, "pci_device", Need::Optional),
                           e.string("platform_device")};
    });
    h.firmware_devices = each<FirmwareFramebufferDevice>(
        f, "firmware_devices", [](hostdev::json::Fields& e) -> std::optional<FirmwareFramebufferDevice> {
            auto n = e.string("name", Need::Required);
            if (!n) return std::nullopt;
            return FirmwareFramebufferDevice{*n, e.string("driver"), e.boolean("unbindable")};
        });
    h.drm_nodes = each<DrmNode>(f, "drm_nodes", [](hostdev::json::Fields& e) -> std::optional<DrmNode> {
        auto n = e.string("name", Need::Required);
        auto d = address_field(e, "device", Need::Required);
        if (!n || !d) return std::nullopt;
        return DrmNode{*n, *d};
    });
    h.processes = each<NodeHolder>(f, "processes", [](hostdev::json::Fields& e) -> std::optional<NodeHolder> {
        auto pid = e.integer("pid", 1, std::numeric_limits<int>::max(), Need::Required);
        auto nodes = e.strings("nodes", Need::Required);
        if (!pid || !nodes) return std::nullopt;
        return NodeHolder{static_cast<int>(*pid), e.string("comm").value_or(""), *nodes, e.string("unit")};
    });
    h.scan_bound_hit = f.string("scan_bound_hit");
    if (auto dm = f.object("display_manager")) {
        h.display_manager = DisplayManager{dm->string("unit", Need::Required).value_or(""), dm->boolean("active"),
                                           dm->boolean("unit_file")};
        f.absorb(*dm);
    }
    h.problems = f.strings("problems").value_or(std::vector<std::string>{});
    return h;
}

}  // namespace hostdev::json_model
