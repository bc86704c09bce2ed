// VFIO variant drivers: the modules.alias and modalias facts, the one choice
// of a device's VFIO driver (policy/vfio_driver.hpp), and the binder, the
// journal, the hook and boot-config following it. Each test builds its own
// fake root; modules.alias and modalias are in the kernel's own format.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "hostdev/binding/binder.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/binding/hook.hpp"
#include "hostdev/binding/journal.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/policy/vfio_driver.hpp"
#include "hostdev/setup/bootconfig.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

PciAddress A(const char* s) { return *PciAddress::parse(s); }

// A ConnectX-6 Dx PF with one VF (15b3:101e, subsystem 15b3:0062), and an
// Intel NIC no variant driver knows.
std::string spec(const std::string& libvirt, const std::string& extra_aliases = "") {
    return "host release=6.8.0-45-generic" + (libvirt.empty() ? std::string() : " libvirt=" + libvirt) + R"(
alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci
alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
)" + extra_aliases +
           R"(
dev 00:1c.0 8086:a110 0x060400 group=6 driver=pcieport bus=01
dev 01:00.0 15b3:101d 0x020000 group=7 driver=mlx5_core subsys=15b3:0062
dev 01:00.1 15b3:101e 0x020000 group=8 driver=mlx5_core subsys=15b3:0062 physfn=01:00.0
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e
)";
}

Host read(const FakeRoot& r) {
    ReadOptions o;
    o.names = ReadOptions::Names::Skip;
    auto h = read_host(FsRoot(r.path()), o);
    if (!h) throw std::runtime_error(h.error().describe());
    return *h;
}

BinderOptions fast(VariantMode mode = VariantMode::Auto) {
    BinderOptions o;
    o.wait_timeout = 300ms;
    o.poll_interval = 2ms;
    o.lock_timeout = 20000ms;
    o.vfio_variants = mode;
    return o;
}

struct Rig {
    FakeRoot root;
    SimulatedKernel kernel;
    Binder binder;
    explicit Rig(const std::string& s, BinderOptions o = fast())
        : root(s), kernel(root.path(), root.spec()), binder(FsRoot(root.path()), kernel, std::move(o)) {}
    DriverState state() const { return capture_driver_state(root.path()); }
};

const char* kUuid = "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14";
Owner owner() { return *Owner::domain(kUuid, "vm"); }

std::string ovr(const std::string& dev) { return "/sys/bus/pci/devices/" + dev + "/driver_override"; }
std::string drv(const std::string& name, const char* file) { return "/sys/bus/pci/drivers/" + name + "/" + file; }

}  // namespace

// ---------------------------------------------------------------- parsers

TEST(VfioVariantParse, AliasLinesOfModulesAliasInFileOrder) {
    auto a = parse::vfio_pci_aliases(
        "# Aliases extracted from modules themselves.\n"
        "alias pci:v00008086d000015B8sv*sd*bc*sc*i* e1000e\n"
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
        "alias vfio_pci:v000019E5d0000A256sv*sd*bc*sc*i* hisi_acc_vfio_pci\n"
        "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n");
    ASSERT_EQ(a.vfio_pci.size(), 3u);
    EXPECT_EQ(a.vfio_pci[0].pattern, "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*");
    EXPECT_EQ(a.vfio_pci[0].module, "mlx5_vfio_pci");
    EXPECT_EQ(a.vfio_pci[1].module, "hisi_acc_vfio_pci");
    EXPECT_EQ(a.vfio_pci[2].module, "vfio_pci");
    EXPECT_TRUE(a.skipped.empty());
}

TEST(VfioVariantParse, MalformedAliasLinesAreSkippedAndNamed) {
    auto a = parse::vfio_pci_aliases(
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*\n"               // no module
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5 extra\n"    // extra word
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5/../x\n"     // not a module name
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* pds-vfio-pci\n"  // dashes: the kernel's name
        "alias vfio_pci:v\xff d\n");                                      // bytes no modalias holds
    ASSERT_EQ(a.vfio_pci.size(), 1u);
    EXPECT_EQ(a.vfio_pci[0].module, "pds_vfio_pci");
    ASSERT_EQ(a.skipped.size(), 4u);
    EXPECT_EQ(a.skipped[0].rfind("line 1: ", 0), 0u) << a.skipped[0];
    EXPECT_EQ(a.skipped[3].rfind("line 5: ", 0), 0u) << a.skipped[3];
}

