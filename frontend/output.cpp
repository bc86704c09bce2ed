#include "output.hpp"

#include <cstdio>
#include <string>

#include "hostdev/base/fileio.hpp"

namespace hostdev::cli {

bool emit(std::string_view text, const std::optional<std::filesystem::path>& out) {
    if (out && *out != "-") {
        if (auto st = fileio::write_file_atomic(*out, text); !st) {
            print_error(st.error().describe());
            return false;
        }
        return true;
    }
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
        print_error("cannot write to standard output");
        return false;
    }
    return true;
}

namespace {
std::string& program_name() {
    static std::string name = "hostdev";
    return name;
}
void print(const char* level, std::string_view message) {
    std::fprintf(stderr, "%s: %s: %.*s\n", program_name().c_str(), level, static_cast<int>(message.size()),
                 message.data());
}
}  // namespace

void set_program_name(std::string_view name) { program_name() = std::string(name); }
void print_error(std::string_view message) { print("error", message); }
void print_warning(std::string_view message) { print("warning", message); }
void print_note(std::string_view message) { print("note", message); }

}  // namespace hostdev::cli
