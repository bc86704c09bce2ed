// Journals of the binder: who holds which devices, and how far a detach got.
//
// One JSON file per owner (OWNER_KEY.json) in the journal directory (default
// ROOT/run/hostdev), written atomically and fsync'd, read back after a crash.
// The directory is used only when it is a real directory (not a symbolic
// link) owned by the user running hostdev (root, when run as root); it is
// created 0700 when missing. An entry is read only when it is a regular file,
// opened with O_NONBLOCK|O_NOFOLLOW and checked with fstat: a FIFO never
// blocks a reader and a planted symbolic link is never followed. Anything
// else, or a file that does not parse, is an unreadable journal: reported by
// name with what to do, never a reason to stop reading the others.
//
// Ownership and running domains live here too: a journal is keyed by its
// owner, and `recover` asks whether the owner is still running.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/pci_address.hpp"
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

// Is a domain running? Looks for a QEMU process started with `-uuid UUID`
// under ROOT/proc, read through the root (libvirt starts every guest that
// way). Never asks libvirt. A manual owner counts as running.
bool domain_running(const FsRoot& root, const Owner& owner);

namespace journal {

// The libvirt daemon that is starting a domain: the process that ran the
// hook's prepare (the hook's parent), recorded in the domain's journal until
// libvirt calls "started", when the domain's QEMU runs. In between no process
// has the domain's -uuid yet, and the daemon (autostarting its domains as it
// comes up, say) will either run the domain or call release.
struct Starter {
    int pid = 0;
    std::optional<std::uint64_t> start_time;     // ROOT/proc/PID/stat field 22, when it could be read
    std::string name;                            // its comm ("libvirtd", "virtqemud"), for messages
    [[nodiscard]] std::string describe() const;  // "libvirtd (pid 812)"
};
// The Starter of the process `pid` as ROOT/proc shows it now.
Starter starter_of(const FsRoot& root, int pid);
// Is the recorded daemon still that process (same PID, same start time)?
bool starter_alive(const FsRoot& root, const Starter& starter);

// One device of a journal: its state before hostdev touched it, and the
// detach steps (binder.hpp) that have run on it.
struct Device {
    PciAddress address;
    int group = -1;
    std::optional<std::string> original_driver;
    std::optional<std::string> original_override;
    std::vector<int> done;     // completed detach steps, in order (1..3)
    std::optional<int> doing;  // the step whose writes have begun and not yet completed
    // Part of the transaction still open (state "detaching"/"rolling-back");
    // false for a device held from an earlier, completed detach.
    bool pending = false;
    // The VFIO driver this detach binds it to ("vfio-pci", "mlx5_vfio_pci");
    // nullopt in a journal written before hostdev recorded it: vfio-pci.
    std::optional<std::string> vfio_driver;
};

// A firmware framebuffer's platform device and the driver it was bound to.
struct PlatformBinding {
    std::string device;  // "efi-framebuffer.0"
    std::string driver;  // "efi-framebuffer", "simpledrm"
};

// The single-GPU handoff of a detach (policy/handoff.hpp): what it took from
// the host, to give back in reverse, and how far it got. Steps H1..H6 are
// numbered 1..6; a step whose list is empty is not planned (and not in done).
struct Handoff {
    PciAddress gpu;
    std::optional<std::string> stopped_unit;       // H1: the display manager, started again at release
    std::vector<std::string> nodes;                // H2: the device nodes waited for
    std::vector<int> consoles;                     // H3: vtconN
    std::vector<PlatformBinding> firmware;         // H4
    std::vector<std::string> modules_before;       // H5, in unload order
    std::vector<std::string> modules_after;        // H6
    std::vector<int> done;                         // completed handoff steps, in order
    std::optional<int> doing;                      // the step begun and not completed
    [[nodiscard]] std::vector<int> steps() const;  // the planned steps, in order
};

struct Journal {
    Owner owner;
    std::string state;  // "detaching", "detached", "rolling-back", "reattaching"
    std::vector<Device> devices;
    std::optional<Handoff> handoff;  // a detach that handed the host's GPU over
    // Set from the hook's prepare until libvirt's "started": the domain is
    // being started by this daemon (its QEMU not launched yet).
    std::optional<Starter> starting;

