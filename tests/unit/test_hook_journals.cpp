// The hook with journals it cannot read: reconnect exits 0 for every hostile
// journal, a FIFO or a planted link in the journal directory never hangs or
// misleads prepare, and an unreadable journal blocks only the groups it could
// hold (a device on vfio-pci that no readable journal holds) until the admin
// returns them by hand and retires it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "hostdev/binding/binder.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/binding/hook.hpp"
#include "hostile_journals.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const fs::path kExamples = fs::path(HOSTDEV_SOURCE_DIR) / "examples";
const char* kWin10Uuid = "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14";  // examples/domains/win10-gtx970.xml

std::string domain(const char* name, const char* uuid, const char* bus, const char* function) {
    return std::string("<domain type='kvm'><name>") + name + "</name><uuid>" + uuid +
           "</uuid><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
           "bus='" +
           bus + "' slot='0x00' function='" + function + "'/></source></hostdev></devices></domain>";
}

struct Rig {
    Rig() : root(slurp(kExamples / "hosts/src/z170-gtx970.spec")), kernel(root.path(), root.spec()) {
        config.root = root.path();
        config.wait_timeout = 2000ms;
        config.lock_timeout = 2000ms;
        fs::create_directories(journals());
        ::chmod(journals().c_str(), 0700);
    }
    FakeRoot root;
    SimulatedKernel kernel;
    Config config;
    fs::path journals() const { return root.path() / "run/hostdev"; }
    HookResult run(const char* name, const char* op, const char* subop, const std::string& xml) {
        return run_hook({name, op, subop, "-"}, xml, config, kernel);
    }
    DriverState state() const { return capture_driver_state(root.path()); }
};

const std::string kWin10 = slurp(kExamples / "domains/win10-gtx970.xml");

std::string all(const HookResult& r) {
    std::string s = r.stderr_text + "\n";
    for (const auto& l : r.log) s += l + "\n";
    return s;
}

}  // namespace

TEST(HookJournals, ReconnectExitsZeroForEveryHostileJournalAndNamesIt) {
    Rig h;
    ASSERT_EQ(h.run("win10-gaming", "prepare", "begin", kWin10).exit_code, 0);
    const fs::path mine = h.journals() / (std::string(kWin10Uuid) + ".json");
    const std::string good = slurp(mine);
    int cases = 0;
    for (const auto& bad : hostile_journals()) {
        for (const fs::path& where : {mine, h.journals() / "other.json"}) {
            SCOPED_TRACE(std::string(bad.what) + " as " + where.filename().string());
            std::ofstream(where, std::ios::binary | std::ios::trunc) << bad.text;
            HookResult r = h.run("win10-gaming", "reconnect", "begin", kWin10);
            EXPECT_EQ(r.exit_code, 0);
            EXPECT_EQ(r.stderr_text, "");
            EXPECT_NE(all(r).find(where.string()), std::string::npos) << all(r);
            if (where == mine)
                std::ofstream(mine, std::ios::binary | std::ios::trunc) << good;
            else
                fs::remove(where);
            ++cases;
        }
    }
    EXPECT_EQ(cases, 2 * static_cast<int>(hostile_journals().size()));
    // And with the journal back, reconnect sees the devices again.
    HookResult r = h.run("win10-gaming", "reconnect", "begin", kWin10);
    EXPECT_NE(all(r).find("0000:02:00.0: on vfio-pci"), std::string::npos) << all(r);
}

TEST(HookJournals, AnUnrelatedUnreadableJournalNeitherStopsNorHangsAStart) {
    Rig h;
    const DriverState before = h.state();
    ASSERT_EQ(::mkfifo((h.journals() / "fifo.json").c_str(), 0600), 0);
    std::ofstream(h.journals() / "broken.json") << journal_with(R"("format": "hostdev-journal")", R"("format": 7)");
    fs::create_symlink("/etc/passwd", h.journals() / "link.json");
    HookResult r = h.run("win10-gaming", "prepare", "begin", kWin10);
    ASSERT_EQ(r.exit_code, 0) << all(r);
    // Logged by name, with what to do.
    for (const char* f : {"fifo.json", "broken.json", "link.json"})
        EXPECT_NE(all(r).find((h.journals() / f).string()), std::string::npos) << f << "\n" << all(r);
    EXPECT_NE(all(r).find("hostdev recover --retire"), std::string::npos);
    EXPECT_EQ(h.state().devices.at(*PciAddress::parse("02:00.0")).driver, "vfio-pci");
    HookResult rel = h.run("win10-gaming", "release", "end", kWin10);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(h.state(), before) << before.diff(h.state());
}

