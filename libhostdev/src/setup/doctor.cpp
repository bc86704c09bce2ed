#include "hostdev/setup/doctor.hpp"
#include "hostdev/base/json_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/policy/handoff.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

std::string_view to_string(CheckVerdict v) {
    switch (v) {
        case CheckVerdict::Ok: return "ok";
        case CheckVerdict::Warn: return "warn";
        case CheckVerdict::Error: return "error";
    }
    return "error";
}

int DoctorReport::exit_code() const {
    int code = exits::doctor::kAllOk;
    for (const auto& c : checks) {
        if (c.verdict == CheckVerdict::Error) return exits::doctor::kErrors;
        if (c.verdict == CheckVerdict::Warn) code = exits::doctor::kWarnings;
    }
    return code;
}

namespace {

// Paths as they read on the host, built by FsRoot (the one place that spells them).
std::string live_sys(std::string_view rel) { return FsRoot().sys(rel).string(); }
std::string live_proc(std::string_view rel) { return FsRoot().proc(rel).string(); }
std::string live_etc(std::string_view rel) { return FsRoot().etc(rel).string(); }

bool contains(const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

std::string ids_of(const PciDevice& d) { return pci_ids(d.vendor, d.device); }

// The firmware setting and kernel parameter for this host's CPU vendor, with
// the parameter as the advice spells it.
struct IommuVendor {
    std::string firmware;
    std::string param;      // "intel_iommu"; empty when the vendor is unknown
    std::string parameter;  // how to say it: "intel_iommu=on"
};

IommuVendor iommu_vendor(const Host& host) {
    const IommuVendorFacts f = iommu_vendor_facts(host.cpu_vendor);
    IommuVendor v{std::string(f.firmware), std::string(f.param), std::string(f.param) + "=on"};
    if (v.param.empty()) v.parameter = "intel_iommu=on (Intel CPUs) or amd_iommu=on (AMD CPUs)";
    return v;
}

// AMD GPUs that the vendor-reset module (github.com/gnif/vendor-reset) knows
// how to reset: Polaris 10/11/12, Vega 10/20, Navi 10/12/14.
constexpr std::uint16_t kVendorResetGpus[] = {
    0x15bf, 0x15dd, 0x15de, 0x15e7, 0x1636, 0x1638, 0x164c, 0x66a0, 0x66a1, 0x66a2, 0x66a3, 0x66a4, 0x66a7,
    0x66af, 0x67c0, 0x67c1, 0x67c2, 0x67c4, 0x67c7, 0x67c8, 0x67c9, 0x67ca, 0x67cc, 0x67cf, 0x67d0, 0x67df,
    0x67e0, 0x67e1, 0x67e3, 0x67e7, 0x67e8, 0x67e9, 0x67eb, 0x67ef, 0x67ff, 0x6860, 0x6861, 0x6862, 0x6863,
    0x6864, 0x6867, 0x6868, 0x6869, 0x686a, 0x686b, 0x686c, 0x686d, 0x686e, 0x686f, 0x687f, 0x6980, 0x6981,
    0x6985, 0x6986, 0x6987, 0x6995, 0x6997, 0x699f, 0x6fdf, 0x7310, 0x7312, 0x7318, 0x7319, 0x731a, 0x731b,
    0x731e, 0x731f, 0x7340, 0x7341, 0x7347, 0x734f, 0x7360, 0x7362,
};

bool vendor_reset_knows(const PciDevice& d) {
    return d.vendor == 0x1002 && std::binary_search(std::begin(kVendorResetGpus), std::end(kVendorResetGpus), d.device);
}

// The platform device a firmware framebuffer sits on ("efi-framebuffer" for
// efi-framebuffer.0), for the unbind fix.
const char* platform_device_of(const std::string& fb) {
    if (fb == "efifb" || fb == "efidrm") return "efi-framebuffer";
    if (fb == "vesafb" || fb == "vesadrm") return "vesa-framebuffer";
    return "simple-framebuffer";
}
// The platform driver bound to that device: the fbdev drivers are named after
// their device, simpledrm binds simple-framebuffer.0 under its own name.
std::string platform_driver_of(const std::string& fb) {
    return fb == "simpledrm" ? std::string("simpledrm") : std::string(platform_device_of(fb));
}

class Doctor {
public:
    explicit Doctor(const Host& host) : host_(host) {
        for (const auto& d : host_.devices)
            if (is_passthrough_candidate(d)) candidates_.push_back(&d);
    }

    DoctorReport run() {
        check_iommu();
        check_interrupt_remapping();
        check_acs_override();
        check_vfio_modules();
        check_reset();
        check_boot_vga();
        check_gpu_holders();
        check_gpu_handoff();
        check_shared_ids();
        check_left_alone();
        check_hook();
        return std::move(report_);
    }

private:
    void add(std::string id, CheckVerdict v, std::string message, std::string fix = {},
             std::optional<PciAddress> device = std::nullopt) {
        report_.checks.push_back(Check{std::move(id), v, std::move(message), std::move(fix), device});
    }

    // Devices that are not candidates on purpose, and why (policy.hpp).
    void check_left_alone() {
        for (const PciDevice& d : host_.devices)
            if (auto why = mediated_use(d))
                add("device-left-alone", CheckVerdict::Ok,
                    describe_device(d) + " is left alone on purpose: it is " + *why, {}, d.address);
    }

    std::optional<std::string> param(std::string_view name) const {
        return parse::cmdline_param(host_.kernel_cmdline, name);
    }

    // "intel_iommu=off is on the kernel command line: remove it. " when it is.
    std::string iommu_off_note() const {
        std::string s;
        for (const char* p : {"intel_iommu", "amd_iommu", "iommu"}) {
            auto value = param(p);
            if (value && *value == "off") s += "remove " + std::string(p) + "=off from the kernel command line, ";
        }
        return s;
    }

    std::size_t nonempty_groups() const {
        return static_cast<std::size_t>(std::count_if(host_.groups.begin(), host_.groups.end(),
                                                      [](const auto& g) { return !g.second.members.empty(); }));
    }

    void check_iommu() {
        const IommuVendor v = iommu_vendor(host_);
        const std::size_t groups = nonempty_groups();
        const std::string units = join(host_.iommu_units);
        if (groups > 0) {
            std::string msg = "IOMMU active (" + (units.empty() ? std::string("no unit listed") : units) + "), " +
                              std::to_string(groups) + " IOMMU group" + (groups == 1 ? "" : "s");
            auto pt = param("iommu");
            msg += pt && *pt == "pt" ? "; iommu=pt set"
                                     : "; iommu=pt not set (optional: host devices skip DMA translation)";
            add("iommu", CheckVerdict::Ok, msg);
            return;
        }
        const std::string reboot_note = " (hostdev boot-config prints the steps for this bootloader).";
        if (!host_.iommu_units.empty()) {
            add("iommu", CheckVerdict::Error,
                "IOMMU hardware is present (" + units +
                    ") but the kernel made no IOMMU groups, so no device can be "
                    "passed through",
                "Add " + v.parameter + " iommu=pt to the kernel command line, " + iommu_off_note() + "then reboot" +
                    reboot_note);
            return;
        }
        add("iommu", CheckVerdict::Error,
            "no IOMMU is active: " + live_sys("class/iommu") +
                " is empty and there are no IOMMU groups, so no "
                "device can be passed through",
            "Enable " + v.firmware + " in the firmware setup, add " + v.parameter +
                " iommu=pt to the kernel command line, " + iommu_off_note() + "then reboot" + reboot_note);
    }

    void check_interrupt_remapping() {
        const std::string id = "interrupt-remapping";
        auto unsafe = param("vfio_iommu_type1.allow_unsafe_interrupts");
        const bool allow_unsafe = unsafe && (*unsafe == "1" || *unsafe == "Y" || *unsafe == "y");
        auto intremap = param("intremap");
        const std::string intremap_off = intremap && (*intremap == "off" || *intremap == "nosid")
                                             ? "Remove intremap=" + *intremap + " from the kernel command line. "
                                             : std::string();
        if (host_.interrupt_remapping.value_or(false)) {
            add(id, CheckVerdict::Ok,
                "interrupt remapping enabled (remapped IR- interrupt chips in " + live_proc("interrupts") + ")");
            return;
        }
        if (!host_.interrupt_remapping && nonempty_groups() > 0) {
            add(id, CheckVerdict::Warn,
                "cannot tell whether interrupts are remapped: " + live_proc("interrupts") +
                    " was not read (a copied tree or an older snapshot)",
                "Run hostdev doctor on the host itself, or take a new snapshot there (hostdev snapshot).");
            return;
        }
        if (nonempty_groups() == 0) {
            add(id, CheckVerdict::Error, "interrupt remapping is off: it comes with the IOMMU, which is not active",
                "Enable the IOMMU first (see the iommu check); interrupt remapping is part of " +
                    iommu_vendor(host_).firmware + ".");
            return;
        }
        const std::string enable = intremap_off + "Enable interrupt remapping in the firmware setup (it is part of " +
                                   iommu_vendor(host_).firmware + "; some boards list it separately, or with x2APIC).";
        if (allow_unsafe) {
            add(id, CheckVerdict::Warn,
                "interrupt remapping is off; VFIO accepts devices only because "
                "vfio_iommu_type1.allow_unsafe_interrupts=1 is set, which lets a guest send interrupts (MSI writes) "
                "the host did not allow",
                enable + " Then drop vfio_iommu_type1.allow_unsafe_interrupts=1.");
            return;
        }
        add(id, CheckVerdict::Error,
            "interrupt remapping is off: VFIO refuses to assign devices (\"No interrupt remapping support\")",
            enable +
                " Only on a platform without it, and for trusted guests: "
                "vfio_iommu_type1.allow_unsafe_interrupts=1 on the kernel command line.");
    }

    void check_acs_override() {
        auto acs = param("pcie_acs_override");
        if (!acs) {
            add("acs-override", CheckVerdict::Ok,
                "pcie_acs_override is not set: IOMMU groups are as the hardware isolates");
            return;
        }
        add("acs-override", CheckVerdict::Warn,
            "pcie_acs_override=" + *acs +
                " is on the kernel command line: the IOMMU groups no longer show what the "
                "hardware isolates. Devices in different \"groups\" may still reach each other by peer-to-peer DMA, so "
                "a "
                "guest may read or corrupt the memory of host devices (or another guest's) behind the same bridge",
            "Prefer a slot the hardware isolates (often a CPU-attached one) and remove pcie_acs_override= from the "
            "kernel command line; keep it only for guests you trust as much as the host.");
    }

    void check_vfio_modules() {
        const std::vector<std::string> required = {"vfio", "vfio_iommu_type1", "vfio_pci"};
        std::vector<std::string> loaded, builtin, available, missing, unknown;
        for (const auto& m : required) {
            if (host_.vfio_modules && contains(host_.vfio_modules->builtin, m))
                builtin.push_back(m);
            else if (host_.loaded_modules && contains(*host_.loaded_modules, m))
                loaded.push_back(m);
            else if (host_.vfio_modules && contains(host_.vfio_modules->available, m))
                available.push_back(m);
            else if (host_.vfio_modules && host_.loaded_modules)
                missing.push_back(m);
            else
                unknown.push_back(m);
        }
        const std::string kernel =
            host_.kernel_release ? "kernel " + *host_.kernel_release : std::string("this kernel");
        std::vector<std::string> parts;
        if (!loaded.empty()) parts.push_back("loaded: " + join(loaded));
        if (!builtin.empty()) parts.push_back("built in: " + join(builtin));
        if (!available.empty()) parts.push_back("not loaded but installed for " + kernel + ": " + join(available));
        if (!missing.empty()) {
            add("vfio-modules", CheckVerdict::Error,
                join(missing) + (missing.size() == 1 ? " is" : " are") + " neither loaded nor installed for " + kernel +
                    (parts.empty() ? "" : " (" + join(parts, "; ") + ")"),
                "Install the modules of the running kernel (on Debian they come with its linux-image package), "
                "or boot a kernel built with CONFIG_VFIO_PCI.");
            return;
        }
        if (!unknown.empty()) {
            add("vfio-modules", CheckVerdict::Warn,
                "cannot tell whether " + join(unknown) + (unknown.size() == 1 ? " is" : " are") +
                    " loaded or installed (" + live_proc("modules") +
                    " or the kernel's module directory was not "
                    "read)" +
                    (parts.empty() ? "" : "; " + join(parts, "; ")),
                "Run hostdev doctor on the host itself, or take a new snapshot there (hostdev snapshot).");
            return;
        }
        std::string msg = join(parts, "; ");
        if (!available.empty()) msg += " (modprobe vfio-pci loads them; hostdev detach and the hook do it when needed)";
        add("vfio-modules", CheckVerdict::Ok, msg);
    }

    void check_reset() {
        const std::string id = "device-reset";
        if (candidates_.empty()) {
            add(id, CheckVerdict::Ok, "no passthrough candidate on this host");
            return;
        }
        const bool kernel_says = std::any_of(candidates_.begin(), candidates_.end(),
                                             [](const PciDevice* d) { return d->reset_methods.has_value(); });
        if (!kernel_says) {
            add(id, CheckVerdict::Warn,
                "cannot tell whether devices can be reset: the kernel does not list reset methods (reset_method "
                "appeared in Linux 5.15), or the snapshot does not record them",
                "Check each device to pass through with lspci -vv (FLReset+ under DevCap), or run hostdev doctor on a "
                "kernel 5.15 or newer.");
            return;
        }
        std::size_t problems = 0;
        for (const PciDevice* d : candidates_) {
            if (!d->lacks_reset()) continue;
            ++problems;
            std::string fix;
            const bool amd_gpu = d->vendor == 0x1002 && d->is_display();
            if (amd_gpu && vendor_reset_knows(*d)) {
                fix =
                    "This AMD GPU has the AMD reset bug and vendor-reset supports it: install the vendor-reset "
                    "module (github.com/gnif/vendor-reset), load it at boot, and write device_specific to " +
                    live_sys("bus/pci/devices/" + d->address.str() + "/reset_method") + ".";
            } else if (amd_gpu) {
                fix =
                    "AMD GPUs often fail to reset (the AMD reset bug); vendor-reset (github.com/gnif/vendor-reset) "
                    "adds a reset for Polaris, Vega and Navi 10/12/14 GPUs. Otherwise reboot the host between "
                    "guest runs.";
            } else {
                fix =
                    "Give it only to a guest that keeps running, or reboot the host before giving it again; a "
                    "firmware update may add a reset (FLR).";
            }
            add(id, CheckVerdict::Warn,
                describe_device(*d) +
                    " has no reset method: it may not work again after the guest stops, until the "
                    "host reboots",
                fix, d->address);
        }
        if (problems == 0)
            add(id, CheckVerdict::Ok,
                "every passthrough candidate (" + std::to_string(candidates_.size()) + ") has a reset method");
    }

    void check_boot_vga() {
        const std::string id = "device-boot-vga";
        std::size_t boot_displays = 0;
        for (const PciDevice* d : candidates_) {
            if (!d->has_role(HostRole::BootVga)) continue;
            ++boot_displays;
            const std::string who = describe_device(*d) + " is the boot display";
            if (!host_.firmware_framebuffers) {
                add(id, CheckVerdict::Warn,
                    who + "; whether a firmware framebuffer (efifb, simplefb, simpledrm) holds it is unknown (" +
                        live_proc("fb") + " was not read)",
                    "Run hostdev doctor on the host itself, or take a new snapshot there (hostdev snapshot).",
                    d->address);
                continue;
            }
            const auto& fbs = *host_.firmware_framebuffers;
            if (fbs.empty()) {
                add(id, CheckVerdict::Ok, who + " and no firmware framebuffer holds it", {}, d->address);
                continue;
            }
            std::string fix;
            for (const auto& fb : fbs) {
                std::string param;
                if (fb == "efifb")
                    param = "video=efifb:off";
                else if (fb == "vesafb")
                    param = "video=vesafb:off";
                else if (fb == "simpledrm")
                    param = "initcall_blacklist=simpledrm_platform_driver_init";
                const std::string unbind = "echo " + std::string(platform_device_of(fb)) + ".0 > " +
                                           live_sys("bus/platform/drivers/" + platform_driver_of(fb) + "/unbind");
                fix +=
                    (fix.empty() ? "" : " ") + fb + ": " +
                    (param.empty() ? ""
                                   : "to keep it off the GPU for good add " + param + " to the kernel command line; ") +
                    "the hook's single-GPU handoff runs " + unbind + " before the guest starts.";
            }
            add(id, CheckVerdict::Warn,
                who + " and " + join(fbs) +
                    " holds its memory: vfio-pci cannot claim the device while the firmware "
                    "framebuffer does (\"BAR 0: can't reserve\") until it is unbound, and the host loses its "
                    "console when the guest takes it",
                fix, d->address);
        }
        if (boot_displays == 0) add(id, CheckVerdict::Ok, "no passthrough candidate is the boot display");
    }

    // What holds the boot GPU: fbcon, processes with its nodes open, a running
    // display manager; unknown (warn) where the host was not read (a snapshot).
    void check_gpu_holders() {
        const std::string id = "gpu-holders";
        for (const PciDevice& d : host_.devices) {
            if (!d.is_display() || !d.has_role(HostRole::BootVga)) continue;
            if (!host_.gpu_holders) {
                add(id, CheckVerdict::Warn,
                    describe_device(d) +
                        " is the boot GPU; what holds it (console, processes, display manager) is unknown: "
                        "the host itself was not read",
                    "Run hostdev doctor on the host itself (a snapshot does not record it).", d.address);
                continue;
            }
            const auto h = holders_of(*host_.gpu_holders, d.address, BootGpu::Yes, d.vendor == kVendorNvidia);
            const bool dm_active = h.display_manager && h.display_manager->active.value_or(false);
            const std::string who = describe_device(d) + " is the boot GPU";
            const auto& facts = *host_.gpu_holders;
            std::vector<std::string> unknown;
            if (!facts.consoles) unknown.emplace_back("the console (" + live_sys("class/vtconsole") + ")");
            if (!facts.processes) unknown.emplace_back("processes (" + live_proc("PID/fd") + ")");
            if (!facts.display_manager) unknown.emplace_back("the display manager");
            if (!h.fbcon && h.processes.empty() && !dm_active && !unknown.empty()) {
                add(id, CheckVerdict::Warn,
                    who + "; nothing read holds it, but whether " + join_sentence(unknown, " or ") +
                        " does is unknown (not readable under the root)",
                    "Run hostdev doctor on the host itself, or take a new snapshot there (hostdev snapshot).",
                    d.address);
                continue;
            }
            if (!h.fbcon && h.processes.empty() && !dm_active) {
                add(id, CheckVerdict::Ok,
                    who + "; no console, process or running display manager holds it" +
                        (h.empty() ? std::string() : " (" + describe_holders(h) + ")"),
                    {}, d.address);
                continue;
            }
            const HandoffPlan plan = plan_handoff(host_, {d.address}, HandoffSettings{});
            std::string fix = "The hook hands it over when a guest takes it and gives it back when the guest stops.";
            if (plan.handoff) {
                fix = join(describe_handoff(*plan.handoff), "; ") + ".";
                if (!plan.handoff->others.empty())
                    fix += " Close the processes that are not the display manager's before the guest starts.";
            }
            add(id, CheckVerdict::Warn,
                who + " and the host holds it: " + describe_holders(h) +
                    "; the host has no console or display while a guest has it",
                fix + " Or give the guest another GPU and keep this one for the host.", d.address);
        }
    }

    // Can the single-GPU handoff work here (policy/handoff.hpp)? Its display
    // manager's unit must be installed, fbcon must have another console to
    // hand the terminals to, and the firmware framebuffer's driver must offer
    // unbind; a firmware console that will not return is said beforehand.
    void check_gpu_handoff() {
        const std::string id = "gpu-handoff";
        bool any = false;
        for (const PciDevice& d : host_.devices) {
            if (!host_.gpu_holders || !is_passthrough_candidate(d) || !needs_handoff(host_, d)) continue;
            const HandoffPlan plan = plan_handoff(host_, {d.address}, HandoffSettings{});
            if (!plan.handoff) continue;
            any = true;
            const Handoff& h = *plan.handoff;
            const auto& facts = *host_.gpu_holders;
            std::vector<std::string> fails;
            std::vector<std::string> fixes;
            if (h.stop_unit && facts.display_manager && facts.display_manager->unit_file == false) {
                fails.push_back("the display manager " + *h.stop_unit + " has no unit file installed");
                fixes.push_back(
                    "Set display_manager = UNIT (the unit that runs the desktop) or none in "
                    "/etc/hostdev/hostdev.conf.");
            }
            if (!h.consoles.empty() && facts.consoles &&
                std::none_of(facts.consoles->begin(), facts.consoles->end(),
                             [](const VtConsole& c) { return !c.is_fbcon(); })) {
                fails.push_back("fbcon is the only console driver (" + live_sys("class/vtconsole") +
                                "), so it cannot be unbound");
                fixes.push_back(
                    "Use a kernel with the dummy console (CONFIG_DUMMY_CONSOLE), as distribution "
                    "kernels have.");
            }
            for (const auto& f : h.firmware)
                if (f.unbindable == false) {
                    fails.push_back(f.name + "'s driver " + f.driver.value_or("?") + " offers no unbind (" +
                                    live_sys("bus/platform/drivers/" + f.driver.value_or("?") + "/unbind") +
                                    " is missing)");
                    fixes.push_back(
                        "Keep the firmware framebuffer off the GPU: add video=efifb:off (efifb) or "
                        "initcall_blacklist=simpledrm_platform_driver_init (simpledrm) to the kernel "
                        "command line.");
                }
            const std::string plan_words = join(describe_handoff(h), "; ");
            if (!fails.empty()) {
                add(id, CheckVerdict::Error,
                    describe_device(d) + ": the single-GPU handoff cannot work: " + join_sentence(fails, "; "),
                    join(fixes, " "), d.address);
            } else if (!h.notes.empty()) {
                add(id, CheckVerdict::Warn, plan_words,
                    "Nothing blocks the handoff; read what it says will not come back or must close first.", d.address);
            } else {
                add(id, CheckVerdict::Ok, plan_words, {}, d.address);
            }
        }
        if (any || !host_.gpu_holders) return;
        const auto& facts = *host_.gpu_holders;
        const bool partial = !facts.consoles || !facts.framebuffers || !facts.processes || !facts.display_manager;
        const auto boot = std::find_if(host_.devices.begin(), host_.devices.end(), [](const PciDevice& d) {
            return is_passthrough_candidate(d) && d.has_role(HostRole::BootVga);
        });
        if (partial && boot != host_.devices.end())
            add(id, CheckVerdict::Ok,
                "nothing read holds the console or display of a passthrough candidate; what holds the boot GPU " +
                    boot->address.str() +
                    " is not all readable here, and the hook reads it again when a guest that has it starts");
        else
            add(id, CheckVerdict::Ok, "no passthrough candidate holds the host's console or display");
    }

    void check_shared_ids() {
        const std::string id = "device-shared-ids";
        std::map<std::pair<std::uint16_t, std::uint16_t>, std::vector<const PciDevice*>> by_ids;
        for (const auto& d : host_.devices) by_ids[{d.vendor, d.device}].push_back(&d);
        std::size_t problems = 0;
        for (const PciDevice* d : candidates_) {
            const auto& same = by_ids[{d->vendor, d->device}];
            if (same.size() < 2) continue;
            ++problems;
            std::vector<std::string> others;
            for (const PciDevice* o : same)
                if (o != d) others.push_back(o->address.str());
            add(id, CheckVerdict::Warn,
                describe_device(*d) + " shares its IDs " + ids_of(*d) + " with " + join(others) +
                    ": vfio-pci ids= and vfio-pci.ids= would take " +
                    (others.size() == 1 ? "that device" : "those devices") + " too",
                "Bind it by address, never by ID: hostdev boot-config writes a driver_override for it when the other "
                "device stays on the host, and hostdev detach and the hook always work by address.",
                d->address);
        }
        if (problems == 0)
            add(id, CheckVerdict::Ok,
                candidates_.empty() ? std::string("no passthrough candidate on this host")
                                    : "no passthrough candidate shares its vendor:device IDs with another device");
    }

    void check_hook() {
        const std::string id = "libvirt-hook";
        const std::string where = live_etc("libvirt/hooks/qemu.d/50-hostdev");
        if (!host_.libvirt_hook) {
            add(id, CheckVerdict::Warn,
                "cannot tell whether the hostdev hook is installed (" + live_etc("libvirt/hooks") +
                    " was not read: a copied tree without /etc, or an older snapshot)",
                "Run hostdev doctor on the host itself, or take a new snapshot there (hostdev snapshot).");
            return;
        }
        if (!host_.libvirt_hook->empty()) {
            add(id, CheckVerdict::Ok, "hostdev hook installed: " + *host_.libvirt_hook);
            return;
        }
        add(id, CheckVerdict::Warn,
            "the hostdev hook is not installed in " + live_etc("libvirt/hooks") +
                ": libvirt moves only the devices a domain lists, not their whole IOMMU groups, and does not "
                "return them to their exact original drivers",
            "Install it as " + where +
                " (cmake --install build --prefix /usr does), make it executable, then "
                "restart libvirtd, which finds hooks when it starts.");
    }

    const Host& host_;
    std::vector<const PciDevice*> candidates_;
    DoctorReport report_;
};

}  // namespace

DoctorReport run_doctor(const Host& host) { return Doctor(host).run(); }

std::string format_doctor_text(const DoctorReport& report) {
    std::string out;
    std::size_t counts[3] = {0, 0, 0};
    for (const auto& c : report.checks) {
        ++counts[static_cast<int>(c.verdict)];
        std::string verdict(to_string(c.verdict));
        verdict.resize(6, ' ');
        out += verdict + c.id + ": " + c.message + "\n";
        if (!c.fix.empty()) out += "      fix: " + c.fix + "\n";
    }
    out += std::to_string(report.checks.size()) + " checks: " + std::to_string(counts[0]) + " ok, " +
           std::to_string(counts[1]) + (counts[1] == 1 ? " warning, " : " warnings, ") + std::to_string(counts[2]) +
           (counts[2] == 1 ? " error" : " errors") + "\n";
    return out;
}

std::string format_doctor_json(const DoctorReport& report) {
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    for (const auto& c : report.checks) {
        nlohmann::ordered_json j;
        j["id"] = c.id;
        j["verdict"] = std::string(to_string(c.verdict));
        j["message"] = c.message;
        j["fix"] = c.fix;
        if (c.device) j["device"] = c.device->str();
        checks.push_back(std::move(j));
    }
    nlohmann::ordered_json doc;
    doc["checks"] = std::move(checks);
    doc["exit_code"] = report.exit_code();
    return json::to_text(doc);
}

}  // namespace hostdev
