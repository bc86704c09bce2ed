// hostdev.conf: the parser on literals, and load_config through HOSTDEV_CONFIG.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "hostdev/binding/config.hpp"

namespace fs = std::filesystem;
using hostdev::Config;
using hostdev::parse_config;
using namespace std::chrono_literals;

namespace {

std::string error_of(std::string_view text) {
    auto c = parse_config(text, "hostdev.conf");
    EXPECT_FALSE(c.ok()) << "accepted: " << text;
    return c.ok() ? std::string() : c.error().message;
}

// Sets HOSTDEV_CONFIG for one test and restores the previous value.
class ConfigEnv {
public:
    explicit ConfigEnv(const std::optional<std::string>& value) {
        if (const char* old = std::getenv("HOSTDEV_CONFIG")) old_ = old;
        if (value) {
            ::setenv("HOSTDEV_CONFIG", value->c_str(), 1);
        } else {
            ::unsetenv("HOSTDEV_CONFIG");
        }
    }
    ~ConfigEnv() {
        if (old_) {
            ::setenv("HOSTDEV_CONFIG", old_->c_str(), 1);
        } else {
            ::unsetenv("HOSTDEV_CONFIG");
        }
    }
    ConfigEnv(const ConfigEnv&) = delete;
    ConfigEnv& operator=(const ConfigEnv&) = delete;

private:
    std::optional<std::string> old_;
};

class TempDir {
public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/hostdev-config-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

}  // namespace

TEST(Config, EmptyTextGivesTheDefaults) {
    auto c = parse_config("", "hostdev.conf");
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->root, fs::path("/"));
    EXPECT_FALSE(c->journal_dir.has_value());
    EXPECT_EQ(c->wait_timeout, 10000ms);
    EXPECT_EQ(c->lock_timeout, 60000ms);
    EXPECT_FALSE(c->log_file.has_value());
}

TEST(Config, EveryKeyWithCommentsAndWhitespace) {
    constexpr std::string_view text =
        "# hostdev settings\n"
        "\n"
        "root = /srv/fake root   # spaces inside a value stay\n"
        "\tjournal_dir=/run/hd\t\n"
        "wait_timeout_ms =   2500\r\n"
        "  lock_timeout_ms = 0\n"
        "log_file = /var/log/hostdev-hook.log\n"
        "   # indented comment\n";
    auto c = parse_config(text, "hostdev.conf");
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->root, fs::path("/srv/fake root"));
    EXPECT_EQ(c->journal_dir, fs::path("/run/hd"));
    EXPECT_EQ(c->wait_timeout, 2500ms);
    EXPECT_EQ(c->lock_timeout, 0ms);
    EXPECT_EQ(c->log_file, fs::path("/var/log/hostdev-hook.log"));
}

TEST(Config, HashInsideAValueIsNotAComment) {
    auto c = parse_config("root = /srv/vm#1\nlog_file = /tmp/a#b # the log\n", "x");
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->root, fs::path("/srv/vm#1"));
    EXPECT_EQ(c->log_file, fs::path("/tmp/a#b"));
}

TEST(Config, EmptyOptionalValuesMeanTheDefault) {
    auto c = parse_config("journal_dir =\nlog_file =   # none\n", "x");
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_FALSE(c->journal_dir.has_value());
    EXPECT_FALSE(c->log_file.has_value());
}

TEST(Config, NoTrailingNewline) {
    auto c = parse_config("wait_timeout_ms = 7", "x");
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->wait_timeout, 7ms);
}

TEST(Config, UnknownKeyNamesFileAndLine) {
    EXPECT_EQ(error_of("# c\nroot = /\nrot = /\n").substr(0, 37), "hostdev.conf:3: unknown key 'rot' (kn");
}

TEST(Config, LineWithoutEquals) {
    EXPECT_EQ(error_of("\n\nroot /srv\n"), "hostdev.conf:3: expected 'key = value', got 'root /srv'");
}

TEST(Config, MissingKey) { EXPECT_EQ(error_of(" = /srv\n"), "hostdev.conf:1: missing key before '='"); }

TEST(Config, KeySetTwice) { EXPECT_EQ(error_of("root = /a\nroot = /b\n"), "hostdev.conf:2: 'root' is set twice"); }

TEST(Config, BadTimeouts) {
    for (std::string_view bad :
         {"wait_timeout_ms = ten\n", "wait_timeout_ms = 0\n", "wait_timeout_ms = -5\n", "wait_timeout_ms = 12ms\n",
          "wait_timeout_ms =\n", "lock_timeout_ms = -1\n", "lock_timeout_ms = 86400001\n", "lock_timeout_ms = 1 2\n",
          "lock_timeout_ms = 99999999999999999999999\n"}) {
        const std::string e = error_of(bad);
        EXPECT_EQ(e.rfind("hostdev.conf:1: ", 0), 0U) << e;
        EXPECT_NE(e.find("milliseconds"), std::string::npos) << e;
    }
    auto ok = parse_config("lock_timeout_ms = 86400000\nwait_timeout_ms = 1\n", "x");
    ASSERT_TRUE(ok.ok()) << ok.error().describe();
    EXPECT_EQ(ok->lock_timeout, 86400000ms);
}

TEST(Config, PathsMustBeAbsolute) {
    EXPECT_EQ(error_of("root = srv/fake\n"), "hostdev.conf:1: root wants an absolute path, got 'srv/fake'");
    EXPECT_EQ(error_of("root =\n"), "hostdev.conf:1: root wants an absolute path, got ''");
    EXPECT_EQ(error_of("\njournal_dir = run\n"), "hostdev.conf:2: journal_dir wants an absolute path, got 'run'");
    EXPECT_EQ(error_of("log_file = ./x.log\n"), "hostdev.conf:1: log_file wants an absolute path, got './x.log'");
}

