// The binder against the simulated kernel: whole-group round trips, failure or
// hang at every write, a process killed after every write then recovered,
// racing processes, ownership by journals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "binder_test_util.hpp"
#include "golden.hpp"
#include "hostdev/binding/binder.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

// A GPU with its audio behind a root port (one group, the port stays), an
// unbound companion, a platform group, and a host-needed NIC.
const char* kMini = R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 01:00.2 10de:1ad8 0x0c0330 group=1 override=foo
dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich
dev 00:1f.3 8086:a170 0x040300 group=4 driver=snd_hda_intel
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
dev 00:1c.0 8086:a110 0x060400 group=6 driver=pcieport bus=02
dev 02:00.0 1b73:1100 0x0c0330 group=7 driver=xhci_hcd
)";

PciAddress A(const char* s) { return *PciAddress::parse(s); }

Owner domain_owner(const char* uuid, const char* name) { return *Owner::domain(uuid, name); }
const char* kUuidA = "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14";
const char* kUuidB = "0b7a0f6e-2c41-4f0e-8d51-6a3b9e27c5d8";

BinderOptions fast() { return hostdev::testing::fast_binder_options(); }

struct Rig {
    FakeRoot root;
    SimulatedKernel kernel;
    Binder binder;
    explicit Rig(const char* spec, BinderOptions o = fast())
        : root(spec), kernel(root.path(), root.spec()), binder(FsRoot(root.path()), kernel, std::move(o)) {}
    DriverState state() const { return capture_driver_state(root.path()); }
    bool journal_exists(const char* key) const {
        return fs::exists(root.path() / "run/hostdev" / (std::string(key) + ".json"));
    }
};

int clean_detach_writes() {
    Rig r(kMini);
    auto res = r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")});
    EXPECT_TRUE(res.ok()) << res.error().describe();
    return r.kernel.writes();
}

}  // namespace

TEST(Binder, DetachMovesTheWholeGroupAndReattachRestoresExactly) {
    Rig r(kMini);
    const DriverState before = r.state();
    auto d = r.binder.detach(domain_owner(kUuidA, "win10"), {A("01:00.0")});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    DriverState mid = r.state();
    EXPECT_EQ(mid.devices.at(A("01:00.0")).driver, "vfio-pci");
    EXPECT_EQ(mid.devices.at(A("01:00.1")).driver, "vfio-pci");
    EXPECT_EQ(mid.devices.at(A("01:00.2")).driver, "vfio-pci");  // unbound endpoint: taken too
    EXPECT_EQ(mid.devices.at(A("00:01.0")).driver, "pcieport");  // the bridge stays
    EXPECT_EQ(mid.devices.at(A("01:00.0")).override, "vfio-pci");
    EXPECT_TRUE(mid.vfio_groups.count(1));
    EXPECT_EQ(mid.devices.at(A("02:00.0")), before.devices.at(A("02:00.0")));  // other groups untouched
    EXPECT_TRUE(r.journal_exists(kUuidA));
    // The journal records the originals, not vfio-pci.
    const std::string journal = read_text_file(r.root.path() / "run/hostdev" / (std::string(kUuidA) + ".json"));
    EXPECT_NE(journal.find("\"original_driver\": \"nouveau\""), std::string::npos);
    EXPECT_NE(journal.find("\"original_override\": \"foo\""), std::string::npos);

    auto back = r.binder.reattach(domain_owner(kUuidA, "win10"));
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(r.state(), before) << before.diff(r.state());
    EXPECT_FALSE(r.journal_exists(kUuidA));
    // A second reattach has nothing to do.
    int w = r.kernel.writes();
    EXPECT_TRUE(r.binder.reattach(domain_owner(kUuidA, "win10")).ok());
    EXPECT_EQ(r.kernel.writes(), w);
}

