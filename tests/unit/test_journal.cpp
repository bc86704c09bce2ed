// Journals: the total reader (a table of hostile journals, each an error value
// naming the file and the key), the journal directory's entries (regular
// files only: FIFOs, links, directories are unreadable journals, never a hang
// or a followed link) and the directory itself (created 0700, a link or a
// directory of another user refused).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "golden.hpp"
#include "hostdev/binding/journal.hpp"
#include "hostile_journals.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

class Dir {
public:
    Dir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string base = std::string(tmp ? tmp : "/tmp") + "/hostdev-journal-XXXXXX";
        std::vector<char> buf(base.begin(), base.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp");
        path_ = buf.data();
    }
    ~Dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name, std::ios::binary) << text;
    }

private:
    fs::path path_;
};

journal::Directory open_dir(const fs::path& p, journal::Directory::Create c = journal::Directory::Create::No) {
    auto d = journal::Directory::open(FsRoot(), p, c);
    if (!d) throw std::runtime_error(d.error().describe());
    return std::move(*d);
}

}  // namespace

TEST(JournalParse, TheBaseJournalReads) {
    auto j = journal::parse(kJournalBase, "base.json");
    ASSERT_TRUE(j.ok()) << j.error().describe();
    EXPECT_EQ(j->owner.key, kJournalKey);
    EXPECT_EQ(j->state, "detached");
    ASSERT_EQ(j->devices.size(), 2u);
    EXPECT_EQ(j->devices[0].original_driver, "nouveau");
    EXPECT_FALSE(j->devices[0].original_override.has_value());
    EXPECT_EQ(j->devices[1].original_override, "foo");
    EXPECT_EQ(j->devices[1].done, (std::vector<int>{1, 3}));
}

TEST(JournalParse, EveryHostileJournalIsAnErrorNamingFileAndKey) {
    int n = 0;
    for (const auto& h : hostile_journals()) {
        SCOPED_TRACE(h.what);
        auto j = journal::parse(h.text, "/run/hostdev/x.json");
        ASSERT_FALSE(j.ok());
        EXPECT_NE(j.error().describe().find("/run/hostdev/x.json"), std::string::npos) << j.error().describe();
        EXPECT_NE(j.error().describe().find(h.named), std::string::npos) << j.error().describe();
        ++n;
    }
    EXPECT_GE(n, 60);
}

