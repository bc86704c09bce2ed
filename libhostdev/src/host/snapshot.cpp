#include "hostdev/host/snapshot.hpp"

#include <cerrno>
#include <cstdint>
#include <limits>

#include "host/model_json.hpp"
#include "hostdev/base/fileio.hpp"
#include "hostdev/base/json_reader.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {

using nlohmann::ordered_json;
using Json = nlohmann::json;
using json::Need;

namespace {

// Larger than any host's snapshot (a 4,000-function server writes a few MiB).
constexpr std::size_t kMaxSnapshotBytes = 256u << 20;

// What to do about a snapshot that does not read: it is written by hostdev,
// so the answer is always to take it again.
constexpr std::string_view kRetake = " (take it again with `hostdev snapshot -o FILE` on that host)";

ordered_json setup_json(const Host& host) {
    ordered_json setup = ordered_json::object();
    if (host.libvirt_hook) setup["libvirt_hook"] = *host.libvirt_hook;
    // None is written "" (the snapshot format's spelling of "none configured").
    if (host.initramfs_tool)
        setup["initramfs"] = *host.initramfs_tool == InitramfsTool::None ? "" : to_string(*host.initramfs_tool);
    if (host.bootloader) setup["bootloader"] = *host.bootloader == Bootloader::None ? "" : to_string(*host.bootloader);
    if (!host.boot_entries.empty()) setup["boot_entries"] = host.boot_entries;
    if (host.libvirt_version) setup["libvirt_version"] = host.libvirt_version->str();
    return setup;
}

}  // namespace

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
    if (host.vfio_variant_aliases) {
        ordered_json aliases = ordered_json::array();
        for (const auto& a : *host.vfio_variant_aliases)
            aliases.push_back({{"pattern", a.pattern}, {"module", a.module}});
        kernel["vfio_aliases"] = aliases;
    }
    if (host.libvirt_hook || host.initramfs_tool || host.bootloader || host.libvirt_version)
        j["setup"] = setup_json(host);
    ordered_json groups = ordered_json::array();
    for (const auto& [n, g] : host.groups) groups.push_back({{"group", n}});
    j["groups"] = groups;
    ordered_json devices = ordered_json::array();
    for (const auto& d : host.devices) devices.push_back(json_model::device(d));
    j["devices"] = devices;
    if (host.gpu_holders) j["gpu_holders"] = json_model::gpu_holders(*host.gpu_holders);
    j["warnings"] = host.warnings;
    // Text read from a root (a copied tree, a hostile one) need not be UTF-8:
    // such bytes are written as U+FFFD rather than making the writer throw.
    return json::to_text(j);
}

