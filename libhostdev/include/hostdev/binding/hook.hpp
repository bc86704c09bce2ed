// The libvirt qemu hook's logic, apart from its executable so tests can drive
// it with a simulated kernel. libvirt runs hooks as `NAME OPERATION SUBOP
// EXTRA` with the domain XML on stdin.
//   prepare begin    detach the whole groups of every PCI hostdev; refusal or
//                    failure: exit 1 with one line on stderr, host unchanged
//   release end      reattach from the journal
//   reconnect begin  reconcile the journal with sysfs and log; always exit 0
//   migrate, restore print nothing (libvirt would take stdout as new XML)
//   anything else    nothing
// It never calls libvirt (that deadlocks) and never leaves a child running.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hostdev/binding/config.hpp"
#include "hostdev/binding/kernel_io.hpp"

namespace hostdev {

struct HookResult {
    int exit_code = 0;
    std::string stderr_text;           // for libvirt to show (one line on failure)
    std::vector<std::string> log;      // lines for syslog / the log file
};

// True when the XML names no PCI hostdev at all: the fast path, decided
// without parsing and without touching sysfs.
bool hook_can_skip(std::string_view domain_xml);

HookResult run_hook(const std::vector<std::string>& args, std::string_view domain_xml, const Config& config,
                    KernelIo& io);

}  // namespace hostdev
