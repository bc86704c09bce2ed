// hostdev-fakeroot SPEC_FILE DIR: lays out the fake host described by
// SPEC_FILE ("-" for standard input) under DIR, as the kernel lays out sysfs
// and procfs. The format is documented at the top of fakeroot.hpp.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "fakeroot.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: hostdev-fakeroot SPEC_FILE DIR\n"
    "Lays out a fake sysfs/procfs root under DIR (created if missing, must be empty)\n"
    "from a host spec with one line per PCI function; SPEC_FILE '-' reads standard input.\n"
    "The spec format is documented at the top of tests/support/fakeroot.hpp.\n";

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    if (argc == 2 && (std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help")) {
        std::cout << kUsage;
        return 0;
    }
    if (argc != 3) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string spec_file = argv[1];
    const fs::path dir = argv[2];

    std::string text;
    if (spec_file == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(spec_file, std::ios::binary);
        if (!in) {
            std::cerr << "hostdev-fakeroot: cannot open " << spec_file << "\n";
            return 1;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }

    auto spec = hostdev::testing::parse_fake_host_spec(text);
    if (!spec) {
        std::cerr << "hostdev-fakeroot: " << spec_file << ": " << spec.error().describe() << "\n";
        return 1;
    }

    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
        std::cerr << "hostdev-fakeroot: " << dir.string() << " is not empty; remove it or name a new directory\n";
        return 1;
    }
    auto st = hostdev::testing::build_fake_root(*spec, dir);
    if (!st) {
        std::cerr << "hostdev-fakeroot: " << st.error().describe() << "\n";
        return 1;
    }
    return 0;
}
