// The binder's undo, write by write: for every write k of a detach, a failure
// at k, a hang at k and a kill after k followed by `recover` must be followed
// by exactly the undo writes of the completed steps, in reverse, path and
// value. The tables below spell each step's writes and undo writes by hand
// (from the README's step list), independently of the binder's own plan, so
// that a deleted, added or reordered undo write fails a test here even when
// the end state would come out right.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <set>

#include "binder_test_util.hpp"
#include "hostdev/binding/binder.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

// One detach step of one device as the simulated kernel logs its writes
// ("write PATH VALUE", a cleared driver_override shows an empty value).
struct StepWrites {
    std::string device;
    int step;
    std::vector<std::string> forward;
    std::vector<std::string> undo;
};

struct Case {
    const char* name;
    const char* spec;
    const char* requested;
    std::vector<StepWrites> steps;
    // Devices still (or again) on their original driver after a hang at step
    // N of theirs: the probe gave them back to it, or the unbind did nothing.
    std::set<std::pair<std::string, int>> bound_after_hang;
};

std::string ovr(const std::string& dev) { return "/sys/bus/pci/devices/" + dev + "/driver_override"; }
std::string drv(const std::string& name, const char* file) { return "/sys/bus/pci/drivers/" + name + "/" + file; }
const std::string kProbe = "/sys/bus/pci/drivers_probe";

StepWrites s1(const std::string& d, const std::string& original_override) {
    return {d, 1, {"write " + ovr(d) + " vfio-pci"}, {"write " + ovr(d) + " " + original_override}};
}
StepWrites s2(const std::string& d, const std::string& driver, const std::string& override_for_bind) {
    return {d,
            2,
            {"write " + drv(driver, "unbind") + " " + d},
            {"write " + ovr(d) + " " + override_for_bind, "write " + drv(driver, "bind") + " " + d}};
}
StepWrites s3(const std::string& d) {
    return {d, 3, {"write " + kProbe + " " + d}, {"write " + drv("vfio-pci", "unbind") + " " + d}};
}

// A group of three endpoints behind a root port: one on a driver, one on a
// driver with driver_override naming it, one unbound.
const Case kThree{"Three",
                  R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel override=snd_hda_intel
dev 01:00.2 10de:1ad8 0x0c0330 group=1
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
)",
                  "01:00.0",
                  {s1("0000:01:00.0", ""), s2("0000:01:00.0", "nouveau", ""), s3("0000:01:00.0"),
                   s1("0000:01:00.1", "snd_hda_intel"), s2("0000:01:00.1", "snd_hda_intel", "snd_hda_intel"),
                   s3("0000:01:00.1"), s1("0000:01:00.2", ""), s3("0000:01:00.2")},
                  {{"0000:01:00.0", 1}, {"0000:01:00.0", 2}, {"0000:01:00.1", 1}, {"0000:01:00.1", 2}}};

// Two: one on a driver whose driver_override names another (unloaded) driver,
// which the undo clears to bind the original and then puts back; one unbound
// with an override.
const Case kTwo{"Two",
                R"(
dev 00:1c.0 8086:a110 0x060400 group=6 driver=pcieport bus=02
dev 02:00.0 1b73:1100 0x0c0330 group=7 driver=xhci_hcd override=other
dev 02:00.1 1b73:1100 0x0c0330 group=7 override=foo
)",
                "02:00.0",
                {s1("0000:02:00.0", "other"), s2("0000:02:00.0", "xhci_hcd", ""), s3("0000:02:00.0"),
                 s1("0000:02:00.1", "foo"), s3("0000:02:00.1")},
                {{"0000:02:00.0", 2}}};

const Case* const kCases[] = {&kThree, &kTwo};

const char* kUuid = "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14";
Owner owner() { return *Owner::domain(kUuid, "vm"); }
PciAddress A(const char* s) { return *PciAddress::parse(s); }

BinderOptions fast() { return hostdev::testing::fast_binder_options(std::chrono::milliseconds(200)); }

std::vector<std::string> forward(const Case& c) {
    std::vector<std::string> out;
    for (const auto& s : c.steps) out.insert(out.end(), s.forward.begin(), s.forward.end());
    return out;
}

