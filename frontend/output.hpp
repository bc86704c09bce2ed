// What the front ends (hostdev, hostdev-fix, virt-hostdev) share for their
// output: writing a command's result, messages on stderr, and the one guard
// of each main.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

#include "hostdev/base/exit_codes.hpp"

namespace hostdev::cli {

// Writes text to the file (fileio::write_output: a regular file replaced
// atomically with its owner, group and mode, a link's target, a device or
// FIFO written directly) or, without a file or with "-", to stdout. On
// failure prints the path and errno on stderr and returns false.
bool emit(std::string_view text, const std::optional<std::filesystem::path>& out);
// The name messages start with (default "hostdev").
void set_program_name(std::string_view name);
// "PROGRAM: error: ..." (warning, note) on stderr.
void print_error(std::string_view message);
void print_warning(std::string_view message);
void print_note(std::string_view message);

// The one guard of a front end's main. Runs body and returns its exit code,
// except that:
//   - an exception that escapes body is printed and gives on_exception;
//   - standard output is flushed and closed at the end, and a write to it
//     that failed (there, or earlier in emit) is printed with errno once and
//     gives at least on_write_failure.
// SIGPIPE is ignored, so a closed pipe is such a failure (EPIPE).
int guarded_main(int on_exception, int on_write_failure, const std::function<int()>& body);

}  // namespace hostdev::cli
