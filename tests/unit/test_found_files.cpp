// Files hostdev finds by itself (hostdev.conf, log_file) are used only when
// they are regular files: a FIFO never blocks, a link is never followed, and
// each refusal says what the file is.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "hostdev/base/fileio.hpp"
#include "hostdev/binding/config.hpp"

namespace fs = std::filesystem;
namespace fileio = hostdev::fileio;

namespace {

class FoundFiles : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl =
            (fs::path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") / "hostdev-found-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        ::unsetenv("HOSTDEV_CONFIG");
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    static std::string slurp(const fs::path& p) {
        std::ifstream in(p);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    fs::path dir_;
};

}  // namespace

TEST_F(FoundFiles, ARegularFileIsReadAndAppendedTo) {
    const fs::path f = dir_ / "f";
    const mode_t old = ::umask(077);
    auto first = fileio::append_regular_file(f, "one\n");
    ::umask(old);
    ASSERT_TRUE(first.ok()) << first.error().describe();
    ASSERT_TRUE(fileio::append_regular_file(f, "two\n").ok());
    EXPECT_EQ(slurp(f), "one\ntwo\n");
    EXPECT_EQ(fs::status(f).permissions() & fs::perms::all, fs::perms(0600));  // 0640 less the umask
    auto text = fileio::read_regular_file(f, 100);
    ASSERT_TRUE(text.ok()) << text.error().describe();
    EXPECT_EQ(*text, "one\ntwo\n");
}

TEST_F(FoundFiles, FifosNeverBlockAndAreRefused) {
    const fs::path fifo = dir_ / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto r = fileio::read_regular_file(fifo, 100);  // no writer: a blocking open would wait forever
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("is a FIFO, not a regular file"), std::string::npos) << r.error().describe();
    EXPECT_EQ(r.error().path, fifo.string());
    EXPECT_FALSE(fileio::append_regular_file(fifo, "x\n").ok());  // no reader
    // With a reader, the open succeeds and fstat refuses it: nothing is written.
    int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    ASSERT_GE(reader, 0);
    auto w = fileio::append_regular_file(fifo, "x\n");
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().describe().find("is a FIFO"), std::string::npos) << w.error().describe();
    char c;
    EXPECT_EQ(::read(reader, &c, 1), 0);  // nothing arrived (0: no writer left)
    ::close(reader);
}

TEST_F(FoundFiles, LinksAreNeverFollowed) {
    std::ofstream(dir_ / "target") << "secret\n";
    fs::create_symlink(dir_ / "target", dir_ / "link");
    auto r = fileio::read_regular_file(dir_ / "link", 100);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("symbolic link"), std::string::npos) << r.error().describe();
    EXPECT_FALSE(fileio::append_regular_file(dir_ / "link", "x\n").ok());
    EXPECT_EQ(slurp(dir_ / "target"), "secret\n");
}

TEST_F(FoundFiles, DirectoriesAndDevicesAreRefusedByKind) {
    auto d = fileio::read_regular_file(dir_, 100);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().err, EISDIR);
    EXPECT_FALSE(fileio::append_regular_file(dir_, "x\n").ok());
    const fs::path full = dir_ / "full";
    ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0600, ::makedev(1, 7)), 0);  // as /dev/full
    auto f = fileio::append_regular_file(full, "x\n");
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.error().describe().find("is a character device"), std::string::npos) << f.error().describe();
    EXPECT_EQ(fileio::read_regular_file(dir_ / "missing", 100).error().err, ENOENT);
}

TEST_F(FoundFiles, AFailedWriteIsAnError) {
    // /proc/version is a regular file that takes no writes.
    auto w = fileio::append_regular_file("/proc/version", "x\n");
    EXPECT_FALSE(w.ok());
}

TEST_F(FoundFiles, TheConfigurationIsReadOnlyAsARegularFile) {
    const fs::path conf = dir_ / "hostdev.conf";
    ::setenv("HOSTDEV_CONFIG", conf.c_str(), 1);
    ASSERT_EQ(::mkfifo(conf.c_str(), 0600), 0);
    auto fifo = hostdev::load_config();  // returns: a FIFO never blocks the reader
    ASSERT_FALSE(fifo.ok());
    EXPECT_NE(fifo.error().describe().find("cannot read the configuration"), std::string::npos);
    EXPECT_NE(fifo.error().describe().find("is a FIFO"), std::string::npos) << fifo.error().describe();
    fs::remove(conf);
    std::ofstream(dir_ / "real.conf") << "root = /\n";
    fs::create_symlink(dir_ / "real.conf", conf);
    auto link = hostdev::load_config();
    ASSERT_FALSE(link.ok());
    EXPECT_NE(link.error().describe().find("symbolic link"), std::string::npos) << link.error().describe();
    fs::remove(conf);
    std::ofstream(conf) << "root = /\n";
    EXPECT_TRUE(hostdev::load_config().ok());
}
