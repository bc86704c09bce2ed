// What holds a display device on the host: the framebuffer console (fbcon)
// and the framebuffers behind it, the firmware framebuffers that claim the
// boot GPU's memory, the GPU's DRM nodes, the processes that hold those nodes
// (or NVIDIA's /dev/nvidia*) open, and the display manager. Before a host's
// only GPU can go to a guest, each of these has to let go of it.
//
// Sources, all read under an FsRoot and never by running anything:
//   sys/class/vtconsole/vtconN/{name,bind}     console drivers; "(M) frame buffer device" is fbcon
//   sys/class/graphics/fbN/{name,device}       framebuffers and the device behind each
//   sys/bus/platform/devices/{efi,vesa,simple}-framebuffer.N/driver
//                                              firmware framebuffers and their drivers
//   sys/class/drm/{cardN,renderDN}/device      DRM nodes of a PCI function (/dev/dri/NAME)
//   proc/PID/fd/N (readlink only), proc/PID/comm   processes holding GPU nodes open
//   proc/PID/cgroup                            the service a holder runs in
//   etc/systemd/system/display-manager.service the display manager unit (a link to it)
//   run/systemd/units/invocation:UNIT          present while systemd runs UNIT: PID 1
//                                              writes it as a link to the invocation ID
//                                              when the unit starts (src/core/unit.c,
//                                              unit_export_invocation_id) and removes it
//                                              when the unit stops (unit_unlink_state_files)
// The parsers of these files are in parse.hpp. Every fact is optional: nullopt means it could not be read (no such
// directory under the root, or a snapshot that does not carry it).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev {

class FsRoot;

// sys/class/vtconsole/vtconN.
struct VtConsole {
    int index = 0;       // N
    std::string name;    // "(S) dummy device", "(M) frame buffer device"
    bool bound = false;  // bind = 1
    [[nodiscard]] bool is_fbcon() const;
};

// sys/class/graphics/fbN.
struct Framebuffer {
    int index = 0;                               // N
    std::optional<std::string> name;             // fbN/name: "EFI VGA", "amdgpudrmfb"; nullopt: unreadable
    std::optional<PciAddress> pci_device;        // fbN/device leads to a PCI function
    std::optional<std::string> platform_device;  // ... or to a platform device: "efi-framebuffer.0"
};

// A firmware framebuffer's platform device in sys/bus/platform/devices.
struct FirmwareFramebufferDevice {
    std::string name;                   // "efi-framebuffer.0", "vesa-framebuffer.0", "simple-framebuffer.0"
    std::optional<std::string> driver;  // efi-framebuffer, vesa-framebuffer, simple-framebuffer, simpledrm;
                                        // nullopt: unbound
    // The driver offers sys/bus/platform/drivers/DRIVER/unbind (a driver
    // built with suppress_bind_attrs does not); nullopt: unknown or unbound.
    std::optional<bool> unbindable;
};

// A DRM node of a PCI function.
struct DrmNode {
    std::string name;  // "card0", "renderD128"
    PciAddress device;
    [[nodiscard]] std::string dev_path() const;  // "/dev/dri/card0"
};

// A process with GPU nodes open.
struct NodeHolder {
    int pid = 0;
    std::string comm;                // proc/PID/comm; empty when unreadable
    std::vector<std::string> nodes;  // "/dev/dri/card0", "/dev/nvidiactl": sorted, unique
    // The systemd service its cgroup belongs to (proc/PID/cgroup):
    // "gdm.service"; nullopt when it runs in none or that cannot be read.
    std::optional<std::string> unit;
};

// The display manager. An empty unit: the host has none.
struct DisplayManager {
    std::string unit;            // "gdm3.service"; empty: none
    std::optional<bool> active;  // nullopt: unknown
    // The unit's file is installed (etc/systemd/system, run/systemd/system,
    // lib/systemd/system or usr/lib/systemd/system has UNIT); nullopt: unknown.
    std::optional<bool> unit_file;
};

struct GpuHolders {
    std::optional<std::vector<VtConsole>> consoles;
    std::optional<std::vector<Framebuffer>> framebuffers;
    std::optional<std::vector<FirmwareFramebufferDevice>> firmware_devices;
    std::optional<std::vector<DrmNode>> drm_nodes;
    std::optional<std::vector<NodeHolder>> processes;  // nullopt: not scanned
    // The scan stopped at a bound (GpuHolderOptions): "65536 processes".
    std::optional<std::string> scan_bound_hit;
    std::optional<DisplayManager> display_manager;
    std::vector<std::string> problems;  // what could not be read, and why
};

struct GpuHolderOptions {
    // The display manager unit: nullopt reads display-manager.service's link;
    // "none" means the host has none (nothing is read).
    std::optional<std::string> display_manager;
    enum class Processes { Scan, Skip } processes = Processes::Scan;
    std::size_t max_pids = 65536;  // processes looked at
    std::size_t max_fds = 4096;    // descriptors looked at per process
};

// The facts for the whole host under `root`. Total: what cannot be read stays
// unknown or becomes a problem string. A process that vanishes mid-scan and
// an unreadable fd directory are skipped.
GpuHolders read_gpu_holders(const FsRoot& root, const GpuHolderOptions& options = {});
// The firmware framebuffer platform devices alone (also what Host::firmware_framebuffers
// is read from); nullopt when sys/bus/platform/devices cannot be listed.
std::optional<std::vector<FirmwareFramebufferDevice>> read_firmware_framebuffer_devices(const FsRoot& root);

// What holds one display device, from the host's facts.
struct DeviceHolders {
    std::optional<Framebuffer> fbcon;                 // fbcon is bound and shows this framebuffer
    std::vector<Framebuffer> framebuffers;            // the device's (and, for the boot GPU, the firmware's)
    std::vector<FirmwareFramebufferDevice> firmware;  // bound firmware framebuffers (boot GPU only)
    std::vector<std::string> drm_nodes;               // "card0", "renderD128"
    std::vector<NodeHolder> processes;                // with this device's nodes only
    std::optional<DisplayManager> display_manager;    // boot GPU only, when it has one
    std::optional<std::string> scan_bound_hit;
    [[nodiscard]] bool empty() const;
};
enum class BootGpu { Yes, No };
// `nvidia`: the device is NVIDIA's, so /dev/nvidia* are its nodes too.
// The processes holding any of `nodes` open ("/dev/dri/card0"; a node
// "/dev/nvidia*" stands for every /dev/nvidia node), within the bounds of
// `options`; nullopt when proc cannot be listed. What the handoff waits on.
std::optional<std::vector<NodeHolder>> processes_holding(const FsRoot& root, const std::vector<std::string>& nodes,
                                                         const GpuHolderOptions& options = {});

DeviceHolders holders_of(const GpuHolders& facts, const PciAddress& device, BootGpu boot, bool nvidia);
// "console: fbcon on fb0 (EFI VGA, efi-framebuffer.0); DRM: card0, renderD128;
// held open by: 1234 (Xorg); display manager: gdm3.service, active"; empty when nothing holds it.
std::string describe_holders(const DeviceHolders& h);

}  // namespace hostdev
