#include "hostdev/setup/bootconfig.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <set>
#include <system_error>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/policy/planner.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

namespace fs = std::filesystem;

std::string BootDevice::ids() const { return pci_ids(vendor, device); }

std::string ConfigFile::path() const { return FsRoot().etc(rel).string(); }

bool BootConfig::blocked() const {
    return std::any_of(plans.begin(), plans.end(), [](const FixResult& r) { return r.status == FixStatus::Blocked; });
}

std::string module_of_driver(const Host& host, const std::string& driver) {
    if (auto it = host.driver_modules.find(driver); it != host.driver_modules.end()) return it->second;
    // PCI drivers whose module has another name.
    static const std::map<std::string, std::string, std::less<>> kKnown = {
        {"xhci_hcd", "xhci_pci"},         {"i801_smbus", "i2c_i801"},     {"piix4_smbus", "i2c_piix4"},
        {"intel-lpss", "intel_lpss_pci"}, {"rtw_8822ce", "rtw88_8822ce"}, {"rtw_8821ce", "rtw88_8821ce"},
        {"rtw_8822be", "rtw88_8822be"},   {"rtw_8723de", "rtw88_8723de"},
    };
    if (auto it = kKnown.find(driver); it != kKnown.end()) return it->second;
    return parse::module_name(driver);
}

namespace {

std::string etc_path(std::string_view rel) { return FsRoot().etc(rel).string(); }

// Indents every line of a block.
std::string indent(std::string_view text, const std::string& prefix) {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        out += (line.empty() ? std::string() : prefix) + std::string(line) + "\n";
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return out;
}

CmdlineChange param_change(const Host& host, const std::string& name, const std::string& value) {
    CmdlineChange c;
    c.param = name + "=" + value;
    auto now = parse::cmdline_param(host.kernel_cmdline, name);
    if (!now) {
        c.action = CmdlineChange::Action::Add;
    } else if (*now == value) {
        c.action = CmdlineChange::Action::Present;
    } else {
        c.action = CmdlineChange::Action::Replace;
        c.current = name + (now->empty() ? "" : "=" + *now);
    }
    return c;
}

std::string modprobe_conf(const BootConfig& bc) {
    std::string s =
        "# Written by hostdev boot-config: binds these devices, whole IOMMU groups,\n"
        "# to vfio-pci at boot.\n";
    for (const auto& d : bc.devices)
        s += "#   " + d.address.str() + " " + d.ids() + " IOMMU group " + std::to_string(d.group) +
             (d.driver ? ", now on " + *d.driver : std::string(", no driver now")) +
             (d.by_address() ? " (by address)" : "") + "\n";
    if (!bc.ids.empty()) s += "options vfio-pci ids=" + join(bc.ids, ",") + "\n";
    std::vector<std::string> by_address;
    for (const auto& d : bc.devices)
        if (d.by_address()) by_address.push_back(d.address.str());
    if (!by_address.empty()) {
        const std::string override_path = FsRoot().pci_devices().string() + "/$a/driver_override";
        s += "# " + join(by_address, " ") +
             " share their IDs with devices that stay on the host, which\n"
             "# ids= would take too: they are bound by address, their driver_override set\n"
             "# to vfio-pci before vfio-pci loads.\n";
        s += "install vfio-pci for a in " + join(by_address, " ") + "; do echo vfio-pci > " + override_path +
             "; done; /sbin/modprobe --ignore-install vfio-pci $CMDLINE_OPTS\n";
    }
    if (!bc.softdeps.empty()) {
        s += "# Load vfio-pci before the devices' host drivers, so that it claims them first.\n";
        for (const auto& m : bc.softdeps) s += "softdep " + m + " pre: vfio-pci\n";
    }
    return s;
}

std::string dracut_conf(const std::vector<std::string>& modules) {
    return "# Written by hostdev boot-config: the vfio modules in the initramfs, so that\n"
           "# vfio-pci claims its devices before any other driver.\n"
           "add_drivers+=\" " +
           join(modules, " ") + " \"\n";
}

}  // namespace