TEST(HookJournals, ADomainWhoseOwnJournalIsUnreadableIsRefusedAndItsFileKept) {
    Rig h;
    const fs::path mine = h.journals() / (std::string(kWin10Uuid) + ".json");
    std::ofstream(mine) << "{ not json";
    HookResult r = h.run("win10-gaming", "prepare", "begin", kWin10);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.stderr_text.find("the journal of domain 'win10-gaming'"), std::string::npos) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find(mine.string()), std::string::npos) << r.stderr_text;
    EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos);
    EXPECT_EQ(h.kernel.writes(), 0);
    EXPECT_EQ(slurp(mine), "{ not json");  // never overwritten
}

// The admin's procedure (README): the devices an unreadable journal may hold
// stay blocked, other groups start; return them by hand, retire the file.
TEST(HookJournals, AnUnreadableJournalBlocksOnlyTheGroupsItCouldHoldUntilRetired) {
    Rig h;
    const DriverState before = h.state();
    ASSERT_EQ(h.run("win10-gaming", "prepare", "begin", kWin10).exit_code, 0);
    // The journal is damaged: group 13 is on vfio-pci and no readable journal holds it.
    const fs::path lost = h.journals() / "lost.json";
    fs::rename(h.journals() / (std::string(kWin10Uuid) + ".json"), lost);
    std::ofstream(lost, std::ios::trunc) << "\x01\x02 torn";

    const std::string other = domain("other", "0b7a0f6e-2c41-4f0e-8d51-6a3b9e27c5d8", "0x02", "0x1");
    HookResult refused = h.run("other", "prepare", "begin", other);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.stderr_text.find("IOMMU group 13"), std::string::npos) << refused.stderr_text;
    EXPECT_NE(refused.stderr_text.find("may be held by a journal that cannot be read: " + lost.string()),
              std::string::npos)
        << refused.stderr_text;
    const std::string usb = domain("usb", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "0x03", "0x0");
    ASSERT_EQ(h.run("usb", "prepare", "begin", usb).exit_code, 0);  // group 14: not affected
    ASSERT_EQ(h.run("usb", "release", "end", usb).exit_code, 0);
    // reconnect of the running domain: 0, and says its journal is not readable.
    HookResult rc = h.run("win10-gaming", "reconnect", "begin", kWin10);
    EXPECT_EQ(rc.exit_code, 0);
    EXPECT_NE(all(rc).find(lost.string()), std::string::npos) << all(rc);

    // By hand: back to the host drivers (as README shows with echo), then retire.
    const fs::path drivers = h.root.path() / "sys/bus/pci/drivers";
    for (const char* a : {"0000:02:00.0", "0000:02:00.1"}) {
        ASSERT_TRUE(h.kernel.write(h.root.device_dir(a) / "driver_override", "\n"));
        ASSERT_TRUE(h.kernel.write(drivers / "vfio-pci/unbind", a));
        ASSERT_TRUE(h.kernel.write(h.root.path() / "sys/bus/pci/drivers_probe", a));
    }
    EXPECT_EQ(h.state(), before) << before.diff(h.state());
    Binder admin(FsRoot(h.root.path()), h.kernel, binder_options(h.config));
    auto retired = admin.retire_journal(lost);
    ASSERT_TRUE(retired.ok()) << retired.error().describe();
    EXPECT_EQ(retired->now, h.journals() / "lost.json.retired");
    ASSERT_EQ(h.run("other", "prepare", "begin", other).exit_code, 0);
    ASSERT_EQ(h.run("other", "release", "end", other).exit_code, 0);
    EXPECT_EQ(h.state(), before) << before.diff(h.state());
}
