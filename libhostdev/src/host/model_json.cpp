#include "host/model_json.hpp"

#include <cstdio>

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

ordered_json addresses(const std::vector<PciAddress>& v) {
    ordered_json a = ordered_json::array();
    for (const auto& x : v) a.push_back(x.str());
    return a;
}

// Field readers that name the field in their errors.
struct Fields {
    const json& j;
    const std::string& where;
    std::optional<Error> error;

    void fail(const std::string& key, const std::string& what) {
        if (!error) error = make_error(where + "." + key + ": " + what);
    }
    const json* get(const std::string& key) {
        auto it = j.find(key);
        return it == j.end() ? nullptr : &*it;
    }
    std::uint32_t hex(const std::string& key, std::uint32_t max, bool required) {
        const json* v = get(key);
        if (!v || v->is_null()) {
            if (required) fail(key, "missing");
            return 0;
        }
        if (!v->is_string()) {
            fail(key, "expected a hexadecimal string");
            return 0;
        }
        auto r = parse::sysfs_hex(v->get<std::string>(), max);
        if (!r) {
            fail(key, r.error().message);
            return 0;
        }
        return *r;
    }
    std::string str(const std::string& key) {
        const json* v = get(key);
        if (!v || v->is_null()) return {};
        if (!v->is_string()) fail(key, "expected a string");
        return v->is_string() ? v->get<std::string>() : std::string();
    }
    std::optional<std::string> opt_str(const std::string& key) {
        const json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_string()) {
            fail(key, "expected a string or null");
            return std::nullopt;
        }
        return v->get<std::string>();
    }
    std::optional<long> opt_int(const std::string& key) {
        const json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_number_integer()) {
            fail(key, "expected an integer or null");
            return std::nullopt;
        }
        return v->get<long>();
    }
    std::optional<bool> opt_bool(const std::string& key) {
        const json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_boolean()) {
            fail(key, "expected true, false or null");
            return std::nullopt;
        }
        return v->get<bool>();
    }
    std::optional<std::vector<std::string>> opt_strings(const std::string& key) {
        const json* v = get(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_array()) {
            fail(key, "expected a list of strings");
            return std::nullopt;
        }
        std::vector<std::string> out;
        for (const auto& e : *v) {
            if (!e.is_string()) {
                fail(key, "expected a list of strings");
                return std::nullopt;
            }
            out.push_back(e.get<std::string>());
        }
        return out;
    }
    std::vector<PciAddress> address_list(const std::string& key) {
        std::vector<PciAddress> out;
        for (const auto& s : opt_strings(key).value_or(std::vector<std::string>{})) {
            auto a = PciAddress::parse(s);
            if (!a) fail(key, a.error().message);
            else out.push_back(*a);
        }
        return out;
    }
};

}  // namespace

ordered_json device(const PciDevice& d) {
    ordered_json j;
    j["address"] = d.address.str();
    j["vendor"] = hex(d.vendor, 4);
    j["device"] = hex(d.device, 4);
    j["class"] = pci_class_code(d.class_code);
    j["driver"] = opt(d.driver);
    j["subsystem_vendor"] = hex(d.subsystem_vendor, 4);
    j["subsystem_device"] = hex(d.subsystem_device, 4);
    j["revision"] = hex(d.revision, 2);
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
    j["parent_bridges"] = addresses(d.parent_bridges);
    j["numa_node"] = opt(d.numa_node);
    ordered_json roles = ordered_json::array();
    for (auto r : d.roles) roles.push_back(std::string(to_string(r)));
    j["roles"] = roles;
    j["problems"] = d.problems;
    return j;
}

Result<PciDevice> device_from(const json& j, const std::string& where) {
    if (!j.is_object()) return make_error(where + ": expected an object");
    Fields f{j, where, std::nullopt};
    PciDevice d;
    std::string addr = f.str("address");
    if (auto a = PciAddress::parse(addr)) d.address = *a;
    else f.fail("address", a.error().message);
    d.vendor = static_cast<std::uint16_t>(f.hex("vendor", 0xffff, true));
    d.device = static_cast<std::uint16_t>(f.hex("device", 0xffff, true));
    d.class_code = f.hex("class", 0xffffff, true);
    d.driver = f.opt_str("driver");
    d.subsystem_vendor = static_cast<std::uint16_t>(f.hex("subsystem_vendor", 0xffff, false));
    d.subsystem_device = static_cast<std::uint16_t>(f.hex("subsystem_device", 0xffff, false));
    d.revision = static_cast<std::uint8_t>(f.hex("revision", 0xff, false));
    if (auto h = f.opt_int("header_type")) {
        if (*h < 0 || *h > 0x7f) f.fail("header_type", "out of range");
        else d.header_type = static_cast<std::uint8_t>(*h);
    }
    d.vendor_name = f.str("vendor_name");
    d.device_name = f.str("device_name");
    d.class_name = f.str("class_name");
    d.driver_override = f.opt_str("driver_override");
    if (auto g = f.opt_int("iommu_group")) {
        if (*g < 0 || *g > 0x7fffffff) f.fail("iommu_group", "out of range");
        else d.iommu_group = static_cast<int>(*g);
    }
    d.boot_vga = f.opt_bool("boot_vga");
    d.reset_methods = f.opt_strings("reset_methods");
    if (auto pf = f.opt_str("physfn")) {
        if (auto a = PciAddress::parse(*pf)) d.physfn = *a;
        else f.fail("physfn", a.error().message);
    }
    d.virtfns = f.address_list("virtfns");
    d.parent_bridges = f.address_list("parent_bridges");
    if (auto n = f.opt_int("numa_node"); n && *n >= 0) d.numa_node = static_cast<int>(*n);
    for (const auto& r : f.opt_strings("roles").value_or(std::vector<std::string>{})) {
        if (auto role = host_role_from_string(r)) d.roles.push_back(*role);
        else f.fail("roles", "unknown host role '" + r + "'");
    }
    d.problems = f.opt_strings("problems").value_or(std::vector<std::string>{});
    if (f.error) return *f.error;
    return d;
}

}  // namespace hostdev::json_model
