#include "hostdev/host/sysfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>
#include <unordered_map>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/gpu_holders.hpp"
#include "hostdev/host/host_setup.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {
namespace {

namespace fs = std::filesystem;

bool is_enoent(const Error& e) { return e.err == ENOENT; }

// Config space: the standard header, and all of it where the serials are read
// (the Device Serial Number is an extended capability, beyond 0x100). Without
// root the kernel shows only the first 64 bytes.
constexpr std::size_t kConfigHeaderBytes = 64;
constexpr std::size_t kConfigSpaceBytes = 4096;  // PCI_CFG_SPACE_EXP_SIZE
// Longer than any serial or address file the kernel writes.
constexpr std::size_t kSerialFileBytes = 256;

// The subdirectory `name` of an open directory, not through a link.
std::optional<Fd> open_subdir(int dirfd, const char* name) {
    const int fd = ::openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    return Fd(fd);
}

// The NVMe controller serial (nvme/nvmeN/serial) and the permanent MAC of a
// network interface (net/IF/address where addr_assign_type is 0) of the
// device whose directory `dirfd` is open: the first found in name order.
// Unreadable or absent files leave them unknown: most devices have neither.
void read_nvme_and_mac(const FsRoot& root, int dirfd, const fs::path& shown, DeviceSerials& out) {
    auto each_entry = [&](const char* sub, auto&& f) {
        auto dir = open_subdir(dirfd, sub);
        if (!dir) return;
        auto names = fileio::list_dir_fd(::openat(dir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), shown / sub);
        if (!names) return;
        for (const auto& name : *names) {
            auto entry = open_subdir(dir->get(), name.c_str());
            if (entry && f(entry->get(), shown / sub / name)) return;
        }
    };
    each_entry("nvme", [&](int fd, const fs::path& at) {
        auto text = root.read_file_at(fd, "serial", at, kSerialFileBytes);
        if (text) out.nvme = parse::nvme_serial(*text);
        return out.nvme.has_value();
    });
    each_entry("net", [&](int fd, const fs::path& at) {
        auto address = root.read_file_at(fd, "address", at, kSerialFileBytes);
        auto type = root.read_file_at(fd, "addr_assign_type", at, kSerialFileBytes);
        if (address && type) out.mac = parse::permanent_mac(*address, *type);
        return out.mac.has_value();
    });
}

// Reads one device directory: the device's identity, driver, group and the
// facts the policy needs. What cannot be read becomes a problem of the device.
class DeviceReader {
public:
    DeviceReader(const FsRoot& root, int dirfd, fs::path shown, PciDevice& d, ReadOptions::Serials serials)
        : root_(root), dfd_(dirfd), shown_(std::move(shown)), d_(d), serials_(serials) {}

    // Returns whether the device lists its reset methods (kernel 5.15 and later).
    bool read() {
        read_identity();
        if (serials_ == ReadOptions::Serials::Read) read_nvme_and_mac(root_, dfd_, shown_, d_.serials);
        read_binding();
        read_platform_facts();
        return read_reset_methods();
    }

private:
    void problem(const Error& e) { d_.problems.push_back(e.describe()); }
    void problem_at(const char* attr, const std::string& what) {
        d_.problems.push_back(make_error(what, (shown_ / attr).string()).describe());
    }

    Result<std::string> attr(const char* name, std::size_t max) const {
        return root_.read_file_at(dfd_, name, shown_, max);
    }
    // The target of a link attribute (driver, iommu_group, physfn); the link is not followed.
    Result<std::string> link(const char* name) const { return fileio::read_link_at(dfd_, name, shown_); }

    std::optional<std::uint32_t> hex_attr(const char* name, std::uint32_t max) {
        auto text = attr(name, 64);
        if (!text) {
            problem(text.error());
            return std::nullopt;
        }
        auto v = parse::sysfs_hex(*text, max);
        if (!v) {
            problem_at(name, v.error().message);
            return std::nullopt;
        }
        return *v;
    }