    Device* find(const PciAddress& a);
    [[nodiscard]] const Device* find(const PciAddress& a) const;
};

// Is the journal's domain being started: a starting daemon recorded, and
// still that process (starter_alive)?
bool being_started(const FsRoot& root, const Journal& j);

// The states a journal may be in.
inline constexpr std::string_view kDetaching = "detaching";
inline constexpr std::string_view kDetached = "detached";
inline constexpr std::string_view kRollingBack = "rolling-back";
inline constexpr std::string_view kReattaching = "reattaching";

// Total: every input gives a Journal or an Error naming `source`, the key
// and what is wrong (wrong types, nulls, missing keys, numbers out of range,
// duplicate keys, wrong nesting, bad addresses, driver names that could not
// name a driver directory, steps out of order).
Result<Journal> parse(std::string_view text, const std::string& source);
std::string serialize(const Journal& j);
// The file name of an owner's journal: "KEY.json" (the key is a validated
// UUID or "manual": never a name, never a path).
std::string file_name(const Owner& owner);
// PCI addresses spelled anywhere in a text (for a journal that does not
// parse: the devices it may have held). Sorted, each once.
std::vector<PciAddress> mentioned_addresses(std::string_view text);

// A journal directory entry that could not be read as a journal.
struct Unreadable {
    std::filesystem::path path;         // full path of the entry
    Error error;                        // why: names the file, the key or errno
    std::vector<PciAddress> mentioned;  // addresses in whatever part could be read
    // "PATH is unreadable (WHY); ..." with what to do: for logs and stderr.
    [[nodiscard]] std::string describe() const;
};

struct Contents {
    std::vector<Journal> journals;
    std::vector<Unreadable> unreadable;
};

// Holds the journal directory's lock (an flock on DIR/lock) for its lifetime.
class Lock {
public:
    Lock(Lock&& o) noexcept = default;
    Lock& operator=(Lock&&) = delete;

private:
    friend class Directory;
    explicit Lock(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

// The journal directory, opened once; every entry is opened relative to it.
class Directory {
public:
    enum class Create { No, Yes };
    // `dir` is a full path; below `root` it is resolved inside the root, as
    // every path there is (FsRoot). Create::No and no directory: an empty
    // directory that is never written (exists() is false).
    static Result<Directory> open(const FsRoot& root, const std::filesystem::path& dir, Create create);

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] bool exists() const { return fd_.valid(); }

    // Takes the lock, waiting at most `timeout` for another run to release it.
    [[nodiscard]] Result<Lock> lock(std::chrono::milliseconds timeout) const;

    // Every entry named *.json (not starting with '.'): the journals that
    // read, and the entries that do not. An Error only when the directory
    // itself cannot be listed.
    [[nodiscard]] Result<Contents> read_all() const;
    // One owner's journal; nullopt when it has none.
    [[nodiscard]] Result<std::optional<Journal>> read(const Owner& owner) const;
    // Is there any *.json entry at all (readable or not)? One listing, no open.
    [[nodiscard]] bool any() const;

    Status save(const Journal& j) const;
    Status remove(const Owner& owner) const;
    // Renames the entry NAME (a file name in this directory, *.json) to
    // NAME.retired (NAME.retired.N when that exists), which is never read
    // again; gives the new name. Refuses a journal that reads: its devices are
    // returned with `hostdev reattach` or `hostdev recover`.
    Result<std::string> retire(std::string_view name) const;
    // Reads an entry for `retire`: the Unreadable it is, or an Error when it
    // reads as a journal (or is missing).
    [[nodiscard]] Result<Unreadable> inspect(std::string_view name) const;

private:
    Directory(std::filesystem::path path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    std::filesystem::path path_;
    Fd fd_;
};

}  // namespace journal
}  // namespace hostdev
