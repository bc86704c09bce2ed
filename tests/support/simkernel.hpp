// A simulated kernel for tests that move devices between drivers: a KernelIo
// that reacts to sysfs writes under a fake root (built by build_fake_root) the
// way Linux's PCI core and vfio-pci do, after libvirt's tests/virpcimock.c.
//
// All state lives in the fake root's files: DEVDIR/driver links,
// DEVDIR/driver_override, sys/bus/pci/drivers/NAME/ADDR links and
// ROOT/dev/vfio/N. A second SimulatedKernel on the same root (for instance in
// another process after a kill) continues where the first one stopped; only
// the injected failures (fail_*, hang_*, refuse_bind, hold_module), the
// firmware framebuffer switch and the log belong to one object.
//
// Reactions (paths are ROOT/sys/...; a value may end in one "\n", which is
// ignored; a device directory may be spelled through bus/pci/devices/ADDR or
// as its real path under devices/):
//   DEVDIR/driver_override <- NAME   the file reads "NAME\n"; "" or "\n" reads "(null)\n"
//   bus/pci/drivers/D/unbind <- ADDR  device bound to D: drops DEVDIR/driver and
//        drivers/D/ADDR; leaving vfio-pci as the last member of its IOMMU group on
//        vfio-pci removes ROOT/dev/vfio/N. Not bound to D or unknown: ENODEV.
//   bus/pci/drivers/D/bind <- ADDR    ENODEV when the device is unknown, already
//        bound, or D does not match it; else D probes it (see refuse_bind). A driver
//        matches when driver_override names it, or, with no override, when it is the
//        device's native driver. vfio-pci's probe fails with EINVAL for a device
//        without an iommu_group link (no IOMMU) and for a bridge (config header
//        type other than 0), as vfio_pci_probe does. A vfio-pci bind creates
//        ROOT/dev/vfio/vfio and ROOT/dev/vfio/N (regular files standing for the
//        character devices).
//   bus/pci/drivers_probe <- ADDR     unknown device: ENODEV. Bound already, or no
//        loaded driver matches, or the probe fails: 0 and nothing changes. Else the
//        device is bound to the override driver if set, otherwise to its native one.
//   A missing driver directory (the driver is not loaded): ENOENT.
//   Any other path: the file is rewritten with the value if it exists (ENOENT
//   otherwise), with no reaction. A path outside the root: EPERM, nothing written.
//
// The native driver of a device is the driver it has in the spec; a device
// unbound in the spec has none. Driver directories exist only for loaded
// drivers: the builder makes one per driver of the spec plus vfio-pci. VFIO
// variant drivers (*_vfio_pci) probe, refuse and own /dev/vfio/N as vfio-pci
// does; their directory appears when their module is loaded. A test
// removes drivers/vfio-pci to simulate an unloaded module; load_module brings it
// back and, like the driver's registration in the kernel, binds every unbound
// device whose driver_override is vfio-pci.
//
// The constructor completes what the builder does not lay out: ROOT/dev/vfio/N
// for every group with a member already on vfio-pci (as the kernel would have
// at boot).
//
// The single-GPU handoff (Linux 6.1 and systemd; paths under ROOT):
//   sys/bus/platform/drivers/D/unbind <- NAME   NAME is a platform device
//        (sys/bus/platform/devices/NAME) bound to D: drops
//        sys/devices/platform/NAME/driver and drivers/D/NAME. Not bound to D or
//        unknown: ENODEV.
//   sys/bus/platform/drivers/D/bind <- NAME     unknown, or D does not drive it: ENODEV;
//        bound already: EBUSY (as a PCI bind, __driver_probe_device); else both links
//        come back. A platform driver drives the devices named after it
//        (efi-framebuffer drives efi-framebuffer.N), simpledrm simple-framebuffer.N too.
//   A VFIO driver (vfio-pci, *_vfio_pci) binding a device whose boot_vga reads 1
//        (bind, drivers_probe or load_module) removes the firmware framebuffers, as
//        6.x kernels do (vfio_pci_core_register_device ->
//        aperture_remove_conflicting_pci_devices -> sysfb_disable): every
//        sys/devices/platform/{efi,vesa,simple}-framebuffer.N with its
//        bus/platform/devices link and its drivers/D/NAME link, each
//        sys/class/graphics/fbN whose device is one of them, and their /proc/fb
//        lines. Unbinding or binding them afterwards: ENODEV. Nothing brings them
//        back. set_kernel_removes_firmware_framebuffer(false) stands for 5.15,
//        where they stay. Devices already on a VFIO driver when the kernel is
//        constructed remove nothing.
//   sys/class/vtconsole/vtconN/bind <- 0|1      a plain attribute (below): the file reads
//        the value as written; fail_write and hang_write apply as to any write.
//
// Modules (state in ROOT/proc/modules, the kernel's format, newest first; see
// fake_module in fakeroot.hpp for the NVIDIA family's dependencies). A module
// is loaded when it has a line there or, for a PCI driver module, when its
// drivers/NAME directory exists (the builder lays out one per driver of the
// spec without a line). A PCI driver module is a VFIO driver's, nvidia, or any
// native driver of the spec; '-' and '_' in names are the same.
//   load_module(N)   loaded already: nothing. Else, as modprobe, the modules N uses
//        first (nvidia_drm: nvidia_modeset, nvidia), then N's line on top with no
//        users and refcount 0, N prepended to the users of each module it uses (their
//        refcount + 1). A PCI driver module also makes drivers/DRV appear (bind,
//        unbind, new_id, remove_id) and binds every unbound device it matches (its
//        native driver when driver_override allows it, or the override names it).
//   unload_module(N) not loaded: ENOENT. EAGAIN when N's line lists users, when
//        hold_module(N) marks it, when N is nvidia or nvidia_* and a process in the
//        root (a proc/PID/fd link) holds a /dev/nvidia* node, or when N is
//        nvidia_drm and a process holds /dev/dri/NODE of a device bound to nvidia
//        (sys/class/drm/NODE/device). Else the line goes, N leaves the users of the
//        modules it uses (refcount - 1), and a PCI driver module unbinds every
//        device bound to it (as the unbind write does) and drivers/DRV goes.
//        The refcount column is written but never decides.
//   The errors read as the real ones: "modprobe N failed (exit 1)", "cannot unload
//   module N (it is in use)".
//
// Units (state in ROOT/run/systemd/units/invocation:UNIT, proc/PID/cgroup and
// ROOT/.simkernel/units/UNIT, where a stopped unit's processes wait, so that a
// second kernel on the root starts what the first stopped):
//   stop_unit(U)     active (invocation:U exists): the link goes, and every proc/PID
//        whose cgroup names U as a path component (0::/system.slice/U) exits, kept
//        aside whole. Not active: success, nothing changes.
//   start_unit(U)    active: success, nothing changes. Else invocation:U comes back
//        (with the invocation ID it had; a unit not stopped here gets a made-up
//        one) with the processes stop_unit kept aside: same pid, comm, fd links and
//        cgroup, so the display manager holds its GPU again. A pid taken meanwhile:
//        EEXIST, a failure of the simulation.
//   fail_unit(U, "stop"|"start", err): that call returns err and changes nothing;
//   hang_unit_stop(U): stop returns ETIMEDOUT, as the bounded systemctl does after
//   its timeout, and the unit stays active.
//   exit_process(pid) removes proc/PID: a holder closing its nodes.
//
// The log: one line per call, in order, next to the writes: "write /sys/... VALUE",
// "load module nvidia", "unload module nvidia_drm", "stop unit gdm3.service",
// "start unit gdm3.service" (names as passed; failed, refused and hung calls
// too). Loading a VFIO driver's module (vfio-pci, *_vfio_pci) is not logged: it
// never was, and the binder's tests compare their write sequences without it. Module and unit calls do not count as
// writes (writes(), fail_write and hang_write count write() calls only).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fakeroot.hpp"
#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/binding/kernel_io.hpp"