    // Config space gives identity, revision, subsystem and header type in
    // one read. The kernel's own files are read where config space cannot
    // be trusted: an SR-IOV VF reads vendor/device 0xffff there, and
    // `class` is what the kernel uses after its quirks.
    void read_identity() {
        std::optional<parse::ConfigHeader> header;
        const bool serials = serials_ == ReadOptions::Serials::Read;
        if (auto cfg = attr("config", serials ? kConfigSpaceBytes : kConfigHeaderBytes)) {
            if (auto h = parse::config_header(std::string_view(*cfg).substr(0, kConfigHeaderBytes)))
                header = *h;
            else
                problem_at("config", h.error().message);
            if (serials) d_.serials.dsn = parse::device_serial_number(*cfg);
        } else {
            problem(cfg.error());
        }
        if (!header || header->vendor == 0xffff) {
            if (auto v = hex_attr("vendor", 0xffff))
                d_.vendor = static_cast<std::uint16_t>(*v);
            else if (header)
                d_.vendor = header->vendor;
            if (auto v = hex_attr("device", 0xffff))
                d_.device = static_cast<std::uint16_t>(*v);
            else if (header)
                d_.device = header->device;
        } else {
            d_.vendor = header->vendor;
            d_.device = header->device;
        }
        if (auto cls = hex_attr("class", 0xffffff))
            d_.class_code = *cls;
        else if (header)
            d_.class_code = header->class_code;
        if (header) {
            d_.revision = header->revision;
            d_.header_type = header->header_type;
            d_.subsystem_vendor = header->subsystem_vendor;
            d_.subsystem_device = header->subsystem_device;
            return;
        }
        if (auto v = hex_attr("revision", 0xff)) d_.revision = static_cast<std::uint8_t>(*v);
        if (auto v = hex_attr("subsystem_vendor", 0xffff)) d_.subsystem_vendor = static_cast<std::uint16_t>(*v);
        if (auto v = hex_attr("subsystem_device", 0xffff)) d_.subsystem_device = static_cast<std::uint16_t>(*v);
    }

    // Driver, driver_override and IOMMU group.
    void read_binding() {
        if (auto drv = link("driver"))
            d_.driver = parse::link_basename(*drv);
        else if (!is_enoent(drv.error()))
            problem(drv.error());

        if (auto ov = attr("driver_override", 256))
            d_.driver_override = parse::driver_override(*ov);
        else if (!is_enoent(ov.error()))
            problem(ov.error());

        if (auto grp = link("iommu_group")) {
            if (auto n = parse::iommu_group_link(*grp))
                d_.iommu_group = *n;
            else
                problem_at("iommu_group", n.error().message);
        } else if (!is_enoent(grp.error())) {
            problem(grp.error());
        }
    }

    // Boot display, NUMA node, SR-IOV parent.
    void read_platform_facts() {
        if (d_.is_display()) {
            if (auto bv = attr("boot_vga", 16)) {
                if (auto v = parse::sysfs_int(*bv))
                    d_.boot_vga = *v != 0;
                else
                    problem_at("boot_vga", v.error().message);
            } else if (!is_enoent(bv.error())) {
                problem(bv.error());
            }
        }
        if (auto nn = attr("numa_node", 32)) {
            if (auto v = parse::sysfs_int(*nn); v && *v >= 0) d_.numa_node = static_cast<int>(*v);
        }
        if (auto ma = attr("modalias", 256)) d_.modalias = std::string(parse::trim(*ma));
        read_mediation();
        if (auto pf = link("physfn")) {
            if (auto a = PciAddress::parse(parse::link_basename(*pf)))
                d_.physfn = *a;
            else
                problem_at("physfn", a.error().message);
        }
    }

    // An mdev parent (mdev_supported_types/), an NVIDIA vGPU function
    // (nvidia/current_vgpu_type nonzero).
    void read_mediation() {
        d_.mdev_parent = ::faccessat(dfd_, "mdev_supported_types", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        const int nv = ::openat(dfd_, "nvidia", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nv < 0) return;
        const Fd nvidia(nv);
        if (auto t = root_.read_file_at(nvidia.get(), "current_vgpu_type", shown_ / "nvidia", 64)) {
            if (auto v = parse::sysfs_int(*t); v && *v > 0)
                d_.vgpu_type = static_cast<unsigned>(*v);
            else if (!v)
                problem_at("nvidia/current_vgpu_type", v.error().message);
        }
    }

    bool read_reset_methods() {
        auto rm = attr("reset_method", 256);
        if (rm) {
            d_.reset_methods = parse::word_list(*rm);
            return true;
        }
        if (!is_enoent(rm.error())) problem(rm.error());
        return false;
    }

    const FsRoot& root_;
    int dfd_;
    fs::path shown_;
    PciDevice& d_;
    ReadOptions::Serials serials_;
};

class Reader {
public:
    Reader(const FsRoot& root, Host& host, const ReadOptions& options)
        : root_(root),
          host_(host),
          threads_(options.threads),
          readiness_(options.readiness),
          serials_(options.serials) {}

