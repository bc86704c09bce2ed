// The hook as a process runs it: run_hook(HookInvocation) reads hostdev.conf
// (HOSTDEV_CONFIG) itself, decides the fast path from the domain's elements
// before reading anything, and says what the front writes. A simulated kernel
// stands in for sysfs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "hostdev/binding/hook.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

namespace fs = std::filesystem;
using hostdev::hook_outcome_of_exception;
using hostdev::HookInvocation;
using hostdev::HookLogLevel;
using hostdev::HookOutcome;
using hostdev::run_hook;
using hostdev::testing::FakeRoot;
using hostdev::testing::SimulatedKernel;

namespace {

const fs::path kExamples = fs::path(HOSTDEV_SOURCE_DIR) / "examples";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A fresh directory per test, with HOSTDEV_CONFIG pointing into it.
class HookProcess : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl =
            (fs::path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") / "hostdev-hookp-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        config_ = dir_ / "hostdev.conf";
        ::setenv("HOSTDEV_CONFIG", config_.c_str(), 1);
    }
    void TearDown() override {
        ::unsetenv("HOSTDEV_CONFIG");
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    void write_config(const std::string& text) const { std::ofstream(config_) << text; }

    HookOutcome run(std::vector<std::string> args, const std::string& xml, hostdev::KernelIo& io,
                    bool complete = true) const {
        HookInvocation call{std::move(args), xml, complete};
        return run_hook(call, &io);
    }

    fs::path dir_, config_;
};

constexpr const char* kPlain = R"(<domain type='kvm'><name>plain</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>
)";
constexpr const char* kUsbOnly = R"(<domain type='kvm'><name>usb</name>
  <uuid>22222222-3333-4444-5555-666666666666</uuid>
  <devices><hostdev mode='subsystem' type='usb' managed='yes'>
    <source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev></devices></domain>
)";
constexpr const char* kNetworkAndBridge = R"(<domain type='kvm'><name>nets</name>
  <uuid>44444444-2222-3333-4444-555555555555</uuid>
  <devices><interface type='network'><source network='default'/><model type='virtio'/></interface>
    <interface type='bridge'><source bridge='br0'/></interface></devices></domain>
)";
constexpr const char* kCommented = R"(<domain type='kvm'><name>commented</name>
  <uuid>33333333-2222-3333-4444-555555555555</uuid>
  <!-- was: <hostdev mode='subsystem' type='pci'><source><address bus='0x02'/></source></hostdev> -->
  <devices/></domain>
)";

std::vector<std::string> args(const char* name, const char* op, const char* subop) { return {name, op, subop, "-"}; }

