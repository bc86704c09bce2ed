#include "hostdev/host/sysfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>
#include <thread>
#include <unordered_map>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {
namespace {

namespace fs = std::filesystem;

// Closes a descriptor when it goes out of scope.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

bool is_enoent(const Error& e) { return e.err == ENOENT; }

// realpath() of a path inside the root; nullopt when it does not resolve.
std::optional<std::string> real_path(const fs::path& p) {
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) return std::nullopt;
    return std::string(buf);
}

// The PCI device nearest to a sysfs path (its last PCI component).
std::optional<PciAddress> pci_ancestor(const fs::path& p) {
    auto real = real_path(p);
    if (!real) return std::nullopt;
    auto addrs = parse::pci_addresses_in_path(*real);
    if (addrs.empty()) return std::nullopt;
    return addrs.back();
}

class Reader {
public:
    Reader(const FsRoot& root, Host& host, const ReadOptions& options)
        : root_(root), host_(host), threads_(options.threads), readiness_(options.readiness) {}

    Status read() {
        auto names = fileio::list_dir(root_.pci_devices());
        if (!names) {
            return names.error().reworded("no PCI devices directory (is this a Linux root with /sys mounted?)");
        }
        read_devices(*names);
        std::sort(host_.devices.begin(), host_.devices.end(),
                  [](const PciDevice& a, const PciDevice& b) { return a.address < b.address; });
        link_virtfns();
        settle_reset_methods();
        read_host_facts();
        if (readiness_ == ReadOptions::Readiness::Read) read_readiness_facts();
        read_groups();
        read_roles();
        host_.normalize();
        if (!host_.iommu_present) host_.warnings.push_back(no_iommu_advice(host_));
        return ok_status();
    }

private:
    void problem(PciDevice& d, const Error& e) { d.problems.push_back(e.describe()); }

    // What one reader thread produces.
    struct Batch {
        std::vector<PciDevice> devices;
        std::vector<std::string> warnings;
        bool lists_reset_methods = false;
    };