TEST(VfioVariantParse, AliasGlobAsModprobeMatches) {
    const std::string ma = "vfio_pci:v000015B3d0000101Esv000015B3sd00000062bc02sc00i00";
    EXPECT_TRUE(parse::alias_matches("vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*", ma));
    EXPECT_TRUE(parse::alias_matches("vfio_pci:v*d*sv*sd*bc*sc*i*", ma));
    EXPECT_TRUE(parse::alias_matches("vfio_pci:v000015B3d0000101Esv000015B3sd00000062bc*sc*i*", ma));
    EXPECT_FALSE(parse::alias_matches("vfio_pci:v000015B3d0000101Dsv*sd*bc*sc*i*", ma));
    EXPECT_FALSE(parse::alias_matches("vfio_pci:v000015B3d0000101Esv000010DEsd*bc*sc*i*", ma));
    EXPECT_TRUE(parse::alias_matches("vfio_pci:v000015B3d0000101[DE]sv*", ma));
    EXPECT_FALSE(parse::alias_matches("vfio_pci:v000015B3d0000101[!E]sv*", ma));
    EXPECT_TRUE(parse::alias_matches("vfio_pci:v000015B3d0000101?sv*", ma));
    EXPECT_FALSE(parse::alias_matches("pci:v000015B3*", ma));
}

TEST(VfioVariantParse, LibvirtVersionFromItsLibraryFileName) {
    auto v = parse::libvirt_soname_version("libvirt.so.0.9000.0");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 9u);
    EXPECT_EQ(v->minor, 0u);
    EXPECT_EQ(v->micro, 0u);
    v = parse::libvirt_soname_version("libvirt.so.0.10010.2");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 10u);
    EXPECT_EQ(v->minor, 10u);
    EXPECT_EQ(v->micro, 2u);
    EXPECT_FALSE(parse::libvirt_soname_version("libvirt.so.0"));
    EXPECT_FALSE(parse::libvirt_soname_version("libvirt-qemu.so.0.9000.0"));
    EXPECT_FALSE(parse::libvirt_soname_version("libvirt.so.0.9000.0.debug"));
    auto pc = parse::pkgconfig_version("prefix=/usr\nName: libvirt\nVersion: 10.0.0\n");
    ASSERT_TRUE(pc);
    EXPECT_EQ(pc->major, 10u);
    EXPECT_FALSE(parse::pkgconfig_version("Version: ten\n"));
}

// ---------------------------------------------------------------- host facts

TEST(VfioVariantFacts, ReaderFindsModaliasAliasesAndLibvirt) {
    FakeRoot r(spec("9.0.0"));
    const Host h = read(r);
    const PciDevice* vf = h.find(A("01:00.1"));
    ASSERT_TRUE(vf);
    EXPECT_EQ(vf->modalias, "pci:v000015B3d0000101Esv000015B3sd00000062bc02sc00i00");
    ASSERT_TRUE(h.vfio_variant_aliases);
    ASSERT_EQ(h.vfio_variant_aliases->size(), 2u);
    EXPECT_EQ((*h.vfio_variant_aliases)[0].module, "mlx5_vfio_pci");
    ASSERT_TRUE(h.libvirt_version);
    EXPECT_EQ(h.libvirt_version->str(), "9.0.0");
}

TEST(VfioVariantFacts, MissingFilesAreUnknownAndMalformedLinesWarn) {
    FakeRoot bare("host release=6.1.0-18-amd64\ndev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e modalias=none\n");
    Host h = read(bare);
    EXPECT_FALSE(h.vfio_variant_aliases);
    EXPECT_FALSE(h.libvirt_version);
    EXPECT_FALSE(h.devices[0].modalias);

    FakeRoot bad(spec("10.0.0", "alias vfio_pci:v000010DEd*sv*sd*bc03sc*i*\n"));
    h = read(bad);
    ASSERT_TRUE(h.vfio_variant_aliases);
    EXPECT_EQ(h.vfio_variant_aliases->size(), 2u);
    const bool warned = std::any_of(h.warnings.begin(), h.warnings.end(), [](const std::string& w) {
        return w.find("/lib/modules/6.8.0-45-generic/modules.alias: line 5: ") == 0;
    });
    EXPECT_TRUE(warned) << ::testing::PrintToString(h.warnings);
}