TEST(Binder, RoundTripsOnTheExampleHosts) {
    struct Case {
        const char* spec;
        std::vector<PciAddress> requested;
        std::vector<PciAddress> moved;
    };
    for (const Case& c :
         {Case{"examples/hosts/src/z170-gtx970.spec", {A("02:00.0")}, {A("02:00.0"), A("02:00.1")}},
          Case{"examples/hosts/src/z170-gtx970.spec", {A("06:00.0")}, {A("06:00.0")}},
          Case{"examples/hosts/src/hm170-laptop.spec", {A("00:14.0")}, {A("00:14.0"), A("00:14.2")}},
          Case{"examples/hosts/src/hm170-laptop.spec", {A("3d:00.0"), A("02:00.0")}, {A("3d:00.0"), A("02:00.0")}}}) {
        SCOPED_TRACE(c.spec);
        const std::string spec = read_text_file(source_path(c.spec));
        Rig r(spec.c_str());
        const DriverState before = r.state();
        auto d = r.binder.detach(domain_owner(kUuidA, "vm"), c.requested);
        ASSERT_TRUE(d.ok()) << d.error().describe();
        DriverState mid = r.state();
        for (const auto& a : c.moved) EXPECT_EQ(mid.devices.at(a).driver, "vfio-pci") << a.str();
        ASSERT_TRUE(r.binder.reattach(domain_owner(kUuidA, "vm")).ok());
        EXPECT_EQ(r.state(), before) << before.diff(r.state());
    }
}

TEST(Binder, BlockedGroupIsRefusedBeforeAnyWrite) {
    Rig r(kMini);
    const DriverState before = r.state();
    auto d = r.binder.detach(domain_owner(kUuidA, "a"), {A("00:1f.3")});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().kind, Error::Kind::Refused);
    EXPECT_NE(d.error().message.find("lpc_ich"), std::string::npos);
    EXPECT_EQ(r.kernel.writes(), 0);
    EXPECT_EQ(r.state(), before);
    EXPECT_FALSE(r.journal_exists(kUuidA));
    auto plan = r.binder.plan_detach({A("00:1f.6")});
    ASSERT_FALSE(plan.ok());
    EXPECT_NE(plan.error().message.find("default route"), std::string::npos);
}

TEST(Binder, DryRunPlanListsEveryWriteInOrderWithTheFilesItReallyOpens) {
    Rig r(kMini);
    auto plan = r.binder.plan_detach({A("02:00.0")});
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->size(), 3u);
    FsRoot root(r.root.path());
    std::vector<std::string> lines;
    for (const auto& w : *plan) lines.push_back("write " + root.live_path(w.path) + " " + w.value);
    // bus/pci/devices/ADDR is a link: the attribute really lives in the device's directory.
    EXPECT_EQ(lines, (std::vector<std::string>{
                         "write /sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/driver_override vfio-pci",
                         "write /sys/bus/pci/drivers/xhci_hcd/unbind 0000:02:00.0",
                         "write /sys/bus/pci/drivers_probe 0000:02:00.0"}));
    EXPECT_EQ(r.kernel.writes(), 0);
    EXPECT_FALSE(fs::exists(r.root.path() / "run/hostdev"));  // nothing written, not even the journal directory
    // The real run writes exactly what was planned: the same files, in order.
    ASSERT_TRUE(r.binder.detach(Owner::manual(), {A("02:00.0")}).ok());
    std::vector<std::string> written;
    for (const auto& line : r.kernel.log()) {
        const auto a = line.find(' ') + 1, b = line.rfind(' ');
        auto real = root.resolve(r.root.path() / line.substr(a + 1, b - a - 1));
        ASSERT_TRUE(real.ok()) << line;
        written.push_back("write " + root.live_path(*real) + line.substr(b));
    }
    EXPECT_EQ(written, lines);
}

TEST(Binder, FailureAtEveryDetachWriteRollsBackExactly) {
    const int k_max = clean_detach_writes();
    ASSERT_EQ(k_max, 8);  // three devices, three writes each, less the unbind of the unbound 01:00.2
    int absorbed = 0;
    for (int k = 1; k <= k_max; ++k) {
        for (int err : {EIO, EBUSY}) {
            SCOPED_TRACE("write " + std::to_string(k) + " errno " + std::to_string(err));
            Rig r(kMini);
            const DriverState before = r.state();
            r.kernel.fail_write(k, err);
            auto d = r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")});
            if (d.ok()) {
                // Only a failed drivers_probe is absorbed: vfio-pci/bind is its fallback.
                ASSERT_NE(r.kernel.log()[static_cast<std::size_t>(k - 1)].find("drivers_probe"), std::string::npos);
                EXPECT_FALSE(d->warnings.empty());
                EXPECT_EQ(r.state().devices.at(A("01:00.0")).driver, "vfio-pci");
                ++absorbed;
                // With the fallback failing too, the transaction rolls back.
                Rig r2(kMini);
                r2.kernel.fail_write(k, err);
                r2.kernel.fail_write(k + 1, err);
                d = r2.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")});
                ASSERT_FALSE(d.ok());
                EXPECT_NE(d.error().message.find("bind to vfio-pci"), std::string::npos) << d.error().describe();
                EXPECT_EQ(r2.state(), before) << before.diff(r2.state());
                EXPECT_FALSE(r2.journal_exists(kUuidA));
                continue;
            }
            // The error names device, step, path and errno.
            EXPECT_NE(d.error().message.find("0000:01:00."), std::string::npos) << d.error().describe();
            EXPECT_NE(d.error().message.find("step"), std::string::npos) << d.error().describe();
            EXPECT_NE(d.error().path.find("/sys/bus/pci/"), std::string::npos) << d.error().describe();
            EXPECT_EQ(d.error().err, err) << d.error().describe();
            EXPECT_NE(d.error().message.find("rolled back"), std::string::npos) << d.error().describe();
            EXPECT_EQ(r.state(), before) << before.diff(r.state());
            EXPECT_FALSE(r.journal_exists(kUuidA));
        }
    }
    EXPECT_EQ(absorbed, 3 * 2);  // one probe per device, two errnos
}