    // Reading is system calls on thousands of small files: a large host is
    // read by a few threads, each on its own slice of the devices.
    void read_devices(const std::vector<std::string>& names) {
        constexpr std::size_t kThreadedFrom = 256;
        std::size_t threads = threads_ != 0 ? threads_
                                            : std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 4);
        if (names.size() < kThreadedFrom) threads = 1;
        std::vector<Batch> batches(threads);
        auto work = [&](std::size_t t) {
            const std::size_t begin = names.size() * t / threads, end = names.size() * (t + 1) / threads;
            batches[t].devices.reserve(end - begin);
            for (std::size_t i = begin; i < end; ++i) read_device(names[i], batches[t]);
        };
        if (threads == 1) {
            work(0);
        } else {
            std::vector<std::thread> pool;
            for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
            work(0);
            for (auto& th : pool) th.join();
        }
        host_.devices.reserve(names.size());
        for (auto& b : batches) {
            for (auto& d : b.devices) host_.devices.push_back(std::move(d));
            for (auto& w : b.warnings) host_.warnings.push_back(std::move(w));
            kernel_lists_reset_methods_ = kernel_lists_reset_methods_ || b.lists_reset_methods;
        }
    }

    void read_device(const std::string& name, Batch& out) {
        auto addr = PciAddress::parse(name);
        if (!addr) {
            out.warnings.push_back("ignoring " + root_.live_path(root_.pci_device(name)) + ": " +
                                   addr.error().message);
            return;
        }
        PciDevice& d = out.devices.emplace_back();
        d.address = *addr;
        const fs::path link = root_.pci_device(name);

        // Real location: from the bus link, lexically (no per-component lookups).
        fs::path dir = link;
        if (auto target = fileio::read_link(link)) {
            dir = fileio::resolve_link_lexically(link.parent_path(), *target);
            auto chain = parse::pci_addresses_in_path(*target);
            if (!chain.empty() && chain.back() == d.address) chain.pop_back();
            d.parent_bridges.assign(chain.rbegin(), chain.rend());
        }
        Fd dfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (dfd.fd < 0) {
            problem(d, make_error("device directory is missing", root_.live_path(dir), errno));
            return;
        }
        const fs::path shown = root_.live_path(dir);

        auto hex_attr = [&](const char* attr, std::uint32_t max) -> std::optional<std::uint32_t> {
            auto text = fileio::read_file_at(dfd.fd, attr, shown, 64);
            if (!text) {
                problem(d, text.error());
                return std::nullopt;
            }
            auto v = parse::sysfs_hex(*text, max);
            if (!v) {
                problem(d, make_error(v.error().message, (shown / attr).string()));
                return std::nullopt;
            }
            return *v;
        };

        // Config space gives identity, revision, subsystem and header type in
        // one read. The kernel's own files are read where config space cannot
        // be trusted: an SR-IOV VF reads vendor/device 0xffff there, and
        // `class` is what the kernel uses after its quirks.
        std::optional<parse::ConfigHeader> header;
        if (auto cfg = fileio::read_file_at(dfd.fd, "config", shown, 64)) {
            if (auto h = parse::config_header(*cfg)) header = *h;
            else problem(d, make_error(h.error().message, (shown / "config").string()));
        } else {
            problem(d, cfg.error());
        }
        if (!header || header->vendor == 0xffff) {
            if (auto v = hex_attr("vendor", 0xffff)) d.vendor = static_cast<std::uint16_t>(*v);
            else if (header) d.vendor = header->vendor;
            if (auto v = hex_attr("device", 0xffff)) d.device = static_cast<std::uint16_t>(*v);
            else if (header) d.device = header->device;
        } else {
            d.vendor = header->vendor;
            d.device = header->device;
        }
        if (auto cls = hex_attr("class", 0xffffff)) d.class_code = *cls;
        else if (header) d.class_code = header->class_code;
        if (header) {
            d.revision = header->revision;
            d.header_type = header->header_type;
            d.subsystem_vendor = header->subsystem_vendor;
            d.subsystem_device = header->subsystem_device;
        } else {
            if (auto v = hex_attr("revision", 0xff)) d.revision = static_cast<std::uint8_t>(*v);
            if (auto v = hex_attr("subsystem_vendor", 0xffff)) d.subsystem_vendor = static_cast<std::uint16_t>(*v);
            if (auto v = hex_attr("subsystem_device", 0xffff)) d.subsystem_device = static_cast<std::uint16_t>(*v);
        }

        if (auto drv = fileio::read_link_at(dfd.fd, "driver", shown)) d.driver = parse::link_basename(*drv);
        else if (!is_enoent(drv.error())) problem(d, drv.error());

        if (auto ov = fileio::read_file_at(dfd.fd, "driver_override", shown, 256)) d.driver_override = parse::driver_override(*ov);
        else if (!is_enoent(ov.error())) problem(d, ov.error());

        if (auto grp = fileio::read_link_at(dfd.fd, "iommu_group", shown)) {
            if (auto n = parse::iommu_group_link(*grp)) d.iommu_group = *n;
            else problem(d, make_error(n.error().message, (shown / "iommu_group").string()));
        } else if (!is_enoent(grp.error())) {
            problem(d, grp.error());
        }

        if (d.is_display()) {
            if (auto bv = fileio::read_file_at(dfd.fd, "boot_vga", shown, 16)) {
                if (auto v = parse::sysfs_int(*bv)) d.boot_vga = *v != 0;
                else problem(d, make_error(v.error().message, (shown / "boot_vga").string()));
            } else if (!is_enoent(bv.error())) {
                problem(d, bv.error());
            }
        }

        if (auto rm = fileio::read_file_at(dfd.fd, "reset_method", shown, 256)) {
            d.reset_methods = parse::word_list(*rm);
            out.lists_reset_methods = true;
        } else if (!is_enoent(rm.error())) {
            problem(d, rm.error());
        }

        if (auto nn = fileio::read_file_at(dfd.fd, "numa_node", shown, 32)) {
            if (auto v = parse::sysfs_int(*nn); v && *v >= 0) d.numa_node = static_cast<int>(*v);
        }

        if (auto pf = fileio::read_link_at(dfd.fd, "physfn", shown)) {
            if (auto a = PciAddress::parse(parse::link_basename(*pf))) d.physfn = *a;
            else problem(d, make_error(a.error().message, (shown / "physfn").string()));
        }
    }

    void link_virtfns() {
        for (const auto& d : host_.devices) {
            if (!d.physfn) continue;
            auto it = std::lower_bound(host_.devices.begin(), host_.devices.end(), *d.physfn,
                                       [](const PciDevice& x, const PciAddress& a) { return x.address < a; });
            if (it != host_.devices.end() && it->address == *d.physfn) it->virtfns.push_back(d.address);
        }
    }

    // Kernels since 5.15 show reset_method on every device that can be reset:
    // there, a missing file means no method. Older kernels say nothing.
    void settle_reset_methods() {
        if (!kernel_lists_reset_methods_) return;
        for (auto& d : host_.devices)
            if (!d.reset_methods) d.reset_methods.emplace();
    }

    void read_host_facts() {
        if (auto units = fileio::list_dir(root_.sys("class/iommu"))) host_.iommu_units = *units;
        if (auto cmd = fileio::read_file(root_.proc("cmdline"), 64 * 1024))
            host_.kernel_cmdline = std::string(parse::trim(*cmd));
        else
            host_.warnings.push_back("kernel command line unknown: " + cmd.error().describe());
        if (auto cpu = fileio::read_file(root_.proc("cpuinfo"), 256 * 1024)) host_.cpu_vendor = parse::cpu_vendor(*cpu);
    }

    // Facts for `hostdev doctor` and `hostdev boot-config`; each stays unknown
    // (nullopt) when its files are not under the root.
    void read_readiness_facts() {
        if (auto r = fileio::read_file(root_.proc("sys/kernel/osrelease"), 256)) {
            std::string rel(parse::trim(*r));
            if (!rel.empty() && rel.find('/') == std::string::npos && rel != "." && rel != "..")
                host_.kernel_release = rel;
        }
        if (auto t = fileio::read_file(root_.proc("interrupts"), 8u << 20))
            host_.interrupt_remapping = parse::interrupt_remapping(*t);
        if (auto t = fileio::read_file(root_.proc("modules"), 8u << 20)) host_.loaded_modules = parse::loaded_modules(*t);
        if (host_.kernel_release) {
            const fs::path mods = root_.lib("modules/" + *host_.kernel_release);
            if (fileio::list_dir(mods)) {
                Host::VfioModules v;
                module_files(mods / "kernel/drivers/vfio", 0, v.available);
                std::sort(v.available.begin(), v.available.end());
                v.available.erase(std::unique(v.available.begin(), v.available.end()), v.available.end());
                if (auto b = fileio::read_file(mods / "modules.builtin", 8u << 20))
                    v.builtin = parse::builtin_modules(*b, "kernel/drivers/vfio/");
                host_.vfio_modules = std::move(v);
            }
        }
        read_framebuffers();
        std::set<std::string> drivers;
        for (const auto& d : host_.devices)
            if (d.driver) drivers.insert(*d.driver);
        for (const auto& drv : drivers)
            if (auto m = fileio::read_link(root_.pci_drivers() / drv / "module"))
                host_.driver_modules[drv] = parse::link_basename(*m);
        if (!fileio::exists(root_.etc())) return;  // a copied tree without /etc: unknown
        host_.libvirt_hook = find_hook();
        if (fileio::exists(root_.etc("dracut.conf")) || fileio::exists(root_.etc("dracut.conf.d")))
            host_.initramfs_tool = InitramfsTool::Dracut;
        else if (fileio::exists(root_.etc("mkinitcpio.conf")))
            host_.initramfs_tool = InitramfsTool::Mkinitcpio;
        else if (fileio::exists(root_.etc("initramfs-tools")))
            host_.initramfs_tool = InitramfsTool::InitramfsTools;
        else
            host_.initramfs_tool = InitramfsTool::None;
        host_.bootloader = Bootloader::None;
        for (const fs::path& dir : {root_.boot("loader/entries"), root_.efi("loader/entries"), root_.boot("efi/loader/entries")}) {
            auto entries = fileio::list_dir(dir);
            if (!entries) continue;
            host_.bootloader = Bootloader::SystemdBoot;
            for (const auto& e : *entries)
                if (e.size() > 5 && e.compare(e.size() - 5, 5, ".conf") == 0) host_.boot_entries.push_back(root_.live_path(dir / e));
        }
        std::sort(host_.boot_entries.begin(), host_.boot_entries.end());
        if (fileio::exists(root_.etc("default/grub"))) host_.bootloader = Bootloader::Grub;
    }

    // Kernel module files below dir (a few levels), by module name.
    void module_files(const fs::path& dir, int depth, std::vector<std::string>& out) {
        if (depth > 4) return;
        auto names = fileio::list_dir(dir);
        if (!names) return;
        for (const auto& n : *names) {
            if (auto m = parse::module_file_name(n)) out.push_back(*m);
            else module_files(dir / n, depth + 1, out);
        }
    }

    void read_framebuffers() {
        std::optional<std::vector<std::string>> fbs;
        if (auto t = fileio::read_file(root_.proc("fb"), 64 * 1024)) fbs = parse::firmware_framebuffers(*t);
        const fs::path platform = root_.sys("bus/platform/drivers");
        if (auto drivers = fileio::list_dir(platform)) {
            if (!fbs) fbs.emplace();
            for (const auto& drv : *drivers) {
                auto fb = parse::framebuffer_of_platform_driver(drv);
                if (!fb) continue;
                auto entries = fileio::list_dir(platform / drv);
                if (!entries) continue;
                // A bound device is a link named after the device: efi-framebuffer.0.
                const bool bound = std::any_of(entries->begin(), entries->end(), [&](const std::string& e) {
                    return e.size() > drv.size() && e.compare(0, drv.size(), drv) == 0 && e[drv.size()] == '.';
                });
                if (!bound) continue;
                // simpledrm binds the simple-framebuffer device too; /proc/fb tells them apart.
                if (*fb == "simplefb" && std::find(fbs->begin(), fbs->end(), "simpledrm") != fbs->end()) continue;
                fbs->push_back(*fb);
            }
            std::sort(fbs->begin(), fbs->end());
            fbs->erase(std::unique(fbs->begin(), fbs->end()), fbs->end());
        }
        host_.firmware_framebuffers = std::move(fbs);
    }

    // An executable file, following a link inside the root (an absolute link
    // target is taken relative to the root, as on the host itself).
    std::optional<fs::path> executable_in_root(const fs::path& p) {
        fs::path target = p;
        for (int hops = 0; hops < 8; ++hops) {
            struct stat st {};
            if (::lstat(target.c_str(), &st) != 0) return std::nullopt;
            if (!S_ISLNK(st.st_mode)) {
                if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) return std::nullopt;
                return target;
            }
            auto link = fileio::read_link(target);
            if (!link) return std::nullopt;
            if (!link->empty() && link->front() == '/') target = root_.is_live() ? fs::path(*link) : root_.root() / link->substr(1);
            else target = fileio::resolve_link_lexically(target.parent_path(), *link);
        }
        return std::nullopt;
    }

    static bool names_hostdev(const std::string& s) { return s.find("hostdev") != std::string::npos; }

    // The hostdev hook: an executable in hooks/qemu.d named for hostdev (or
    // linking to hostdev-hook, or a wrapper that runs it), or hooks/qemu
    // itself being or running hostdev-hook.
    std::string find_hook() {
        auto runs_hostdev = [&](const fs::path& p) {
            auto exe = executable_in_root(p);
            if (!exe) return false;
            if (names_hostdev(p.filename().string()) || names_hostdev(exe->filename().string())) return true;
            auto text = fileio::read_file(*exe, 32u << 20);
            return text && text->find("hostdev-hook") != std::string::npos;
        };
        const fs::path dir = root_.etc("libvirt/hooks/qemu.d");
        if (auto names = fileio::list_dir(dir))
            for (const auto& n : *names)
                if (runs_hostdev(dir / n)) return root_.live_path(dir / n);
        const fs::path legacy = root_.etc("libvirt/hooks/qemu");
        if (runs_hostdev(legacy)) return root_.live_path(legacy);
        return "";
    }

    void read_groups() {
        auto names = fileio::list_dir(root_.iommu_groups());
        std::set<int> with_members;
        for (const auto& d : host_.devices)
            if (d.iommu_group) with_members.insert(*d.iommu_group);
        if (names) {
            for (const auto& name : *names) {
                auto n = parse::iommu_group_link(name);
                if (!n) continue;
                host_.groups[*n].number = *n;
                if (with_members.count(*n)) continue;
                // No device links to this group: take the group's own member list.
                if (auto members = fileio::list_dir(root_.iommu_groups() / name / "devices")) {
                    for (const auto& m : *members) adopt_group_member(m, *n);
                }
            }
        }
        host_.iommu_present = !host_.iommu_units.empty() || !host_.groups.empty();
        if (host_.iommu_present && host_.groups.empty())
            host_.warnings.push_back("an IOMMU is present (" + join(host_.iommu_units) +
                                     ") but there are no IOMMU groups: is it enabled on the kernel command line?");
    }

    void adopt_group_member(const std::string& name, int group) {
        auto a = PciAddress::parse(name);
        if (!a) return;
        auto it = std::lower_bound(host_.devices.begin(), host_.devices.end(), *a,
                                   [](const PciDevice& x, const PciAddress& y) { return x.address < y; });
        if (it != host_.devices.end() && it->address == *a) {
            it->iommu_group = group;
            it->problems.push_back("iommu_group link missing; group taken from " +
                                   root_.live_path(root_.iommu_groups() / std::to_string(group) / "devices"));
            return;
        }
        PciDevice d;
        d.address = *a;
        d.iommu_group = group;
        d.problems.push_back("listed in IOMMU group " + std::to_string(group) + " but absent from " +
                             root_.live_path(root_.pci_devices()));
        host_.devices.insert(it, std::move(d));
    }

    void add_role(const std::optional<PciAddress>& a, HostRole role) {
        if (!a) return;
        auto it = std::lower_bound(host_.devices.begin(), host_.devices.end(), *a,
                                   [](const PciDevice& x, const PciAddress& y) { return x.address < y; });
        if (it != host_.devices.end() && it->address == *a) it->roles.push_back(role);
    }

    // A block device's PCI controllers, through device-mapper/md slaves.
    void block_controllers(const fs::path& block_dir, int depth, std::vector<PciAddress>& out) {
        if (depth > 8) return;
        if (auto a = pci_ancestor(block_dir)) {
            out.push_back(*a);
            return;
        }
        auto real = real_path(block_dir);
        if (!real) return;
        fs::path dir = *real;
        // A partition has no slaves of its own; its disk (the parent) may.
        for (const fs::path& d : {dir, dir.parent_path()}) {
            if (auto slaves = fileio::list_dir(d / "slaves")) {
                for (const auto& s : *slaves) block_controllers(root_.sys("class/block") / s, depth + 1, out);
                return;
            }
        }
    }

    void read_roles() {
        // Root filesystem.
        if (auto mi = fileio::read_file(root_.proc("self/mountinfo"), 4u << 20)) {
            if (auto m = parse::root_mount(*mi)) {
                std::vector<PciAddress> ctrls;
                if (m->major != 0)
                    block_controllers(root_.sys("dev/block/" + std::to_string(m->major) + ":" + std::to_string(m->minor)), 0, ctrls);
                if (ctrls.empty() && m->source.rfind("/dev/", 0) == 0)
                    block_controllers(root_.sys("class/block") / parse::link_basename(m->source), 0, ctrls);
                for (const auto& c : ctrls) add_role(c, HostRole::RootFilesystem);
            }
        }
        // Default route, through bridges, bonds and VLANs to the physical NICs.
        std::vector<std::string> ifaces;
        if (auto r = fileio::read_file(root_.proc("net/route"), 4u << 20)) ifaces = parse::default_route_interfaces(*r);
        if (auto r = fileio::read_file(root_.proc("net/ipv6_route"), 4u << 20))
            for (auto& i : parse::default_route_interfaces_v6(*r))
                if (std::find(ifaces.begin(), ifaces.end(), i) == ifaces.end()) ifaces.push_back(i);
        for (const auto& i : ifaces) net_role(i, 0);
        // Keyboards.
        if (auto inputs = fileio::list_dir(root_.sys("class/input"))) {
            for (const auto& in : *inputs) {
                if (in.rfind("input", 0) != 0) continue;
                fs::path dir = root_.sys("class/input") / in;
                auto ev = fileio::read_file(dir / "capabilities/ev", 256);
                if (ev && parse::input_is_keyboard(*ev)) add_role(pci_ancestor(dir), HostRole::HostKeyboard);
            }
        }
        // Boot display.
        for (auto& d : host_.devices)
            if (d.boot_vga.value_or(false)) d.roles.push_back(HostRole::BootVga);
    }

    void net_role(const std::string& iface, int depth) {
        if (depth > 4 || iface.find('/') != std::string::npos) return;
        fs::path dir = root_.sys("class/net") / iface;
        if (fileio::exists(dir / "device")) {
            add_role(pci_ancestor(dir / "device"), HostRole::DefaultRoute);
            return;
        }
        if (auto entries = fileio::list_dir(dir)) {
            for (const auto& e : *entries)
                if (e.rfind("lower_", 0) == 0) net_role(e.substr(6), depth + 1);
        }
        if (auto ports = fileio::list_dir(dir / "brif"))
            for (const auto& p : *ports) net_role(p, depth + 1);
    }

    const FsRoot& root_;
    Host& host_;
    bool kernel_lists_reset_methods_ = false;
    unsigned threads_ = 0;
    ReadOptions::Readiness readiness_ = ReadOptions::Readiness::Read;
};

}  // namespace

