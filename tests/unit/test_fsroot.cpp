// FsRoot is a boundary: paths under a root resolve as a chroot would resolve
// them, whatever links a copied or hostile tree holds. Every test runs twice:
// with openat2 and with the user-space walk of kernels that lack it.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hostdev/base/fsroot.hpp"

using namespace hostdev;
namespace fs = std::filesystem;

namespace {

// A temporary directory holding ROOT/ and, beside it, OUTSIDE/ with a sentinel.
class Tree {
public:
    Tree() {
        std::string tmpl =
            (fs::path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") / "hostdev-fsroot-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        dir_ = tmpl;
        fs::create_directories(root() / "sys/devices/real");
        fs::create_directories(root() / "etc");
        fs::create_directories(dir_ / "outside");
        write(root() / "sys/devices/real/attr", "inside\n");
        write(root() / "etc/hostname", "fake-host\n");
        write(dir_ / "outside/secret", "outside\n");
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    fs::path root() const { return dir_ / "root"; }
    fs::path outside() const { return dir_ / "outside"; }
    static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

private:
    fs::path dir_;
};

// Runs a test with openat2 (true) or with the user-space walk (false).
class FsRootBoundary : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { FsRoot::use_openat2(GetParam()); }
    void TearDown() override { FsRoot::use_openat2(true); }
};

std::string mode_name(const ::testing::TestParamInfo<bool>& info) { return info.param ? "openat2" : "userspace"; }

}  // namespace

INSTANTIATE_TEST_SUITE_P(Resolution, FsRootBoundary, ::testing::Bool(), mode_name);

TEST_P(FsRootBoundary, AbsoluteLinksAreTakenFromTheRoot) {
    Tree t;
    fs::create_symlink("/etc", t.root() / "sys/etc-link");
    fs::create_symlink("/sys/devices/real", t.root() / "sys/dev-link");
    FsRoot root(t.root());
    auto host = root.read_file(root.sys("etc-link/hostname"));
    ASSERT_TRUE(host.ok()) << host.error().describe();
    EXPECT_EQ(*host, "fake-host\n");
    auto attr = root.read_file(root.sys("dev-link/attr"));
    ASSERT_TRUE(attr.ok()) << attr.error().describe();
    EXPECT_EQ(*attr, "inside\n");
    auto names = root.list_dir(root.sys("dev-link"));
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, std::vector<std::string>{"attr"});
    auto real = root.resolve(root.sys("dev-link/attr"));
    ASSERT_TRUE(real.ok()) << real.error().describe();
    EXPECT_EQ(*real, t.root() / "sys/devices/real/attr");
}

TEST_P(FsRootBoundary, DotDotNeverClimbsAboveTheRoot) {
    Tree t;
    // From ROOT/sys, six levels up would leave the root and reach OUTSIDE.
    fs::create_symlink("../../../../../../outside", t.root() / "sys/up");
    fs::create_symlink(t.outside(), t.root() / "sys/abs-out");  // the real absolute path of OUTSIDE
    FsRoot root(t.root());
    EXPECT_FALSE(root.read_file(root.sys("up/secret")).ok());
    EXPECT_FALSE(root.read_file(root.sys("abs-out/secret")).ok());
    EXPECT_FALSE(root.read_file(root.sys("../../outside/secret")).ok());
    EXPECT_FALSE(root.list_dir(root.sys("up")).ok());
    EXPECT_FALSE(root.resolve(root.sys("up/secret")).ok());
    // ".." at the root stays at the root: ROOT/sys/../../etc is ROOT/etc.
    auto host = root.read_file(root.sys("../../etc/hostname"));
    ASSERT_TRUE(host.ok()) << host.error().describe();
    EXPECT_EQ(*host, "fake-host\n");
}

TEST_P(FsRootBoundary, WritesStayInsideTheRoot) {
    Tree t;
    fs::create_symlink(t.outside() / "secret", t.root() / "sys/planted");
    FsRoot root(t.root());
    auto fd = root.open(root.sys("planted"), O_WRONLY | O_TRUNC);
    EXPECT_FALSE(fd.ok());  // ROOT/<outside path>/secret does not exist inside the root
    std::ifstream in(t.outside() / "secret");
    std::string s;
    std::getline(in, s);
    EXPECT_EQ(s, "outside");
}