// The step of the k-th forward write (1-based).
std::size_t step_of_write(const Case& c, int k) {
    int n = 0;
    for (std::size_t i = 0; i < c.steps.size(); ++i) {
        n += static_cast<int>(c.steps[i].forward.size());
        if (k <= n) return i;
    }
    throw std::out_of_range("no write " + std::to_string(k));
}

// The undo writes of steps [0, end) in reverse, skipping the ones `skip` says.
std::vector<std::string> undo_of(
    const Case& c, std::size_t end, const std::function<bool(std::size_t)>& skip = [](std::size_t) { return false; }) {
    std::vector<std::string> out;
    for (std::size_t i = end; i-- > 0;)
        if (!skip(i)) out.insert(out.end(), c.steps[i].undo.begin(), c.steps[i].undo.end());
    return out;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::string show(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += "  " + l + "\n";
    return s;
}

struct Rig {
    FakeRoot root;
    SimulatedKernel kernel;
    Binder binder;
    explicit Rig(const Case& c)
        : root(c.spec), kernel(root.path(), root.spec()), binder(FsRoot(root.path()), kernel, fast()) {}
    DriverState state() const { return capture_driver_state(root.path()); }
    bool journal_exists() const { return fs::exists(root.path() / "run/hostdev" / (std::string(kUuid) + ".json")); }
};

enum class Kind { Fail, Hang, Kill };
struct Param {
    const Case* c;
    Kind kind;
    int k;
};

std::vector<Param> every_write() {
    std::vector<Param> out;
    for (const Case* c : kCases)
        for (Kind kind : {Kind::Fail, Kind::Hang, Kind::Kill})
            for (int k = 1; k <= static_cast<int>(forward(*c).size()); ++k) out.push_back({c, kind, k});
    return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& p) {
    const char* kind = p.param.kind == Kind::Fail ? "FailAt" : p.param.kind == Kind::Hang ? "HangAt" : "KillAfter";
    return std::string(p.param.c->name) + "_" + kind + std::to_string(p.param.k);
}

void PrintTo(const Param& p, std::ostream* os) { *os << param_name(::testing::TestParamInfo<Param>(p, 0)); }

class RollbackSequence : public ::testing::TestWithParam<Param> {};

}  // namespace

TEST(RollbackTables, ACleanDetachWritesExactlyTheForwardWritesOfTheTable) {
    for (const Case* c : kCases) {
        SCOPED_TRACE(c->name);
        Rig r(*c);
        auto plan = r.binder.plan_detach({A(c->requested)});
        ASSERT_TRUE(plan.ok()) << plan.error().describe();
        ASSERT_TRUE(r.binder.detach(owner(), {A(c->requested)}).ok());
        EXPECT_EQ(r.kernel.log(), forward(*c)) << show(r.kernel.log());
        EXPECT_EQ(plan->size(), forward(*c).size());  // --dry-run: the same writes
    }
}

