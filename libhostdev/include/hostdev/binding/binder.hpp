// The binder: moves whole IOMMU groups to vfio-pci and back as a transaction.
// Each device goes to the VFIO driver libvirt would bind it to
// (policy/vfio_driver.hpp: vfio-pci or a VFIO variant driver such as
// mlx5_vfio_pci, written V below); a device already on a VFIO driver stays.
//
// Detach, per device, in numbered steps, each written once with its do and
// its undo (computed from the device's recorded original driver D and
// override O):
//   1. driver_override := V                 undo: driver_override := O
//   2. D/unbind := ADDR (only when bound)    undo: driver_override := O (or
//        cleared when O would not let D bind), then D/bind := ADDR (drivers_probe
//        when that fails), only while the device is unbound
//   3. drivers_probe := ADDR (V/bind when that fails)
//                                            undo: V/unbind := ADDR, only
//                                            while the device is on V
//   4. wait (bounded) for driver -> V and /dev/vfio/GROUP   (read only)
// V's module is loaded (modprobe V) first when its driver directory is missing.
// A display device that holds the host's console or display is handed over
// first (policy/handoff.hpp: steps H1-H5 before these, H6 after), journaled
// with the devices and given back in reverse at reattach, rollback and recover.
// The plan of the whole group is derived once; --dry-run prints its forward
// writes. One executor runs the steps forward and, on a failure, unwinds the
// completed ones in reverse, write by write. A journal (per owner, keyed by
// domain UUID, never by name; journal.hpp) records every device's original
// state before the first write, the step about to run before its writes, and
// the completed steps; `recover` unwinds an interrupted detach from it with
// the same undo writes. An undo that leaves a device off its original state is
// followed by one restore through the reattach path: a separate event, logged
// as a warning and named in the error.
// Reattach restores the recorded driver exactly. One flock serializes runs; a
// group held by another owner's journal cannot be taken, nor a group with a
// device on vfio-pci that no readable journal holds while a journal is
// unreadable.
//
// Every read and write goes through the FsRoot: under --root DIR nothing
// outside DIR is read or written.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/binding/journal.hpp"
#include "hostdev/binding/kernel_io.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

struct BinderOptions {
    std::filesystem::path journal_dir;              // empty: FsRoot::run("hostdev")
    std::chrono::milliseconds wait_timeout{10000};  // per device: driver link and /dev/vfio/N
    std::chrono::milliseconds poll_interval{10};
    std::chrono::milliseconds lock_timeout{60000};
    // Called after each completed write (1-based count over the run); tests use
    // it to kill the process between steps.
    std::function<void(int)> after_write;
    // hostdev.conf vfio_variant_drivers: whose rule picks each device's VFIO driver.
    VariantMode vfio_variants = VariantMode::Auto;
    // The single-GPU handoff (policy/handoff.hpp): hostdev.conf single_gpu_handoff,
    // gpu_release_timeout_ms (the display manager's stop and start, and the
    // wait for the GPU's holders, each), display_manager (UNIT | none; unset:
    // display-manager.service's unit).
    bool single_gpu_handoff = true;
    std::chrono::milliseconds gpu_release_timeout{10000};
    std::optional<std::string> display_manager;
};

// A device asked for, with the domain's <driver model=...> (nullopt: none).
// With the domain's pin of the device, a request is refused when the device at
// the address is not the pinned one (policy/pins.hpp).
struct DetachRequest {
    PciAddress device;
    std::optional<std::string> driver_model;
    std::optional<DevicePin> pin;
};
// The requests of a domain's passthrough devices, each device once (the first
// element naming it gives its model), sorted by address, each with its pin
// from `pins` (a domain's pins) where there is one.
std::vector<DetachRequest> detach_requests(const std::vector<PassthroughDevice>& devices,
                                           const std::vector<DevicePin>& pins = {});

// The binder's settings from hostdev.conf (journal_dir, wait and lock timeouts).
BinderOptions binder_options(const Config& config);

// One planned or performed sysfs write, for --dry-run and for reports.
struct PlannedWrite {
    int step = 0;  // 1..3 as above (0: module load)
    PciAddress device;
    std::string action;          // "set driver_override", "unbind from nouveau", ...
    std::filesystem::path path;  // full path under the root, resolved as the write would resolve it
    std::string value;
    // A handoff action that is not a sysfs write, as a command line:
    // "systemctl stop gdm3.service", "rmmod nvidia_drm", "wait up to 10000 ms
    // for /dev/dri/card0 to be closed"; empty for writes and module loads.
    std::string command;
};

