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

// One action of a step: a sysfs write, or (for the single-GPU handoff) a
// unit's stop or start or a module's load or unload, all through KernelIo.
struct Write {
    enum class Kind { Sysfs, StopUnit, StartUnit, LoadModule, UnloadModule } kind = Kind::Sysfs;
    std::string what;            // "set driver_override", "unbind from nouveau", "stop gdm3.service"
    std::filesystem::path path;  // Sysfs: full path under the root
    std::string value;           // Sysfs: the value; else the unit or module
    // An undo write applies only in the live state its step leaves behind:
    // unbinding from its VFIO driver only while the device is on it, binding
    // the original driver only while the device has none; a console bound
    // again only while its bind reads 0, a platform device only while it
    // exists unbound (`check`: its directory), a module loaded only while it
    // is not, a unit started only while it is not active. Anything else: skipped.
    enum class Only {
        Always,
        OnVfio,
        Unbound,
        ReadsZero,
        PlatformUnbound,
        ModuleUnloaded,
        UnitInactive
    } only = Only::Always;
    std::string vfio;             // OnVfio: the VFIO driver the device must be on
    std::filesystem::path check;  // ReadsZero: the file; PlatformUnbound: the device directory
    // Written instead (same value) when this write fails.
    std::optional<std::string> fallback_what;
    std::filesystem::path fallback_path;
};

struct Step {
    int number = 0;                  // 1..4 (binder.hpp), or the handoff's H1..H6
    PciAddress device;               // the device; for the handoff, its GPU
    std::string what;                // "set driver_override", "unbind from nouveau", "probe", "wait for vfio-pci"
    std::vector<Write> writes;       // forward; empty for the wait
    std::vector<Write> undo;         // to unwind this step, in this order
    int group = -1;                  // step 4: the group whose /dev/vfio/N must appear
    std::vector<std::string> nodes;  // H2: the device nodes whose holders must close
    // A device's driver step, or a step of the handoff (policy/handoff.hpp),
    // whose progress the journal's handoff records.
    enum class Scope { Device, Handoff } scope = Scope::Device;
};

// The steps of one device, from its recorded original state.
std::vector<Step> steps_for(const FsRoot& root, const journal::Device& d);
// The handoff's steps, from its record: H1-H5 (before the driver steps) and H6 (after).
struct HandoffSteps {
    std::vector<Step> before;
    std::vector<Step> after;
};
HandoffSteps handoff_steps(const FsRoot& root, const journal::Handoff& h);

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

    // Gives back what a journal's handoff took (its completed steps' undo, and
    // the step in progress where it had an effect), last first: `after` the
    // H6 step (before the GPU returns to its driver), else H5..H1 (once it
    // has). Goes on past a failed undo (a warning each: the console or the
    // display manager that did not come back); the journal forgets each step
    // as it is undone, and the handoff once all are.
    void give_back(journal::Journal& j, bool after, BindReport& report);
    // The journal's handoff is given back completely once its GPU is not held
    // any more (no longer in the journal): both halves, with a note of the
    // time since `since` (the start of the release) and of its waits.
    void give_back_if_returned(journal::Journal& j, BindReport& report, std::chrono::steady_clock::time_point since);
    // "done in 812 ms, 640 ms of it waiting (display manager ..., holders ..., drivers ...)"
    [[nodiscard]] std::string timing(std::chrono::steady_clock::time_point since) const;

    // Measured while running: time spent in the handoff's waits.
    struct Waits {
        std::chrono::milliseconds unit{0};     // systemctl stop / start
        std::chrono::milliseconds holders{0};  // H2
        std::chrono::milliseconds drivers{0};  // step 4 and the reattach waits
    };
    [[nodiscard]] const Waits& waits() const { return waits_; }

    [[nodiscard]] int writes() const { return writes_; }

private:
    Status write(const PciAddress& a, const std::string& what, const std::filesystem::path& path,
                 std::string_view value);
    // A step's write, or its fallback when it fails (with a warning).
    Status apply(const Step& s, const Write& w, const std::string& label, std::vector<std::string>& warnings);
    Status wait_for(const PciAddress& a, const std::optional<std::string>& driver, std::optional<int> group);
    Status wait_for_holders(const Step& s);
    Status act(const PciAddress& a, const std::string& what, const Write& w, const std::filesystem::path& path);
    [[nodiscard]] bool applies(const Write& w, const PciAddress& device) const;
    static journal::Handoff* handoff_of(journal::Journal& j, const Step& s);
    std::optional<Error> unwind_device(journal::Journal& j, journal::Device& d, BindReport& report);
    bool is_back(const journal::Device& d) const;

    const FsRoot& root_;
    KernelIo& io_;
    const BinderOptions& opt_;
    const journal::Directory& dir_;
    int writes_ = 0;
    Waits waits_;
};

// Is a device part of a journal's open transaction (to be unwound by
// rollback or recover)? Pending, a step in progress, or steps missing.
bool in_open_transaction(const journal::Device& d);

}  // namespace hostdev::txn
