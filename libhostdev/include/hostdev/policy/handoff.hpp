// The single-GPU handoff (README "Single-GPU passthrough"), decided in one
// place: when a display device that holds the host's console or display
// leaves the host, what has to let go of it first, in which order, and what
// comes back when it returns. The binder turns the plan into journaled steps
// with their undo (binder.hpp); hostdev-fix, doctor and the hook's log word
// the same plan.
//
// A display device (PCI class 0x03) needs a handoff when it is the boot
// display (boot_vga = 1), or fbcon shows its framebuffer, or a firmware
// framebuffer (efi-/vesa-/simple-framebuffer, simpledrm) still claims the
// boot display's memory. Any other device moves exactly as before.
//
// The handoff, before the group's driver steps, then after them:
//   H1 stop the display manager       only when it is active (systemctl stop, bounded)
//   H2 wait for the GPU's holders     processes with its DRM nodes (or, for an NVIDIA
//                                     GPU, /dev/nvidia*) open; bounded by
//                                     gpu_release_timeout_ms; refused, naming each
//                                     pid and command, when one stays; never killed
//   H3 unbind the framebuffer console vtconN/bind := 0 for each bound fbcon
//   H4 unbind the firmware framebuffer sys/bus/platform/drivers/DRV/unbind := DEV
//   H5 unload nvidia_drm, nvidia_modeset, nvidia_uvm (those loaded, in this order)
//      -- the group's driver steps 1-4 (binder.hpp) --
//   H6 unload nvidia                  (H5/H6 only for a GPU on nvidia, and only when
//                                     no other device stays on nvidia)
// At release, the exact reverse: nvidia loaded, the group back on its
// drivers, nvidia_uvm/nvidia_modeset/nvidia_drm loaded, the firmware
// framebuffer bound again (when the kernel has not removed it), fbcon bound
// again, the display manager started again if H1 stopped it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/host/gpu_holders.hpp"
#include "hostdev/host/host.hpp"

namespace hostdev {

// hostdev.conf's settings of the handoff.
struct HandoffSettings {
    bool allowed = true;                               // single_gpu_handoff = yes | no
    std::chrono::milliseconds release_timeout{10000};  // gpu_release_timeout_ms
};

// The NVIDIA modules unloaded before the driver steps, in order; `nvidia` after them.
inline constexpr const char* kNvidiaUserModules[] = {"nvidia_drm", "nvidia_modeset", "nvidia_uvm"};
inline constexpr const char* kNvidiaModule = "nvidia";

struct Handoff {
    PciAddress gpu;                        // the display device the handoff is for (log lines start with it)
    std::optional<std::string> stop_unit;  // H1: the active display manager
    // H2: the device nodes waited for, and who holds them now.
    std::vector<std::string> nodes;                   // "/dev/dri/card0", "/dev/dri/renderD128", "/dev/nvidia*"
    std::chrono::milliseconds timeout{10000};         // H1 and H2 each wait at most this long
    std::vector<NodeHolder> with_unit;                // holders in the display manager's unit: they go with it
    std::vector<NodeHolder> others;                   // holders that must close by themselves
    std::vector<int> consoles;                        // H3: vtconN
    std::vector<FirmwareFramebufferDevice> firmware;  // H4: bound ones, with their drivers
    std::vector<std::string> modules_before;          // H5
    std::vector<std::string> modules_after;           // H6
    // Said beforehand: what will not come back, what stays loaded and why,
    // facts that could not be read.
    std::vector<std::string> notes;
};

struct HandoffPlan {
    std::optional<Handoff> handoff;  // nullopt: no moving device holds the console or display
    // Set when the handoff is needed but may not happen (single_gpu_handoff =
    // no, or two display devices each holding a console): the detach is
    // refused with this sentence, nothing changed.
    std::optional<std::string> refusal;
};

// Does this display device hold the host's console or display (above)?
// Needs Host::gpu_holders; without them only boot_vga decides.
bool needs_handoff(const Host& host, const PciDevice& device);

// The plan for the devices that will leave the host (the whole groups), from
// the host's facts (Host::gpu_holders read with processes). Pure.
HandoffPlan plan_handoff(const Host& host, const std::vector<PciAddress>& moving, const HandoffSettings& settings);

// The plan in sentences, for hostdev-fix, doctor and the hook's log: first
// "ADDR: the hook hands the host's console and display to the guest: ...",
// then the notes. Empty for no handoff.
std::vector<std::string> describe_handoff(const Handoff& h);

}  // namespace hostdev