TEST(Binder, HangAtEveryDetachWriteIsBoundedAndRollsBack) {
    const int k_max = clean_detach_writes();
    for (int k = 1; k <= k_max; ++k) {
        SCOPED_TRACE("write " + std::to_string(k));
        Rig r(kMini);
        const DriverState before = r.state();
        r.kernel.hang_write(k);
        auto d = r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")});
        // A hung override or unbind write shows later as a probe that does not land.
        ASSERT_FALSE(d.ok()) << "write " << k;
        EXPECT_NE(d.error().describe().find("waited"), std::string::npos) << d.error().describe();
        EXPECT_EQ(r.state(), before) << before.diff(r.state());
        EXPECT_FALSE(r.journal_exists(kUuidA));
    }
}

TEST(Binder, FailureAtEveryReattachWriteIsReportedAndRecoverable) {
    // Count a clean reattach's writes.
    int k_max;
    {
        Rig r(kMini);
        ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")}).ok());
        int w = r.kernel.writes();
        ASSERT_TRUE(r.binder.reattach(domain_owner(kUuidA, "a")).ok());
        k_max = r.kernel.writes() - w;
    }
    ASSERT_GE(k_max, 8);
    for (int k = 1; k <= k_max; ++k) {
        SCOPED_TRACE("reattach write " + std::to_string(k));
        Rig r(kMini);
        const DriverState before = r.state();
        ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")}).ok());
        r.kernel.fail_write(r.kernel.writes() + k, EIO);
        auto back = r.binder.reattach(domain_owner(kUuidA, "a"));
        if (!back.ok()) {
            // Every failure is named and the journal is kept for the rest.
            EXPECT_NE(back.error().message.find("0000:01:00."), std::string::npos) << back.error().describe();
            EXPECT_TRUE(r.journal_exists(kUuidA));
        }
        // The devices that did come back are exact; recover brings the rest.
        SimulatedKernel fresh(r.root.path(), r.root.spec());
        Binder again(FsRoot(r.root.path()), fresh, fast());
        auto rec = again.recover([](const Owner&) { return false; });
        ASSERT_TRUE(rec.ok()) << rec.error().describe();
        EXPECT_EQ(r.state(), before) << before.diff(r.state());
        EXPECT_FALSE(r.journal_exists(kUuidA));
    }
}

TEST(Binder, ProcessKilledAfterEveryWriteIsRecovered) {
    const int k_max = clean_detach_writes();
    for (int k = 1; k <= k_max; ++k) {
        SCOPED_TRACE("killed after write " + std::to_string(k));
        FakeRoot root(kMini);
        const DriverState before = capture_driver_state(root.path());
        ASSERT_TRUE(
            hostdev::testing::detach_killed_after_write(root, k, domain_owner(kUuidA, "a"), {A("01:00.0")}, fast()));
        EXPECT_NE(capture_driver_state(root.path()), before);  // something did change
        SimulatedKernel kernel(root.path(), root.spec());
        Binder b(FsRoot(root.path()), kernel, fast());
        auto st = b.status();
        ASSERT_TRUE(st.ok());
        ASSERT_EQ(st->size(), 1u);
        EXPECT_EQ((*st)[0].state, "detaching");
        auto rec = b.recover([](const Owner&) { return false; });
        ASSERT_TRUE(rec.ok()) << rec.error().describe();
        EXPECT_EQ(capture_driver_state(root.path()), before) << before.diff(capture_driver_state(root.path()));
        EXPECT_TRUE(b.status()->empty());
    }
}