TEST_P(FsRootBoundary, PathsNotBelowTheRootAreRefused) {
    Tree t;
    FsRoot root(t.root());
    auto r = root.read_file(t.outside() / "secret");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().err, EXDEV);
    EXPECT_FALSE(root.exists(t.outside() / "secret"));
}

TEST_P(FsRootBoundary, ExistsDoesNotFollowTheLastLink) {
    Tree t;
    fs::create_symlink("/nowhere", t.root() / "sys/dangling");
    FsRoot root(t.root());
    EXPECT_TRUE(root.exists(root.sys("dangling")));
    EXPECT_FALSE(root.exists(root.sys("missing")));
    auto link = root.read_link(root.sys("dangling"));
    ASSERT_TRUE(link.ok());
    EXPECT_EQ(*link, "/nowhere");
}

TEST_P(FsRootBoundary, AttributesAreNeverReadThroughALinkOutOfTheirDirectory) {
    Tree t;
    const fs::path dev = t.root() / "sys/devices/real";
    fs::create_symlink(t.outside() / "secret", dev / "abs");             // the real absolute path outside
    fs::create_symlink("../../../../../../outside/secret", dev / "up");  // ".." out of the directory
    fs::create_symlink("/etc/hostname", dev / "rooted");                 // inside the root, but not beneath dev
    ::mkfifo((dev / "fifo").c_str(), 0600);                              // would block a blocking open
    FsRoot root(t.root());
    auto dir = root.open(root.sys("devices/real"), O_PATH | O_DIRECTORY);
    ASSERT_TRUE(dir.ok()) << dir.error().describe();
    auto attr = root.read_file_at(dir->get(), "attr", "/sys/devices/real");
    ASSERT_TRUE(attr.ok()) << attr.error().describe();
    EXPECT_EQ(*attr, "inside\n");
    for (const char* name : {"abs", "up", "rooted"}) {
        auto r = root.read_file_at(dir->get(), name, "/sys/devices/real");
        ASSERT_FALSE(r.ok()) << name << " read " << *r;
        EXPECT_EQ(r.error().path, std::string("/sys/devices/real/") + name);
    }
    EXPECT_FALSE(root.read_file_at(dir->get(), "../real/attr", "/sys/devices/real").ok());  // one component only
    auto fifo = root.read_file_at(dir->get(), "fifo", "/sys/devices/real");
    ASSERT_TRUE(fifo.ok()) << fifo.error().describe();  // no writer: empty, and it did not block
    EXPECT_EQ(*fifo, "");
}

TEST_P(FsRootBoundary, ProcessMagicLinksAreNotFollowedUnderARoot) {
    Tree t;
    fs::create_symlink("/proc/self/root/" + (t.outside() / "secret").string(), t.root() / "sys/magic");
    fs::create_directories(t.root() / "proc");
    FsRoot root(t.root());
    // /proc/self inside the root is the root's own (absent) proc: nothing outside is reached.
    EXPECT_FALSE(root.read_file(root.sys("magic")).ok());
}

TEST(FsRoot, LinkTargetsAreReadAsAChrootWould) {
    FsRoot root("/srv/copy");
    EXPECT_EQ(root.link_target("/srv/copy/sys/bus/pci/devices", "../../../devices/pci0000:00/0000:00:01.0"),
              fs::path("/srv/copy/sys/devices/pci0000:00/0000:00:01.0"));
    EXPECT_EQ(root.link_target("/srv/copy/sys/bus/pci/devices", "/sys/devices/x"), fs::path("/srv/copy/sys/devices/x"));
    EXPECT_EQ(root.link_target("/srv/copy/sys", "../../../../../etc/shadow"), fs::path("/srv/copy/etc/shadow"));
    EXPECT_EQ(root.link_target("/srv/copy/sys", "/.."), fs::path("/srv/copy"));
    FsRoot live;
    EXPECT_EQ(live.link_target("/sys/bus/pci/devices", "../../../devices/a"), fs::path("/sys/devices/a"));
    EXPECT_EQ(live.link_target("/sys", "../../../x"), fs::path("/x"));
}