namespace hostdev::testing {

class SimulatedKernel final : public hostdev::KernelIo {
public:
    // root: a fake root built by build_fake_root(spec); it must exist.
    // Throws std::runtime_error when it does not (tests only).
    SimulatedKernel(std::filesystem::path root, const FakeHostSpec& spec);

    Status write(const std::filesystem::path& path, std::string_view value) override;
    // "vfio-pci" or "vfio_pci": creates drivers/vfio-pci (bind, unbind, new_id,
    // remove_id) if missing and binds the unbound devices whose override is
    // vfio-pci. A VFIO variant driver's module (NAME_vfio_pci, '-' or '_'):
    // the same for drivers/NAME_vfio_pci. Every module gets its proc/modules
    // line; nvidia and the spec's native drivers bind their devices (above).
    Status load_module(std::string_view name) override;
    Status unload_module(std::string_view name) override;
    Status stop_unit(std::string_view unit, std::chrono::milliseconds timeout) override;
    Status start_unit(std::string_view unit, std::chrono::milliseconds timeout) override;

    // Failure injection over the count of write() calls (1-based), this object only.
    // Write k returns err and changes nothing.
    void fail_write(int k, int err);
    // Write k returns success and changes nothing (a probe that never completes).
    void hang_write(int k);
    // `driver`'s probe of `dev` fails with err: bind returns it; drivers_probe
    // leaves the device unbound and returns 0.
    void refuse_bind(const PciAddress& dev, std::string driver, int err);

