// Golden files: compare an output with tests/golden/..., or rewrite the golden
// file when HOSTDEV_UPDATE_GOLDEN=1 is set (the one switch that regenerates
// every golden output: `HOSTDEV_UPDATE_GOLDEN=1 ./build/tests/hostdev_unit_tests`,
// as the README says).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace hostdev::testing {

inline bool updating_golden() {
    const char* v = std::getenv("HOSTDEV_UPDATE_GOLDEN");
    return v && std::string(v) == "1";
}

inline std::string read_text_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << p;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Names in a directory, sorted.
inline std::vector<std::string> sorted_names(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// Path relative to the source tree.
inline std::filesystem::path source_path(const std::string& rel) {
    return std::filesystem::path(HOSTDEV_SOURCE_DIR) / rel;
}

inline void expect_golden(const std::string& actual, const std::filesystem::path& golden) {
    if (updating_golden()) {
        std::filesystem::create_directories(golden.parent_path());
        std::ofstream(golden, std::ios::binary) << actual;
        return;
    }
    ASSERT_TRUE(std::filesystem::exists(golden))
        << golden << " is missing; run HOSTDEV_UPDATE_GOLDEN=1 ./build/tests/hostdev_unit_tests to create it";
    const std::string expected = read_text_file(golden);
    if (expected != actual) {
        // Show the first differing line.
        std::istringstream e(expected), a(actual);
        std::string el, al;
        int line = 0;
        while (true) {
            ++line;
            bool he = static_cast<bool>(std::getline(e, el)), ha = static_cast<bool>(std::getline(a, al));
            if (!he && !ha) break;
            if (!he || !ha || el != al) {
                ADD_FAILURE() << golden << ":" << line << " differs\n  expected: " << (he ? el : "<end>")
                              << "\n  actual:   " << (ha ? al : "<end>")
                              << "\n(HOSTDEV_UPDATE_GOLDEN=1 regenerates golden files on purpose)";
                return;
            }
        }
        ADD_FAILURE() << golden << " differs (line ends or trailing bytes)";
    }
}

}  // namespace hostdev::testing
