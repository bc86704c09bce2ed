// hostdev-hook: the libvirt qemu hook, installed as
// SYSCONFDIR/libvirt/hooks/qemu.d/50-hostdev. libvirt runs it as
// `NAME OPERATION SUBOP EXTRA` with the domain XML on stdin. Every decision
// (the fast path for domains without PCI passthrough, the configuration, the
// refusal line, what is logged) is in libhostdev (hook.hpp); this file only
// does the process's I/O:
//   - reads all of stdin first (libvirt writes the whole XML before waiting);
//   - calls run_hook;
//   - writes what it returns: syslog lines (LOG_DAEMON), the log_file line
//     (only into a regular file, never blocking; a failure is a syslog
//     warning), the one-line reason on stderr, the exit code.
// One guard turns anything that escapes into the library's outcome for it
// (reconnect begin still exits 0). It never calls libvirt (that deadlocks)
// and starts no process of its own except modprobe, which it waits for.
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/fileio.hpp"
#include "hostdev/binding/hook.hpp"

namespace {

// Reads all of stdin into xml, keeping at most kMaxHookStdinBytes and
// draining the rest so the writer never blocks or sees EPIPE. Returns false
// when the input was longer than the cap.
bool read_stdin(std::string& xml) {
    bool complete = true;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;  // no stdin (closed descriptor): an empty document
        }
        if (n == 0) break;
        const auto got = static_cast<std::size_t>(n);
        if (xml.size() + got > hostdev::kMaxHookStdinBytes) {
            complete = false;
            continue;
        }
        xml.append(buf, got);
    }
    return complete;
}

void write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

int priority(hostdev::HookLogLevel level) {
    switch (level) {
        case hostdev::HookLogLevel::Error: return LOG_ERR;
        case hostdev::HookLogLevel::Warning: return LOG_WARNING;
        case hostdev::HookLogLevel::Info: return LOG_INFO;
    }
    return LOG_INFO;
}

void write_outcome(const hostdev::HookOutcome& out) {
    for (const auto& line : out.syslog) syslog(priority(line.level), "%s", line.text.c_str());
    if (out.log_file) {
        if (auto st = hostdev::fileio::append_regular_file(*out.log_file, out.log_line); !st)
            syslog(LOG_WARNING, "log_file not written: %s", st.error().describe().c_str());
    }
    if (!out.stderr_text.empty()) write_all(2, out.stderr_text + "\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    openlog("hostdev", LOG_PID, LOG_DAEMON);  // journalctl -t hostdev; connects on the first message only
    std::vector<std::string> args;
    hostdev::HookOutcome out;
    try {
        args.assign(argv + 1, argv + argc);
        std::string xml;
        const bool complete = read_stdin(xml);
        out = hostdev::run_hook(hostdev::HookInvocation{args, xml, complete, static_cast<int>(::getppid())});
    } catch (const std::exception& e) {
        out = hostdev::hook_outcome_of_exception(args, e.what());
    } catch (...) {
        out = hostdev::hook_outcome_of_exception(args, "");
    }
    write_outcome(out);
    closelog();
    return out.exit_code;
}