namespace {

// Each input planned as hostdev-fix plans it; the devices to bind, by group.
std::map<PciAddress, int> plan_inputs(BootConfig& bc, const std::vector<BootConfigInput>& inputs, const Host& host,
                                      const BootConfigOptions& options) {
    PlanOptions popt;
    popt.hide_kvm = PlanOptions::HideKvm::Never;
    popt.whole_slot = options.whole_slot;
    std::map<PciAddress, int> bound;  // address -> group
    for (const auto& in : inputs) {
        FixResult r;
        r.file = in.source;
        r.domain = in.domain;
        r.plan = plan_domain(in.domain, host, popt);
        r.problems = r.plan.problems;
        r.status = r.plan.blocked() ? FixStatus::Blocked : FixStatus::Ok;
        for (const auto& g : r.plan.groups)
            for (const auto& m : g.members)
                if (m.verdict == Verdict::Covered || m.verdict == Verdict::Injected) bound[m.address] = g.group;
        bc.plans.push_back(std::move(r));
    }
    return bound;
}

// A device whose VFIO driver is a variant one (mlx5_vfio_pci, ...), or that is
// on one already, is not bound at boot: vfio-pci.ids= and the modprobe.d
// lines bind vfio-pci only, and a variant driver usually serves an SR-IOV VF
// that exists only once its PF driver has created it, after boot. It stays
// with its host driver until the hook (or libvirt's managed detach) moves it
// to its variant driver when the domain starts. True when it is left, with a note.
bool left_to_the_hook(BootConfig& bc, const PciDevice& d,
                      const std::map<PciAddress, std::optional<std::string>>& models, const Host& host,
                      VariantMode mode) {
    if (d.driver && is_vfio_driver(*d.driver, host) && *d.driver != kVfioPci) {
        bc.notes.push_back(d.address.str() + " is on the VFIO variant driver " + *d.driver +
                           " now: vfio-pci.ids= cannot bind a variant driver at boot, so it is not listed; "
                           "the hook leaves it where it is when the domain starts");
        return true;
    }
    const auto it = models.find(d.address);
    const VfioDriverChoice c = choose_vfio_driver(d, it == models.end() ? std::nullopt : it->second, host, mode);
    if (c.driver == kVfioPci) return false;
    bc.notes.push_back(c.reason +
                       ". vfio-pci.ids= cannot bind a VFIO variant driver at boot, so it is not listed: it "
                       "stays on its host driver at boot and the hook binds it to " +
                       c.driver + " when the domain starts (vfio_variant_drivers = no in hostdev.conf binds vfio-pci)");
    return true;
}

// The devices, who shares their IDs among the devices that stay, the IDs for
// ids=, the softdeps and what to know about them.
void plan_devices(BootConfig& bc, const std::map<PciAddress, int>& bound, const Host& host,
                  const std::map<PciAddress, std::optional<std::string>>& models, VariantMode mode) {
    for (const auto& [addr, group] : bound) {
        const PciDevice* d = host.find(addr);
        if (!d) continue;  // the planner already refused absent devices
        if (left_to_the_hook(bc, *d, models, host, mode)) continue;
        BootDevice b;
        b.address = addr;
        b.vendor = d->vendor;
        b.device = d->device;
        b.driver = d->driver;
        b.group = group;
        for (const auto& o : host.devices)
            if (o.vendor == d->vendor && o.device == d->device && !bound.count(o.address))
                b.shares_ids_with.push_back(o.address);
        bc.devices.push_back(std::move(b));
    }
    std::set<std::string> softdeps;
    for (const auto& d : bc.devices) {
        if (!d.by_address() && std::find(bc.ids.begin(), bc.ids.end(), d.ids()) == bc.ids.end())
            bc.ids.push_back(d.ids());
        if (d.driver && !is_vfio_driver(*d.driver, host)) {
            softdeps.insert(module_of_driver(host, *d.driver));
        } else {
            bc.notes.push_back(d.address.str() + (d.driver ? " is on vfio-pci now" : " has no driver now") +
                               ", so its host driver is unknown and gets no softdep line; add `softdep DRIVER pre: "
                               "vfio-pci` for it by hand if a host driver would claim it at boot");
        }
    }
    bc.softdeps.assign(softdeps.begin(), softdeps.end());
    const bool any_by_address =
        std::any_of(bc.devices.begin(), bc.devices.end(), [](const BootDevice& d) { return d.by_address(); });
    if (any_by_address && host.vfio_modules &&
        std::find(host.vfio_modules->builtin.begin(), host.vfio_modules->builtin.end(), "vfio_pci") !=
            host.vfio_modules->builtin.end())
        bc.notes.push_back(
            "vfio-pci is built into this kernel, so modprobe never runs its install line: the devices "
            "bound by address stay on their host drivers at boot; move them with hostdev detach or "
            "the hook instead");
}

void plan_cmdline(BootConfig& bc, const Host& host) {
    const std::string iommu(iommu_vendor_facts(host.cpu_vendor).param);
    if (iommu.empty())
        bc.notes.push_back(
            "the CPU vendor is unknown: add intel_iommu=on on an Intel CPU or amd_iommu=on on an AMD "
            "one to the kernel command line");
    else
        bc.cmdline.push_back(param_change(host, iommu, "on"));
    bc.cmdline.push_back(param_change(host, "iommu", "pt"));
    if (!bc.ids.empty()) {
        bc.cmdline.push_back(param_change(host, "vfio-pci.ids", join(bc.ids, ",")));
    } else if (auto now = parse::cmdline_param(host.kernel_cmdline, "vfio-pci.ids")) {
        CmdlineChange c;
        c.action = CmdlineChange::Action::Remove;
        c.param = "vfio-pci.ids=" + *now;
        c.current = c.param;
        bc.cmdline.push_back(c);
    }
}

void plan_initramfs(BootConfig& bc, const Host& host, const BootConfigOptions& options) {
    bc.initramfs_named = options.initramfs.has_value();
    bc.initramfs = options.initramfs;
    if (!bc.initramfs && host.initramfs_tool && *host.initramfs_tool != InitramfsTool::None)
        bc.initramfs = host.initramfs_tool;
    bc.initramfs_modules = {"vfio", "vfio_iommu_type1"};
    if (host.kernel_release) {
        // vfio_virqfd was merged into vfio in Linux 6.2.
        auto v = parse::kernel_version(*host.kernel_release);
        if (v && *v < std::pair{6, 2}) bc.initramfs_modules.push_back("vfio_virqfd");
    }
    bc.initramfs_modules.push_back("vfio_pci");
}

// What --write writes: modprobe.d/vfio.conf, and the chosen initramfs tool's file.
void plan_files(BootConfig& bc) {
    ConfigFile modprobe;
    modprobe.kind = ConfigFile::Kind::ModprobeConf;
    modprobe.rel = "modprobe.d/vfio.conf";
    modprobe.content = modprobe_conf(bc);
    bc.files.push_back(modprobe);
    if (!bc.initramfs) return;
    ConfigFile f;
    f.modules = bc.initramfs_modules;
    switch (*bc.initramfs) {
        case InitramfsTool::None: return;  // never chosen: plan_initramfs leaves it unset instead
        case InitramfsTool::InitramfsTools:
            f.kind = ConfigFile::Kind::InitramfsToolsModules;
            f.rel = "initramfs-tools/modules";
            break;
        case InitramfsTool::Dracut:
            f.kind = ConfigFile::Kind::DracutConf;
            f.rel = "dracut.conf.d/vfio.conf";
            f.content = dracut_conf(bc.initramfs_modules);
            break;
        case InitramfsTool::Mkinitcpio:
            f.kind = ConfigFile::Kind::MkinitcpioConf;
            f.rel = "mkinitcpio.conf";
            break;
    }
    bc.files.push_back(std::move(f));
}

}  // namespace