struct DeviceOutcome {
    PciAddress device;
    std::optional<std::string> from;  // driver before
    std::optional<std::string> to;    // driver after
    std::string note;                 // "already on vfio-pci", "stays unbound", ...
};

struct BindReport {
    std::vector<DeviceOutcome> devices;
    std::vector<std::string> warnings;
    // What the run did besides moving devices, each line starting with the
    // device's address: the single-GPU handoff's plan and its measured time
    // ("0000:00:02.0: handoff done in 812 ms, 640 ms of it waiting ...").
    std::vector<std::string> notes;
    // Journals that could not be read (recover), each named with what to do:
    // the run handled every other journal.
    std::vector<std::string> unreadable;
};

class Binder {
public:
    Binder(FsRoot root, KernelIo& io, BinderOptions options = {});

    // What detach for `owner` would write, in order, from the host as it is
    // now; an Error when the sibling policy or a journal blocks (nothing may
    // be written then). Reads the journals, writes nothing.
    Result<std::vector<PlannedWrite>> plan_detach(const std::vector<PciAddress>& requested,
                                                  const Owner& owner = Owner::manual()) const;
    Result<std::vector<PlannedWrite>> plan_detach(const std::vector<DetachRequest>& requested,
                                                  const Owner& owner = Owner::manual()) const;
    // Detaches the whole groups of `requested` for `owner`. `starting`: the
    // libvirt daemon starting the domain (the hook's prepare), recorded in the
    // journal until launched(); recover keeps the devices while it lives.
    Result<BindReport> detach(const Owner& owner, const std::vector<PciAddress>& requested);
    Result<BindReport> detach(const Owner& owner, const std::vector<DetachRequest>& requested,
                              std::optional<journal::Starter> starting = std::nullopt);
    // libvirt has launched the owner's QEMU ("started"): its journal forgets
    // the daemon that was starting it. No journal, or none starting: nothing.
    Status launched(const Owner& owner);
    // Returns every device of the owner's journal to its recorded driver. Goes on
    // past failures, reports them all; the journal is removed only when every
    // device is back. No journal: nothing to do.
    Result<BindReport> reattach(const Owner& owner);
    // Returns the given devices (from whichever journal holds them).
    Result<BindReport> reattach_devices(const std::vector<PciAddress>& devices);

    // Journals and the devices they hold, with each device's current driver.
    struct HeldDevice {
        PciAddress device;
        int group = -1;
        std::optional<std::string> original_driver;
        std::optional<std::string> current_driver;
        std::string state;  // journal state
    };
    struct Holding {
        Owner owner;
        std::string state;  // "detaching", "detached", "rolling-back", "reattaching"
        std::vector<HeldDevice> devices;
        // What the single-GPU handoff took from the host, to give back at
        // release: "0000:00:02.0: gdm3.service stopped, vtcon1 unbound, ..."
        std::optional<std::string> handoff;
        // The libvirt daemon starting the domain ("libvirtd (pid 812)"): set
        // while that daemon lives and libvirt has not called "started".
        std::optional<std::string> starting;
    };
    // Every readable journal; an Error only when the directory cannot be read.
    [[nodiscard]] Result<std::vector<Holding>> status() const;
    struct Survey {
        std::vector<Holding> holdings;
        std::vector<journal::Unreadable> unreadable;
    };
    // status() and the journals that cannot be read.
    [[nodiscard]] Result<Survey> survey() const;
    // A device's driver now (nullopt: unbound), read from sysfs.
    [[nodiscard]] std::optional<std::string> current_driver(const PciAddress& device) const;

    // After a crash, kill or reboot: every journal whose owner is not running
    // (is_running(owner) false; manual detaches count as running once complete)
    // and is not being started (journal::being_started) is rolled back or
    // reattached, and removed when done. An interrupted detach is unwound
    // from the journal's steps. Unreadable journals are named in the error;
    // every readable one is handled.
    Result<BindReport> recover(const std::function<bool(const Owner&)>& is_running);

    struct Retired {
        journal::Unreadable journal;  // what it was, and the devices it names
        std::filesystem::path now;    // its new name, FILE.retired
    };
    // Retires one unreadable journal (README: unreadable journals): `file` is
    // its name, or its path in the journal directory (full or as on the live
    // host). A journal that reads is refused.
    Result<Retired> retire_journal(const std::filesystem::path& file);

    [[nodiscard]] const std::filesystem::path& journal_dir() const { return journal_dir_; }

private:
    FsRoot root_;
    KernelIo& io_;
    BinderOptions options_;
    std::filesystem::path journal_dir_;
};

}  // namespace hostdev