TEST(VfioVariantFacts, SnapshotKeepsThemAndOldSnapshotsReadAsUnknown) {
    FakeRoot r(spec("10.1.0") +
               "dev 02:00.0 10de:1eb8 0x030200 group=9 driver=nvidia mdev=yes\n"
               "dev 03:00.4 10de:27b8 0x030200 group=10 driver=nvidia vgpu=557\n");
    const Host h = read(r);
    const std::string text = write_snapshot(h);
    auto back = parse_snapshot(text, "snap.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->vfio_variant_aliases, h.vfio_variant_aliases);
    ASSERT_TRUE(back->libvirt_version);
    EXPECT_EQ(back->libvirt_version->str(), "10.1.0");
    EXPECT_EQ(back->find(A("01:00.1"))->modalias, h.find(A("01:00.1"))->modalias);
    EXPECT_TRUE(back->find(A("02:00.0"))->mdev_parent);
    EXPECT_EQ(back->find(A("03:00.4"))->vgpu_type, 557u);
    EXPECT_EQ(write_snapshot(*back), text);

    auto old = parse_snapshot(R"({"format": "hostdev-snapshot", "version": 1, "iommu": {"present": true},
        "devices": [{"address": "0000:01:00.1", "vendor": "15b3", "device": "101e", "class": "0x020000"}]})",
                              "old.json");
    ASSERT_TRUE(old.ok()) << old.error().describe();
    EXPECT_FALSE(old->vfio_variant_aliases);
    EXPECT_FALSE(old->libvirt_version);
    EXPECT_FALSE(old->devices[0].modalias);
    EXPECT_FALSE(old->devices[0].mdev_parent);

    auto bad = parse_snapshot(R"({"format": "hostdev-snapshot", "version": 1, "iommu": {"present": true},
        "setup": {"libvirt_version": "ten"}, "devices": []})",
                              "bad.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().describe().find("libvirt_version"), std::string::npos) << bad.error().describe();
}

// ---------------------------------------------------------------- the choice

TEST(VfioDriverChoice, ExactDeviceAliasBeatsTheGenericOne) {
    FakeRoot r(spec("10.0.0"));
    const Host h = read(r);
    auto v = best_vfio_variant(*h.find(A("01:00.1")), h);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->module, "mlx5_vfio_pci");
    // Only vfio_pci's catch-all matches the Intel NIC: no variant.
    EXPECT_FALSE(best_vfio_variant(*h.find(A("00:1f.6")), h));
    const auto c = choose_vfio_driver(*h.find(A("00:1f.6")), std::nullopt, h, VariantMode::Auto);
    EXPECT_EQ(c.driver, "vfio-pci");
    EXPECT_NE(c.reason.find("no VFIO variant driver"), std::string::npos) << c.reason;
}

TEST(VfioDriverChoice, SeveralCandidatesTheFewestWildcardsWins) {
    // A subsystem-specific alias (fewer '*') beats the device-only one,
    // whichever comes first; a wildcard-subsystem alias of another device does not match.
    FakeRoot r(spec("10.0.0",
                    "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000062bc*sc*i* acme_vfio_pci\n"
                    "alias vfio_pci:v000015B3d0000101Fsv*sd*bc*sc*i* other_vfio_pci\n"));
    const Host h = read(r);
    auto v = best_vfio_variant(*h.find(A("01:00.1")), h);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->module, "acme_vfio_pci");
    // The same two with equal wildcards: the first line of modules.alias.
    FakeRoot tie(spec("10.0.0", "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* later_vfio_pci\n"));
    const Host t = read(tie);
    EXPECT_EQ(best_vfio_variant(*t.find(A("01:00.1")), t)->module, "mlx5_vfio_pci");
}

TEST(VfioDriverChoice, DriverModelForcesAVariantOrVfioPci) {
    FakeRoot r(spec("10.0.0"));
    const Host h = read(r);
    const PciDevice& vf = *h.find(A("01:00.1"));
    EXPECT_EQ(choose_vfio_driver(vf, std::string("vfio-pci"), h, VariantMode::Auto).driver, "vfio-pci");
    EXPECT_EQ(choose_vfio_driver(vf, std::string("vfio-pci"), h, VariantMode::Yes).driver, "vfio-pci");
    const PciDevice& intel = *h.find(A("00:1f.6"));
    const auto c = choose_vfio_driver(intel, std::string("igb_vfio_pci"), h, VariantMode::Auto);
    EXPECT_EQ(c.driver, "igb_vfio_pci");
    EXPECT_NE(c.reason.find("<driver model='igb_vfio_pci'/>"), std::string::npos) << c.reason;
}