TEST(Binder, TwoProcessesRacingForOneGroupGiveExactlyOneOwner) {
    FakeRoot root(kMini);
    const DriverState before = capture_driver_state(root.path());
    for (int round = 0; round < 100; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        pid_t pids[2];
        for (int i = 0; i < 2; ++i) {
            pids[i] = ::fork();
            ASSERT_GE(pids[i], 0);
            if (pids[i] == 0) {
                SimulatedKernel kernel(root.path(), root.spec());
                Binder b(FsRoot(root.path()), kernel, fast());
                auto r = b.detach(domain_owner(i == 0 ? kUuidA : kUuidB, i == 0 ? "a" : "b"),
                                  {A(i == 0 ? "01:00.0" : "01:00.1")});
                ::_exit(r.ok() ? 0 : (r.error().kind == Error::Kind::Refused ? 2 : 1));
            }
        }
        int codes[2];
        for (int i = 0; i < 2; ++i) {
            int status = 0;
            ASSERT_EQ(::waitpid(pids[i], &status, 0), pids[i]);
            ASSERT_TRUE(WIFEXITED(status));
            codes[i] = WEXITSTATUS(status);
        }
        ASSERT_TRUE((codes[0] == 0 && codes[1] == 2) || (codes[0] == 2 && codes[1] == 0))
            << "exit codes " << codes[0] << " and " << codes[1];
        SimulatedKernel kernel(root.path(), root.spec());
        Binder b(FsRoot(root.path()), kernel, fast());
        auto st = b.status();
        ASSERT_TRUE(st.ok());
        ASSERT_EQ(st->size(), 1u);
        EXPECT_EQ((*st)[0].owner.key, codes[0] == 0 ? kUuidA : kUuidB);
        ASSERT_TRUE(b.reattach((*st)[0].owner).ok());
        ASSERT_EQ(capture_driver_state(root.path()), before);
    }
}

TEST(Binder, AnotherDomainsJournalBlocksItsGroup) {
    Rig r(kMini);
    ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "first vm"), {A("01:00.0")}).ok());
    const DriverState held = r.state();
    int w = r.kernel.writes();
    auto d = r.binder.detach(domain_owner(kUuidB, "second"), {A("01:00.1")});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().kind, Error::Kind::Refused);
    EXPECT_NE(d.error().message.find("first vm"), std::string::npos) << d.error().message;
    EXPECT_NE(d.error().message.find(kUuidA), std::string::npos);
    EXPECT_EQ(r.kernel.writes(), w);
    EXPECT_EQ(r.state(), held);
    // The same domain asking again (a repeated prepare) is fine and keeps the originals.
    ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "first vm"), {A("01:00.0")}).ok());
    const std::string journal = read_text_file(r.root.path() / "run/hostdev" / (std::string(kUuidA) + ".json"));
    EXPECT_NE(journal.find("\"original_driver\": \"nouveau\""), std::string::npos);
    EXPECT_EQ(journal.find("\"original_driver\": \"vfio-pci\""), std::string::npos);
}

TEST(Binder, LoadsVfioPciWhenMissing) {
    Rig r(kMini);
    fs::remove_all(r.root.path() / "sys/bus/pci/drivers/vfio-pci");
    ASSERT_TRUE(r.binder.detach(Owner::manual(), {A("02:00.0")}).ok());
    EXPECT_EQ(r.state().devices.at(A("02:00.0")).driver, "vfio-pci");
}

TEST(Binder, ReattachIsIdempotentAfterLibvirtsOwnReattach) {
    Rig r(kMini);
    const DriverState before = r.state();
    ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "a"), {A("02:00.0")}).ok());
    // libvirt's managed reattach between `stopped` and `release`.
    FsRoot root(r.root.path());
    ASSERT_TRUE(r.kernel.write(root.pci_device("0000:02:00.0") / "driver_override", "\n").ok());
    ASSERT_TRUE(r.kernel.write(root.pci_drivers() / "vfio-pci/unbind", "0000:02:00.0").ok());
    ASSERT_TRUE(r.kernel.write(root.sys("bus/pci/drivers_probe"), "0000:02:00.0").ok());
    int w = r.kernel.writes();
    ASSERT_TRUE(r.binder.reattach(domain_owner(kUuidA, "a")).ok());
    EXPECT_EQ(r.kernel.writes(), w);  // nothing left to do
    EXPECT_EQ(r.state(), before);
}