    // true (the default): a VFIO bind of the boot display removes the firmware
    // framebuffers (6.x); false: they stay (5.15).
    void set_kernel_removes_firmware_framebuffer(bool removes);
    // The module is in use (unload_module: EAGAIN) until release_module.
    void hold_module(std::string_view name);
    void release_module(std::string_view name);
    // load_module ("load") or unload_module ("unload") of the module returns err and
    // changes nothing. Throws std::invalid_argument for another op.
    void fail_module(std::string_view name, std::string_view op, int err);
    // stop_unit ("stop") or start_unit ("start") of the unit returns err and
    // changes nothing. Throws std::invalid_argument for another op.
    void fail_unit(std::string_view unit, std::string_view op, int err);
    // stop_unit of the unit returns ETIMEDOUT; the unit stays active.
    void hang_unit_stop(std::string_view unit);
    // The process exits: proc/PID goes. ESRCH when there is none.
    Status exit_process(int pid);

    // Number of write() calls so far, failed and hung ones included.
    [[nodiscard]] int writes() const { return writes_; }
    // One "write /sys/... VALUE" per write() call: the path as on a live host,
    // the value without its trailing newline; and one line per module and unit
    // call (above), in call order.
    [[nodiscard]] const std::vector<std::string>& log() const { return log_; }

private:
    struct Device {
        std::string name;           // "0000:01:00.0"
        std::filesystem::path dir;  // canonical
    };
    Status react(const std::filesystem::path& path, std::string_view value);
    std::optional<Device> find_device(std::string_view name) const;
    std::optional<Device> device_by_dir(const std::filesystem::path& canonical_dir) const;
    std::vector<Device> devices() const;
    bool matches(const Device& dev, const std::string& driver) const;
    // 0 when `driver`'s probe of dev succeeds, else the errno it fails with.
    int refusal(const Device& dev, const std::string& driver) const;
    Status attach(const Device& dev, const std::string& driver);
    Status detach(const Device& dev, const std::string& driver);
    Status ensure_group_node(int group);
    Status remove_firmware_framebuffers();
    std::optional<std::string> pci_driver_of_module(std::string_view name) const;
    bool module_loaded(const std::string& module) const;
    Status insert_module(const std::string& module);
    Status write_modules_file(const std::string& text);
    bool any_process_holds(const std::function<bool(const std::string&)>& holds) const;
    std::filesystem::path unit_stash(const std::string& unit) const;

    std::filesystem::path given_root_;           // as passed in, for live paths
    std::filesystem::path root_;                 // canonical
    FsRoot fsroot_;                              // over root_
    std::map<std::string, std::string> native_;  // address -> native driver
    std::map<int, int> fail_;                    // write number -> errno
    std::set<int> hang_;
    std::map<std::pair<std::string, std::string>, int> refuse_;  // (address, driver) -> errno
    bool removes_firmware_fb_ = true;
    std::set<std::string> held_;                                      // modules in use
    std::map<std::pair<std::string, std::string>, int> fail_module_;  // (module, op) -> errno
    std::map<std::pair<std::string, std::string>, int> fail_unit_;    // (unit, op) -> errno
    std::set<std::string> hang_stop_;                                 // units whose stop hangs
    int writes_ = 0;
    std::vector<std::string> log_;
};

// Every device's driver and driver_override under a root, and the group nodes
// ROOT/dev/vfio/N, to compare a host before and after, device by device.
struct DeviceDriverState {
    std::optional<std::string> driver;    // nullopt: unbound
    std::optional<std::string> override;  // nullopt: "(null)"
    bool operator==(const DeviceDriverState&) const = default;
};

struct DriverState {
    std::map<PciAddress, DeviceDriverState> devices;
    std::set<int> vfio_groups;  // N of each ROOT/dev/vfio/N

    bool operator==(const DriverState&) const = default;
    // One line per difference, "" when equal, e.g.
    //   "0000:01:00.0: driver nouveau -> vfio-pci"
    //   "0000:01:00.0: driver_override (null) -> vfio-pci"
    //   "/dev/vfio/1: absent -> present"
    // (this object is the "before" side).
    [[nodiscard]] std::string diff(const DriverState& other) const;
    // Every device on one line each, then the group nodes.
    [[nodiscard]] std::string str() const;
};

// For GoogleTest messages.
void PrintTo(const DriverState& state, std::ostream* os);

// Throws std::runtime_error when the root has no sys/bus/pci/devices (tests only).
DriverState capture_driver_state(const std::filesystem::path& root);

}  // namespace hostdev::testing