TEST(JournalParse, WhatItWritesItReadsBack) {
    journal::Journal j{*Owner::domain(kJournalKey, "name with \"quotes\" and \xff"), "detaching", {}, std::nullopt};
    j.devices.push_back({*PciAddress::parse("0000:01:00.0"), 1, "nouveau", std::nullopt, {1, 2}, 3, true});
    j.devices.push_back({*PciAddress::parse("0000:01:00.2"), -1, std::nullopt, "foo", {}, std::nullopt, false});
    auto back = journal::parse(journal::serialize(j), "j.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->owner.key, kJournalKey);
    EXPECT_EQ(back->state, "detaching");
    ASSERT_EQ(back->devices.size(), 2u);
    EXPECT_EQ(back->devices[0].done, (std::vector<int>{1, 2}));
    EXPECT_EQ(back->devices[0].doing, 3);
    EXPECT_TRUE(back->devices[0].pending);
    EXPECT_EQ(back->devices[1].group, -1);
    EXPECT_FALSE(back->devices[1].pending);
}

TEST(JournalParse, TheStartingDaemonIsWrittenAndReadBack) {
    journal::Journal j{*Owner::domain(kJournalKey, "vm"), "detached", {}, std::nullopt, std::nullopt};
    j.devices.push_back({*PciAddress::parse("0000:01:00.0"), 1, "nouveau", std::nullopt, {1, 2, 3}, {}, false});
    j.starting = journal::Starter{812, 123456789012ULL, "libvirtd"};
    auto back = journal::parse(journal::serialize(j), "j.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    ASSERT_TRUE(back->starting.has_value());
    EXPECT_EQ(back->starting->pid, 812);
    EXPECT_EQ(back->starting->start_time, 123456789012ULL);
    EXPECT_EQ(back->starting->describe(), "libvirtd (pid 812)");
    // Without a start time (the daemon's stat could not be read).
    j.starting = journal::Starter{812, std::nullopt, ""};
    back = journal::parse(journal::serialize(j), "j.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_FALSE(back->starting->start_time.has_value());
    EXPECT_EQ(back->starting->describe(), "the libvirt daemon (pid 812)");
    // None: no key at all.
    j.starting.reset();
    EXPECT_EQ(journal::serialize(j).find("starting"), std::string::npos);
    EXPECT_FALSE(journal::parse(journal::serialize(j), "j.json")->starting.has_value());
}

TEST(JournalParse, AJournalOfTheEarlierFormatStillReads) {
    // No doing, no pending: written before those keys existed.
    EXPECT_TRUE(journal::parse(kJournalBase, "old.json").ok());
}

TEST(JournalParse, AddressesAreFoundInAnyText) {
    auto found = journal::mentioned_addresses(
        "xx 0000:01:00.1\"}, {\"address\": \"0000:01:00.0\", 10000:02:00.0 "
        "0000:01:00.0 300000000:01:00.0 0000:01:00.8 01:00.0");
    std::vector<std::string> s;
    for (const auto& a : found) s.push_back(a.str());
    // Each once, sorted; a five-digit domain (Intel VMD) is one; a function
    // above 7, a domain of nine digits and the short form (ambiguous in a
    // broken file) are not addresses.
    EXPECT_EQ(s, (std::vector<std::string>{"0000:01:00.0", "0000:01:00.1", "10000:02:00.0"}));
}

TEST(JournalDirectory, EveryHostileJournalIsReportedByNameAndTheOthersStillRead) {
    Dir d;
    d.write(std::string(kJournalKey) + ".json", kJournalBase);
    const auto hostile = hostile_journals();
    for (std::size_t i = 0; i < hostile.size(); ++i) d.write("bad-" + std::to_string(i) + ".json", hostile[i].text);
    auto c = open_dir(d.path()).read_all();
    ASSERT_TRUE(c.ok()) << c.error().describe();
    ASSERT_EQ(c->journals.size(), 1u);
    EXPECT_EQ(c->journals[0].owner.key, kJournalKey);
    ASSERT_EQ(c->unreadable.size(), hostile.size());
    for (const auto& u : c->unreadable) {
        EXPECT_NE(u.describe().find(u.path.string()), std::string::npos);
        EXPECT_NE(u.describe().find("hostdev recover --retire"), std::string::npos) << u.describe();
    }
}

TEST(JournalDirectory, AFifoALinkADirectoryAndASocketAreUnreadableNeverOpenedAsJournals) {
    Dir d;
    Dir outside;
    outside.write("real.json", kJournalBase);
    ASSERT_EQ(::mkfifo((d.path() / "fifo.json").c_str(), 0600), 0);
    fs::create_symlink(outside.path() / "real.json", d.path() / (std::string(kJournalKey) + ".json"));
    fs::create_directory(d.path() / "dir.json");
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const std::string sock = (d.path() / "sock.json").string();
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock.c_str());
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::close(s);
    ASSERT_EQ(::mknod((d.path() / "null.json").c_str(), S_IFCHR | 0600, ::makedev(1, 3)), 0);
    d.write(".hidden.json", "not read");
    d.write("x.json.retired", "not read");
    auto c = open_dir(d.path()).read_all();  // a FIFO opened for reading would block here
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_TRUE(c->journals.empty());  // the link is not followed
    std::map<std::string, std::string> why;
    for (const auto& u : c->unreadable) why[u.path.filename().string()] = u.error.describe();
    ASSERT_EQ(why.size(), 5u);
    EXPECT_NE(why["null.json"].find("is a device node"), std::string::npos) << why["null.json"];
    EXPECT_NE(why["fifo.json"].find("is a FIFO"), std::string::npos) << why["fifo.json"];
    EXPECT_NE(why[std::string(kJournalKey) + ".json"].find("is a symbolic link"), std::string::npos);
    EXPECT_NE(why["dir.json"].find("is a directory"), std::string::npos);
    EXPECT_NE(why["sock.json"].find("is a socket"), std::string::npos) << why["sock.json"];
    // The owner whose file is the link: its journal reads as broken, not as the target.
    auto mine = open_dir(d.path()).read(*Owner::domain(kJournalKey, "vm"));
    ASSERT_FALSE(mine.ok());
    EXPECT_NE(mine.error().describe().find("symbolic link"), std::string::npos);
    EXPECT_TRUE(open_dir(d.path()).any());
}

TEST(JournalDirectory, AFileNamedForAnotherOwnerOrTooLargeIsUnreadable) {
    Dir d;
    d.write("manual.json", kJournalBase);  // names the domain, not "manual"
    d.write("big.json", std::string(2u << 20, ' ') + kJournalBase);
    auto c = open_dir(d.path()).read_all();
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->unreadable.size(), 2u);
    EXPECT_NE(c->unreadable[0].error.describe().find("larger than 1 MiB"), std::string::npos);
    EXPECT_NE(c->unreadable[1].error.describe().find("whose journal is " + std::string(kJournalKey) + ".json"),
              std::string::npos)
        << c->unreadable[1].error.describe();
    // What a broken file names is kept for the admin.
    EXPECT_EQ(c->unreadable[1].mentioned.size(), 2u);
}

TEST(JournalDirectory, IsCreatedPrivateAndALinkOrAnotherUsersDirectoryIsRefused) {
    Dir d;
    const fs::path jdir = d.path() / "run/hostdev";
    auto none = journal::Directory::open(FsRoot(), jdir, journal::Directory::Create::No);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->exists());
    EXPECT_FALSE(fs::exists(jdir));  // readers create nothing
    ASSERT_TRUE(journal::Directory::open(FsRoot(), jdir, journal::Directory::Create::Yes).ok());
    struct stat st {};
    ASSERT_EQ(::stat(jdir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    // An existing directory open to others is made private by a writer.
    ::chmod(jdir.c_str(), 0755);
    ASSERT_TRUE(journal::Directory::open(FsRoot(), jdir, journal::Directory::Create::Yes).ok());
    ASSERT_EQ(::stat(jdir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    const fs::path link = d.path() / "link";
    fs::create_symlink(jdir, link);
    for (auto c : {journal::Directory::Create::No, journal::Directory::Create::Yes}) {
        auto l = journal::Directory::open(FsRoot(), link, c);
        ASSERT_FALSE(l.ok());
        EXPECT_NE(l.error().describe().find("is a symbolic link: refused"), std::string::npos) << l.error().describe();
    }
    d.write("file", "x");
    EXPECT_FALSE(journal::Directory::open(FsRoot(), d.path() / "file", journal::Directory::Create::No).ok());

    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(jdir.c_str(), 65534, 65534), 0);
        auto other = journal::Directory::open(FsRoot(), jdir, journal::Directory::Create::No);
        ASSERT_FALSE(other.ok());
        EXPECT_NE(other.error().describe().find("is owned by uid 65534"), std::string::npos)
            << other.error().describe();
    }
}

TEST(JournalDirectory, UnderARootItIsResolvedInsideTheRoot) {
    Dir outside;
    hostdev::testing::FakeRoot root("dev 00:02.0 8086:1912 0x030000 group=0 driver=i915\n");
    const FsRoot fr(root.path());
    // ROOT/run is an absolute link to a directory beside the root. Inside the
    // root it means ROOT/<that path>: missing there, so nothing is created.
    fs::remove_all(root.path() / "run");
    fs::create_symlink(outside.path(), root.path() / "run");
    auto d = journal::Directory::open(fr, fr.run("hostdev"), journal::Directory::Create::Yes);
    EXPECT_FALSE(d.ok());
    EXPECT_TRUE(fs::is_empty(outside.path()));
    // Present inside the root, it is used there.
    const fs::path inside = root.path() / outside.path().relative_path();
    fs::create_directories(inside);
    d = journal::Directory::open(fr, fr.run("hostdev"), journal::Directory::Create::Yes);
    ASSERT_TRUE(d.ok()) << d.error().describe();
    ASSERT_TRUE(d->save({Owner::manual(), "detached", {}}).ok());
    EXPECT_TRUE(fs::exists(inside / "hostdev/manual.json"));
    EXPECT_TRUE(fs::is_empty(outside.path()));
    // A link climbing out with ".." stops at the root: ROOT/run/hostdev is ROOT/hostdev.
    fs::remove(root.path() / "run");
    fs::create_symlink("../../../../../../../..", root.path() / "run");
    d = journal::Directory::open(fr, fr.run("hostdev"), journal::Directory::Create::Yes);
    ASSERT_TRUE(d.ok()) << d.error().describe();
    ASSERT_TRUE(d->save({Owner::manual(), "detached", {}}).ok());
    EXPECT_TRUE(fs::exists(root.path() / "hostdev/manual.json"));
    EXPECT_FALSE(fs::exists(root.path().parent_path() / "hostdev"));
}

TEST(JournalDirectory, LockFileMustBeARegularFile) {
    Dir d;
    ASSERT_EQ(::mkfifo((d.path() / "lock").c_str(), 0600), 0);
    auto l = open_dir(d.path()).lock(std::chrono::milliseconds(100));
    ASSERT_FALSE(l.ok());
    EXPECT_NE(l.error().describe().find("is a FIFO"), std::string::npos) << l.error().describe();
    fs::remove(d.path() / "lock");
    fs::create_symlink("/etc/passwd", d.path() / "lock");
    auto linked = open_dir(d.path()).lock(std::chrono::milliseconds(100));
    ASSERT_FALSE(linked.ok());
    EXPECT_NE(linked.error().describe().find("symbolic link"), std::string::npos) << linked.error().describe();
}

TEST(JournalDirectory, RetireRenamesOnlyAnUnreadableJournal) {
    Dir d;
    d.write(std::string(kJournalKey) + ".json", kJournalBase);
    d.write("broken.json", journal_with(R"("format": "hostdev-journal")", R"("format": null)"));
    d.write("broken.json.retired", "an earlier one");
    const auto dir = open_dir(d.path());
    auto refused = dir.retire(std::string(kJournalKey) + ".json");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().describe().find("hostdev reattach"), std::string::npos);
    EXPECT_FALSE(dir.retire("../x.json").ok());
    EXPECT_FALSE(dir.retire("lock").ok());
    auto info = dir.inspect("broken.json");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->mentioned.size(), 2u);
    auto now = dir.retire("broken.json");
    ASSERT_TRUE(now.ok()) << now.error().describe();
    EXPECT_EQ(*now, "broken.json.retired.1");
    EXPECT_FALSE(fs::exists(d.path() / "broken.json"));
    EXPECT_EQ(hostdev::testing::read_text_file(d.path() / "broken.json.retired"), "an earlier one");
    auto c = dir.read_all();
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->unreadable.empty());
    EXPECT_EQ(c->journals.size(), 1u);
}
