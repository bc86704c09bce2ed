// hostdev-bench-run: runs commands alternately, measures each run's wall time and
// the child's peak resident set size (wait4 rusage), and prints per command the
// median and minimum time and the largest peak RSS seen.
//
//   hostdev-bench-run [--runs R] [--warmup W] [--tsv] [--stdin FILE]
//                     --name NAME -- CMD [ARG...] [--name NAME -- CMD [ARG...]]...
//
// A command's arguments run up to the next "--name NAME --" or the end of the
// line. Standard output and error of the commands are the null device, and so
// is standard input unless --stdin gives a file (opened afresh for every run).
// A command that fails (non-zero exit, signal, cannot be started) stops the
// benchmark with exit status 1 and a message naming it; it is then run once more
// with its standard error shown, so the reason is visible.

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/fsroot.hpp"

namespace {

constexpr const char* kUsage =
    "usage: hostdev-bench-run [--runs R] [--warmup W] [--tsv] [--stdin FILE]\n"
    "                         --name NAME -- CMD [ARG...] [--name NAME -- CMD [ARG...]]...\n"
    "\n"
    "Runs each command W times to warm up, then R times, the commands taking turns\n"
    "(A B A B ...), with standard output and error on the null device (and standard\n"
    "input too, unless --stdin gives a file).\n"
    "A command's arguments run up to the next \"--name NAME --\" or the end.\n"
    "\n"
    "Options:\n"
    "  --runs R     measured runs of each command (default 15)\n"
    "  --warmup W   unmeasured warm-up runs of each command first (default 2)\n"
    "  --tsv        print tab-separated lines: name, median ms, min ms, peak RSS KiB, runs\n"
    "  --stdin FILE standard input of every run is FILE, opened afresh each time\n"
    "               (default: the null device)\n"
    "  -h, --help   this text\n"
    "\n"
    "Output (default): one line per command with the median and the minimum wall time\n"
    "in milliseconds and the largest peak resident set size (wait4 ru_maxrss) in KiB\n"
    "over the measured runs.\n"
    "Exit status: 0 measured; 1 a command failed or could not be started; 2 bad usage.\n";

struct Command {
    std::string name;
    std::vector<std::string> argv;
    std::vector<double> ms;
    long peak_rss_kib = 0;
};

struct Options {
    int runs = 15;
    int warmup = 2;
    bool tsv = false;
    std::string stdin_file;  // empty: the null device
    std::vector<Command> commands;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "hostdev-bench-run: %s\n\n%s", message.c_str(), kUsage);
    std::exit(2);
}

int parse_count(std::string_view text, std::string_view what, int min) {
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min) {
        usage_error(std::string(what) + " wants a whole number >= " + std::to_string(min) + ", got \"" +
                    std::string(text) + "\"");
    }
    return value;
}

bool starts_command(int i, int argc, char** argv) {
    return i + 2 < argc && std::string_view(argv[i]) == "--name" && std::string_view(argv[i + 2]) == "--";
}

Options parse_args(int argc, char** argv) {
    Options opt;
    int i = 1;
    for (; i < argc && !starts_command(i, argc, argv); ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (arg == "--tsv") {
            opt.tsv = true;
        } else if (arg == "--stdin") {
            if (i + 1 >= argc) usage_error("--stdin needs a file");
            opt.stdin_file = argv[++i];
            if (::access(opt.stdin_file.c_str(), R_OK) != 0) {
                std::fprintf(stderr, "hostdev-bench-run: --stdin %s: %s\n", opt.stdin_file.c_str(),
                             std::strerror(errno));
                std::exit(2);
            }
        } else if (arg == "--runs" || arg == "--warmup") {
            if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
            const int value = parse_count(argv[++i], arg, arg == "--runs" ? 1 : 0);
            (arg == "--runs" ? opt.runs : opt.warmup) = value;
        } else if (arg == "--name") {
            usage_error("--name NAME must be followed by -- and the command");
        } else {
            usage_error("unknown option \"" + std::string(arg) + "\"");
        }
    }
    while (i < argc) {
        Command cmd;
        cmd.name = argv[i + 1];
        i += 3;
        for (; i < argc && !starts_command(i, argc, argv); ++i) cmd.argv.emplace_back(argv[i]);
        if (cmd.argv.empty()) usage_error("command \"" + cmd.name + "\" is empty");
        opt.commands.push_back(std::move(cmd));
    }
    if (opt.commands.empty()) usage_error("no command given");
    return opt;
}

std::string command_line(const Command& cmd) {
    std::string s;
    for (const auto& a : cmd.argv) {
        if (!s.empty()) s += ' ';
        s += a;
    }
    return s;
}

double now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct RunResult {
    bool started = false;
    int spawn_errno = 0;
    int status = 0;
    double ms = 0;
    long maxrss_kib = 0;
};

