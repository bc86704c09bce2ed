// The binder's transaction engine (internal): the detach steps of a device,
// each written once with its do and its undo, and the one executor that runs
// them forward and unwinds them in reverse, recording progress in the
// journal. binder.hpp describes the steps; binder.cpp decides what to move.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/binding/binder.hpp"
#include "hostdev/binding/journal.hpp"
#include "hostdev/binding/kernel_io.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev::txn {

inline constexpr std::string_view kVfio = kVfioPci;

// The VFIO driver a journal's device is bound to: its recorded one, vfio-pci
// for journals written before hostdev recorded it.
std::string vfio_driver_of(const journal::Device& d);

// One sysfs write of a step.
struct Write {
    std::string what;            // "set driver_override", "unbind from nouveau"
    std::filesystem::path path;  // full path under the root
    std::string value;
    // An undo write applies only in the live state its step leaves behind:
    // unbinding from its VFIO driver only while the device is on it, binding
    // the original driver only while the device has none. Anything else: skipped.
    enum class Only { Always, OnVfio, Unbound } only = Only::Always;
    std::string vfio;  // OnVfio: the VFIO driver the device must be on
    // Written instead (same value) when this write fails.
    std::optional<std::string> fallback_what;
    std::filesystem::path fallback_path;
};

struct Step {
    int number = 0;  // 1..4 (binder.hpp)
    PciAddress device;
    std::string what;           // "set driver_override", "unbind from nouveau", "probe", "wait for vfio-pci"
    std::vector<Write> writes;  // forward; empty for the wait
    std::vector<Write> undo;    // to unwind this step, in this order
    int group = -1;             // step 4: the group whose /dev/vfio/N must appear
};

// The steps of one device, from its recorded original state.
std::vector<Step> steps_for(const FsRoot& root, const journal::Device& d);

// The live state of one device, read fresh through the root.
struct Live {
    std::optional<std::string> driver;
    std::optional<std::string> override_;
    std::optional<int> group;
};

// The executor over one root, kernel and journal directory.
class Engine {
public:
    Engine(const FsRoot& root, KernelIo& io, const BinderOptions& opt, const journal::Directory& dir)
        : root_(root), io_(io), opt_(opt), dir_(dir) {}

    [[nodiscard]] Live live(const PciAddress& a) const;
    Status save(const journal::Journal& j);

    // Runs the plan forward. Before a step's writes the journal names it as
    // the step in progress; once they are done it is a completed step. On a
    // failure the failed step is not completed (its write had no effect) and
    // the error names device, step, path and errno.
    Status run(journal::Journal& j, const std::vector<Step>& plan, BindReport& report);
    // Unwinds the open transaction of a journal (its pending and unfinished
    // devices, last first): each completed step's undo writes in reverse order
    // of the steps; the step in progress too (its undo writes apply only where
    // it had an effect). A device its undo did not bring back gets one final
    // restore through the reattach path (a warning). The devices that are back
    // leave the journal and the report (with the warnings). True when every
    // device is back; else errors say which are not.
    bool unwind(journal::Journal& j, BindReport& report, std::vector<std::string>& errors);

    // Brings one device back to its recorded driver and override (reattach).
    // Idempotent: a device already back needs no write.
    Status restore(const journal::Device& d, std::vector<std::string>& warnings);
    // Returns every device of a journal to its recorded driver, going on past
    // failures (each one added to errors). The journal is removed when every
    // device is back, else kept with the ones that are not. True when all are back.
    bool return_all(journal::Journal& j, const std::string& note, BindReport& report, std::vector<std::string>& errors);

    // Loads a VFIO driver's module (vfio-pci, mlx5_vfio_pci) when its driver
    // directory is missing and waits for it.
    Status ensure_vfio_loaded(const std::string& driver = std::string(kVfio));

    [[nodiscard]] int writes() const { return writes_; }

private:
    Status write(const PciAddress& a, const std::string& what, const std::filesystem::path& path,
                 std::string_view value);
    // A step's write, or its fallback when it fails (with a warning).
    Status apply(const Step& s, const Write& w, const std::string& label, std::vector<std::string>& warnings);
    Status wait_for(const PciAddress& a, const std::optional<std::string>& driver, std::optional<int> group);
    std::optional<Error> unwind_device(journal::Journal& j, journal::Device& d, BindReport& report);
    bool is_back(const journal::Device& d) const;

    const FsRoot& root_;
    KernelIo& io_;
    const BinderOptions& opt_;
    const journal::Directory& dir_;
    int writes_ = 0;
};

// Is a device part of a journal's open transaction (to be unwound by
// rollback or recover)? Pending, a step in progress, or steps missing.
bool in_open_transaction(const journal::Device& d);

}  // namespace hostdev::txn
