// A simulated kernel for tests that move devices between drivers: a KernelIo
// that reacts to sysfs writes under a fake root (built by build_fake_root) the
// way Linux's PCI core and vfio-pci do, after libvirt's tests/virpcimock.c.
//
// All state lives in the fake root's files: DEVDIR/driver links,
// DEVDIR/driver_override, sys/bus/pci/drivers/NAME/ADDR links and
// ROOT/dev/vfio/N. A second SimulatedKernel on the same root (for instance in
// another process after a kill) continues where the first one stopped; only
// the injected failures and the write log belong to one object.
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
#pragma once

#include <chrono>
#include <filesystem>
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
    // the same for drivers/NAME_vfio_pci. Any other name: success, no effect.
    Status load_module(std::string_view name) override;
    // Placeholders until the handoff's reactions are simulated: success, no effect.
    Status unload_module(std::string_view) override { return ok_status(); }
    Status stop_unit(std::string_view, std::chrono::milliseconds) override { return ok_status(); }
    Status start_unit(std::string_view, std::chrono::milliseconds) override { return ok_status(); }

    // Failure injection over the count of write() calls (1-based), this object only.
    // Write k returns err and changes nothing.
    void fail_write(int k, int err);
    // Write k returns success and changes nothing (a probe that never completes).
    void hang_write(int k);
    // `driver`'s probe of `dev` fails with err: bind returns it; drivers_probe
    // leaves the device unbound and returns 0.
    void refuse_bind(const PciAddress& dev, std::string driver, int err);

    // Number of write() calls so far, failed and hung ones included.
    [[nodiscard]] int writes() const { return writes_; }
    // One "write /sys/... VALUE" per write() call: the path as on a live host,
    // the value without its trailing newline.
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

    std::filesystem::path given_root_;           // as passed in, for live paths
    std::filesystem::path root_;                 // canonical
    FsRoot fsroot_;                              // over root_
    std::map<std::string, std::string> native_;  // address -> native driver
    std::map<int, int> fail_;                    // write number -> errno
    std::set<int> hang_;
    std::map<std::pair<std::string, std::string>, int> refuse_;  // (address, driver) -> errno
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
