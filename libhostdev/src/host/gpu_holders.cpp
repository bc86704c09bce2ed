#include "hostdev/host/gpu_holders.hpp"

#include <algorithm>
#include <cerrno>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {

namespace fs = std::filesystem;

bool VtConsole::is_fbcon() const { return name.find("frame buffer device") != std::string::npos; }

std::string DrmNode::dev_path() const { return "/dev/dri/" + name; }

bool DeviceHolders::empty() const {
    return !fbcon && framebuffers.empty() && firmware.empty() && drm_nodes.empty() && processes.empty() &&
           !display_manager;
}

namespace {

// The numbered entries `prefix`N of a directory, in number order.
std::vector<std::pair<int, std::string>> numbered(const std::vector<std::string>& names, std::string_view prefix) {
    std::vector<std::pair<int, std::string>> out;
    for (const auto& n : names)
        if (auto i = parse::name_index(prefix, n)) out.emplace_back(*i, n);
    std::sort(out.begin(), out.end());
    return out;
}

std::optional<std::vector<VtConsole>> read_consoles(const FsRoot& root, std::vector<std::string>& problems) {
    const fs::path dir = root.sys("class/vtconsole");
    auto names = root.list_dir(dir);
    if (!names) return std::nullopt;
    std::vector<VtConsole> out;
    for (const auto& [index, name] : numbered(*names, "vtcon")) {
        VtConsole c;
        c.index = index;
        auto text = root.read_file(dir / name / "name", 256);
        auto bind = root.read_file(dir / name / "bind", 64);
        if (!text || !bind) {
            problems.push_back((text ? bind.error() : text.error()).describe());
            continue;
        }
        c.name = std::string(parse::trim(*text));
        auto b = parse::vtcon_bind(*bind);
        if (!b) {
            problems.push_back(make_error(b.error().message, root.live_path(dir / name / "bind")).describe());
            continue;
        }
        c.bound = *b;
        out.push_back(std::move(c));
    }
    return out;
}

std::optional<std::vector<Framebuffer>> read_framebuffer_list(const FsRoot& root, std::vector<std::string>& problems) {
    const fs::path dir = root.sys("class/graphics");
    auto names = root.list_dir(dir);
    if (!names) return std::nullopt;
    std::vector<Framebuffer> out;
    for (const auto& [index, name] : numbered(*names, "fb")) {
        Framebuffer fb;
        fb.index = index;
        if (auto text = root.read_file(dir / name / "name", 256))
            fb.name = parse::process_comm(*text);
        else
            problems.push_back(text.error().describe());
        // The link's text only: the device is its last component.
        if (auto link = root.read_link(dir / name / "device")) {
            const std::string dev = parse::link_basename(*link);
            if (auto a = PciAddress::parse(dev))
                fb.pci_device = *a;
            else if (!dev.empty() && dev != "." && dev != "..")
                fb.platform_device = dev;
        }
        out.push_back(std::move(fb));
    }
    return out;
}

std::optional<std::vector<DrmNode>> read_drm_nodes(const FsRoot& root) {
    const fs::path dir = root.sys("class/drm");
    auto names = root.list_dir(dir);
    if (!names) return std::nullopt;
    std::vector<DrmNode> out;
    for (const auto& name : *names) {
        if (!parse::is_drm_node_name(name)) continue;
        auto link = root.read_link(dir / name / "device");
        if (!link) continue;
        if (auto a = PciAddress::parse(parse::link_basename(*link))) out.push_back(DrmNode{name, *a});
    }
    return out;
}

// The GPU nodes one process holds open; false when the bound on descriptors was hit.
bool read_process(const FsRoot& root, const std::string& pid, const GpuHolderOptions& options,
                  std::vector<NodeHolder>& out) {
    const fs::path fd_dir = root.proc(pid + "/fd");
    auto fds = root.list_dir(fd_dir);
    if (!fds) return true;  // gone, or not ours to read
    NodeHolder h;
    std::size_t seen = 0;
    bool complete = true;
    for (const auto& fd : *fds) {
        if (++seen > options.max_fds) {
            complete = false;
            break;
        }
        auto target = root.read_link(fd_dir / fd);
        if (!target) continue;
        if (auto node = parse::gpu_node_of_fd_link(*target)) h.nodes.push_back(std::move(*node));
    }
    if (h.nodes.empty()) return complete;
    std::sort(h.nodes.begin(), h.nodes.end());
    h.nodes.erase(std::unique(h.nodes.begin(), h.nodes.end()), h.nodes.end());
    h.pid = *parse::name_index("", pid);
    if (auto comm = root.read_file(root.proc(pid + "/comm"), 256)) h.comm = parse::process_comm(*comm);
    if (auto cg = root.read_file(root.proc(pid + "/cgroup"), 4096)) h.unit = parse::service_of_cgroup(*cg);
    out.push_back(std::move(h));
    return complete;
}

void scan_processes(const FsRoot& root, const GpuHolderOptions& options, GpuHolders& out) {
    auto names = root.list_dir(root.proc());
    if (!names) return;
    std::vector<std::pair<int, std::string>> pids = numbered(*names, "");
    if (pids.size() > options.max_pids) {
        out.scan_bound_hit = std::to_string(options.max_pids) + " processes";
        pids.resize(options.max_pids);
    }
    std::vector<NodeHolder> holders;
    bool fds_complete = true;
    for (const auto& p : pids) fds_complete = read_process(root, p.second, options, holders) && fds_complete;
    if (!fds_complete && !out.scan_bound_hit)
        out.scan_bound_hit = std::to_string(options.max_fds) + " descriptors of a process";
    out.processes = std::move(holders);
}

// Whether systemd runs `unit`: its invocation link in run/systemd/units.
std::optional<bool> unit_active(const FsRoot& root, const std::string& unit, std::vector<std::string>& problems) {
    auto id = root.read_link(root.run("systemd/units/invocation:" + unit));
    if (id) return !parse::trim(*id).empty();
    if (id.error().err == ENOENT && root.exists(root.run("systemd/units"))) return false;
    if (id.error().err != ENOENT) problems.push_back(id.error().describe());
    return std::nullopt;
}

std::optional<DisplayManager> read_display_manager(const FsRoot& root, const GpuHolderOptions& options,
                                                   std::vector<std::string>& problems) {
    if (options.display_manager && *options.display_manager == "none") return DisplayManager{};
    DisplayManager dm;
    if (options.display_manager) {
        dm.unit = *options.display_manager;
    } else {
        const fs::path link = root.etc("systemd/system/display-manager.service");
        auto target = root.read_link(link);
        if (!target) {
            if (target.error().err == ENOENT && root.exists(root.etc("systemd/system"))) return DisplayManager{};
            if (target.error().err != ENOENT) problems.push_back(target.error().describe());
            return std::nullopt;
        }
        auto unit = parse::unit_of_link(*target);
        if (!unit) {
            problems.push_back(make_error(unit.error().message, root.live_path(link)).describe());
            return std::nullopt;
        }
        dm.unit = std::move(*unit);
    }
    dm.active = unit_active(root, dm.unit, problems);
    bool any_dir = false;
    dm.unit_file = false;
    for (const fs::path& d : {root.etc("systemd/system"), root.run("systemd/system"), root.lib("systemd/system"),
                              root.usr("lib/systemd/system")}) {
        any_dir = any_dir || root.exists(d);
        if (root.exists(d / dm.unit)) dm.unit_file = true;
    }
    if (!any_dir) dm.unit_file.reset();
    return dm;
}

}  // namespace