TEST(Binder, RecoverKeepsRunningDomainsAndManualDetaches) {
    Rig r(kMini);
    ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.0")}).ok());
    ASSERT_TRUE(r.binder.detach(Owner::manual(), {A("02:00.0")}).ok());
    // A QEMU process for domain A, as libvirt starts it.
    fs::create_directories(r.root.path() / "proc/4242");
    std::string cmd = std::string("qemu-system-x86_64") + '\0' + "-uuid" + '\0' + kUuidA + '\0';
    std::ofstream(r.root.path() / "proc/4242/cmdline", std::ios::binary) << cmd;
    FsRoot root(r.root.path());
    EXPECT_TRUE(domain_running(root, domain_owner(kUuidA, "a")));
    EXPECT_FALSE(domain_running(root, domain_owner(kUuidB, "b")));
    const DriverState held = r.state();
    auto rec = r.binder.recover([&](const Owner& o) { return domain_running(root, o); });
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(r.state(), held);
    EXPECT_EQ(r.binder.status()->size(), 2u);
    // Once the domain is gone, recover returns its devices (the manual one stays).
    fs::remove_all(r.root.path() / "proc/4242");
    ASSERT_TRUE(r.binder.recover([&](const Owner& o) { return domain_running(root, o); }).ok());
    EXPECT_EQ(r.state().devices.at(A("01:00.0")).driver, "nouveau");
    EXPECT_EQ(r.state().devices.at(A("02:00.0")).driver, "vfio-pci");
    ASSERT_EQ(r.binder.status()->size(), 1u);
    ASSERT_TRUE(r.binder.reattach_devices({A("02:00.0")}).ok());
    EXPECT_TRUE(r.binder.status()->empty());
}

TEST(Binder, JournalsAreKeyedByUuidNeverByName) {
    EXPECT_FALSE(Owner::domain("../../etc/passwd", "x").ok());
    EXPECT_FALSE(Owner::domain("6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b1", "x").ok());
    auto o = Owner::domain("6F1C4A528D3E4B7A9C210E5D7F3A9B14", "a/../../name");
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->key, "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14");
    Rig r(kMini);
    ASSERT_TRUE(r.binder.detach(*o, {A("02:00.0")}).ok());
    EXPECT_TRUE(r.journal_exists("6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14"));
}

TEST(Binder, DeviceWithoutADriverStaysUnboundOnReattach) {
    Rig r(kMini);
    ASSERT_TRUE(r.binder.detach(domain_owner(kUuidA, "a"), {A("01:00.2")}).ok());
    EXPECT_EQ(r.state().devices.at(A("01:00.2")).driver, "vfio-pci");
    ASSERT_TRUE(r.binder.reattach(domain_owner(kUuidA, "a")).ok());
    EXPECT_FALSE(r.state().devices.at(A("01:00.2")).driver.has_value());
    EXPECT_EQ(r.state().devices.at(A("01:00.2")).override, "foo");
}

