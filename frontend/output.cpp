#include "output.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "hostdev/base/fileio.hpp"

namespace hostdev::cli {

namespace {

std::string& program_name() {
    static std::string name = "hostdev";
    return name;
}

void print(const char* level, std::string_view message) {
    std::fprintf(stderr, "%s: %s: %.*s\n", program_name().c_str(), level, static_cast<int>(message.size()),
                 message.data());
}

// Set once a failed write to stdout has been reported, so the guard reports it only once.
bool g_stdout_failure_reported = false;

void report_stdout_failure(int err) {
    if (g_stdout_failure_reported) return;
    g_stdout_failure_reported = true;
    print("error", std::string("cannot write to standard output: ") + std::strerror(err != 0 ? err : EIO));
}

}  // namespace

bool emit(std::string_view text, const std::optional<std::filesystem::path>& out) {
    if (out && *out != "-") {
        std::vector<std::string> notes;
        if (auto st = fileio::write_output(*out, text, &notes); !st) {
            print_error(st.error().describe());
            return false;
        }
        for (const auto& n : notes) print_warning(n);
        return true;
    }
    errno = 0;
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
        report_stdout_failure(errno);
        return false;
    }
    return true;
}

void set_program_name(std::string_view name) { program_name() = std::string(name); }
void print_error(std::string_view message) { print("error", message); }
void print_warning(std::string_view message) { print("warning", message); }
void print_note(std::string_view message) { print("note", message); }

int guarded_main(int on_exception, int on_write_failure, const std::function<int()>& body) {
    std::signal(SIGPIPE, SIG_IGN);
    int rc = on_exception;
    try {
        rc = body();
    } catch (const std::exception& e) {
        print_error(std::string("internal error: ") + e.what());
    } catch (...) {
        print_error("internal error: unknown exception");
    }
    // What is still buffered for stdout, and whether any write to it failed.
    errno = 0;
    const bool flushed = std::fflush(stdout) == 0;
    const int flush_errno = errno;
    const bool failed = !flushed || std::ferror(stdout) != 0;
    errno = 0;
    const bool closed = std::fclose(stdout) == 0;
    const int close_errno = errno;
    // A stdout closed from the start (>&-) with nothing written to it is no failure.
    if (failed || (!closed && close_errno != EBADF)) {
        report_stdout_failure(failed ? flush_errno : close_errno);
        rc = std::max(rc, on_write_failure);
    }
    return rc;
}

}  // namespace hostdev::cli
