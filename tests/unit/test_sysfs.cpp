// The sysfs reader against fake roots laid out as the kernel does.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fake_host.hpp"
#include "golden.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/output/format.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
namespace fs = std::filesystem;

namespace {

const char* kDesktop = R"(
host cpu=GenuineIntel cmdline="BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt" iommu=dmar0,dmar1
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport rev=07 bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=1043:8508 boot_vga=0 reset=flr,bus numa=0
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1 reset=none
dev 00:14.0 8086:a12f 0x0c0330 group=2 driver=xhci_hcd rev=31 role=keyboard
dev 00:17.0 8086:a102 0x010601 group=3 driver=ahci rev=31 role=root-fs
dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich rev=31
dev 00:1f.4 8086:a123 0x0c0500 group=4 rev=31
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e rev=31 role=default-route net=eno1
dev 00:02.0 8086:1912 0x030000 group=0 driver=i915 boot_vga=1 override=vfio-pci
)";

ReadOptions test_options() { return hostdev::testing::test_read_options(); }
Host read(const FakeRoot& root) { return hostdev::testing::read_fake_host(root); }

}  // namespace

TEST(Sysfs, ReadsEveryDeviceWithItsFacts) {
    FakeRoot root(kDesktop);
    Host host = read(root);
    ASSERT_EQ(host.devices.size(), 9u);
    EXPECT_TRUE(host.iommu_present);
    EXPECT_EQ(host.iommu_units, (std::vector<std::string>{"dmar0", "dmar1"}));
    EXPECT_EQ(host.cpu_vendor, "GenuineIntel");
    EXPECT_EQ(host.kernel_cmdline, "BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt");
    EXPECT_TRUE(host.warnings.empty());

    const PciDevice* gpu = host.find(*PciAddress::parse("01:00.0"));
    ASSERT_NE(gpu, nullptr);
    EXPECT_EQ(gpu->vendor, 0x10de);
    EXPECT_EQ(gpu->device, 0x13c2);
    EXPECT_EQ(gpu->subsystem_vendor, 0x1043);
    EXPECT_EQ(gpu->subsystem_device, 0x8508);
    EXPECT_EQ(gpu->class_code, 0x030000u);
    EXPECT_EQ(gpu->revision, 0xa1);
    EXPECT_EQ(gpu->header_type, 0);
    EXPECT_EQ(gpu->driver, "nouveau");
    EXPECT_FALSE(gpu->driver_override.has_value());
    EXPECT_EQ(gpu->iommu_group, 1);
    EXPECT_EQ(gpu->boot_vga, false);
    EXPECT_EQ(gpu->reset_methods, (std::vector<std::string>{"flr", "bus"}));
    EXPECT_EQ(gpu->numa_node, 0);
    ASSERT_EQ(gpu->parent_bridges.size(), 1u);
    EXPECT_EQ(gpu->parent_bridges[0].str(), "0000:00:01.0");
    EXPECT_EQ(gpu->vendor_name, "NVIDIA Corporation");
    EXPECT_EQ(gpu->device_name, "GM204 [GeForce GTX 970]");
    EXPECT_EQ(gpu->class_name, "VGA compatible controller");
    EXPECT_TRUE(gpu->problems.empty());

    const PciDevice* audio = host.find(*PciAddress::parse("01:00.1"));
    ASSERT_NE(audio, nullptr);
    EXPECT_TRUE(audio->lacks_reset());
    EXPECT_FALSE(audio->boot_vga.has_value());

    const PciDevice* bridge = host.find(*PciAddress::parse("00:01.0"));
    EXPECT_EQ(bridge->kind(), DeviceKind::Bridge);
    EXPECT_EQ(bridge->header_type, 1);
    EXPECT_EQ(host.find(*PciAddress::parse("00:1f.0"))->kind(), DeviceKind::Platform);
    EXPECT_FALSE(host.find(*PciAddress::parse("00:1f.4"))->driver.has_value());

    const PciDevice* igpu = host.find(*PciAddress::parse("00:02.0"));
    EXPECT_EQ(igpu->driver_override, "vfio-pci");
    EXPECT_EQ(igpu->boot_vga, true);
    EXPECT_EQ(igpu->device_name, "");  // not in the test database
}

TEST(Sysfs, GroupsCollectTheirMembers) {
    FakeRoot root(kDesktop);
    Host host = read(root);
    ASSERT_EQ(host.groups.size(), 6u);
    const IommuGroup& g1 = host.groups.at(1);
    ASSERT_EQ(g1.members.size(), 3u);
    EXPECT_EQ(g1.members[0].str(), "0000:00:01.0");
    EXPECT_EQ(g1.members[2].str(), "0000:01:00.1");
    EXPECT_EQ(host.group_of(*PciAddress::parse("00:1f.4"))->number, 4);
    EXPECT_TRUE(host.ungrouped().empty());
}