    Status read() {
        auto names = root_.list_dir(root_.pci_devices());
        if (!names) {
            return names.error().reworded("no PCI devices directory (is this a Linux root with /sys mounted?)");
        }
        // The bus directory, open once: each device's link is read relative to it.
        auto devices_dir = root_.open(root_.pci_devices(), O_PATH | O_DIRECTORY);
        if (!devices_dir)
            return devices_dir.error().reworded("no PCI devices directory (is this a Linux root with /sys mounted?)");
        devices_fd_ = devices_dir->get();
        devices_path_ = root_.pci_devices();
        devices_shown_ = root_.live_path(devices_path_);
        read_devices(*names);
        std::sort(host_.devices.begin(), host_.devices.end(),
                  [](const PciDevice& a, const PciDevice& b) { return a.address < b.address; });
        link_virtfns();
        settle_reset_methods();
        read_host_facts();
        if (readiness_ == ReadOptions::Readiness::Read) {
            read_readiness_facts();
            read_host_setup(root_, host_);
        }
        read_groups();
        read_roles();
        host_.normalize();
        if (!host_.iommu_present) host_.warnings.push_back(no_iommu_advice(host_));
        return ok_status();
    }

private:
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
        std::size_t threads =
            threads_ != 0 ? threads_ : std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 4);
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

    // The device directory behind a bus link, opened inside the root. On the
    // live root the link is followed lexically (no per-component lookups);
    // under another root the kernel resolves it there (openat2).
    Result<Fd> open_device_dir(const fs::path& link, const fs::path& dir) const {
        if (root_.is_live()) {
            int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) return make_error("device directory is missing", dir.string(), errno);
            return Fd(fd);
        }
        auto fd = root_.open(link, O_PATH | O_DIRECTORY);
        if (!fd) return make_error("device directory is missing", root_.live_path(dir), fd.error().err);
        return fd;
    }

    void read_device(const std::string& name, Batch& out) const {
        auto addr = PciAddress::parse(name);
        if (!addr) {
            out.warnings.push_back("ignoring " + root_.live_path(root_.pci_device(name)) + ": " + addr.error().message);
            return;
        }
        PciDevice& d = out.devices.emplace_back();
        d.address = *addr;
        const fs::path link = root_.pci_device(name);

        // Real location and parent bridges from the bus link's text.
        fs::path dir = link;
        if (auto target = fileio::read_link_at(devices_fd_, name.c_str(), devices_shown_)) {
            dir = root_.link_target(devices_path_, *target);
            auto chain = parse::pci_addresses_in_path(*target);
            if (!chain.empty() && chain.back() == d.address) chain.pop_back();
            d.parent_bridges.assign(chain.rbegin(), chain.rend());
        }
        auto dfd = open_device_dir(link, dir);
        if (!dfd) {
            d.problems.push_back(dfd.error().describe());
            return;
        }
        if (DeviceReader(root_, dfd->get(), root_.live_path(dir), d, serials_).read()) out.lists_reset_methods = true;
        // Its network interfaces: the entries of net/ (none for most devices).
        if (auto names = root_.list_dir(dir / "net")) d.netdevs = std::move(*names);
    }

