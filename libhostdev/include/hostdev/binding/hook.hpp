// The libvirt qemu hook's logic, apart from its executable so tests can drive
// it with a simulated kernel. libvirt runs hooks as `NAME OPERATION SUBOP
// EXTRA` with the domain XML on stdin.
//   prepare begin    detach the whole groups of every PCI hostdev; refusal or
//                    failure: exit 1 with one line on stderr, host unchanged
//   start begin      the same again: the XML now names the devices libvirt
//                    gave from hostdev networks' pools (already on vfio-pci,
//                    by libvirt); the rest of their groups moves, journaled
//                    with the owner's other devices
//   started begin    the journal forgets the daemon that was starting the
//                    domain (recorded at prepare: recover keeps the devices
//                    of a domain being started, whose QEMU has no -uuid yet)
//   release end      reattach from the journal
//   reconnect begin  reconcile the journal with sysfs and log; always exit 0
//   migrate, restore print nothing (libvirt would take stdout as new XML)
//   anything else    nothing
// It never calls libvirt (that deadlocks) and never leaves a child running.
//
// The hook's front (hooks/main.cpp) only reads stdin and argv and calls
// run_hook(HookInvocation); every decision is here, and the front writes the
// HookOutcome: syslog lines, the log_file line, stderr, the exit code.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/binding/config.hpp"
#include "hostdev/binding/kernel_io.hpp"

namespace hostdev {

struct HookResult {
    int exit_code = 0;
    std::string stderr_text;       // for libvirt to show (one line on failure)
    std::vector<std::string> log;  // lines for syslog / the log file
};

// True when the domain has no element that passes a host PCI device through
// (a <devices><hostdev> of mode subsystem, or no mode, and type pci): the
// fast path, decided from the domain's elements by the lexical scanner, with
// no tree built, no configuration read and no sysfs touched. A USB hostdev or
// "<hostdev" in a comment is nothing to do; a document that does not scan
// cleanly is left to the parser (false).
bool hook_can_skip(std::string_view domain_xml);

// One operation with a configuration and a kernel: what tests drive.
// `caller_pid`: the process that ran the hook (libvirt's daemon), recorded
// at prepare as the domain's starter; 0 when unknown (nothing recorded).
HookResult run_hook(const std::vector<std::string>& args, std::string_view domain_xml, const Config& config,
                    KernelIo& io, int caller_pid = 0);

// ---- The hook process -----------------------------------------------------

// libvirt's domain XML is read up to this size; a longer stdin is drained.
inline constexpr std::size_t kMaxHookStdinBytes = 64U << 20;

struct HookInvocation {
    std::vector<std::string> args;  // argv without the program: NAME OPERATION SUBOP EXTRA
    std::string_view domain_xml;    // stdin, up to kMaxHookStdinBytes
    bool xml_complete = true;       // false: stdin was longer than kMaxHookStdinBytes
    int caller_pid = 0;             // the hook's parent (libvirt's daemon); 0: unknown
};

enum class HookLogLevel { Info, Warning, Error };
struct HookLogLine {
    HookLogLevel level = HookLogLevel::Info;
    std::string text;
};

// What the front writes.
struct HookOutcome {
    int exit_code = 0;
    std::string stderr_text;                        // one line, or empty
    std::vector<HookLogLine> syslog;                // LOG_DAEMON, in order
    std::optional<std::filesystem::path> log_file;  // hostdev.conf's log_file, when set and readable
    std::string log_line;                           // "<time> NAME OPERATION SUBOP rc\n" for log_file
};

// The whole hook, as libvirt runs it. The domain's elements decide first
// whether there is anything to do (hook_can_skip; release also looks for a
// journal): a domain without PCI passthrough exits 0 whatever state
// hostdev.conf and log_file are in. Only then is hostdev.conf read (a bad one
// refuses prepare, and is logged at the other steps) and run_hook run on
// `io`, or on the kernel under the configured root when io is null.
HookOutcome run_hook(const HookInvocation& call, KernelIo* io = nullptr);

// The outcome when an exception escaped run_hook anyway (the front's guard):
// prepare begin and start begin are refused with one line; every other step,
// reconnect begin above all, exits 0 and logs the error.
HookOutcome hook_outcome_of_exception(const std::vector<std::string>& args, std::string_view what);

}  // namespace hostdev