TEST(VfioDriverChoice, LibvirtOldNewUnknownTimesModes) {
    struct Case {
        const char* libvirt;  // "" = no library: unknown
        VariantMode mode;
        const char* automatic;  // no <driver model>
        const char* modeled;    // <driver model='mlx5_vfio_pci'/> on the Intel NIC... on the VF
        const char* reason;     // in the automatic choice's reason
    };
    const Case cases[] = {
        {"9.0.0", VariantMode::Auto, "vfio-pci", "vfio-pci", "libvirt 9.0.0 binds vfio-pci"},
        {"10.0.0", VariantMode::Auto, "mlx5_vfio_pci", "acme_vfio_pci", "as libvirt 10.0.0 chooses"},
        {"", VariantMode::Auto, "vfio-pci", "acme_vfio_pci", "version is unknown"},
        {"9.0.0", VariantMode::Yes, "mlx5_vfio_pci", "acme_vfio_pci", "vfio_variant_drivers = yes"},
        {"10.0.0", VariantMode::Yes, "mlx5_vfio_pci", "acme_vfio_pci", "vfio_variant_drivers = yes"},
        {"", VariantMode::Yes, "mlx5_vfio_pci", "acme_vfio_pci", "vfio_variant_drivers = yes"},
        {"9.0.0", VariantMode::No, "vfio-pci", "vfio-pci", "vfio_variant_drivers = no"},
        {"10.0.0", VariantMode::No, "vfio-pci", "vfio-pci", "vfio_variant_drivers = no"},
        {"", VariantMode::No, "vfio-pci", "vfio-pci", "vfio_variant_drivers = no"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string(c.libvirt) + " " + std::string(to_string(c.mode)));
        FakeRoot r(spec(c.libvirt));
        const Host h = read(r);
        const PciDevice& vf = *h.find(A("01:00.1"));
        const auto a = choose_vfio_driver(vf, std::nullopt, h, c.mode);
        EXPECT_EQ(a.driver, c.automatic);
        EXPECT_NE(a.reason.find(c.reason), std::string::npos) << a.reason;
        EXPECT_EQ(a.reason.rfind("0000:01:00.1: ", 0), 0u) << a.reason;
        EXPECT_EQ(choose_vfio_driver(vf, std::string("acme_vfio_pci"), h, c.mode).driver, c.modeled);
    }
}

TEST(VfioDriverChoice, WhatCountsAsAVfioDriver) {
    FakeRoot r(spec("10.0.0", "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio\n"));
    const Host h = read(r);
    for (const char* d : {"vfio-pci", "vfio_pci", "mlx5_vfio_pci", "pds-vfio-pci", "nvgrace_gpu_vfio_pci"})
        EXPECT_TRUE(is_vfio_driver(d, h)) << d;
    EXPECT_TRUE(is_vfio_driver("virtio_vfio", h));  // named by an alias of this kernel
    EXPECT_FALSE(is_vfio_driver("virtio_vfio"));
    for (const char* d : {"mlx5_core", "vfio", "nouveau", "xvfio_pcix"}) EXPECT_FALSE(is_vfio_driver(d, h)) << d;
}

// ---------------------------------------------------------------- binder

