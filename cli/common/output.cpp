#include "output.hpp"

#include <cstdio>
#include <string>

#include "hostdev/fileio.hpp"

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

void print_error(std::string_view message) { std::fprintf(stderr, "hostdev: error: %.*s\n", static_cast<int>(message.size()), message.data()); }
void print_warning(std::string_view message) { std::fprintf(stderr, "hostdev: warning: %.*s\n", static_cast<int>(message.size()), message.data()); }

}  // namespace hostdev::cli