TEST(Sysfs, FindsHostRoles) {
    FakeRoot root(kDesktop);
    Host host = read(root);
    auto roles_of = [&](const char* a) { return host.find(*PciAddress::parse(a))->roles; };
    EXPECT_EQ(roles_of("00:17.0"), (std::vector<HostRole>{HostRole::RootFilesystem}));
    EXPECT_EQ(roles_of("00:1f.6"), (std::vector<HostRole>{HostRole::DefaultRoute}));
    EXPECT_EQ(roles_of("00:14.0"), (std::vector<HostRole>{HostRole::HostKeyboard}));
    EXPECT_EQ(roles_of("00:02.0"), (std::vector<HostRole>{HostRole::BootVga}));
    EXPECT_TRUE(roles_of("01:00.0").empty());
    EXPECT_TRUE(roles_of("00:1f.0").empty());
}

TEST(Sysfs, RootFilesystemOnNvmeBehindABridge) {
    FakeRoot root(R"(
dev 00:1d.0 8086:a118 0x060400 group=8 driver=pcieport bus=3d
dev 3d:00.0 144d:a802 0x010802 group=15 driver=nvme role=root-fs
dev 3e:00.0 8086:f1a8 0x010802 group=16 driver=nvme
)");
    Host host = read(root);
    EXPECT_TRUE(host.find(*PciAddress::parse("3d:00.0"))->has_role(HostRole::RootFilesystem));
    EXPECT_FALSE(host.find(*PciAddress::parse("3e:00.0"))->has_role(HostRole::RootFilesystem));
    EXPECT_FALSE(host.find(*PciAddress::parse("00:1d.0"))->has_role(HostRole::RootFilesystem));
}

TEST(Sysfs, SriovLinksBothWays) {
    FakeRoot root(R"(
dev 00:03.0 8086:1901 0x060400 group=3 driver=pcieport bus=03
dev 03:00.0 8086:1521 0x020000 group=10 driver=igb
dev 03:10.0 8086:1520 0x020000 group=40 driver=igbvf physfn=03:00.0
dev 03:10.4 8086:1520 0x020000 group=41 physfn=03:00.0
)");
    Host host = read(root);
    const PciDevice* pf = host.find(*PciAddress::parse("03:00.0"));
    ASSERT_EQ(pf->virtfns.size(), 2u);
    EXPECT_EQ(pf->virtfns[1].str(), "0000:03:10.4");
    EXPECT_EQ(host.find(*PciAddress::parse("03:10.4"))->physfn->str(), "0000:03:00.0");
    EXPECT_FALSE(host.find(*PciAddress::parse("03:10.4"))->driver.has_value());
}

TEST(Sysfs, NoIommuIsExplainedWithTheRightParameter) {
    FakeRoot intel("host iommu=none\ndev 00:02.0 8086:1912 0x030000 driver=i915\n");
    Host h = read(intel);
    EXPECT_FALSE(h.iommu_present);
    EXPECT_TRUE(h.groups.empty());
    ASSERT_EQ(h.ungrouped().size(), 1u);
    ASSERT_FALSE(h.warnings.empty());
    EXPECT_NE(h.warnings[0].find("VT-d"), std::string::npos);
    EXPECT_NE(h.warnings[0].find("intel_iommu=on"), std::string::npos);

    FakeRoot amd("host iommu=none cpu=AuthenticAMD\ndev 00:02.0 1002:67df 0x030000 driver=amdgpu\n");
    Host a = read(amd);
    ASSERT_FALSE(a.warnings.empty());
    EXPECT_NE(a.warnings[0].find("AMD-Vi"), std::string::npos);
    EXPECT_NE(a.warnings[0].find("amd_iommu=on"), std::string::npos);
    EXPECT_NE(format_groups_text(a).find("amd_iommu=on"), std::string::npos);
}

TEST(Sysfs, OldKernelWithoutResetMethodSaysNothing) {
    FakeRoot root("host reset_method=no\ndev 00:02.0 8086:1912 0x030000 group=0 driver=i915\n");
    Host h = read(root);
    EXPECT_FALSE(h.devices[0].reset_methods.has_value());
    EXPECT_FALSE(h.devices[0].lacks_reset());
}