    void link_virtfns() {
        for (std::size_t i = 0; i < host_.devices.size(); ++i) {
            const PciDevice& vf = host_.devices[i];
            if (!vf.physfn) continue;
            if (PciDevice* pf = host_.find(*vf.physfn)) pf->virtfns.push_back(vf.address);
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
        if (auto units = root_.list_dir(root_.sys("class/iommu"))) host_.iommu_units = *units;
        if (auto cmd = root_.read_file(root_.proc("cmdline"), 64 * 1024))
            host_.kernel_cmdline = std::string(parse::trim(*cmd));
        else
            host_.warnings.push_back("kernel command line unknown: " + cmd.error().describe());
        if (auto cpu = root_.read_file(root_.proc("cpuinfo"), 256 * 1024)) host_.cpu_vendor = parse::cpu_vendor(*cpu);
    }

    // The procfs and sysfs facts for `hostdev doctor` and `hostdev
    // boot-config` (the host's setup comes from host_setup.hpp); each stays
    // unknown (nullopt) when its files are not under the root.
    void read_readiness_facts() {
        host_.kernel_release = read_kernel_release(root_);
        if (auto t = root_.read_file(root_.proc("interrupts"), 8u << 20))
            host_.interrupt_remapping = parse::interrupt_remapping(*t);
        if (auto t = root_.read_file(root_.proc("modules"), 8u << 20)) host_.loaded_modules = parse::loaded_modules(*t);
        read_gpu_holder_facts();
        read_framebuffers();
        std::set<std::string> drivers;
        for (const auto& d : host_.devices)
            if (d.driver) drivers.insert(*d.driver);
        for (const auto& drv : drivers)
            if (auto m = root_.read_link(root_.pci_driver(drv) / "module"))
                host_.driver_modules[drv] = parse::link_basename(*m);
    }

    void read_framebuffers() {
        std::optional<std::vector<std::string>> fbs;
        if (auto t = root_.read_file(root_.proc("fb"), 64 * 1024)) fbs = parse::firmware_framebuffers(*t);
        // The platform devices and their drivers (one reader, gpu_holders.hpp):
        // a bound efi-framebuffer.0 is efifb, and so on. Read once: the GPU
        // holders have them already when there is a display.
        auto devices =
            host_.gpu_holders ? host_.gpu_holders->firmware_devices : read_firmware_framebuffer_devices(root_);
        if (devices) {
            if (!fbs) fbs.emplace();
            for (const auto& dev : *devices) {
                if (!dev.driver) continue;
                auto fb = parse::framebuffer_of_platform_driver(*dev.driver);
                if (!fb) continue;
                // simpledrm binds the simple-framebuffer device too; /proc/fb tells them apart.
                if (*fb == "simplefb" && std::find(fbs->begin(), fbs->end(), "simpledrm") != fbs->end()) continue;
                fbs->push_back(*fb);
            }
            std::sort(fbs->begin(), fbs->end());
            fbs->erase(std::unique(fbs->begin(), fbs->end()), fbs->end());
        }
        host_.firmware_framebuffers = std::move(fbs);
    }

    // What holds the display devices; read only on a host that has one.
    void read_gpu_holder_facts() {
        const bool display =
            std::any_of(host_.devices.begin(), host_.devices.end(), [](const PciDevice& d) { return d.is_display(); });
        if (display) host_.gpu_holders = read_gpu_holders(root_);
    }

    void read_groups() {
        auto names = root_.list_dir(root_.iommu_groups());
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
                if (auto members = root_.list_dir(root_.iommu_groups() / name / "devices")) {
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
        if (PciDevice* known = host_.find(*a)) {
            known->iommu_group = group;
            known->problems.push_back("iommu_group link missing; group taken from " +
                                      root_.live_path(root_.iommu_groups() / std::to_string(group) / "devices"));
            return;
        }
        PciDevice d;
        d.address = *a;
        d.iommu_group = group;
        d.problems.push_back("listed in IOMMU group " + std::to_string(group) + " but absent from " +
                             root_.live_path(root_.pci_devices()));
        // Kept in address order, as Host::find expects.
        auto at = std::upper_bound(host_.devices.begin(), host_.devices.end(), d.address,
                                   [](const PciAddress& y, const PciDevice& x) { return y < x.address; });
        host_.devices.insert(at, std::move(d));
    }

    void add_role(const std::optional<PciAddress>& a, HostRole role) {
        if (!a) return;
        if (PciDevice* d = host_.find(*a)) d->roles.push_back(role);
    }

    // The PCI device nearest to a sysfs path (its last PCI component once
    // every link is followed inside the root).
    std::optional<PciAddress> pci_ancestor(const fs::path& p) const {
        auto real = root_.resolve(p);
        if (!real) return std::nullopt;
        auto addrs = parse::pci_addresses_in_path(root_.live_path(*real));
        if (addrs.empty()) return std::nullopt;
        return addrs.back();
    }

    // A block device's PCI controllers, through device-mapper/md slaves.
    void block_controllers(const fs::path& block_dir, int depth, std::vector<PciAddress>& out) const {
        if (depth > 8) return;
        auto real = root_.resolve(block_dir);
        if (!real) return;
        if (auto addrs = parse::pci_addresses_in_path(root_.live_path(*real)); !addrs.empty()) {
            out.push_back(addrs.back());
            return;
        }
        // A partition has no slaves of its own; its disk (the parent) may.
        for (const fs::path& d : {*real, real->parent_path()}) {
            if (auto slaves = root_.list_dir(d / "slaves")) {
                for (const auto& s : *slaves) block_controllers(root_.sys("class/block") / s, depth + 1, out);
                return;
            }
        }
    }

    void read_roles() {
        // Root filesystem.
        if (auto mi = root_.read_file(root_.proc("self/mountinfo"), 4u << 20)) {
            if (auto m = parse::root_mount(*mi)) {
                std::vector<PciAddress> ctrls;
                if (m->major != 0)
                    block_controllers(
                        root_.sys("dev/block/" + std::to_string(m->major) + ":" + std::to_string(m->minor)), 0, ctrls);
                if (ctrls.empty() && m->source.rfind("/dev/", 0) == 0)
                    block_controllers(root_.sys("class/block") / parse::link_basename(m->source), 0, ctrls);
                for (const auto& c : ctrls) add_role(c, HostRole::RootFilesystem);
            }
        }
        // Default route, through bridges, bonds and VLANs to the physical NICs.
        std::vector<std::string> ifaces;
        if (auto r = root_.read_file(root_.proc("net/route"), 4u << 20)) ifaces = parse::default_route_interfaces(*r);
        if (auto r = root_.read_file(root_.proc("net/ipv6_route"), 4u << 20))
            for (auto& i : parse::default_route_interfaces_v6(*r))
                if (std::find(ifaces.begin(), ifaces.end(), i) == ifaces.end()) ifaces.push_back(i);
        for (const auto& i : ifaces) net_role(i, 0);
        // Keyboards.
        if (auto inputs = root_.list_dir(root_.sys("class/input"))) {
            for (const auto& in : *inputs) {
                if (in.rfind("input", 0) != 0) continue;
                fs::path dir = root_.sys("class/input") / in;
                auto ev = root_.read_file(dir / "capabilities/ev", 256);
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
        if (root_.exists(dir / "device")) {
            add_role(pci_ancestor(dir / "device"), HostRole::DefaultRoute);
            return;
        }
        if (auto entries = root_.list_dir(dir)) {
            for (const auto& e : *entries)
                if (e.rfind("lower_", 0) == 0) net_role(e.substr(6), depth + 1);
        }
        if (auto ports = root_.list_dir(dir / "brif"))
            for (const auto& p : *ports) net_role(p, depth + 1);
    }

    const FsRoot& root_;
    Host& host_;
    int devices_fd_ = -1;  // ROOT/sys/bus/pci/devices, open while read() runs
    fs::path devices_path_, devices_shown_;
    bool kernel_lists_reset_methods_ = false;
    unsigned threads_ = 0;
    ReadOptions::Readiness readiness_ = ReadOptions::Readiness::Read;
    ReadOptions::Serials serials_ = ReadOptions::Serials::Read;
};

}  // namespace

Result<Host> read_host(const FsRoot& root, const ReadOptions& options) {
    Host host;
    Reader reader(root, host, options);
    if (auto st = reader.read(); !st) return st.error();
    if (options.names == ReadOptions::Names::Resolve) resolve_names(host, options.pci_ids);
    return host;
}

void read_serials(const FsRoot& root, Host& host, const std::vector<PciAddress>& addresses) {
    for (auto& d : host.devices) {
        if (!addresses.empty() && std::find(addresses.begin(), addresses.end(), d.address) == addresses.end()) continue;
        d.serials = {};
        const fs::path link = root.pci_device(d.address.str());
        auto dir = root.open(link, O_PATH | O_DIRECTORY);
        if (!dir) continue;
        const fs::path shown = root.live_path(link);
        if (auto cfg = root.read_file_at(dir->get(), "config", shown, kConfigSpaceBytes))
            d.serials.dsn = parse::device_serial_number(*cfg);
        read_nvme_and_mac(root, dir->get(), shown, d.serials);
    }
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
        host.warnings.push_back(std::to_string(ids->skipped_lines()) +
                                " malformed lines of the PCI ID database skipped; " +
                                "the first: " + ids->first_problem());
    resolve_names(host, *ids);
}

}  // namespace hostdev