// Failure at write k: the failed write had no effect, so the steps before it
// are undone, and nothing else is written. A failed probe is not a failure
// of its step (vfio-pci/bind is its fallback): both fail here.
TEST_P(RollbackSequence, WritesExactlyTheUndoOfTheCompletedStepsInReverse) {
    const Case& c = *GetParam().c;
    const int k = GetParam().k;
    const auto fwd = forward(c);
    const std::size_t step = step_of_write(c, k);
    const StepWrites& failing = c.steps[step];
    if (GetParam().kind == Kind::Kill) {
        // Killed after write k (which landed): recover undoes its step and every one before.
        FakeRoot root(c.spec);
        const DriverState before = capture_driver_state(root.path());
        ASSERT_TRUE(hostdev::testing::detach_killed_after_write(root, k, owner(), {A(c.requested)}, fast()));
        SimulatedKernel kernel(root.path(), root.spec());
        Binder b(FsRoot(root.path()), kernel, fast());
        auto rec = b.recover([](const Owner&) { return false; });
        ASSERT_TRUE(rec.ok()) << rec.error().describe();
        const auto want = undo_of(c, step + 1);
        EXPECT_EQ(kernel.log(), want) << "recover wrote:\n" << show(kernel.log()) << "wanted:\n" << show(want);
        EXPECT_EQ(capture_driver_state(root.path()), before) << before.diff(capture_driver_state(root.path()));
        EXPECT_TRUE(b.status()->empty());
        for (const auto& w : rec->warnings) EXPECT_EQ(w.find("final restore"), std::string::npos) << w;
        return;
    }
    Rig r(c);
    const DriverState before = r.state();
    std::vector<std::string> want(fwd.begin(), fwd.begin() + k);
    if (GetParam().kind == Kind::Fail) {
        r.kernel.fail_write(k, EIO);
        if (failing.step == 3) {
            r.kernel.fail_write(k + 1, EIO);
            want.push_back("write " + drv("vfio-pci", "bind") + " " + failing.device);
        }
        want = concat(want, undo_of(c, step));
    } else {
        // Hung at write k (no effect, no error): the device's remaining writes
        // run, its wait fails, and the undo writes of steps that left nothing
        // to undo are skipped: the unbind from vfio-pci of a device that never
        // got there, the rebind of one still on its driver.
        r.kernel.hang_write(k);
        std::size_t last = step;
        while (last + 1 < c.steps.size() && c.steps[last + 1].device == failing.device) ++last;
        int through = 0;
        for (std::size_t i = 0; i <= last; ++i) through += static_cast<int>(c.steps[i].forward.size());
        want.assign(fwd.begin(), fwd.begin() + through);
        const bool bound = c.bound_after_hang.count({failing.device, failing.step}) != 0;
        want = concat(want, undo_of(c, last + 1, [&](std::size_t i) {
                          const StepWrites& s = c.steps[i];
                          return s.device == failing.device && (s.step == 3 || (s.step == 2 && bound));
                      }));
    }
    auto d = r.binder.detach(owner(), {A(c.requested)});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(r.kernel.log(), want) << "wrote:\n" << show(r.kernel.log()) << "wanted:\n" << show(want);
    EXPECT_NE(d.error().message.find("rolled back: every device is on its original driver"), std::string::npos)
        << d.error().describe();
    EXPECT_EQ(d.error().message.find("final restore"), std::string::npos) << d.error().describe();
    EXPECT_EQ(r.state(), before) << before.diff(r.state());
    EXPECT_FALSE(r.journal_exists());
}

INSTANTIATE_TEST_SUITE_P(EveryWrite, RollbackSequence, ::testing::ValuesIn(every_write()), param_name);

TEST(RollbackSequence, AFailedProbeAloneIsAbsorbedByBindingVfioPci) {
    for (const Case* c : kCases) {
        const auto fwd = forward(*c);
        for (int k = 1; k <= static_cast<int>(fwd.size()); ++k) {
            const StepWrites& s = c->steps[step_of_write(*c, k)];
            if (s.step != 3) continue;
            SCOPED_TRACE(std::string(c->name) + " probe at write " + std::to_string(k));
            Rig r(*c);
            r.kernel.fail_write(k, EIO);
            auto d = r.binder.detach(owner(), {A(c->requested)});
            ASSERT_TRUE(d.ok()) << d.error().describe();
            auto want = fwd;
            want.insert(want.begin() + k, "write " + drv("vfio-pci", "bind") + " " + s.device);
            EXPECT_EQ(r.kernel.log(), want) << show(r.kernel.log());
            ASSERT_FALSE(d->warnings.empty());
            EXPECT_NE(d->warnings[0].find("bind to vfio-pci instead"), std::string::npos) << d->warnings[0];
        }
    }
}

// The safety net is its own event: when an undo write fails (here the rebind
// of 01:00.0 and its probe fallback), one restore through the reattach path
// follows, named as a warning in the error.
TEST(RollbackSequence, AFailedUndoIsFollowedByOneLoggedFinalRestore) {
    Rig r(kThree);
    const DriverState before = r.state();
    // Write 3 is 01:00.0's probe, 4 its fallback: step 3 fails. The undo of
    // step 2 then writes the override (5) and the bind (6, fails), whose
    // fallback probe (7) fails too.
    for (int k : {3, 4, 6, 7}) r.kernel.fail_write(k, EIO);
    auto d = r.binder.detach(owner(), {A("01:00.0")});
    ASSERT_FALSE(d.ok());
    const std::string msg = d.error().message;
    EXPECT_NE(msg.find("rolled back: every device is on its original driver"), std::string::npos) << msg;
    EXPECT_NE(msg.find("0000:01:00.0: final restore: 0000:01:00.0: undo step 2 (probe)"), std::string::npos) << msg;
    const std::vector<std::string> log(r.kernel.log().begin() + 7, r.kernel.log().end());
    EXPECT_EQ(log, (std::vector<std::string>{"write " + drv("nouveau", "bind") + " 0000:01:00.0"})) << show(log);
    EXPECT_EQ(r.state(), before) << before.diff(r.state());
    EXPECT_FALSE(r.journal_exists());
}