TEST(Sysfs, PartialTreesNeverFail) {
    FakeRoot root(kDesktop);
    fs::path sys = root.path() / "sys";
    fs::path gpu = fs::canonical(sys / "bus/pci/devices/0000:01:00.0");
    fs::remove(gpu / "iommu_group");  // no group link: listed without a group
    fs::remove(gpu / "class");        // falls back to config space
    fs::path audio = fs::canonical(sys / "bus/pci/devices/0000:01:00.1");
    fs::remove(audio / "config");
    // A dangling device link and a garbage entry.
    fs::create_directory_symlink("../../../devices/pci0000:00/0000:00:09.0", sys / "bus/pci/devices/0000:00:09.0");
    std::ofstream(sys / "bus/pci/devices/not-an-address") << "x";
    // Unreadable attribute (a directory where a file should be).
    fs::path eth = fs::canonical(sys / "bus/pci/devices/0000:00:1f.6");
    fs::remove(eth / "driver_override");
    fs::create_directory(eth / "driver_override");

    Host host = read(root);
    const PciDevice* g = host.find(*PciAddress::parse("01:00.0"));
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->vendor, 0x10de);  // from config
    EXPECT_EQ(g->class_code, 0x030000u);
    EXPECT_FALSE(g->iommu_group.has_value());
    EXPECT_GE(g->problems.size(), 1u);
    const PciDevice* a = host.find(*PciAddress::parse("01:00.1"));
    EXPECT_EQ(a->vendor, 0x10de);  // from the text attribute
    EXPECT_FALSE(a->header_type.has_value());
    const PciDevice* ghost = host.find(*PciAddress::parse("00:09.0"));
    ASSERT_NE(ghost, nullptr);
    ASSERT_FALSE(ghost->problems.empty());
    EXPECT_NE(ghost->problems[0].find("device directory is missing"), std::string::npos);
    EXPECT_FALSE(host.find(*PciAddress::parse("00:1f.6"))->problems.empty());
    bool warned = false;
    for (const auto& w : host.warnings) warned = warned || w.find("not-an-address") != std::string::npos;
    EXPECT_TRUE(warned);
    // Every format still renders.
    EXPECT_NE(format_groups_text(host).find("No IOMMU group:"), std::string::npos);
    EXPECT_FALSE(format_groups_json(host).empty());
    EXPECT_FALSE(format_groups_dot(host).empty());
}

TEST(Sysfs, VirtualFunctionIdsComeFromTheKernelNotConfigSpace) {
    FakeRoot root(R"(
dev 00:03.0 8086:1901 0x060400 group=3 driver=pcieport bus=03
dev 03:00.0 8086:1521 0x020000 group=10 driver=igb
dev 03:10.0 8086:1520 0x020000 group=40 driver=igbvf physfn=03:00.0
)");
    // A VF's config space reads vendor and device 0xffff; sysfs has the real ids.
    fs::path vf = fs::canonical(root.path() / "sys/bus/pci/devices/0000:03:10.0");
    std::string cfg = hostdev::testing::read_text_file(vf / "config");
    cfg[0] = cfg[1] = cfg[2] = cfg[3] = '\xff';
    std::ofstream(vf / "config", std::ios::binary | std::ios::trunc) << cfg;
    Host host = read(root);
    const PciDevice* d = host.find(*PciAddress::parse("03:10.0"));
    EXPECT_EQ(d->vendor, 0x8086);
    EXPECT_EQ(d->device, 0x1520);
    EXPECT_TRUE(d->problems.empty());
}

TEST(Sysfs, ThreadedReadOfALargeHostEqualsASingleThreadedOne) {
    // 8 root ports, each with 40 functions behind it in 5 slots: 328 devices,
    // past the threshold where reading is spread over threads.
    std::string spec;
    int group = 0;
    for (int port = 0; port < 8; ++port) {
        char line[160];
        std::snprintf(line, sizeof line, "dev 00:%02x.0 8086:1901 0x060400 group=%d driver=pcieport bus=%02x\n",
                      port + 1, group++, port + 1);
        spec += line;
        for (int slot = 0; slot < 5; ++slot)
            for (int fn = 0; fn < 8; ++fn) {
                std::snprintf(line, sizeof line, "dev %02x:%02x.%d 10de:13c2 0x030000 group=%d driver=nouveau\n",
                              port + 1, slot, fn, group + slot);
                spec += line;
            }
        group += 5;
    }
    FakeRoot root(spec);
    ReadOptions one = test_options(), four = test_options();
    one.threads = 1;
    four.threads = 4;
    auto a = read_host(FsRoot(root.path()), one);
    auto b = read_host(FsRoot(root.path()), four);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->devices.size(), 328u);
    EXPECT_EQ(write_snapshot(*a), write_snapshot(*b));
}

