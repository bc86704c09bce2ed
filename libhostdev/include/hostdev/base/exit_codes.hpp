// The exit codes of every hostdev executable, one namespace per executable
// family. They are a contract for users' scripts and CI (README "Exit
// codes"): add new ones, never renumber. Every front end and library function
// that gives an exit code uses these names.
#pragma once

namespace hostdev::exits {

// hostdev-fix, and virt-hostdev check and fix. With several domains the
// highest code wins.
namespace fix {
inline constexpr int kNothingToDo = 0;    // nothing to change, or the fixed output was written
inline constexpr int kChangesNeeded = 1;  // --check: a domain needs changes
inline constexpr int kBlocked = 2;        // a group member cannot leave the host: nothing written
inline constexpr int kInvalid = 3;        // unreadable or invalid input, a bad flag, no connection
inline constexpr int kWriteFailed = 4;    // the output could not be written (disk full, permissions)
}  // namespace fix

// hostdev groups, snapshot, detach, reattach, status, recover.
namespace tool {
inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;  // failed (a detach was rolled back), or output not written
inline constexpr int kRefused = 2;  // detach refused by the sibling policy or another owner: nothing changed
inline constexpr int kUsage = 64;   // bad command line or configuration
}  // namespace tool

// hostdev doctor.
namespace doctor {
inline constexpr int kAllOk = 0;
inline constexpr int kWarnings = 1;
inline constexpr int kErrors = 2;
}  // namespace doctor

// hostdev boot-config: blocked and invalid as hostdev-fix.
namespace boot_config {
inline constexpr int kOk = 0;
inline constexpr int kWriteFailed = 1;
inline constexpr int kBlocked = fix::kBlocked;
inline constexpr int kInvalid = fix::kInvalid;
}  // namespace boot_config

// hostdev-hook (libvirt's qemu hook): only a refused prepare is not 0.
namespace hook {
inline constexpr int kOk = 0;
inline constexpr int kRefused = 1;
}  // namespace hook

// virt-hostdev attach and detach (whole-group hot-plug): blocked and
// invalid as check.
namespace hotplug {
inline constexpr int kDone = 0;                 // done, or nothing to do; --dry-run: the calls printed
inline constexpr int kFailed = 1;               // a call failed; every call before it was undone
inline constexpr int kBlocked = fix::kBlocked;  // the sibling policy or another domain: no call made
inline constexpr int kInvalid = fix::kInvalid;  // bad address, flags or domain, no connection: no call made
inline constexpr int kNotUndone = 4;            // a call failed and undoing the calls before it failed too
}  // namespace hotplug

// virt-hostdev groups and snapshot (check and fix use fix::).
namespace virt {
inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;
inline constexpr int kUsage = fix::kInvalid;  // a bad flag: hostdev-fix's "invalid input"
}  // namespace virt

}  // namespace hostdev::exits
