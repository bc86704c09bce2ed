// The single-GPU handoff's one decision (handoff.hpp).
#include "hostdev/policy/handoff.hpp"

#include <algorithm>

#include "hostdev/base/text.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

namespace {

constexpr std::uint16_t kNvidiaVendor = 0x10de;

bool is_boot(const PciDevice& d) { return d.boot_vga.value_or(false); }
bool is_nvidia(const PciDevice& d) { return d.vendor == kNvidiaVendor; }

DeviceHolders holders(const Host& host, const PciDevice& d) {
    if (!host.gpu_holders) return {};
    return holders_of(*host.gpu_holders, d.address, is_boot(d) ? BootGpu::Yes : BootGpu::No, is_nvidia(d));
}

bool contains(const std::vector<PciAddress>& v, const PciAddress& a) {
    return std::find(v.begin(), v.end(), a) != v.end();
}

bool loaded(const Host& host, const std::string& module) {
    // Unknown: assume loaded, so the plan says what it would unload; the
    // binder reads /proc/modules before it plans.
    if (!host.loaded_modules) return true;
    return std::binary_search(host.loaded_modules->begin(), host.loaded_modules->end(), module);
}

std::string pids(const std::vector<NodeHolder>& holders) {
    std::vector<std::string> out;
    for (const auto& p : holders) out.push_back(std::to_string(p.pid) + " (" + (p.comm.empty() ? "?" : p.comm) + ")");
    return join(out);
}

std::vector<std::string> all_nodes(const std::vector<NodeHolder>& holders) {
    std::vector<std::string> out;
    for (const auto& p : holders) out.insert(out.end(), p.nodes.begin(), p.nodes.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// Could a process hold the GPU without the scan seeing it?
bool holders_unknown(const Host& host, const DeviceHolders& h) {
    return !host.gpu_holders || !host.gpu_holders->processes || h.scan_bound_hit;
}

// H5/H6 for a GPU on nvidia: unloaded only when no other device stays on nvidia.
void plan_nvidia(const Host& host, const PciDevice& gpu, const std::vector<PciAddress>& moving, Handoff& h) {
    if (gpu.driver != std::string(kNvidiaModule)) return;
    std::vector<std::string> staying;
    for (const auto& d : host.devices)
        if (d.driver == std::string(kNvidiaModule) && !contains(moving, d.address)) staying.push_back(d.address.str());
    if (!staying.empty()) {
        h.notes.push_back("the NVIDIA modules stay loaded: " + join(staying) +
                          " stays on nvidia; only this GPU is unbound from it (close what uses it first)");
        return;
    }
    for (const char* m : kNvidiaUserModules)
        if (loaded(host, m)) h.modules_before.emplace_back(m);
    if (loaded(host, kNvidiaModule)) h.modules_after.emplace_back(kNvidiaModule);
}

// The display manager is stopped when it runs and something holds the GPU
// (or the scan cannot tell): one that runs on another GPU is left alone.
void plan_display_manager(const Host& host, const PciDevice& gpu, const DeviceHolders& dh, Handoff& h) {
    if (!is_boot(gpu) || !dh.display_manager || dh.display_manager->unit.empty()) return;
    const auto& dm = *dh.display_manager;
    if (dm.active.value_or(false) && (dh.processes.empty() && !holders_unknown(host, dh)))
        h.notes.push_back(dm.unit + " runs but nothing holds this GPU open: it is not stopped");
    else if (dm.active.value_or(false))
        h.stop_unit = dm.unit;
    else if (!dm.active)
        h.notes.push_back("whether " + dm.unit +
                          " runs cannot be read (no run/systemd/units under the root): it is not stopped");
}

void plan_holders(const DeviceHolders& dh, Handoff& h) {
    for (const auto& n : dh.drm_nodes) h.nodes.push_back("/dev/dri/" + n);
    if (!h.modules_before.empty() || !h.modules_after.empty()) h.nodes.emplace_back("/dev/nvidia*");
    for (const auto& p : dh.processes) {
        if (h.stop_unit && p.unit == h.stop_unit)
            h.with_unit.push_back(p);
        else
            h.others.push_back(p);
    }
    if (!h.others.empty()) {
        const bool one = h.others.size() == 1;
        h.notes.push_back(pids(h.others) + (one ? " holds " : " hold ") + join(all_nodes(h.others)) +
                          (one ? " open and is not the display manager: the start waits up to "
                               : " open and are not the display manager: the start waits up to ") +
                          std::to_string(h.timeout.count()) + " ms (gpu_release_timeout_ms) for " +
                          (one ? "it" : "them") + " to close, then is refused; hostdev never kills " +
                          (one ? "it" : "them"));
    }
    if (dh.scan_bound_hit)
        h.notes.push_back("the process scan stopped at " + *dh.scan_bound_hit +
                          ": a holder beyond it is not seen before the start");
}

void plan_consoles(const Host& host, const DeviceHolders& dh, Handoff& h) {
    if (!dh.fbcon || !host.gpu_holders || !host.gpu_holders->consoles) return;
    for (const auto& c : *host.gpu_holders->consoles)
        if (c.is_fbcon() && c.bound) h.consoles.push_back(c.index);
}

void plan_firmware(const PciDevice& gpu, const DeviceHolders& dh, Handoff& h) {
    h.firmware = dh.firmware;
    if (h.firmware.empty() || gpu.driver) return;
    std::vector<std::string> fw;
    for (const auto& f : h.firmware) fw.push_back(f.driver.value_or("?") + " on " + f.name);
    h.notes.push_back("the firmware console (" + join(fw) +
                      ") will not return after the guest stops unless a DRM driver binds the GPU: the kernel "
                      "removes the firmware framebuffer when vfio-pci takes the GPU (Linux 6.0 and later), and the "
                      "GPU has no driver of its own to come back to");
}

}  // namespace

bool needs_handoff(const Host& host, const PciDevice& device) {
    if (!device.is_display()) return false;
    if (device.driver && is_vfio_driver(*device.driver, host)) return false;  // the host let go of it already
    if (!host.gpu_holders) return is_boot(device);
    const DeviceHolders h = holders(host, device);
    const bool dm_active = h.display_manager && h.display_manager->active.value_or(false);
    const bool held = !h.processes.empty() || (dm_active && holders_unknown(host, h));
    return h.fbcon || !h.firmware.empty() || (is_boot(device) && held);
}

HandoffPlan plan_handoff(const Host& host, const std::vector<PciAddress>& moving, const HandoffSettings& settings) {
    HandoffPlan plan;
    const PciDevice* gpu = nullptr;
    for (const auto& a : moving)
        if (const PciDevice* d = host.find(a); d && needs_handoff(host, *d) && (!gpu || is_boot(*d))) gpu = d;
    if (!gpu) return plan;
    const DeviceHolders dh = holders(host, *gpu);
    if (!settings.allowed) {
        const std::string what = describe_holders(dh);
        plan.refusal = gpu->address.str() + " holds the host's console or display" +
                       (what.empty() ? std::string(" (the boot display)") : " (" + what + ")") +
                       " and single_gpu_handoff = no in hostdev.conf keeps it on the host: pass another device, "
                       "or set single_gpu_handoff = yes to let the hook hand it over";
        return plan;
    }
    Handoff h;
    h.gpu = gpu->address;
    h.timeout = settings.release_timeout;
    if (!host.gpu_holders) h.notes.push_back("what holds the GPU could not be read: nothing is handed over");
    plan_display_manager(host, *gpu, dh, h);
    plan_nvidia(host, *gpu, moving, h);
    plan_holders(dh, h);
    plan_consoles(host, dh, h);
    plan_firmware(*gpu, dh, h);
    plan.handoff = std::move(h);
    return plan;
}

std::vector<std::string> describe_handoff(const Handoff& h) {
    std::vector<std::string> steps;
    if (h.stop_unit) steps.push_back("stops " + *h.stop_unit);
    if (!h.nodes.empty())
        steps.push_back("waits up to " + std::to_string(h.timeout.count()) + " ms for " + join(h.nodes) +
                        " to be closed" +
                        (h.with_unit.empty()
                             ? ""
                             : " (" + pids(h.with_unit) + (h.with_unit.size() == 1 ? " goes" : " go") + " with it)"));
    std::vector<std::string> vt;
    for (int c : h.consoles) vt.push_back("vtcon" + std::to_string(c));
    if (!vt.empty()) steps.push_back("unbinds the framebuffer console (" + join(vt) + ")");
    for (const auto& f : h.firmware) steps.push_back("unbinds " + f.name + " from " + f.driver.value_or("its driver"));
    std::vector<std::string> mods = h.modules_before;
    mods.insert(mods.end(), h.modules_after.begin(), h.modules_after.end());
    if (!mods.empty()) steps.push_back("unloads " + join(mods));
    const std::string prefix = h.gpu.str() + ": ";
    std::vector<std::string> out;
    out.push_back(prefix + "the hook hands the host's console and display to the guest" +
                  (steps.empty() ? std::string(" (nothing holds it now)") : ": " + join(steps, ", ")) +
                  "; when the guest stops it gives them back in reverse order" +
                  (h.stop_unit ? " and starts " + *h.stop_unit + " again" : ""));
    for (const auto& n : h.notes) out.push_back(prefix + n);
    return out;
}

}  // namespace hostdev