TEST(Sysfs, GroupWithoutDeviceLinksUsesItsOwnList) {
    FakeRoot root("dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich\n");
    fs::path dev = fs::canonical(root.path() / "sys/bus/pci/devices/0000:00:1f.0");
    fs::remove(dev / "iommu_group");
    // And a member the PCI bus does not list at all.
    fs::create_directory_symlink("../../../../devices/pci0000:00/0000:00:1f.7",
                                 root.path() / "sys/kernel/iommu_groups/4/devices/0000:00:1f.7");
    Host host = read(root);
    ASSERT_EQ(host.groups.at(4).members.size(), 2u);
    EXPECT_EQ(host.find(*PciAddress::parse("00:1f.0"))->iommu_group, 4);
    EXPECT_FALSE(host.find(*PciAddress::parse("00:1f.7"))->problems.empty());
}

TEST(Sysfs, NotARootIsAnError) {
    char tmpl[] = "/tmp/hostdev-empty-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    auto host = read_host(FsRoot(tmpl), test_options());
    fs::remove_all(tmpl);
    ASSERT_FALSE(host.ok());
    EXPECT_NE(host.error().describe().find("bus/pci/devices"), std::string::npos);
}

TEST(Snapshot, RoundTripGivesIdenticalOutput) {
    FakeRoot root(kDesktop);
    Host host = read(root);
    std::string snap = write_snapshot(host);
    auto back = parse_snapshot(snap, "snap.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(write_snapshot(*back), snap);
    EXPECT_EQ(format_groups_json(*back), format_groups_json(host));
    EXPECT_EQ(format_groups_text(*back), format_groups_text(host));
    EXPECT_EQ(format_groups_dot(*back), format_groups_dot(host));
}

// README: an optional key that is absent or null is unknown. Subsystem ids
// and the revision of a snapshot without them are never compared with a pin.
TEST(Snapshot, AbsentOrNullSubsystemAndRevisionAreUnknown) {
    auto snap = parse_snapshot(
        R"({"format":"hostdev-snapshot","version":1,"iommu":{"present":true},
            "devices":[{"address":"0000:01:00.0","vendor":"10de","device":"13c2","class":"0x030000"},
                       {"address":"0000:01:00.1","vendor":"10de","device":"0fbb","class":"0x040300",
                        "subsystem_vendor":null,"subsystem_device":"8508","revision":null},
                       {"address":"0000:02:00.0","vendor":"10de","device":"13c2","class":"0x030000",
                        "subsystem_vendor":"1043","subsystem_device":"8508","revision":"a1"}]})",
        "old.json");
    ASSERT_TRUE(snap.ok()) << snap.error().describe();
    for (const char* a : {"01:00.0", "01:00.1"}) {
        const DeviceIdentity id = identity_of(*snap->find(*PciAddress::parse(a)));
        EXPECT_FALSE(id.subsystem_vendor) << a;
        EXPECT_FALSE(id.subsystem_device) << a;
        EXPECT_FALSE(id.revision) << a;
    }
    const DeviceIdentity known = identity_of(*snap->find(*PciAddress::parse("02:00.0")));
    EXPECT_EQ(known.subsystem_vendor, 0x1043);
    EXPECT_EQ(known.subsystem_device, 0x8508);
    EXPECT_EQ(known.revision, 0xa1);
}

TEST(Snapshot, RejectsForeignOrNewerDocuments) {
    EXPECT_NE(parse_snapshot("{", "a.json").error().message.find("not a JSON document"), std::string::npos);
    EXPECT_NE(parse_snapshot("{\"groups\":[]}", "a.json").error().message.find("not a hostdev snapshot"),
              std::string::npos);
    auto newer =
        parse_snapshot(R"({"format":"hostdev-snapshot","version":99,"iommu":{"present":true},"devices":[]})", "a.json");
    ASSERT_FALSE(newer.ok());
    EXPECT_NE(newer.error().message.find("version 99"), std::string::npos);
    auto bad = parse_snapshot(
        R"({"format":"hostdev-snapshot","version":1,"iommu":{"present":true},
            "devices":[{"address":"0000:01:00.0","vendor":"10de","device":"xyz","class":"0x030000"}]})",
        "b.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("b.json: devices[0].device"), std::string::npos);
    auto dup = parse_snapshot(
        R"({"format":"hostdev-snapshot","version":1,"iommu":{"present":true},
            "devices":[{"address":"0000:01:00.0","vendor":"10de","device":"13c2","class":"0x030000"},
                       {"address":"01:00.0","vendor":"10de","device":"13c2","class":"0x030000"}]})",
        "c.json");
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.error().message.find("listed twice"), std::string::npos);
}
