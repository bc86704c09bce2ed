// Golden outputs of the example hosts: each examples/hosts/src/NAME.spec laid
// out as a fake root and read by the sysfs reader gives examples/hosts/NAME.json
// exactly, and each example snapshot renders to tests/golden/hosts/NAME.* in
// every format.
#include <gtest/gtest.h>

#include "golden.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/output/format.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> example_hosts() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(source_path("examples/hosts/src")))
        if (e.path().extension() == ".spec") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

class ExampleHost : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(ExampleHosts, ThereAreAtLeastTheSeedHosts) {
    auto names = example_hosts();
    EXPECT_NE(std::find(names.begin(), names.end(), "z170-gtx970"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "hm170-laptop"), names.end());
}

TEST_P(ExampleHost, SnapshotOfItsFakeRootIsTheExample) {
    const std::string name = GetParam();
    FakeRoot root(read_text_file(source_path("examples/hosts/src/" + name + ".spec")));
    // Names come from the system's pci.ids, as `hostdev snapshot` would write them.
    auto host = read_host(FsRoot(root.path()));
    ASSERT_TRUE(host.ok()) << host.error().describe();
    expect_golden(write_snapshot(*host), source_path("examples/hosts/" + name + ".json"));
}

TEST_P(ExampleHost, GroupsInEveryFormat) {
    const std::string name = GetParam();
    if (updating_golden()) GTEST_SUCCEED() << "regenerating";
    auto host = load_snapshot(source_path("examples/hosts/" + name + ".json"));
    ASSERT_TRUE(host.ok()) << host.error().describe();
    expect_golden(format_groups_text(*host), source_path("tests/golden/hosts/" + name + ".txt"));
    expect_golden(format_groups_json(*host), source_path("tests/golden/hosts/" + name + ".json"));
    expect_golden(format_groups_dot(*host), source_path("tests/golden/hosts/" + name + ".dot"));
    // The snapshot reads back to itself.
    EXPECT_EQ(write_snapshot(*host), read_text_file(source_path("examples/hosts/" + name + ".json")));
}

namespace {
std::string test_name(const ::testing::TestParamInfo<std::string>& p) {
    std::string s = p.param;
    for (auto& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return s;
}
}  // namespace

INSTANTIATE_TEST_SUITE_P(Examples, ExampleHost, ::testing::ValuesIn(example_hosts()), test_name);