TEST(VfioVariantBinder, DetachToTheVariantWritesEachStepOnceAndReattachRestores) {
    Rig r(spec("10.0.0"));
    const DriverState before = r.state();
    auto plan = r.binder.plan_detach(std::vector<PciAddress>{A("01:00.1")}, owner());
    ASSERT_TRUE(plan.ok()) << plan.error().describe();
    ASSERT_FALSE(plan->empty());
    EXPECT_EQ((*plan)[0].step, 0);
    EXPECT_EQ((*plan)[0].value, "mlx5_vfio_pci");  // its module is loaded first
    EXPECT_EQ((*plan)[1].value, "mlx5_vfio_pci");  // driver_override

    auto d = r.binder.detach(owner(), {A("01:00.1")});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    const std::string a = "0000:01:00.1";
    const std::vector<std::string> want = {"write " + ovr(a) + " mlx5_vfio_pci",
                                           "write " + drv("mlx5_core", "unbind") + " " + a,
                                           "write /sys/bus/pci/drivers_probe " + a};
    EXPECT_EQ(r.kernel.log(), want);
    const DriverState mid = r.state();
    EXPECT_EQ(mid.devices.at(A("01:00.1")).driver, "mlx5_vfio_pci");
    EXPECT_TRUE(mid.vfio_groups.count(8));
    ASSERT_EQ(d->devices.size(), 1u);
    EXPECT_EQ(d->devices[0].to, "mlx5_vfio_pci");
    // The journal records the driver used.
    auto dir =
        journal::Directory::open(FsRoot(r.root.path()), r.root.path() / "run/hostdev", journal::Directory::Create::No);
    ASSERT_TRUE(dir.ok());
    auto j = dir->read(owner());
    ASSERT_TRUE(j.ok() && *j);
    EXPECT_EQ((*j)->devices.at(0).vfio_driver, "mlx5_vfio_pci");

    ASSERT_TRUE(r.binder.reattach(owner()).ok());
    const std::vector<std::string> back = {"write " + ovr(a) + " ", "write " + drv("mlx5_vfio_pci", "unbind") + " " + a,
                                           "write " + drv("mlx5_core", "bind") + " " + a};
    EXPECT_EQ(std::vector<std::string>(r.kernel.log().begin() + 3, r.kernel.log().end()), back);
    EXPECT_EQ(r.state(), before) << before.diff(r.state());
}

TEST(VfioVariantBinder, RollbackAtAFailedWriteUndoesEachStepInReverse) {
    Rig r(spec("10.0.0"));
    const DriverState before = r.state();
    r.kernel.fail_write(3, EIO);  // the probe
    r.kernel.fail_write(4, EIO);  // its fallback, the variant's own bind
    auto d = r.binder.detach(owner(), {A("01:00.1")});
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().describe().find("rolled back"), std::string::npos) << d.error().describe();
    const std::string a = "0000:01:00.1";
    const std::vector<std::string> want = {"write " + ovr(a) + " mlx5_vfio_pci",
                                           "write " + drv("mlx5_core", "unbind") + " " + a,
                                           "write /sys/bus/pci/drivers_probe " + a,
                                           "write " + drv("mlx5_vfio_pci", "bind") + " " + a,
                                           "write " + ovr(a) + " ",
                                           "write " + drv("mlx5_core", "bind") + " " + a,
                                           "write " + ovr(a) + " "};
    EXPECT_EQ(r.kernel.log(), want);
    EXPECT_EQ(r.state(), before) << before.diff(r.state());
}

TEST(VfioVariantBinder, ModeNoAndDriverModelVfioPciBindVfioPci) {
    Rig no(spec("10.0.0"), fast(VariantMode::No));
    ASSERT_TRUE(no.binder.detach(owner(), {A("01:00.1")}).ok());
    EXPECT_EQ(no.state().devices.at(A("01:00.1")).driver, "vfio-pci");

    Rig forced(spec("10.0.0"));
    ASSERT_TRUE(forced.binder.detach(owner(), std::vector<DetachRequest>{{A("01:00.1"), "vfio-pci"}}).ok());
    EXPECT_EQ(forced.state().devices.at(A("01:00.1")).driver, "vfio-pci");
}

TEST(VfioVariantBinder, ADeviceAlreadyOnAVariantIsLeftAlone) {
    Rig r(
        "host release=6.8.0-45-generic libvirt=10.0.0\n"
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
        "dev 01:00.1 15b3:101e 0x020000 group=8 driver=mlx5_vfio_pci subsys=15b3:0062\n");
    auto d = r.binder.detach(owner(), std::vector<DetachRequest>{{A("01:00.1"), "vfio-pci"}});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    EXPECT_TRUE(r.kernel.log().empty());
    ASSERT_EQ(d->devices.size(), 1u);
    EXPECT_EQ(d->devices[0].note, "already on mlx5_vfio_pci; not recorded");
}

TEST(VfioVariantBinder, RequestsKeepEachDevicesDriverModel) {
    PassthroughDevice a, b, c;
    a.source = A("02:00.0");
    b.source = A("01:00.1");
    b.driver_model = "mlx5_vfio_pci";
    c.source = A("01:00.1");  // named twice: the first element's model
    auto r = detach_requests({a, b, c});
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].device, A("01:00.1"));
    EXPECT_EQ(r[0].driver_model, "mlx5_vfio_pci");
    EXPECT_FALSE(r[1].driver_model);
}

// ---------------------------------------------------------------- journal

