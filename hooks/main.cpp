// hostdev-hook: the libvirt qemu hook, installed as
// SYSCONFDIR/libvirt/hooks/qemu.d/50-hostdev. libvirt runs it as
// `NAME OPERATION SUBOP EXTRA` with the domain XML on stdin; the decisions are
// in libhostdev (hook.hpp), this file only does the process's I/O:
//   - reads all of stdin first (libvirt writes the whole XML before waiting);
//   - a domain without any <hostdev> exits 0 at once: the outcome is decided
//     before the configuration is read or anything is touched; only the
//     optional log_file line is written afterwards, best effort;
//   - otherwise reads the configuration, runs the hook, logs to syslog
//     (LOG_DAEMON) and to log_file, and prints the one-line reason on stderr.
// It never calls libvirt (that deadlocks) and starts no process of its own
// except modprobe, which it waits for.
#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/binding/config.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/binding/hook.hpp"
#include "hostdev/binding/kernel_io.hpp"

namespace {

constexpr std::size_t kMaxStdinBytes = 64U << 20;

// Reads all of stdin into xml, keeping at most kMaxStdinBytes and draining the
// rest so the writer never blocks or sees EPIPE. Returns false when the input
// was longer than the cap.
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
        if (xml.size() + got > kMaxStdinBytes) {
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

std::string printable(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return out.empty() ? std::string("-") : out;
}

// "<time> NAME OP SUBOP rc", one write(2) with O_APPEND so concurrent hooks
// do not interleave.
void append_log_file(const std::filesystem::path& file, const std::vector<std::string>& args, int rc) {
    char when[64] = "-";
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    if (localtime_r(&now, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
    std::string line = when;
    for (std::size_t i = 0; i < 3; ++i) {
        line += ' ';
        line += printable(i < args.size() ? std::string_view(args[i]) : std::string_view());
    }
    line += ' ' + std::to_string(rc) + '\n';
    const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) {
        syslog(LOG_WARNING, "cannot open log file %s: %s", file.c_str(), std::strerror(errno));
        return;
    }
    write_all(fd, line);
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    openlog("hostdev-hook", LOG_PID, LOG_DAEMON);  // connects on the first message only

    std::string xml;
    const bool complete = read_stdin(xml);
    const std::vector<std::string> args(argv + 1, argv + argc);

    // Fast path: nothing to do for a domain without hostdevs, whatever the
    // configuration says.
    // (release is the exception: a hot-unplugged last hostdev leaves a journal
    // behind that the XML no longer shows; run_hook checks for journals.)
    if (args.size() >= 3 && complete && args[1] != "release" && hostdev::hook_can_skip(xml)) {
        if (auto config = hostdev::load_config(); config && config->log_file) {
            append_log_file(*config->log_file, args, 0);
        }
        return 0;
    }

    hostdev::HookResult result;
    auto config = hostdev::load_config();
    // Only a refused start is worth failing for; libvirt ignores the rest.
    const bool prepare = args.size() >= 3 && args[1] == "prepare" && args[2] == "begin";
    auto fail = [&](const std::string& reason) {
        result.exit_code = prepare ? 1 : 0;
        result.stderr_text = "hostdev: " + printable(args[0]) + ": " + reason;
        result.log.push_back(result.stderr_text);
    };
    if (args.size() >= 3 && !complete) {
        fail("the domain XML on stdin is larger than " + std::to_string(kMaxStdinBytes >> 20) + " MiB");
    } else if (args.size() >= 3 && !config) {
        fail("bad configuration: " + config.error().describe());
    } else {
        // With fewer than 3 arguments run_hook reports the usage and touches nothing.
        const hostdev::Config used = config ? *config : hostdev::Config{};
        hostdev::SysfsKernelIo io{hostdev::FsRoot(used.root)};
        result = hostdev::run_hook(args, xml, used, io);
    }

    for (const auto& line : result.log) {
        syslog(line == result.stderr_text ? LOG_ERR : LOG_INFO, "%s", line.c_str());
    }
    if (config && config->log_file) append_log_file(*config->log_file, args, result.exit_code);
    if (!result.stderr_text.empty()) write_all(2, result.stderr_text + "\n");
    closelog();
    return result.exit_code;
}