enum class StderrTo { Null, Inherit };

// fork() rather than posix_spawn/vfork: a vfork child shares the runner's
// memory map until exec, and the kernel carries that map's peak RSS into the
// child's ru_maxrss. A forked child copies only the runner's few anonymous
// pages, so the figure is the command's own (as GNU time reports it).
RunResult run_once(const Command& cmd, const std::string& null_device, const std::string& input, StderrTo err_to) {
    RunResult r;
    std::vector<char*> argv;
    argv.reserve(cmd.argv.size() + 1);
    for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    int report[2];  // the child writes its errno here when exec fails
    if (pipe2(report, O_CLOEXEC) != 0) {
        r.spawn_errno = errno;
        return r;
    }
    const double start = now_ms();
    const pid_t pid = fork();
    if (pid < 0) {
        r.spawn_errno = errno;
        close(report[0]);
        close(report[1]);
        return r;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here on.
        const int in = open(input.c_str(), O_RDONLY);
        const int out = open(null_device.c_str(), O_WRONLY);
        int e = 0;
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            (err_to == StderrTo::Null && dup2(out, 2) < 0)) {
            e = errno;
        } else {
            close(in);
            close(out);
            execvp(argv[0], argv.data());
            e = errno;
        }
        ssize_t ignored = write(report[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    int child_errno = 0;
    ssize_t got = 0;
    do {
        got = read(report[0], &child_errno, sizeof child_errno);
    } while (got < 0 && errno == EINTR);
    close(report[0]);

    rusage usage{};
    int status = 0;
    pid_t waited = 0;
    do {
        waited = wait4(pid, &status, 0, &usage);
    } while (waited < 0 && errno == EINTR);
    r.ms = now_ms() - start;
    if (got == static_cast<ssize_t>(sizeof child_errno)) {
        r.spawn_errno = child_errno;
        return r;
    }
    if (waited < 0) {
        r.spawn_errno = errno;
        return r;
    }
    r.started = true;
    r.status = status;
    r.maxrss_kib = usage.ru_maxrss;  // KiB on Linux
    return r;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    }
    return "wait status " + std::to_string(status);
}

// Runs cmd once; on failure explains, shows the command's own error output from
// one more run, and exits 1.
RunResult run_checked(const Command& cmd, const std::string& null_device, const std::string& input, int round,
                      const char* phase) {
    RunResult r = run_once(cmd, null_device, input, StderrTo::Null);
    if (!r.started) {
        std::fprintf(stderr, "hostdev-bench-run: cannot run \"%s\" (%s): %s: %s\n", cmd.name.c_str(),
                     command_line(cmd).c_str(), cmd.argv[0].c_str(), std::strerror(r.spawn_errno));
        std::exit(1);
    }
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) return r;
    std::fprintf(stderr,
                 "hostdev-bench-run: \"%s\" failed on %s run %d: %s\n"
                 "  command: %s\n"
                 "  its standard error, from one more run:\n",
                 cmd.name.c_str(), phase, round + 1, describe_status(r.status).c_str(), command_line(cmd).c_str());
    std::fflush(stderr);
    (void)run_once(cmd, null_device, input, StderrTo::Inherit);
    std::exit(1);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt = parse_args(argc, argv);
    const std::string null_device = hostdev::FsRoot{}.dev("null").string();
    const std::string input = opt.stdin_file.empty() ? null_device : opt.stdin_file;

    for (int round = 0; round < opt.warmup; ++round) {
        for (const auto& cmd : opt.commands) (void)run_checked(cmd, null_device, input, round, "warm-up");
    }
    for (int round = 0; round < opt.runs; ++round) {
        for (auto& cmd : opt.commands) {
            const RunResult r = run_checked(cmd, null_device, input, round, "measured");
            cmd.ms.push_back(r.ms);
            cmd.peak_rss_kib = std::max(cmd.peak_rss_kib, r.maxrss_kib);
        }
    }

    std::size_t width = 7;
    for (const auto& cmd : opt.commands) width = std::max(width, cmd.name.size());
    if (!opt.tsv) {
        std::printf("%-*s %5s %10s %10s %13s\n", static_cast<int>(width), "command", "runs", "median ms", "min ms",
                    "peak RSS KiB");
    }
    for (const auto& cmd : opt.commands) {
        const double med = median(cmd.ms);
        const double min = *std::min_element(cmd.ms.begin(), cmd.ms.end());
        if (opt.tsv) {
            std::printf("%s\t%.3f\t%.3f\t%ld\t%zu\n", cmd.name.c_str(), med, min, cmd.peak_rss_kib, cmd.ms.size());
        } else {
            std::printf("%-*s %5zu %10.2f %10.2f %13ld\n", static_cast<int>(width), cmd.name.c_str(), cmd.ms.size(),
                        med, min, cmd.peak_rss_kib);
        }
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}
