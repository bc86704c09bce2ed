// The one output writer (fileio::write_output, behind every -o and
// --in-place) respects what is at the path, and the front ends' guard turns
// escaped exceptions and failed writes to stdout into exit codes. Special
// files are nodes this test makes itself (mknod c 1 3 is a null device, c 1
// 7 a full one); tests that need another user or another stdout run in a
// forked child.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "hostdev/base/fileio.hpp"
#include "output.hpp"

namespace fs = std::filesystem;
namespace fileio = hostdev::fileio;

namespace {

constexpr uid_t kOtherUid = 4321;
constexpr gid_t kOtherGid = 8765;

class OutputWriter : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl =
            (fs::path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") / "hostdev-out-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        fs::permissions(dir_, fs::perms(0755));
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    static std::string slurp(const fs::path& p) {
        std::ifstream in(p);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    static struct stat lstat_of(const fs::path& p) {
        struct stat st {};
        ::lstat(p.c_str(), &st);
        return st;
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
    fs::path dir_;
};

// Runs fn in a child process and returns its exit status (-signal when killed).
int in_child(const std::function<int()>& fn) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(fn());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace

TEST_F(OutputWriter, ARegularFileIsReplacedWithItsOwnerGroupAndMode) {
    const fs::path f = dir_ / "domain.xml";
    std::ofstream(f) << "old\n";
    ASSERT_EQ(::chown(f.c_str(), kOtherUid, kOtherGid), 0);
    ASSERT_EQ(::chmod(f.c_str(), 0640), 0);
    const ino_t before = lstat_of(f).st_ino;
    auto st = fileio::write_output(f, "new\n");
    ASSERT_TRUE(st.ok()) << st.error().describe();
    EXPECT_EQ(slurp(f), "new\n");
    const struct stat after = lstat_of(f);
    EXPECT_NE(after.st_ino, before);  // replaced, not rewritten in place
    EXPECT_EQ(after.st_uid, kOtherUid);
    EXPECT_EQ(after.st_gid, kOtherGid);
    EXPECT_EQ(after.st_mode & 07777, 0640U);
    EXPECT_EQ(names(), std::vector<std::string>{"domain.xml"});  // no temporary file left
}

TEST_F(OutputWriter, ASymlinkIsFollowedAndItsTargetReplacedInItsDirectory) {
    fs::create_directory(dir_ / "real");
    std::ofstream(dir_ / "real/domain.xml") << "old\n";
    ::chmod((dir_ / "real/domain.xml").c_str(), 0600);
    fs::create_symlink("real/domain.xml", dir_ / "link1");
    fs::create_symlink(dir_ / "link1", dir_ / "link2");  // a chain, absolute then relative
    auto st = fileio::write_output(dir_ / "link2", "new\n");
    ASSERT_TRUE(st.ok()) << st.error().describe();
    EXPECT_TRUE(fs::is_symlink(dir_ / "link1"));
    EXPECT_TRUE(fs::is_symlink(dir_ / "link2"));
    EXPECT_EQ(slurp(dir_ / "real/domain.xml"), "new\n");
    EXPECT_EQ(lstat_of(dir_ / "real/domain.xml").st_mode & 07777, 0600U);
    // A dangling link gets its target created.
    fs::create_symlink("real/new.xml", dir_ / "dangling");
    ASSERT_TRUE(fileio::write_output(dir_ / "dangling", "made\n").ok());
    EXPECT_TRUE(fs::is_symlink(dir_ / "dangling"));
    EXPECT_EQ(slurp(dir_ / "real/new.xml"), "made\n");
}

TEST_F(OutputWriter, CharacterDevicesAreWrittenDirectlyNeverRenamedOver) {
    const fs::path null = dir_ / "null";
    ASSERT_EQ(::mknod(null.c_str(), S_IFCHR | 0666, ::makedev(1, 3)), 0);
    fs::create_symlink(null, dir_ / "to-null");
    EXPECT_TRUE(fileio::write_output(null, "x\n").ok());
    EXPECT_TRUE(fileio::write_output(dir_ / "to-null", "x\n").ok());
    EXPECT_TRUE(S_ISCHR(lstat_of(null).st_mode));
    EXPECT_TRUE(fs::is_symlink(dir_ / "to-null"));
    EXPECT_EQ(names(), (std::vector<std::string>{"null", "to-null"}));
}

TEST_F(OutputWriter, AFullDeviceIsAnErrorWithThePathAndErrno) {
    const fs::path full = dir_ / "full";
    ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
    auto st = fileio::write_output(full, "x\n");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().err, ENOSPC);
    EXPECT_EQ(st.error().path, full.string());
    EXPECT_TRUE(S_ISCHR(lstat_of(full).st_mode));
}

TEST_F(OutputWriter, AFifoIsWrittenToItsReader) {
    const fs::path fifo = dir_ / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::string got;
    std::thread reader([&] { got = slurp(fifo); });
    auto st = fileio::write_output(fifo, "through the pipe\n");
    reader.join();
    ASSERT_TRUE(st.ok()) << st.error().describe();
    EXPECT_EQ(got, "through the pipe\n");
    EXPECT_TRUE(S_ISFIFO(lstat_of(fifo).st_mode));
}

TEST_F(OutputWriter, ANewFileHonoursTheUmask) {
    const mode_t old = ::umask(027);
    auto st = fileio::write_output(dir_ / "new.xml", "x\n");
    ::umask(old);
    ASSERT_TRUE(st.ok()) << st.error().describe();
    EXPECT_EQ(lstat_of(dir_ / "new.xml").st_mode & 07777, 0640U);
}

TEST_F(OutputWriter, StaleTemporaryFilesOfAKilledRunAreRemoved) {
    // A process that is gone: a child that has exited and been reaped.
    const pid_t gone = ::fork();
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    const std::string stale = ".out.xml.tmp-" + std::to_string(gone) + "-12345";
    const std::string alive = ".out.xml.tmp-" + std::to_string(::getpid()) + "-999";  // a running writer's
    const std::string other = ".other.xml.tmp-" + std::to_string(gone) + "-1";        // another target's
    for (const auto& n : {stale, alive, other}) std::ofstream(dir_ / n) << "partial";
    ASSERT_TRUE(fileio::write_output(dir_ / "out.xml", "x\n").ok());
    std::vector<std::string> kept{alive, other, "out.xml"};
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(names(), kept);
}

TEST_F(OutputWriter, DirectoriesAreRefused) {
    fs::create_directory(dir_ / "d");
    auto st = fileio::write_output(dir_ / "d", "x\n");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().err, EISDIR);
    EXPECT_FALSE(fileio::write_output(dir_ / "missing-dir/out.xml", "x\n").ok());
}

TEST_F(OutputWriter, AReadOnlyDirectoryIsAnErrorAndTheFileStays) {
    std::ofstream(dir_ / "domain.xml") << "old\n";
    ::chmod((dir_ / "domain.xml").c_str(), 0666);
    ASSERT_EQ(::chown(dir_.c_str(), kOtherUid, kOtherGid), 0);
    ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
    // As another user than the directory's owner (root could write anyway).
    const int rc = in_child([&] {
        if (::setgid(kOtherGid + 1) != 0 || ::setuid(kOtherUid + 1) != 0) return 90;
        auto st = fileio::write_output(dir_ / "domain.xml", "new\n");
        if (st.ok()) return 91;
        return st.error().err == EACCES && st.error().path == dir_.string() ? 0 : 92;
    });
    ::chmod(dir_.c_str(), 0755);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(slurp(dir_ / "domain.xml"), "old\n");
}

TEST_F(OutputWriter, AnOwnerThatCannotBeKeptWritesNothing) {
    // A group-writable file of another user, in a directory the writer may write.
    std::ofstream(dir_ / "shared.xml") << "old\n";
    ASSERT_EQ(::chown((dir_ / "shared.xml").c_str(), kOtherUid, kOtherGid), 0);
    ::chmod((dir_ / "shared.xml").c_str(), 0666);
    ::chmod(dir_.c_str(), 0777);
    const int rc = in_child([&] {
        if (::setgid(kOtherGid + 1) != 0 || ::setuid(kOtherUid + 1) != 0) return 90;
        auto st = fileio::write_output(dir_ / "shared.xml", "new\n");
        if (st.ok()) return 91;
        return st.error().describe().find("cannot keep the owner") != std::string::npos ? 0 : 92;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(slurp(dir_ / "shared.xml"), "old\n");
    EXPECT_EQ(lstat_of(dir_ / "shared.xml").st_uid, kOtherUid);
    EXPECT_EQ(names(), std::vector<std::string>{"shared.xml"});
}

TEST_F(OutputWriter, OwnDescriptorsAreWrittenThroughTheDescriptor) {
    // Stdout as a file the shell opened, named as /dev/stdout names it (a
    // link to /proc/self/fd/1; our own, so that a broken writer could only
    // replace that link) and as /dev/fd/1: written, not replaced.
    const fs::path f = dir_ / "captured";
    std::ofstream(f) << "";
    fs::create_symlink("/proc/self/fd/1", dir_ / "stdout");
    const ino_t ino = lstat_of(f).st_ino;
    const int rc = in_child([&] {
        int fd = ::open(f.c_str(), O_WRONLY | O_APPEND);
        if (fd < 0 || ::dup2(fd, 1) < 0) return 90;
        if (!fileio::write_output(dir_ / "stdout", "one\n").ok()) return 91;
        return fileio::write_output("/dev/fd/1", "two\n").ok() ? 0 : 92;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(slurp(f), "one\ntwo\n");
    EXPECT_EQ(lstat_of(f).st_ino, ino);
    EXPECT_TRUE(fs::is_symlink(dir_ / "stdout"));
    EXPECT_EQ(names(), (std::vector<std::string>{"captured", "stdout"}));
}

// ---- the front ends' guard

namespace {

// Runs guarded_main in a child with stdout on `out_fd` (or as it is) and
// stderr into `err`; returns the exit status.
int guarded_in_child(const fs::path& err, int out_fd, const std::function<int()>& body) {
    return in_child([&] {
        int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (e < 0 || ::dup2(e, 2) < 0) return 90;
        if (out_fd >= 0 && ::dup2(out_fd, 1) < 0) return 91;
        hostdev::cli::set_program_name("prog");
        return hostdev::cli::guarded_main(3, 4, body);
    });
}

}  // namespace

TEST_F(OutputWriter, TheGuardTurnsAnEscapedExceptionIntoItsExitCode) {
    const fs::path err = dir_ / "err";
    EXPECT_EQ(guarded_in_child(err, -1, []() -> int { throw std::runtime_error("went wrong"); }), 3);
    EXPECT_EQ(slurp(err), "prog: error: internal error: went wrong\n");
    EXPECT_EQ(guarded_in_child(err, -1, []() -> int { throw 42; }), 3);
    EXPECT_EQ(slurp(err), "prog: error: internal error: unknown exception\n");
    EXPECT_EQ(guarded_in_child(err, -1, [] { return 2; }), 2);
    EXPECT_EQ(slurp(err), "");
}

TEST_F(OutputWriter, TheGuardTurnsAFailedStdoutIntoTheWriteFailureCode) {
    const fs::path err = dir_ / "err";
    const fs::path full = dir_ / "full";
    ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
    const int fd = ::open(full.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    // Written with stdio and left in the buffer: found at the final flush.
    EXPECT_EQ(guarded_in_child(err, fd, [] { return std::printf("buffered\n") > 0 ? 0 : 1; }), 4);
    EXPECT_EQ(slurp(err), "prog: error: cannot write to standard output: No space left on device\n");
    // Through emit, which reports it at once: reported once, the code at least 4.
    EXPECT_EQ(guarded_in_child(err, fd, [] { return hostdev::cli::emit("x\n", std::nullopt) ? 0 : 1; }), 4);
    EXPECT_EQ(slurp(err), "prog: error: cannot write to standard output: No space left on device\n");
    ::close(fd);
    // A pipe whose reader is gone: EPIPE, not a silent death by SIGPIPE.
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    ::close(p[0]);
    EXPECT_EQ(guarded_in_child(err, p[1], [] { return hostdev::cli::emit("x\n", std::nullopt) ? 0 : 1; }), 4);
    EXPECT_EQ(slurp(err), "prog: error: cannot write to standard output: Broken pipe\n");
    ::close(p[1]);
    // A stdout closed from the start with nothing written is no failure.
    EXPECT_EQ(in_child([&] {
                  ::close(1);
                  return hostdev::cli::guarded_main(3, 4, [] { return 0; });
              }),
              0);
}

TEST_F(OutputWriter, EmitNamesTheFileAndErrno) {
    const fs::path err = dir_ / "err";
    const fs::path full = dir_ / "full";
    ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
    EXPECT_EQ(guarded_in_child(err, -1, [&] { return hostdev::cli::emit("x\n", full) ? 0 : 1; }), 1);
    EXPECT_EQ(slurp(err), "prog: error: cannot write: " + full.string() + ": No space left on device\n");
}

// A replaced file with other hard links leaves them with the old content; the
// writer says so, and says nothing for a file with one name.
TEST_F(OutputWriter, AReplacedFileWithOtherHardLinksIsNamedInANote) {
    std::ofstream(dir_ / "a.xml") << "old\n";
    fs::create_hard_link(dir_ / "a.xml", dir_ / "b.xml");
    std::vector<std::string> notes;
    ASSERT_TRUE(fileio::write_output(dir_ / "b.xml", "new\n", &notes).ok());
    EXPECT_EQ(slurp(dir_ / "b.xml"), "new\n");
    EXPECT_EQ(slurp(dir_ / "a.xml"), "old\n");
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("had 2 hard links"), std::string::npos) << notes[0];
    notes.clear();
    ASSERT_TRUE(fileio::write_output(dir_ / "b.xml", "newer\n", &notes).ok());
    EXPECT_TRUE(notes.empty());
}
