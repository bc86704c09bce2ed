// Every fuzz target's seed corpus and every input that once made a target fail
// (tests/fuzz/regressions/TARGET) replayed through the same bodies the fuzzers
// run, in every build: a regression input fails here, without clang.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path kFuzz = fs::path(HOSTDEV_SOURCE_DIR) / "tests/fuzz";

std::vector<fs::path> inputs(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path());
    return out;
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzCorpus : public ::testing::TestWithParam<hostdev::fuzz::Target> {};

TEST_P(FuzzCorpus, EverySeedAndRegressionHoldsTheProperties) {
    const auto& t = GetParam();
    const auto seeds = inputs(kFuzz / "corpus" / t.name);
    EXPECT_GE(seeds.size(), 3U) << "seed corpus of " << t.name;
    auto all = seeds;
    for (auto& r : inputs(kFuzz / "regressions" / t.name)) all.push_back(r);
    for (const auto& p : all) EXPECT_EQ(t.body(read_bytes(p)), "") << p;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(hostdev::fuzz::targets()),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
