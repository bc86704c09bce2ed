// The binder: moves whole IOMMU groups to vfio-pci and back as a transaction.
//
// Detach, per device, in numbered steps, each with its undo:
//   1. driver_override := vfio-pci        undo: restore the original override
//   2. unbind from the current driver      undo: restore the override, bind the original driver
//   3. probe (drivers_probe; else vfio-pci/bind)   undo: unbind from vfio-pci
//   4. wait (bounded) for driver -> vfio-pci and /dev/vfio/GROUP   (read only)
// A journal (per owner, keyed by domain UUID, never by name) records every
// device's original driver and override before the first write and is updated
// as steps complete; any failure undoes the completed steps in reverse.
// Reattach restores the recorded driver exactly. One flock serializes runs; a
// group held by another owner's journal cannot be taken.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/binding/kernel_io.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev {

// Who holds devices: a domain (by UUID) or the administrator ("manual", from
// `hostdev detach ADDR...`).
struct Owner {
    std::string key;   // a canonical lowercase UUID, or "manual"
    std::string name;  // domain name, for messages only
    static Result<Owner> domain(std::string_view uuid, std::string_view name);
    static Owner manual();
    [[nodiscard]] bool is_manual() const { return key == "manual"; }
    [[nodiscard]] std::string describe() const;  // "domain 'win10' (uuid)" or "manual detach"
};

struct BinderOptions {
    std::filesystem::path journal_dir;  // empty: FsRoot::run("hostdev")
    std::chrono::milliseconds wait_timeout{10000};  // per device: driver link and /dev/vfio/N
    std::chrono::milliseconds poll_interval{10};
    std::chrono::milliseconds lock_timeout{60000};
    // Called after each completed write (1-based count over the run); tests use
    // it to kill the process between steps.
    std::function<void(int)> after_write;
};

// One planned or performed sysfs write, for --dry-run and for reports.
struct PlannedWrite {
    int step = 0;  // 1..3 as above (0: module load)
    PciAddress device;
    std::string action;           // "set driver_override", "unbind from nouveau", ...
    std::filesystem::path path;   // full path under the root
    std::string value;
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
};

class Binder {
public:
    Binder(FsRoot root, KernelIo& io, BinderOptions options = {});

    // What detach would write, in order, from the host as it is now; an Error
    // when the sibling policy blocks (nothing may be written then).
    Result<std::vector<PlannedWrite>> plan_detach(const std::vector<PciAddress>& requested) const;
    // Detaches the whole groups of `requested` for `owner`.
    Result<BindReport> detach(const Owner& owner, const std::vector<PciAddress>& requested);
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
        std::string state;  // "detaching", "detached", "reattaching"
        std::vector<HeldDevice> devices;
    };
    [[nodiscard]] Result<std::vector<Holding>> status() const;

    // After a crash, kill or reboot: every journal whose owner is not running
    // (is_running(owner) false; manual detaches count as running once complete)
    // is rolled back or reattached, and removed when done.
    Result<BindReport> recover(const std::function<bool(const Owner&)>& is_running);

    [[nodiscard]] const std::filesystem::path& journal_dir() const { return journal_dir_; }

private:
    FsRoot root_;
    KernelIo& io_;
    BinderOptions options_;
    std::filesystem::path journal_dir_;
};

// Is a domain running? Looks for a QEMU process started with `-uuid UUID`
// under ROOT/proc (libvirt starts every guest that way). Never asks libvirt.
bool domain_running(const FsRoot& root, const Owner& owner);

}  // namespace hostdev