TEST(Config, SourceNameIsUsedInErrors) {
    auto c = parse_config("bogus = 1\n", "/etc/hostdev/hostdev.conf");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().message.rfind("/etc/hostdev/hostdev.conf:1: unknown key 'bogus'", 0), 0U) << c.error().message;
}

TEST(Config, PathFromEnvironment) {
    {
        ConfigEnv env(std::string("/somewhere/else.conf"));
        EXPECT_EQ(hostdev::config_path(), fs::path("/somewhere/else.conf"));
    }
    {
        ConfigEnv env(std::nullopt);
        EXPECT_EQ(hostdev::config_path().filename(), "hostdev.conf");
        EXPECT_EQ(hostdev::config_path().parent_path().filename(), "hostdev");
    }
    {
        ConfigEnv env(std::string(""));  // empty counts as unset
        EXPECT_EQ(hostdev::config_path().filename(), "hostdev.conf");
    }
}

TEST(Config, LoadMissingFileGivesDefaults) {
    TempDir dir;
    ConfigEnv env((dir.path() / "absent.conf").string());
    auto c = hostdev::load_config();
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->root, fs::path("/"));
    EXPECT_FALSE(c->log_file.has_value());
}

TEST(Config, LoadReadsTheFile) {
    TempDir dir;
    const fs::path file = dir.path() / "hostdev.conf";
    std::ofstream(file) << "root = " << dir.path().string() << "\nlog_file = /tmp/hook.log\n";
    ConfigEnv env(file.string());
    auto c = hostdev::load_config();
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->root, dir.path());
    EXPECT_EQ(c->log_file, fs::path("/tmp/hook.log"));
}

TEST(Config, LoadErrorNamesThePathAndLine) {
    TempDir dir;
    const fs::path file = dir.path() / "hostdev.conf";
    std::ofstream(file) << "root = /\nwait_timeout_ms = soon\n";
    ConfigEnv env(file.string());
    auto c = hostdev::load_config();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().message.rfind(file.string() + ":2: wait_timeout_ms wants", 0), 0U) << c.error().message;
}

TEST(Config, LoadUnreadableIsAnErrorNotTheDefaults) {
    TempDir dir;
    ConfigEnv env(dir.path().string());  // a directory: open succeeds, read fails with EISDIR
    auto c = hostdev::load_config();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().err, EISDIR);
    EXPECT_EQ(c.error().path, dir.path().string());
}

TEST(Config, TheExampleFileParsesToTheDefaults) {
    const fs::path file = fs::path(HOSTDEV_SOURCE_DIR) / "examples/hook/hostdev.conf";
    std::ifstream in(file);
    ASSERT_TRUE(in) << file;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto c = parse_config(text, file.string());
    ASSERT_TRUE(c.ok()) << c.error().describe();
    const Config defaults;
    EXPECT_EQ(c->root, defaults.root);
    EXPECT_EQ(c->journal_dir, defaults.journal_dir);
    EXPECT_EQ(c->wait_timeout, defaults.wait_timeout);
    EXPECT_EQ(c->lock_timeout, defaults.lock_timeout);
    EXPECT_EQ(c->log_file, defaults.log_file);
}

// boot-config --root judges with the configuration of the system under the
// root: its own etc/hostdev/hostdev.conf, never the live host's; a link
// planted there is refused, not followed.
TEST(Config, TheConfigurationOfARootIsReadInsideIt) {
    TempDir dir;
    const fs::path etc = dir.path() / "etc" / "hostdev";
    fs::create_directories(etc);
    const hostdev::FsRoot root(dir.path());
    auto none = hostdev::load_config(root);
    ASSERT_TRUE(none.ok()) << none.error().describe();
    EXPECT_EQ(none->vfio_variant_drivers, hostdev::VariantMode::Auto);  // missing: the defaults

    std::ofstream(etc / "hostdev.conf") << "vfio_variant_drivers = no\n";
    auto conf = hostdev::load_config(root);
    ASSERT_TRUE(conf.ok()) << conf.error().describe();
    EXPECT_EQ(conf->vfio_variant_drivers, hostdev::VariantMode::No);

    std::ofstream(dir.path() / "elsewhere.conf") << "vfio_variant_drivers = yes\n";
    fs::remove(etc / "hostdev.conf");
    fs::create_symlink("/elsewhere.conf", etc / "hostdev.conf");
    auto linked = hostdev::load_config(root);
    ASSERT_FALSE(linked.ok());
    EXPECT_EQ(linked.error().err, ELOOP) << linked.error().describe();

    fs::remove(etc / "hostdev.conf");
    std::ofstream(etc / "hostdev.conf") << "vfio_variant_drivers = maybe\n";
    auto bad = hostdev::load_config(root);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("hostdev.conf:1"), std::string::npos) << bad.error().describe();
}

TEST(Config, DisplayManager) {
    auto c = parse_config("display_manager = gdm3.service\n", "hostdev.conf");
    ASSERT_TRUE(c.ok()) << c.error().describe();
    EXPECT_EQ(c->display_manager, std::optional<std::string>("gdm3.service"));
    c = parse_config("display_manager = none\n", "hostdev.conf");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->display_manager, std::optional<std::string>("none"));
    EXPECT_FALSE(parse_config("", "hostdev.conf")->display_manager.has_value());
    EXPECT_EQ(error_of("display_manager = gdm3\n"),
              "hostdev.conf:1: display_manager must be none or a service unit such as gdm3.service, got 'gdm3' "
              "(did you mean gdm3.service?)");
    error_of("display_manager = ../../x.service\n");
    error_of("display_manager = \n");
}