namespace {

// "format" and "version": what the document is, before any of its content.
Status check_header(const Json& j, const std::string& src) {
    const auto format = j.is_object() ? j.find("format") : j.end();
    if (format == j.end() || !format->is_string() || format->get<std::string>() != kSnapshotFormat)
        return make_error(src + ": not a hostdev snapshot (missing \"format\": \"" + std::string(kSnapshotFormat) +
                          "\"); write one with `hostdev snapshot -o FILE`");
    auto it = j.find("version");
    if (it == j.end() || !it->is_number_integer())
        return make_error(src + ": snapshot has no integer \"version\"" + std::string(kRetake));
    // Compared as written, so that a huge or negative number is named as it is.
    const bool supported = it->is_number_unsigned()
                               ? it->get<std::uint64_t>() >= 1 && it->get<std::uint64_t>() <= kSnapshotVersion
                               : it->get<std::int64_t>() >= 1 && it->get<std::int64_t>() <= kSnapshotVersion;
    if (!supported)
        return make_error(src + ": snapshot version " + it->dump() +
                          " is not supported by this hostdev (it reads version " + std::to_string(kSnapshotVersion) +
                          "); use a matching hostdev");
    return ok_status();
}

// kernel.vfio_aliases: [{"pattern": "vfio_pci:...", "module": "..."}]; absent is unknown.
void read_vfio_aliases(json::Fields& kernel, Host& host) {
    const Json* list = kernel.array("vfio_aliases");
    if (!list) return;
    std::vector<VfioAlias> out;
    for (std::size_t i = 0; i < list->size(); ++i) {
        json::Fields a((*list)[i], kernel.file(), json::element(kernel.path(), "vfio_aliases", i));
        auto pattern = a.string("pattern", Need::Required);
        auto module = a.string("module", Need::Required);
        if (pattern && module) out.push_back({*pattern, *module});
        kernel.absorb(a);
        if (!kernel.ok()) return;
    }
    host.vfio_variant_aliases = std::move(out);
}

void read_kernel(json::Fields& top, Host& host) {
    auto kernel = top.object("kernel");
    if (!kernel) return;
    host.kernel_cmdline = kernel->string("cmdline").value_or("");
    host.cpu_vendor = kernel->string("cpu_vendor").value_or("");
    // Optional facts: absent or null (a snapshot from before they existed) is unknown.
    host.kernel_release = kernel->string("release");
    host.interrupt_remapping = kernel->boolean("interrupt_remapping");
    host.loaded_modules = kernel->strings("modules");
    if (auto vfio = kernel->object("vfio_modules")) {
        host.vfio_modules = Host::VfioModules{vfio->strings("available").value_or(std::vector<std::string>{}),
                                              vfio->strings("builtin").value_or(std::vector<std::string>{})};
        kernel->absorb(*vfio);
    }
    host.firmware_framebuffers = kernel->strings("framebuffers");
    read_vfio_aliases(*kernel, host);
    if (auto modules = kernel->object("driver_modules")) {
        for (const auto& [driver, module] : kernel->get("driver_modules")->items())
            if (auto m = modules->string(driver)) host.driver_modules[driver] = *m;
        kernel->absorb(*modules);
    }
    top.absorb(*kernel);
}

void read_setup(json::Fields& top, Host& host) {
    auto setup = top.object("setup");
    if (!setup) return;
    host.libvirt_hook = setup->string("libvirt_hook");
    if (auto t = setup->string("initramfs")) {
        host.initramfs_tool = t->empty() ? InitramfsTool::None : initramfs_tool_from_string(*t);
        if (!host.initramfs_tool || (*host.initramfs_tool == InitramfsTool::None && !t->empty()))
            setup->fail("initramfs", "unknown initramfs tool '" + *t +
                                         "' (known: initramfs-tools, dracut, mkinitcpio, or \"\" for none)");
    }
    if (auto b = setup->string("bootloader")) {
        host.bootloader = b->empty() ? Bootloader::None : bootloader_from_string(*b);
        if (!host.bootloader || (*host.bootloader == Bootloader::None && !b->empty()))
            setup->fail("bootloader", "unknown boot loader '" + *b + "' (known: grub, systemd-boot, or \"\" for none)");
    }
    host.boot_entries = setup->strings("boot_entries").value_or(std::vector<std::string>{});
    if (auto v = setup->string("libvirt_version")) {
        auto parsed = parse::version3(*v);
        if (parsed)
            host.libvirt_version = LibvirtVersion{parsed->major, parsed->minor, parsed->micro};
        else
            setup->fail("libvirt_version", "not a version MAJOR.MINOR.MICRO: " + parse::quote(*v));
    }
    top.absorb(*setup);
}

void read_groups(json::Fields& top, Host& host) {
    const Json* groups = top.array("groups");
    if (!groups) return;
    for (std::size_t i = 0; i < groups->size(); ++i) {
        json::Fields g((*groups)[i], top.file(), json::element(top.path(), "groups", i));
        if (auto n = g.integer("group", 0, std::numeric_limits<int>::max(), Need::Required))
            host.groups[static_cast<int>(*n)].number = static_cast<int>(*n);
        top.absorb(g);
        if (!top.ok()) return;
    }
}

// Everything but the devices; an error reads "FILE: malformed snapshot: KEY: what".
Status read_host_facts(const Json& j, const std::string& src, Host& host) {
    json::Fields top(j, src + ": malformed snapshot");
    if (auto iommu = top.object("iommu", Need::Required)) {
        host.iommu_present = iommu->boolean("present", Need::Required).value_or(false);
        host.iommu_units = iommu->strings("units").value_or(std::vector<std::string>{});
        top.absorb(*iommu);
    }
    read_kernel(top, host);
    read_setup(top, host);
    read_groups(top, host);
    // Absent (a snapshot from before it existed, or a host without a display device): unknown.
    if (auto gpu = top.object("gpu_holders")) {
        host.gpu_holders = json_model::gpu_holders_from(*gpu);
        top.absorb(*gpu);
    }
    host.warnings = top.strings("warnings").value_or(std::vector<std::string>{});
    if (const auto& e = top.error()) return e->reworded(e->message + std::string(kRetake));
    return ok_status();
}

}  // namespace

Result<Host> parse_snapshot(std::string_view text, std::string_view source) {
    const std::string src(source);
    auto doc = json::parse_strict(text, src);
    if (!doc) {
        return doc.error().reworded(doc.error().message + " (a hostdev snapshot is written by `hostdev snapshot`)");
    }
    const Json& j = *doc;
    HOSTDEV_TRY(check_header(j, src));
    Host host;
    HOSTDEV_TRY(read_host_facts(j, src, host));
    const auto it = j.find("devices");
    if (it == j.end() || !it->is_array())
        return make_error(src + ": snapshot has no \"devices\" list" + std::string(kRetake));
    host.devices.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
        auto d = json_model::device_from((*it)[i], src, json::element("", "devices", i));
        if (!d) return d.error().reworded(d.error().message + std::string(kRetake));
        host.devices.push_back(std::move(*d));
    }
    host.normalize();
    for (std::size_t i = 1; i < host.devices.size(); ++i)
        if (host.devices[i].address == host.devices[i - 1].address)
            return make_error(src + ": device " + host.devices[i].address.str() + " is listed twice" +
                              std::string(kRetake));
    return host;
}

Result<Host> load_snapshot(const std::filesystem::path& path) {
    // One byte more than the limit tells a file at the limit from a larger one.
    auto text = fileio::read_file(path, kMaxSnapshotBytes + 1);
    if (!text) {
        return text.error().reworded("cannot read snapshot");
    }
    if (text->size() > kMaxSnapshotBytes)
        return make_error("snapshot larger than 256 MiB: not one hostdev wrote", path.string(), EFBIG);
    return parse_snapshot(*text, path.string());
}

}  // namespace hostdev