bool has_syslog(const HookOutcome& o, HookLogLevel level, std::string_view words) {
    for (const auto& l : o.syslog)
        if (l.level == level && l.text.find(words) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_F(HookProcess, NoPciPassthroughStartsWhateverStateTheConfigurationIsIn) {
    FakeRoot root(slurp(kExamples / "hosts/src/z170-gtx970.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    // Each state of hostdev.conf: missing, malformed, a directory, a FIFO, a
    // link, and a log_file that is a FIFO, a directory or unwritable.
    const std::vector<std::function<void()>> states = {
        [&] { fs::remove_all(config_); },
        [&] { write_config("root = /\nrot = /\n"); },
        [&] { fs::remove_all(config_), fs::create_directory(config_); },
        [&] { fs::remove_all(config_), ::mkfifo(config_.c_str(), 0600); },
        [&] {
            fs::remove_all(config_);
            std::ofstream(dir_ / "real.conf") << "root = " << root.path().string() << "\n";
            fs::create_symlink(dir_ / "real.conf", config_);
        },
        [&] {
            fs::remove_all(config_), ::mkfifo((dir_ / "fifo.log").c_str(), 0600),
                write_config("log_file = " + (dir_ / "fifo.log").string() + "\n");
        },
        [&] { fs::remove_all(config_), write_config("log_file = " + dir_.string() + "\n"); },
        [&] { fs::remove_all(config_), write_config("log_file = /proc/version\n"); },
    };
    for (std::size_t i = 0; i < states.size(); ++i) {
        states[i]();
        for (const char* xml : {kPlain, kUsbOnly, kCommented, kNetworkAndBridge}) {
            for (auto [op, subop] : {std::pair{"prepare", "begin"}, {"start", "begin"}, {"reconnect", "begin"}}) {
                HookOutcome o = run(args("vm", op, subop), xml, kernel);
                EXPECT_EQ(o.exit_code, 0) << "state " << i << " " << op << "\n" << xml;
                EXPECT_EQ(o.stderr_text, "") << "state " << i << " " << op;
            }
        }
    }
    EXPECT_EQ(kernel.writes(), 0);
}

TEST_F(HookProcess, AnUnreadableConfigurationIsAWarningOnTheFastPath) {
    FakeRoot root(slurp(kExamples / "hosts/src/z170-gtx970.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    ::mkfifo(config_.c_str(), 0600);
    HookOutcome o = run(args("plain", "prepare", "begin"), kPlain, kernel);
    EXPECT_EQ(o.exit_code, 0);
    EXPECT_TRUE(has_syslog(o, HookLogLevel::Warning, "is a FIFO, not a regular file")) << o.syslog.size();
    EXPECT_FALSE(o.log_file.has_value());
}

TEST_F(HookProcess, PciPassthroughWithABadConfigurationIsRefusedAtPrepareOnly) {
    FakeRoot root(slurp(kExamples / "hosts/src/z170-gtx970.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    write_config("root = " + root.path().string() + "\nrot = /\n");
    const std::string xml = slurp(kExamples / "domains/win10-gtx970.xml");
    HookOutcome o = run(args("win10-gaming", "prepare", "begin"), xml, kernel);
    EXPECT_EQ(o.exit_code, 1);
    EXPECT_EQ(o.stderr_text.rfind(
                  "hostdev: win10-gaming: bad configuration: " + config_.string() + ":2: unknown key 'rot'", 0),
              0U)
        << o.stderr_text;
    EXPECT_TRUE(has_syslog(o, HookLogLevel::Error, "bad configuration"));
    for (auto [op, subop] : {std::pair{"release", "end"}, {"reconnect", "begin"}}) {
        HookOutcome later = run(args("win10-gaming", op, subop), xml, kernel);
        EXPECT_EQ(later.exit_code, 0) << op;
    }
    fs::remove(config_);
    ::symlink((dir_ / "elsewhere.conf").c_str(), config_.c_str());
    HookOutcome linked = run(args("win10-gaming", "prepare", "begin"), xml, kernel);
    EXPECT_EQ(linked.exit_code, 1);
    EXPECT_NE(linked.stderr_text.find("symbolic link"), std::string::npos) << linked.stderr_text;
    EXPECT_EQ(kernel.writes(), 0);
}

TEST_F(HookProcess, AHostdevInterfaceWithABadConfigurationIsRefusedAtPrepare) {
    FakeRoot root(slurp(kExamples / "hosts/src/sriov-server.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    write_config("root = " + root.path().string() + "\nrot = /\n");
    const std::string xml = slurp(kExamples / "domains/sriov-vf.xml");
    HookOutcome o = run(args("router", "prepare", "begin"), xml, kernel);
    EXPECT_EQ(o.exit_code, 1);
    EXPECT_EQ(
        o.stderr_text.rfind("hostdev: router: bad configuration: " + config_.string() + ":2: unknown key 'rot'", 0), 0U)
        << o.stderr_text;
    EXPECT_EQ(kernel.writes(), 0);
}

TEST_F(HookProcess, PrepareAndReleaseRunOnTheKernelWithTheLogFileLine) {
    FakeRoot root(slurp(kExamples / "hosts/src/z170-gtx970.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    write_config("root = " + root.path().string() + "\nlog_file = " + (dir_ / "hook.log").string() +
                 "\nwait_timeout_ms = 500\n");
    const std::string xml = slurp(kExamples / "domains/win10-gtx970.xml");
    HookOutcome o = run(args("win10-gaming", "prepare", "begin"), xml, kernel);
    ASSERT_EQ(o.exit_code, 0) << o.stderr_text;
    EXPECT_GT(kernel.writes(), 0);
    EXPECT_TRUE(has_syslog(o, HookLogLevel::Info, "0000:02:00.0: nouveau -> vfio-pci"));
    EXPECT_EQ(o.log_file, dir_ / "hook.log");
    EXPECT_TRUE(std::regex_match(o.log_line, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4} "
                                                        "win10-gaming prepare begin 0\n")))
        << o.log_line;
    HookOutcome rel = run(args("win10-gaming", "release", "end"), xml, kernel);
    EXPECT_EQ(rel.exit_code, 0) << rel.stderr_text;
    EXPECT_TRUE(has_syslog(rel, HookLogLevel::Info, "release end: 2 device(s) returned"));
    // A name with control characters stays one field of one line.
    HookOutcome odd = run(args("a\nb", "start", "begin"), kPlain, kernel);
    EXPECT_NE(odd.log_line.find(" a?b start begin 0\n"), std::string::npos) << odd.log_line;
}

TEST_F(HookProcess, AnXmlOverTheLimitIsRefusedAtPrepareOnly) {
    FakeRoot root(slurp(kExamples / "hosts/src/z170-gtx970.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    HookOutcome p = run(args("huge", "prepare", "begin"), "<domain>", kernel, /*complete=*/false);
    EXPECT_EQ(p.exit_code, 1);
    EXPECT_EQ(p.stderr_text, "hostdev: huge: the domain XML on stdin is larger than 64 MiB");
    EXPECT_EQ(run(args("huge", "release", "end"), "<domain>", kernel, false).exit_code, 0);
    // started begin has work for a passthrough domain (its journal forgets
    // the starting daemon): it says why it cannot, and exits 0.
    EXPECT_EQ(run(args("huge", "started", "begin"), "<domain>", kernel, false).exit_code, 0);
    HookOutcome other = run(args("huge", "stopped", "end"), "<domain>", kernel, false);
    EXPECT_EQ(other.exit_code, 0);
    EXPECT_EQ(other.stderr_text, "");
}

TEST_F(HookProcess, AnEscapedExceptionRefusesPrepareAndNothingElse) {
    HookOutcome p = hook_outcome_of_exception(args("vm", "prepare", "begin"), "boom");
    EXPECT_EQ(p.exit_code, 1);
    EXPECT_EQ(p.stderr_text.rfind("hostdev: vm: internal error: boom", 0), 0U) << p.stderr_text;
    EXPECT_EQ(p.stderr_text.find('\n'), std::string::npos);
    for (auto [op, subop] : {std::pair{"reconnect", "begin"}, {"release", "end"}, {"migrate", "begin"}}) {
        HookOutcome o = hook_outcome_of_exception(args("vm", op, subop), "boom");
        EXPECT_EQ(o.exit_code, 0) << op;
        EXPECT_TRUE(has_syslog(o, HookLogLevel::Error, "internal error: boom")) << op;
    }
    EXPECT_EQ(hook_outcome_of_exception({}, "").exit_code, 0);
}

TEST_F(HookProcess, ReconnectExitsZeroWithAJournalThatCannotBeRead) {
    FakeRoot root(slurp(kExamples / "hosts/src/z170-gtx970.spec"));
    SimulatedKernel kernel(root.path(), root.spec());
    write_config("root = " + root.path().string() + "\n");
    fs::create_directories(root.path() / "run/hostdev");
    std::ofstream(root.path() / "run/hostdev/0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9.json") << R"({"format": null})";
    const std::string xml = slurp(kExamples / "domains/win10-gtx970.xml");
    // As the front's guard does: whatever escapes becomes the outcome for it.
    auto guarded = [&](const std::vector<std::string>& a) {
        try {
            return run(a, xml, kernel);
        } catch (const std::exception& e) {
            return hook_outcome_of_exception(a, e.what());
        }
    };
    EXPECT_EQ(guarded(args("win10-gaming", "reconnect", "begin")).exit_code, 0);
    EXPECT_EQ(guarded(args("win10-gaming", "release", "end")).exit_code, 0);
    EXPECT_EQ(kernel.writes(), 0);
}
