#include "hostdev/host/snapshot.hpp"

#include "hostdev/base/fileio.hpp"
#include "host/model_json.hpp"

namespace hostdev {

using nlohmann::json;
using nlohmann::ordered_json;

std::string write_snapshot(const Host& host) {
    ordered_json j;
    j["format"] = kSnapshotFormat;
    j["version"] = kSnapshotVersion;
    j["iommu"] = {{"present", host.iommu_present}, {"units", host.iommu_units}};
    j["kernel"] = {{"cmdline", host.kernel_cmdline}, {"cpu_vendor", host.cpu_vendor}};
    // Readiness facts: optional keys, written only when known (README, "Snapshot format").
    ordered_json& kernel = j["kernel"];
    if (host.kernel_release) kernel["release"] = *host.kernel_release;
    if (host.interrupt_remapping) kernel["interrupt_remapping"] = *host.interrupt_remapping;
    if (host.loaded_modules) kernel["modules"] = *host.loaded_modules;
    if (host.vfio_modules)
        kernel["vfio_modules"] = {{"available", host.vfio_modules->available}, {"builtin", host.vfio_modules->builtin}};
    if (host.firmware_framebuffers) kernel["framebuffers"] = *host.firmware_framebuffers;
    if (!host.driver_modules.empty()) kernel["driver_modules"] = host.driver_modules;
    if (host.libvirt_hook || host.initramfs_tool || host.bootloader) {
        ordered_json setup = ordered_json::object();
        if (host.libvirt_hook) setup["libvirt_hook"] = *host.libvirt_hook;
        // None is written "" (the snapshot format's spelling of "none configured").
        if (host.initramfs_tool)
            setup["initramfs"] = *host.initramfs_tool == InitramfsTool::None ? "" : to_string(*host.initramfs_tool);
        if (host.bootloader) setup["bootloader"] = *host.bootloader == Bootloader::None ? "" : to_string(*host.bootloader);
        if (!host.boot_entries.empty()) setup["boot_entries"] = host.boot_entries;
        j["setup"] = setup;
    }
    ordered_json groups = ordered_json::array();
    for (const auto& [n, g] : host.groups) groups.push_back({{"group", n}});
    j["groups"] = groups;
    ordered_json devices = ordered_json::array();
    for (const auto& d : host.devices) devices.push_back(json_model::device(d));
    j["devices"] = devices;
    j["warnings"] = host.warnings;
    return j.dump(2) + "\n";
}

Result<Host> parse_snapshot(std::string_view text, std::string_view source) {
    const std::string src(source);
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
        return make_error(src + ": not a JSON document (a hostdev snapshot is written by `hostdev snapshot`)");
    if (!j.is_object() || j.value("format", std::string()) != kSnapshotFormat)
        return make_error(src + ": not a hostdev snapshot (missing \"format\": \"" + std::string(kSnapshotFormat) +
                          "\"); write one with `hostdev snapshot -o FILE`");
    if (!j.contains("version") || !j["version"].is_number_integer())
        return make_error(src + ": snapshot has no integer \"version\"");
    int version = j["version"].get<int>();
    if (version > kSnapshotVersion || version < 1)
        return make_error(src + ": snapshot version " + std::to_string(version) +
                          " is not supported by this hostdev (it reads version " + std::to_string(kSnapshotVersion) +
                          "); use a matching hostdev");
    Host host;
    try {
        const json& iommu = j.at("iommu");
        host.iommu_present = iommu.at("present").get<bool>();
        host.iommu_units = iommu.value("units", std::vector<std::string>{});
        const json& kernel = j.value("kernel", json::object());
        host.kernel_cmdline = kernel.value("cmdline", std::string());
        host.cpu_vendor = kernel.value("cpu_vendor", std::string());
        // Optional keys: absent (a snapshot from before they existed) is unknown.
        auto opt_string = [](const json& o, const char* key) -> std::optional<std::string> {
            if (!o.contains(key) || o[key].is_null()) return std::nullopt;
            return o.at(key).get<std::string>();
        };
        auto opt_strings = [](const json& o, const char* key) -> std::optional<std::vector<std::string>> {
            if (!o.contains(key) || o[key].is_null()) return std::nullopt;
            return o.at(key).get<std::vector<std::string>>();
        };
        host.kernel_release = opt_string(kernel, "release");
        if (kernel.contains("interrupt_remapping") && !kernel["interrupt_remapping"].is_null())
            host.interrupt_remapping = kernel.at("interrupt_remapping").get<bool>();
        host.loaded_modules = opt_strings(kernel, "modules");
        if (kernel.contains("vfio_modules") && !kernel["vfio_modules"].is_null()) {
            const json& v = kernel.at("vfio_modules");
            host.vfio_modules = Host::VfioModules{v.value("available", std::vector<std::string>{}),
                                                  v.value("builtin", std::vector<std::string>{})};
        }
        host.firmware_framebuffers = opt_strings(kernel, "framebuffers");
        host.driver_modules = kernel.value("driver_modules", std::map<std::string, std::string>{});
        const json& setup = j.value("setup", json::object());
        host.libvirt_hook = opt_string(setup, "libvirt_hook");
        if (auto t = opt_string(setup, "initramfs")) {
            host.initramfs_tool = t->empty() ? InitramfsTool::None : initramfs_tool_from_string(*t);
            if (!host.initramfs_tool || *host.initramfs_tool == InitramfsTool::None) {
                if (!t->empty()) return make_error(src + ": setup.initramfs: unknown initramfs tool '" + *t + "'");
            }
        }
        if (auto b = opt_string(setup, "bootloader")) {
            host.bootloader = b->empty() ? Bootloader::None : bootloader_from_string(*b);
            if (!host.bootloader || (*host.bootloader == Bootloader::None && !b->empty()))
                return make_error(src + ": setup.bootloader: unknown boot loader '" + *b + "'");
        }
        host.boot_entries = setup.value("boot_entries", std::vector<std::string>{});
        host.warnings = j.value("warnings", std::vector<std::string>{});
        for (const auto& g : j.value("groups", json::array())) {
            int n = g.at("group").get<int>();
            host.groups[n].number = n;
        }
    } catch (const json::exception& e) {
        return make_error(src + ": malformed snapshot: " + e.what());
    }
    const json& devices = j.contains("devices") ? j["devices"] : json();
    if (!devices.is_array()) return make_error(src + ": snapshot has no \"devices\" list");
    host.devices.reserve(devices.size());
    for (std::size_t i = 0; i < devices.size(); ++i) {
        auto d = json_model::device_from(devices[i], src + ": devices[" + std::to_string(i) + "]");
        if (!d) return d.error();
        host.devices.push_back(std::move(*d));
    }
    host.normalize();
    for (std::size_t i = 1; i < host.devices.size(); ++i)
        if (host.devices[i].address == host.devices[i - 1].address)
            return make_error(src + ": device " + host.devices[i].address.str() + " is listed twice");
    return host;
}

Result<Host> load_snapshot(const std::filesystem::path& path) {
    auto text = fileio::read_file(path, 256u << 20);
    if (!text) {
        return text.error().reworded("cannot read snapshot");
    }
    return parse_snapshot(*text, path.string());
}

}  // namespace hostdev