BootConfig plan_boot_config(const std::vector<BootConfigInput>& inputs, const Host& host,
                            const BootConfigOptions& options) {
    BootConfig bc;
    const std::map<PciAddress, int> bound = plan_inputs(bc, inputs, host, options);
    bc.bootloader = host.bootloader;
    bc.boot_entries = host.boot_entries;
    bc.host_initramfs = host.initramfs_tool;
    if (bc.blocked()) return bc;
    std::map<PciAddress, std::optional<std::string>> models;
    for (const auto& in : inputs)
        for (const auto& p : in.domain.passthrough)
            if (!models.count(p.source)) models[p.source] = p.driver_model;
    plan_devices(bc, bound, host, models, options.vfio_variants);
    plan_cmdline(bc, host);
    plan_initramfs(bc, host, options);
    plan_files(bc);
    return bc;
}

std::string boot_config_explanation(const BootConfig& bc, const Host& host) {
    std::string out;
    for (const auto& r : bc.plans) out += fix_explanation(r, host);
    return out;
}

namespace {

// The devices by group, what stays on the host, and the planner's problems.
std::string format_devices(const BootConfig& bc, const Host& host) {
    std::string out = "Devices to bind to vfio-pci at boot (whole IOMMU groups):\n";
    // Groups in address order of their first device, with the inputs that asked.
    std::map<int, std::vector<std::string>> sources;
    std::map<int, const GroupPlan*> group_plans;
    for (const auto& r : bc.plans) {
        const std::string who = r.file + (r.domain && !r.domain->name.empty() ? " (" + r.domain->name + ")" : "");
        for (const auto& g : r.plan.groups) {
            auto& s = sources[g.group];
            if (std::find(s.begin(), s.end(), who) == s.end()) s.push_back(who);
            group_plans.emplace(g.group, &g);
        }
    }
    std::vector<int> order;
    for (const auto& d : bc.devices)
        if (std::find(order.begin(), order.end(), d.group) == order.end()) order.push_back(d.group);
    for (int g : order) {
        out += "  IOMMU group " + std::to_string(g) + ", for " + join(sources[g], ", ") + ":\n";
        for (const auto& d : bc.devices) {
            if (d.group != g) continue;
            const PciDevice* p = host.find(d.address);
            out += "    " + (p ? describe_device(*p) : d.address.str()) + " [" + d.ids() + "], " +
                   (d.driver ? "now on " + *d.driver : std::string("no driver now")) + "\n";
        }
        if (auto it = group_plans.find(g); it != group_plans.end())
            for (const auto& m : it->second->members)
                if (m.verdict == Verdict::StaysOnHost) {
                    const PciDevice* p = host.find(m.address);
                    out += "    stays on the host: " + (p ? describe_device(*p) : m.address.str()) + ": " + m.reason +
                           "\n";
                }
    }
    for (const auto& r : bc.plans)
        for (const auto& p : r.problems) out += "  " + std::string(to_string(p.severity)) + ": " + p.message + "\n";
    return out;
}

// Devices bound by address because their IDs are shared, and why.
std::string format_by_address(const BootConfig& bc) {
    std::string out;
    std::vector<const BootDevice*> by_address;
    for (const auto& d : bc.devices)
        if (d.by_address()) by_address.push_back(&d);
    if (!by_address.empty()) {
        out += "\nBound by address, not by ID:\n";
        for (const BootDevice* d : by_address) {
            std::vector<std::string> others;
            for (const auto& o : d->shares_ids_with) others.push_back(o.str());
            out += "  " + d->address.str() + " [" + d->ids() + "]: " + d->ids() + " is also the ID of " +
                   join(others, ", ") + ", which " + (others.size() == 1 ? "stays" : "stay") +
                   " on the host; vfio-pci ids= and vfio-pci.ids= would bind " + (others.size() == 1 ? "it" : "them") +
                   " too, so " + d->ids() + " is left out of both.\n";
        }
        out +=
            "  vfio.conf binds them with an install line for vfio-pci that writes vfio-pci to their\n"
            "  driver_override before vfio-pci loads; the softdep lines load vfio-pci before their host\n"
            "  drivers. A udev rule would race: the host driver, loaded for the identical device that\n"
            "  stays, can claim them before udev handles their own event.\n";
    }
    return out;
}

// Things to know, in words.
std::string format_notes(const BootConfig& bc) {
    std::string out;
    if (!bc.notes.empty()) {
        out += "\nNotes:\n";
        for (const auto& n : bc.notes) out += "  - " + n + "\n";
    }
    return out;
}

// Step 2: the kernel command line, and the bootloader step that changes it.
std::string format_cmdline(const BootConfig& bc) {
    std::string out;
    // 2. kernel command line
    out += "\n2. Kernel command line";
    std::vector<std::string> add, present, replace, remove;
    for (const auto& c : bc.cmdline) {
        switch (c.action) {
            case CmdlineChange::Action::Add: add.push_back(c.param); break;
            case CmdlineChange::Action::Present: present.push_back(c.param); break;
            case CmdlineChange::Action::Replace: replace.push_back(c.current + " -> " + c.param); break;
            case CmdlineChange::Action::Remove: remove.push_back(c.current); break;
        }
    }
    const bool change = !add.empty() || !replace.empty() || !remove.empty();
    out += change ? ":\n" : ": nothing to change.\n";
    if (!add.empty()) out += "    add:     " + join(add, " ") + "\n";
    for (const auto& r : replace) out += "    replace: " + r + "\n";
    for (const auto& r : remove) out += "    remove:  " + r + " (no device is bound by ID any more)\n";
    if (!present.empty()) out += "    already there: " + join(present, " ") + "\n";
    if (change) {
        if (!bc.bootloader) {
            out +=
                "   The bootloader is unknown (the host snapshot does not say): change the kernel command line\n"
                "   the way your bootloader takes it.\n";
        } else if (*bc.bootloader == Bootloader::Grub) {
            out += "   GRUB: make the change inside GRUB_CMDLINE_LINUX_DEFAULT=\"...\" in " + etc_path("default/grub") +
                   ",\n   then run update-grub (grub2-mkconfig -o " + FsRoot().boot("grub2/grub.cfg").string() +
                   " where there is no update-grub).\n";
        } else if (*bc.bootloader == Bootloader::SystemdBoot) {
            out += "   systemd-boot: make the change on the `options` line of each boot entry (" +
                   (bc.boot_entries.empty() ? std::string("the loader/entries/*.conf files")
                                            : join(bc.boot_entries, ", ")) +
                   ");\n   no regeneration step. Where kernel-install writes the entries, make it in " +
                   etc_path("kernel/cmdline") + " too.\n";
        } else {
            out += "   No bootloader configuration was found (" + etc_path("default/grub") +
                   ", loader/entries under /boot or /efi):\n   change the kernel command line the way your "
                   "bootloader takes it.\n";
        }
    }
    return out;
}

// Step 3: the initramfs modules, for the chosen tool.
std::string format_initramfs(const BootConfig& bc) {
    std::string out;
    // 3. initramfs
    const std::string modules = join(bc.initramfs_modules, " ");
    out += "\n3. Initramfs";
    if (!bc.initramfs) {
        if (!bc.host_initramfs)
            out +=
                ": the tool is unknown (the host snapshot does not say); name it with --initramfs.\n"
                "   The modules to include, in this order: " +
                modules + "\n";
        else
            out += ": no initramfs tool was found (" + etc_path("initramfs-tools") + ", " + etc_path("dracut.conf") +
                   "(.d), " + etc_path("mkinitcpio.conf") + ").\n   If the kernel boots with an initramfs, include " +
                   modules + " in it; --initramfs names the tool.\n";
    } else {
        const ConfigFile& f = bc.files.back();
        out +=
            " (" + std::string(to_string(*bc.initramfs)) +
            (bc.initramfs_named && bc.host_initramfs && *bc.host_initramfs != *bc.initramfs
                 ? ", named with --initramfs; the host " + (*bc.host_initramfs == InitramfsTool::None
                                                                ? std::string("has none configured")
                                                                : "uses " + std::string(to_string(*bc.host_initramfs)))
                 : std::string()) +
            "): the vfio modules, so that vfio-pci loads before the devices' host drivers.\n";
        switch (f.kind) {
            case ConfigFile::Kind::InitramfsToolsModules:
                out += "   Add to " + f.path() + " the lines it lacks:\n\n" + indent(join(f.modules, "\n"), "    ") +
                       "\n   then run: update-initramfs -u\n";
                break;
            case ConfigFile::Kind::DracutConf:
                out += "   " + f.path() + " (the whole file):\n\n" + indent(f.content, "    ") +
                       "\n   then run: dracut -f\n";
                break;
            case ConfigFile::Kind::MkinitcpioConf:
                out += "   In " + f.path() + ", put " + join(f.modules, " ") +
                       " first in MODULES=(...) (the modconf hook\n   in HOOKS brings " + bc.files.front().path() +
                       " along), then run: mkinitcpio -P\n";
                break;
            case ConfigFile::Kind::ModprobeConf: break;
        }
    }
    return out;
}

}  // namespace