std::optional<std::vector<FirmwareFramebufferDevice>> read_firmware_framebuffer_devices(const FsRoot& root) {
    const fs::path dir = root.sys("bus/platform/devices");
    auto names = root.list_dir(dir);
    if (!names) return std::nullopt;
    std::vector<FirmwareFramebufferDevice> out;
    for (const auto& name : *names) {
        if (!parse::is_firmware_framebuffer_device(name)) continue;
        FirmwareFramebufferDevice d{name, std::nullopt, std::nullopt};
        if (auto drv = root.read_link(dir / name / "driver")) d.driver = parse::link_basename(*drv);
        if (d.driver) d.unbindable = root.exists(root.sys("bus/platform/drivers/" + *d.driver + "/unbind"));
        out.push_back(std::move(d));
    }
    return out;
}

GpuHolders read_gpu_holders(const FsRoot& root, const GpuHolderOptions& options) {
    GpuHolders h;
    h.consoles = read_consoles(root, h.problems);
    h.framebuffers = read_framebuffer_list(root, h.problems);
    h.firmware_devices = read_firmware_framebuffer_devices(root);
    h.drm_nodes = read_drm_nodes(root);
    if (options.processes == GpuHolderOptions::Processes::Scan) scan_processes(root, options, h);
    h.display_manager = read_display_manager(root, options, h.problems);
    return h;
}

std::optional<std::vector<NodeHolder>> processes_holding(const FsRoot& root, const std::vector<std::string>& nodes,
                                                         const GpuHolderOptions& options) {
    GpuHolders h;
    scan_processes(root, options, h);
    if (!h.processes) return std::nullopt;
    auto held = [&](const std::string& n) {
        return std::any_of(nodes.begin(), nodes.end(), [&](const std::string& want) {
            if (want == "/dev/nvidia*") return n.rfind("/dev/nvidia", 0) == 0;
            return n == want;
        });
    };
    std::vector<NodeHolder> out;
    for (auto& p : *h.processes) {
        std::erase_if(p.nodes, [&](const std::string& n) { return !held(n); });
        if (!p.nodes.empty()) out.push_back(std::move(p));
    }
    return out;
}