TEST(VfioVariantJournal, RoundTripWithTheDriverAndOldJournalsRead) {
    journal::Journal j{owner(), std::string(journal::kDetached), {}, std::nullopt};
    j.devices.push_back({A("01:00.1"),
                         8,
                         std::string("mlx5_core"),
                         std::nullopt,
                         {1, 2, 3},
                         std::nullopt,
                         false,
                         std::string("mlx5_vfio_pci")});
    const std::string text = journal::serialize(j);
    EXPECT_NE(text.find("\"vfio_driver\": \"mlx5_vfio_pci\""), std::string::npos) << text;
    auto back = journal::parse(text, "j.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->devices.at(0).vfio_driver, "mlx5_vfio_pci");

    // A journal from before the key: vfio-pci.
    std::string old = text;
    old.erase(old.find("\"vfio_driver\""), std::string("\"vfio_driver\": \"mlx5_vfio_pci\",").size());
    auto o = journal::parse(old, "old.json");
    ASSERT_TRUE(o.ok()) << o.error().describe() << "\n" << old;
    EXPECT_FALSE(o->devices.at(0).vfio_driver);

    std::string bad = text;
    bad.replace(bad.find("mlx5_vfio_pci"), 13, "../x");
    auto b = journal::parse(bad, "bad.json");
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().describe().find("vfio_driver"), std::string::npos) << b.error().describe();
}

// ---------------------------------------------------------------- hook, config, boot-config

TEST(VfioVariantHook, PrepareFollowsTheDomainsDriverModel) {
    FakeRoot root(spec("10.0.0"));
    SimulatedKernel kernel(root.path(), root.spec());
    Config c;
    c.root = root.path();
    c.wait_timeout = 2000ms;
    c.lock_timeout = 2000ms;
    const std::string xml = std::string(R"(<domain type='kvm'><name>vm</name><uuid>)") + kUuid + R"(</uuid>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver model='vfio-pci'/>
      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>
    </hostdev>
  </devices>
</domain>)";
    auto r = run_hook({"vm", "prepare", "begin", "-"}, xml, c, kernel);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    EXPECT_EQ(capture_driver_state(root.path()).devices.at(A("01:00.1")).driver, "vfio-pci");
    // Without the model, libvirt 10 would bind the variant, and so does the hook.
    FakeRoot root2(spec("10.0.0"));
    SimulatedKernel kernel2(root2.path(), root2.spec());
    c.root = root2.path();
    std::string plain = xml;
    plain.erase(plain.find("<driver model='vfio-pci'/>"), std::string("<driver model='vfio-pci'/>").size());
    r = run_hook({"vm", "prepare", "begin", "-"}, plain, c, kernel2);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    EXPECT_EQ(capture_driver_state(root2.path()).devices.at(A("01:00.1")).driver, "mlx5_vfio_pci");
}

TEST(VfioVariantConfig, ModeKey) {
    auto c = parse_config("vfio_variant_drivers = no\n", "hostdev.conf");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->vfio_variant_drivers, VariantMode::No);
    EXPECT_EQ(parse_config("", "hostdev.conf")->vfio_variant_drivers, VariantMode::Auto);
    auto bad = parse_config("vfio_variant_drivers = maybe\n", "hostdev.conf");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().describe().find("hostdev.conf:1"), std::string::npos) << bad.error().describe();
}

TEST(VfioVariantBootConfig, AVariantDeviceIsLeftToTheHookWithANote) {
    FakeRoot r(spec("10.0.0"));
    const Host h = read(r);
    BootConfigInput in;
    in.source = "command line";
    PassthroughDevice vf, nic;
    vf.source = A("01:00.1");
    nic.source = A("00:1f.6");
    in.domain.passthrough = {vf, nic};
    const BootConfig bc = plan_boot_config({in}, h, {});
    ASSERT_EQ(bc.devices.size(), 1u);
    EXPECT_EQ(bc.devices[0].address, A("00:1f.6"));
    EXPECT_EQ(bc.ids, std::vector<std::string>{"8086:15b8"});
    const bool noted = std::any_of(bc.notes.begin(), bc.notes.end(), [](const std::string& n) {
        return n.rfind("0000:01:00.1: mlx5_vfio_pci", 0) == 0 && n.find("the hook binds it") != std::string::npos;
    });
    EXPECT_TRUE(noted) << ::testing::PrintToString(bc.notes);

    BootConfigOptions no;
    no.vfio_variants = VariantMode::No;
    EXPECT_EQ(plan_boot_config({in}, h, no).devices.size(), 2u);
}