// --root is a boundary: with the real kernel I/O (plain files here, nothing
// reacts) and links planted in the root that lead out of it, a detach opens
// every file inside the root: the files beside the root stay as they were and
// nothing is created there.
TEST(Binder, LinksPlantedInTheRootNeverLeadAWriteOutOfIt) {
    FakeRoot box(kMini);
    const fs::path root = box.path() / "root";  // a root inside the fake tree's directory
    const fs::path beside = box.path();
    fs::create_directories(root);
    for (const auto& e : fs::directory_iterator(beside))
        if (e.path() != root) fs::rename(e.path(), root / e.path().filename());
    std::ofstream(beside / "outside") << "untouched\n";
    std::ofstream(beside / "unbind") << "untouched\n";
    // xhci_hcd/unbind: an absolute link to the file beside the root; the
    // nouveau driver directory: a link climbing out with "..".
    fs::remove(root / "sys/bus/pci/drivers/xhci_hcd/unbind");
    fs::create_symlink(beside / "outside", root / "sys/bus/pci/drivers/xhci_hcd/unbind");
    fs::remove_all(root / "sys/bus/pci/drivers/nouveau");
    fs::create_symlink("../../../../..", root / "sys/bus/pci/drivers/nouveau");
    const auto listing = [&] {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(beside)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    };
    const auto names_before = listing();
    const FsRoot fr(root);
    SysfsKernelIo io(fr);
    BinderOptions o = fast();
    o.wait_timeout = std::chrono::milliseconds(50);
    Binder b(fr, io, o);
    // --dry-run names the files the writes would really open: inside the root.
    auto plan = b.plan_detach({A("02:00.0"), A("01:00.0")});
    ASSERT_TRUE(plan.ok()) << plan.error().describe();
    std::vector<std::string> paths;
    for (const auto& w : *plan) paths.push_back(fr.live_path(w.path));
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/sys/bus/pci/drivers/xhci_hcd/unbind"), paths.end());
    // ROOT/sys/bus/pci/drivers/nouveau/.. climbs no higher than ROOT.
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/unbind"), paths.end());
    for (const char* a : {"02:00.0", "01:00.0"}) {
        auto d = b.detach(Owner::manual(), {A(a)});
        ASSERT_FALSE(d.ok()) << a;
        EXPECT_NE(d.error().message.find("step 2"), std::string::npos) << d.error().describe();
        EXPECT_EQ(d.error().err, ENOENT) << d.error().describe();  // the link's target is not in the root
        EXPECT_NE(d.error().message.find("rolled back"), std::string::npos) << d.error().describe();
    }
    EXPECT_EQ(read_text_file(beside / "outside"), "untouched\n");
    EXPECT_EQ(read_text_file(beside / "unbind"), "untouched\n");
    EXPECT_EQ(listing(), names_before);
}

namespace {
// A process under the fake root's proc, as the hook's parent would be.
void fake_process(const FakeRoot& root, int pid, std::string_view comm, std::uint64_t start_time) {
    const fs::path dir = root.path() / "proc" / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "comm") << comm << "\n";
    std::ofstream(dir / "stat") << pid << " (" << comm << ") S 1 " << pid << " " << pid
                                << " 0 -1 4194560 2553 0 0 0 12 5 0 0 20 0 17 0 " << start_time << " 1234567 890\n";
}
// A rig whose libvirtd (pid 812, started at tick 4242) is in the fake root's
// proc, with the Starter the hook would record for it.
struct StartingRig {
    Rig r{kMini};
    FsRoot root{r.root.path()};
    DriverState before = r.state();
    journal::Starter starter = libvirtd(r, root);
    static journal::Starter libvirtd(Rig& r, const FsRoot& root) {
        fake_process(r.root, 812, "libvirtd", 4242);
        return journal::starter_of(root, 812);
    }
    // Domain A takes 01:00.0 as the hook's prepare does, started by `starter`.
    bool detach_for_a() {
        return r.binder
            .detach(domain_owner(kUuidA, "a"), {DetachRequest{A("01:00.0"), std::nullopt, std::nullopt}}, starter)
            .ok();
    }
    Result<BindReport> recover() {
        return r.binder.recover([this](const Owner& o) { return domain_running(root, o); });
    }
};
}  // namespace

TEST(Binder, RecoverKeepsADomainItsDaemonIsStillStarting) {
    StartingRig s;
    Rig& r = s.r;
    EXPECT_EQ(s.starter.describe(), "libvirtd (pid 812)");
    EXPECT_EQ(s.starter.start_time, 4242u);
    ASSERT_TRUE(s.detach_for_a());
    const DriverState held = r.state();
    ASSERT_NE(held, s.before);
    // No QEMU with the domain's -uuid yet, but its daemon lives: kept, said so.
    auto rec = s.recover();
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    EXPECT_EQ(r.state(), held);
    ASSERT_EQ(rec->warnings.size(), 1u);
    EXPECT_NE(rec->warnings[0].find("is being started by libvirtd (pid 812)"), std::string::npos) << rec->warnings[0];
    ASSERT_EQ(r.binder.status()->size(), 1u);
    EXPECT_EQ(r.binder.status()->at(0).starting, "libvirtd (pid 812)");
    // The PID now names another process (started later): the daemon is gone.
    fake_process(r.root, 812, "libvirtd", 9999);
    EXPECT_FALSE(journal::starter_alive(s.root, s.starter));
    EXPECT_FALSE(r.binder.status()->at(0).starting.has_value());
    ASSERT_TRUE(s.recover().ok());
    EXPECT_EQ(r.state(), s.before);
    EXPECT_TRUE(r.binder.status()->empty());
}