TEST(RollbackSequence, AFinalRestoreThatFailsKeepsTheJournalForRecover) {
    Rig r(kThree);
    const DriverState before = r.state();
    // As above, and the final restore's bind (8) and its probe (9) fail too.
    for (int k : {3, 4, 6, 7, 8, 9}) r.kernel.fail_write(k, EIO);
    auto d = r.binder.detach(owner(), {A("01:00.0")});
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("ROLLBACK INCOMPLETE"), std::string::npos) << d.error().describe();
    EXPECT_NE(d.error().message.find("0000:01:00.0: not restored"), std::string::npos) << d.error().describe();
    EXPECT_TRUE(r.journal_exists());
    auto st = r.binder.status();
    ASSERT_TRUE(st.ok());
    ASSERT_EQ(st->size(), 1u);
    EXPECT_EQ((*st)[0].state, "rolling-back");
    // recover continues from the journal: steps 2 and 1 of 01:00.0 are still to undo.
    const std::size_t w = r.kernel.log().size();
    ASSERT_TRUE(r.binder.recover([](const Owner&) { return false; }).ok());
    const std::vector<std::string> log(r.kernel.log().begin() + static_cast<long>(w), r.kernel.log().end());
    EXPECT_EQ(log, concat(kThree.steps[1].undo, kThree.steps[0].undo)) << show(log);
    EXPECT_EQ(r.state(), before) << before.diff(r.state());
    EXPECT_FALSE(r.journal_exists());
}

namespace {

// A detach of kThree killed after write k; the root is left as the kill left it.
void killed_after(const FakeRoot& root, int k) {
    ASSERT_TRUE(hostdev::testing::detach_killed_after_write(root, k, owner(), {A(kThree.requested)}, fast()));
}

}  // namespace

// libvirt runs release after a start that failed: reattach of a journal whose
// detach did not finish unwinds it from its steps, as recover does.
TEST(RollbackSequence, ReleaseAfterAnInterruptedDetachUnwindsItsSteps) {
    FakeRoot root(kThree.spec);
    const DriverState before = capture_driver_state(root.path());
    killed_after(root, 5);  // 01:00.0 done, 01:00.1 after step 2
    SimulatedKernel kernel(root.path(), root.spec());
    Binder b(FsRoot(root.path()), kernel, fast());
    ASSERT_TRUE(b.reattach(owner()).ok());
    EXPECT_EQ(kernel.log(), undo_of(kThree, 5)) << show(kernel.log());
    EXPECT_EQ(capture_driver_state(root.path()), before);
    EXPECT_TRUE(b.status()->empty());
}

// The same domain starting again after a kill: the interrupted detach is
// unwound first, then the whole plan runs from the restored originals.
TEST(RollbackSequence, ADetachAfterAnInterruptedOneUnwindsItFirst) {
    FakeRoot root(kThree.spec);
    killed_after(root, 4);  // 01:00.0 done, 01:00.1 after step 1
    SimulatedKernel kernel(root.path(), root.spec());
    Binder b(FsRoot(root.path()), kernel, fast());
    auto d = b.detach(owner(), {A(kThree.requested)});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    EXPECT_EQ(kernel.log(), concat(undo_of(kThree, 4), forward(kThree))) << show(kernel.log());
    // The journal records the originals, not the half-detached state.
    auto st = b.status();
    ASSERT_TRUE(st.ok());
    ASSERT_EQ(st->size(), 1u);
    ASSERT_EQ((*st)[0].devices.size(), 3u);
    EXPECT_EQ((*st)[0].devices[0].original_driver, "nouveau");
    EXPECT_EQ((*st)[0].devices[1].original_driver, "snd_hda_intel");
    EXPECT_EQ((*st)[0].state, "detached");
}