std::string format_boot_config(const BootConfig& bc, const Host& host) {
    std::string out = format_devices(bc, host) + format_by_address(bc) + format_notes(bc);
    // 1. modprobe.d
    out += "\n1. " + bc.files.front().path() + " (the whole file):\n\n" + indent(bc.files.front().content, "    ");
    out += format_cmdline(bc) + format_initramfs(bc);
    out += "\n4. Reboot. hostdev groups then shows every device above on vfio-pci.\n";
    out +=
        "\nhostdev boot-config --write writes the files of steps 1 and 3, keeping a backup of each file it\n"
        "replaces; it never edits the bootloader configuration (step 2) or runs the commands.\n";
    return out;
}

std::string ensure_initramfs_tools_modules(std::string_view current, const std::vector<std::string>& modules) {
    std::set<std::string> present;
    std::size_t pos = 0;
    while (pos < current.size()) {
        auto nl = current.find('\n', pos);
        std::string_view line =
            parse::trim(current.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
        if (!line.empty() && line.front() != '#') {
            auto end = line.find_first_of(" \t");
            present.insert(parse::module_name(line.substr(0, end)));
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    std::vector<std::string> missing;
    for (const auto& m : modules)
        if (!present.count(parse::module_name(m))) missing.push_back(m);
    std::string out(current);
    if (missing.empty()) return out;
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "# vfio modules for PCI passthrough (hostdev boot-config)\n";
    for (const auto& m : missing) out += m + "\n";
    return out;
}

Result<std::string> ensure_mkinitcpio_modules(std::string_view text, const std::vector<std::string>& modules) {
    // The last line that assigns MODULES (a later assignment wins in the shell).
    std::size_t assign = std::string_view::npos;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::size_t i = pos;
        while (i < end && (text[i] == ' ' || text[i] == '\t')) ++i;
        if (text.substr(i, 8) == "MODULES=") assign = i;
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    std::string out(text);
    if (assign == std::string_view::npos) {
        if (!out.empty() && out.back() != '\n') out += '\n';
        out += "MODULES=(" + join(modules, " ") + ")\n";
        return out;
    }
    const std::size_t open = assign + 8;
    if (open >= text.size() || (text[open] != '(' && text[open] != '"'))
        return make_error("MODULES= in mkinitcpio.conf is neither (...) nor \"...\"; put " + join(modules, " ") +
                          " first in it by hand");
    const char close = text[open] == '(' ? ')' : '"';
    const std::size_t end = text.find(close, open + 1);
    if (end == std::string_view::npos)
        return make_error(std::string("MODULES=") + text[open] + " in mkinitcpio.conf is not closed");
    std::vector<std::string> words;
    std::string_view inner = text.substr(open + 1, end - open - 1);
    std::size_t i = 0;
    while (i < inner.size()) {
        while (i < inner.size() && (inner[i] == ' ' || inner[i] == '\t' || inner[i] == '\n' || inner[i] == '\r')) ++i;
        std::size_t j = i;
        while (j < inner.size() && inner[j] != ' ' && inner[j] != '\t' && inner[j] != '\n' && inner[j] != '\r') ++j;
        if (j > i) words.emplace_back(inner.substr(i, j - i));
        i = j;
    }
    auto bare = [](std::string w) {
        w.erase(std::remove(w.begin(), w.end(), '\''), w.end());
        w.erase(std::remove(w.begin(), w.end(), '"'), w.end());
        if (!w.empty() && w.back() == '?') w.pop_back();
        return parse::module_name(w);
    };
    std::set<std::string> wanted;
    for (const auto& m : modules) wanted.insert(parse::module_name(m));
    std::vector<std::string> result = modules;
    for (const auto& w : words)
        if (!wanted.count(bare(w))) result.push_back(w);
    if (result == words) return out;
    return out.substr(0, open + 1) + join(result, " ") + out.substr(end);
}

Result<std::string> render_config_file(const ConfigFile& file, const std::optional<std::string>& current) {
    switch (file.kind) {
        case ConfigFile::Kind::ModprobeConf:
        case ConfigFile::Kind::DracutConf: return file.content;
        case ConfigFile::Kind::InitramfsToolsModules:
            return ensure_initramfs_tools_modules(current.value_or(std::string()), file.modules);
        case ConfigFile::Kind::MkinitcpioConf: {
            auto r = ensure_mkinitcpio_modules(current.value_or(std::string()), file.modules);
            if (!r) {
                Error e = r.error();
                e.path = file.path();
                return e;
            }
            return r;
        }
    }
    return file.content;
}

std::string backup_stamp(std::time_t when) {
    std::tm tm{};
    gmtime_r(&when, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

namespace {

// Where a file under the root really is, with every link on the way followed
// inside the root (as a chroot would): a link in a copied tree that points to
// an absolute path, or climbs with "..", never leads the write out of the
// root. For a file that does not exist yet, its place in its directory's.
Result<fs::path> contained_path(const FsRoot& root, const fs::path& path) {
    auto real = root.resolve(path);
    if (real) return *real;
    if (real.error().err != ENOENT || path == root.root() || path.parent_path() == path) return real.error();
    auto dir = contained_path(root, path.parent_path());
    if (!dir) return dir.error();
    const fs::path here = *dir / path.filename();
    struct stat st {};
    if (::lstat(here.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        return make_error("a link that leads nowhere inside the root", root.live_path(path), ENOENT);
    return here;
}

// A directory under the root, made (with its missing parents) where
// contained_path says it belongs.
Result<fs::path> contained_dir(const FsRoot& root, const fs::path& dir) {
    if (auto real = root.resolve(dir)) return *real;
    if (dir == root.root() || dir.parent_path() == dir) return make_error("no root directory", dir.string(), ENOENT);
    auto parent = contained_dir(root, dir.parent_path());
    if (!parent) return parent.error();
    const fs::path here = *parent / dir.filename();
    // EEXIST here means a link that leads nowhere inside the root.
    if (::mkdir(here.c_str(), 0755) != 0) return make_error("cannot create directory", root.live_path(dir), errno);
    return here;
}

}  // namespace

Result<std::vector<WrittenFile>> write_boot_config(const BootConfig& config, const FsRoot& root,
                                                   std::string_view stamp) {
    if (config.blocked()) return make_refusal("a group is blocked: nothing to write");
    struct Pending {
        fs::path path;
        std::optional<std::string> current;
        unsigned mode = 0644;
        std::string next;
        WrittenFile result;
        fs::path backup;
        bool done = false;
    };
    std::vector<Pending> pending;
    // Read and render everything first: a file that cannot be read or edited
    // stops the run before anything is written.
    for (const auto& f : config.files) {
        Pending p;
        p.result.path = root.live_path(root.etc(f.rel));
        auto real = contained_path(root, root.etc(f.rel));
        if (!real) return real.error();
        p.path = *real;
        struct stat st {};
        if (::stat(p.path.c_str(), &st) == 0) {
            auto text = fileio::read_file(p.path, 16u << 20);
            if (!text) return text.error();
            p.current = std::move(*text);
            p.mode = st.st_mode & 07777;
        } else if (errno != ENOENT) {
            return make_error("cannot read", p.result.path, errno);
        }
        auto next = render_config_file(f, p.current);
        if (!next) return next.error();
        p.next = std::move(*next);
        p.result.action = !p.current             ? WrittenFile::Action::Created
                          : *p.current == p.next ? WrittenFile::Action::Unchanged
                                                 : WrittenFile::Action::Replaced;
        pending.push_back(std::move(p));
    }
    // Puts back what was written so far, removes the backups made.
    auto roll_back = [&](const Error& cause) -> Error {
        std::string undo_failed;
        for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
            if (it->done) {
                if (it->current) {
                    if (!fileio::write_file_atomic(it->path, *it->current, it->mode))
                        undo_failed += " " + it->result.path;
                } else if (::unlink(it->path.c_str()) != 0) {
                    undo_failed += " " + it->result.path;
                }
            }
            if (!it->backup.empty() && undo_failed.empty()) ::unlink(it->backup.c_str());
        }
        Error e = cause;
        e.message += undo_failed.empty() ? " (every file written before was put back as it was)"
                                         : " (could not put back:" + undo_failed + "; the backups are kept)";
        return e;
    };
    for (auto& p : pending) {
        if (p.result.action == WrittenFile::Action::Unchanged) continue;
        if (p.current) {
            std::string base = p.path.string() + ".hostdev-backup-" + std::string(stamp);
            fs::path backup = base;
            for (int n = 2; fileio::exists(backup); ++n) backup = base + "-" + std::to_string(n);
            if (auto st = fileio::write_file_atomic(backup, *p.current, p.mode); !st) return roll_back(st.error());
            p.backup = backup;
            p.result.backup = root.live_path(backup);
        } else {
            auto dir = contained_dir(root, p.path.parent_path());
            if (!dir) return roll_back(dir.error());
        }
        if (auto st = fileio::write_file_atomic(p.path, p.next, p.mode); !st) return roll_back(st.error());
        p.done = true;
    }
    std::vector<WrittenFile> out;
    for (auto& p : pending) out.push_back(std::move(p.result));
    return out;
}

}  // namespace hostdev