Result<Host> read_host(const FsRoot& root, const ReadOptions& options) {
    Host host;
    Reader reader(root, host, options);
    if (auto st = reader.read(); !st) return st.error();
    if (options.names == ReadOptions::Names::Resolve) resolve_names(host, options.pci_ids);
    return host;
}

void resolve_names(Host& host, const PciIds& ids) {
    for (auto& d : host.devices) {
        if (d.vendor_name.empty()) d.vendor_name = ids.vendor(d.vendor);
        if (d.device_name.empty()) d.device_name = ids.device(d.vendor, d.device);
        if (d.class_name.empty()) d.class_name = ids.class_name(d.class_id());
    }
}

void resolve_names(Host& host, const std::optional<std::filesystem::path>& pci_ids) {
    std::unordered_set<std::uint16_t> wanted;
    bool missing = false;
    for (const auto& d : host.devices) {
        wanted.insert(d.vendor);
        missing = missing || d.vendor_name.empty() || d.device_name.empty() || d.class_name.empty();
    }
    if (!missing) return;
    auto ids = PciIds::load(pci_ids ? *pci_ids : PciIds::default_path(), &wanted);
    if (!ids) {
        host.warnings.push_back("device names unavailable: " + ids.error().describe());
        return;
    }
    if (ids->skipped_lines() > 0)
        host.warnings.push_back(std::to_string(ids->skipped_lines()) + " malformed lines of the PCI ID database skipped; " +
                                "the first: " + ids->first_problem());
    resolve_names(host, *ids);
}

}  // namespace hostdev