namespace {

bool belongs_to(const Framebuffer& fb, const PciAddress& device, BootGpu boot) {
    if (fb.pci_device) return *fb.pci_device == device;
    return boot == BootGpu::Yes && fb.platform_device && parse::is_firmware_framebuffer_device(*fb.platform_device);
}

std::vector<std::string> nodes_of(const NodeHolder& p, const std::vector<std::string>& drm, bool nvidia) {
    std::vector<std::string> out;
    for (const auto& n : p.nodes) {
        const bool dri =
            std::any_of(drm.begin(), drm.end(), [&](const std::string& d) { return n == "/dev/dri/" + d; });
        if (dri || (nvidia && n.rfind("/dev/nvidia", 0) == 0)) out.push_back(n);
    }
    return out;
}

}  // namespace

DeviceHolders holders_of(const GpuHolders& facts, const PciAddress& device, BootGpu boot, bool nvidia) {
    DeviceHolders h;
    if (facts.framebuffers)
        for (const auto& fb : *facts.framebuffers)
            if (belongs_to(fb, device, boot)) h.framebuffers.push_back(fb);
    // fbcon maps every console to the first framebuffer unless told otherwise (fbcon=map:).
    const bool fbcon = facts.consoles && std::any_of(facts.consoles->begin(), facts.consoles->end(),
                                                     [](const VtConsole& c) { return c.is_fbcon() && c.bound; });
    if (fbcon && facts.framebuffers && !facts.framebuffers->empty() &&
        belongs_to(facts.framebuffers->front(), device, boot))
        h.fbcon = facts.framebuffers->front();
    if (boot == BootGpu::Yes && facts.firmware_devices)
        for (const auto& d : *facts.firmware_devices)
            if (d.driver) h.firmware.push_back(d);
    if (facts.drm_nodes)
        for (const auto& n : *facts.drm_nodes)
            if (n.device == device) h.drm_nodes.push_back(n.name);
    if (facts.processes)
        for (const auto& p : *facts.processes)
            if (auto nodes = nodes_of(p, h.drm_nodes, nvidia); !nodes.empty())
                h.processes.push_back(NodeHolder{p.pid, p.comm, std::move(nodes), p.unit});
    if (boot == BootGpu::Yes && facts.display_manager && !facts.display_manager->unit.empty())
        h.display_manager = facts.display_manager;
    if (!h.drm_nodes.empty() || nvidia) h.scan_bound_hit = facts.scan_bound_hit;
    return h;
}

namespace {

// "fb0 (EFI VGA, efi-framebuffer.0)"
std::string fb_words(const Framebuffer& fb) {
    std::vector<std::string> what;
    if (fb.name) what.push_back(*fb.name);
    if (fb.pci_device) what.push_back(fb.pci_device->str());
    if (fb.platform_device) what.push_back(*fb.platform_device);
    return "fb" + std::to_string(fb.index) + (what.empty() ? "" : " (" + join(what) + ")");
}

}  // namespace

std::string describe_holders(const DeviceHolders& h) {
    std::vector<std::string> parts;
    if (h.fbcon) parts.push_back("console: fbcon on " + fb_words(*h.fbcon));
    std::vector<std::string> fbs;
    for (const auto& fb : h.framebuffers)
        if (!h.fbcon || fb.index != h.fbcon->index) fbs.push_back(fb_words(fb));
    if (!fbs.empty()) parts.push_back("framebuffer: " + join(fbs));
    std::vector<std::string> fw;
    for (const auto& d : h.firmware) fw.push_back(d.name + " bound to " + d.driver.value_or("none"));
    if (!fw.empty()) parts.push_back("firmware framebuffer: " + join(fw));
    if (!h.drm_nodes.empty()) parts.push_back("DRM: " + join(h.drm_nodes));
    std::vector<std::string> procs;
    for (const auto& p : h.processes)
        procs.push_back(std::to_string(p.pid) + " (" + (p.comm.empty() ? "?" : p.comm) + ")");
    if (!procs.empty()) parts.push_back("held open by: " + join(procs));
    if (h.scan_bound_hit) parts.push_back("process scan stopped at " + *h.scan_bound_hit);
    if (h.display_manager) {
        const auto& a = h.display_manager->active;
        parts.push_back("display manager: " + h.display_manager->unit + ", " +
                        (!a   ? "state unknown"
                         : *a ? "active"
                              : "inactive"));
    }
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
}

}  // namespace hostdev
