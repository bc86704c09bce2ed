// Writing a command's result: to stdout, or atomically to a file.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "hostdev/base/exit_codes.hpp"

namespace hostdev::cli {

// Writes text to the file (atomically) or to stdout; on failure prints why on
// stderr and returns false.
bool emit(std::string_view text, const std::optional<std::filesystem::path>& out);
// The name messages start with (default "hostdev").
void set_program_name(std::string_view name);
// "PROGRAM: error: ..." (warning, note) on stderr.
void print_error(std::string_view message);
void print_warning(std::string_view message);
void print_note(std::string_view message);

}  // namespace hostdev::cli