TEST(Binder, RecoverReturnsWhatADeadOrFinishedStarterLeft) {
    StartingRig s;
    Rig& r = s.r;
    // The daemon died mid-start (killed): no such process any more.
    ASSERT_TRUE(s.detach_for_a());
    fs::remove_all(r.root.path() / "proc/812");
    ASSERT_TRUE(s.recover().ok());
    EXPECT_EQ(r.state(), s.before);
    // The daemon lives, but libvirt called "started" (the QEMU ran, then died
    // with its release missed): the journal no longer names it, so recover returns.
    fake_process(r.root, 812, "libvirtd", 4242);
    ASSERT_TRUE(s.detach_for_a());
    ASSERT_TRUE(r.binder.launched(domain_owner(kUuidA, "a")).ok());
    EXPECT_FALSE(r.binder.status()->at(0).starting.has_value());
    ASSERT_TRUE(s.recover().ok());
    EXPECT_EQ(r.state(), s.before);
    // launched() without a journal, or for a manual detach: nothing, no error.
    EXPECT_TRUE(r.binder.launched(domain_owner(kUuidB, "b")).ok());
    // A manual detach never records a starter.
    ASSERT_TRUE(
        r.binder.detach(Owner::manual(), {DetachRequest{A("02:00.0"), std::nullopt, std::nullopt}}, s.starter).ok());
    auto dir = journal::Directory::open(s.root, r.binder.journal_dir(), journal::Directory::Create::No);
    ASSERT_TRUE(dir.ok());
    auto j = dir->read(Owner::manual());
    ASSERT_TRUE(j.ok() && j->has_value());
    EXPECT_FALSE((*j)->starting.has_value());
}

TEST(Binder, RunningDomainsAreFoundInsideTheRootOnly) {
    Rig r(kMini);
    const FsRoot root(r.root.path());
    const std::string cmd = std::string("qemu-system-x86_64") + '\0' + "-uuid" + '\0' + kUuidA + '\0';
    // A /proc that is a link out of the root to a directory with a QEMU for
    // domain A: inside the root it leads nowhere.
    FakeRoot other(kMini);
    fs::create_directories(other.path() / "elsewhere/4242");
    std::ofstream(other.path() / "elsewhere/4242/cmdline", std::ios::binary) << cmd;
    fs::remove_all(r.root.path() / "proc");
    fs::create_symlink(other.path() / "elsewhere", r.root.path() / "proc");
    EXPECT_FALSE(domain_running(root, domain_owner(kUuidA, "a")));
    // The same inside the root is found.
    fs::remove(r.root.path() / "proc");
    fs::create_directories(r.root.path() / "proc/4242");
    std::ofstream(r.root.path() / "proc/4242/cmdline", std::ios::binary) << cmd;
    EXPECT_TRUE(domain_running(root, domain_owner(kUuidA, "a")));
    EXPECT_TRUE(domain_running(root, Owner::manual()));
}

TEST(Binder, WhenVfioPciCannotBeLoadedNothingIsWrittenAndNoJournalKept) {
    // The simulated kernel, but modprobe fails (the module file is missing).
    struct NoModule final : KernelIo {
        SimulatedKernel& k;
        explicit NoModule(SimulatedKernel& kernel) : k(kernel) {}
        Status write(const fs::path& p, std::string_view v) override { return k.write(p, v); }
        Status load_module(std::string_view) override { return make_error("modprobe vfio-pci failed (exit 1)"); }
        Status unload_module(std::string_view m) override { return k.unload_module(m); }
        Status stop_unit(std::string_view u, std::chrono::milliseconds t) override { return k.stop_unit(u, t); }
        Status start_unit(std::string_view u, std::chrono::milliseconds t) override { return k.start_unit(u, t); }
    };
    Rig r(kMini);
    const DriverState before = r.state();
    fs::remove_all(r.root.path() / "sys/bus/pci/drivers/vfio-pci");
    NoModule io(r.kernel);
    Binder b(FsRoot(r.root.path()), io, fast());
    auto d = b.detach(domain_owner(kUuidA, "a"), {A("01:00.0")});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().message, "vfio-pci is not available: modprobe vfio-pci failed (exit 1); nothing changed");
    EXPECT_EQ(r.kernel.writes(), 0);
    EXPECT_EQ(r.state(), before);
    EXPECT_FALSE(r.journal_exists(kUuidA));
}
