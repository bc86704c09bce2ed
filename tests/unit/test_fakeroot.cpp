// Tests of the fake-root builder used by every sysfs test: the spec parser on
// literals, and built roots checked with plain std::filesystem and lspci.
#include <gtest/gtest.h>

#include "golden.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/fakeroot.hpp"

namespace fs = std::filesystem;
using hostdev::PciAddress;
using hostdev::testing::build_fake_root;
using hostdev::testing::FakeDevice;
using hostdev::testing::FakeHostSpec;
using hostdev::testing::FakeRoot;
using hostdev::testing::parse_fake_host_spec;

namespace {

PciAddress addr(std::string_view text) {
    auto a = PciAddress::parse(text);
    EXPECT_TRUE(a.ok()) << text;
    return a.ok() ? *a : PciAddress{};
}

const FakeDevice* find(const FakeHostSpec& spec, std::string_view text) {
    const PciAddress a = addr(text);
    for (const auto& d : spec.devices) {
        if (d.address == a) return &d;
    }
    return nullptr;
}

std::string slurp(const fs::path& p) { return hostdev::testing::read_text_file(p); }
std::vector<std::string> names_in(const fs::path& dir) { return hostdev::testing::sorted_names(dir); }

bool is_under(const fs::path& inner, const fs::path& outer) {
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
        if (i == inner.end() || *i != *o) return false;
    }
    return true;
}

// The seed host of the spec format description, plus an SR-IOV PF whose VFs
// are listed out of order, a nested bridge and a keyboard controller.
constexpr const char* kHost = R"(# a small desktop
host cpu=GenuineIntel cmdline="BOOT_IMAGE=/vmlinuz root=UUID=1234 ro intel_iommu=on" iommu=dmar0,dmar1

dev 00:00.0 8086:191f 0x060000 group=0 rev=07 reset=none
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport rev=07 bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=1043:8508 boot_vga=0 reset=flr,bus
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1   # HDMI audio
dev 00:17.0 8086:a102 0x010601 group=4 driver=ahci role=root-fs
dev 00:1f.6 8086:15b8 0x020000 group=11 driver=e1000e role=default-route net=eno1
dev 00:14.0 8086:a12f 0x0c0330 group=2 driver=xhci_hcd role=keyboard numa=0
dev 00:1c.0 8086:a110 0x060400 group=6 driver=pcieport bus=02
dev 02:00.0 1b21:1080 0x060400 group=7 rev=04 bus=03
dev 03:04.0 1102:0002 0x040100 group=7 override=vfio-pci
dev 00:1c.4 8086:a114 0x060400 group=8 driver=pcieport bus=04
dev 04:00.0 8086:1528 0x020000 group=30 driver=ixgbe
dev 04:10.2 8086:1515 0x020000 group=33 physfn=04:00.0
dev 04:10.0 8086:1515 0x020000 group=31 driver=ixgbevf physfn=04:00.0
)";

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

TEST(FakeHostSpecParse, HostLine) {
    auto spec = parse_fake_host_spec(kHost);
    ASSERT_TRUE(spec.ok()) << spec.error().describe();
    EXPECT_EQ(spec->cpu_vendor, "GenuineIntel");
    EXPECT_EQ(spec->cmdline, "BOOT_IMAGE=/vmlinuz root=UUID=1234 ro intel_iommu=on");
    EXPECT_EQ(spec->iommu_units, (std::vector<std::string>{"dmar0", "dmar1"}));
    EXPECT_TRUE(spec->reset_method_files);
    EXPECT_EQ(spec->devices.size(), 14u);
}

TEST(FakeHostSpecParse, DeviceFields) {
    auto spec = parse_fake_host_spec(kHost);
    ASSERT_TRUE(spec.ok()) << spec.error().describe();

    const FakeDevice* gpu = find(*spec, "01:00.0");
    ASSERT_NE(gpu, nullptr);
    EXPECT_EQ(gpu->line, 6);
    EXPECT_EQ(gpu->vendor, 0x10de);
    EXPECT_EQ(gpu->device, 0x13c2);
    EXPECT_EQ(gpu->class_code, 0x030000u);
    EXPECT_EQ(gpu->revision, 0xa1);
    EXPECT_EQ(gpu->subsystem_vendor, 0x1043);
    EXPECT_EQ(gpu->subsystem_device, 0x8508);
    EXPECT_EQ(gpu->group, 1);
    EXPECT_EQ(gpu->driver, "nouveau");
    EXPECT_EQ(gpu->driver_override, std::nullopt);
    EXPECT_EQ(gpu->boot_vga, false);
    EXPECT_EQ(gpu->reset_methods, (std::vector<std::string>{"flr", "bus"}));
    EXPECT_EQ(gpu->effective_header_type(), 0);
    EXPECT_EQ(gpu->numa_node, std::nullopt);

    const FakeDevice* host_bridge = find(*spec, "00:00.0");
    ASSERT_NE(host_bridge, nullptr);
    ASSERT_TRUE(host_bridge->reset_methods.has_value());
    EXPECT_TRUE(host_bridge->reset_methods->empty());
    EXPECT_EQ(host_bridge->driver, std::nullopt);

    const FakeDevice* port = find(*spec, "00:01.0");
    ASSERT_NE(port, nullptr);
    EXPECT_EQ(port->secondary_bus, 0x01);
    EXPECT_EQ(port->effective_header_type(), 1);
    EXPECT_EQ(port->effective_boot_vga(), std::nullopt);
    EXPECT_EQ(gpu->effective_boot_vga(), false);

    const FakeDevice* audio = find(*spec, "01:00.1");
    ASSERT_NE(audio, nullptr);
    EXPECT_EQ(audio->reset_methods, (std::vector<std::string>{"flr", "bus"}));  // default

    const FakeDevice* card = find(*spec, "03:04.0");
    ASSERT_NE(card, nullptr);
    EXPECT_EQ(card->driver_override, "vfio-pci");
    EXPECT_EQ(card->revision, 0);

    const FakeDevice* nic = find(*spec, "00:1f.6");
    ASSERT_NE(nic, nullptr);
    EXPECT_EQ(nic->roles, (std::vector<std::string>{"default-route"}));
    EXPECT_EQ(nic->netdev, "eno1");

    const FakeDevice* xhci = find(*spec, "00:14.0");
    ASSERT_NE(xhci, nullptr);
    EXPECT_EQ(xhci->numa_node, 0);
    EXPECT_TRUE(xhci->has_role("keyboard"));

    const FakeDevice* vf = find(*spec, "04:10.2");
    ASSERT_NE(vf, nullptr);
    EXPECT_EQ(vf->physfn, addr("04:00.0"));
    EXPECT_EQ(vf->driver, std::nullopt);
}

TEST(FakeHostSpecParse, HostVariantsAndDefaults) {
    auto spec = parse_fake_host_spec(
        "host iommu=none\n"
        "host reset_method=no cpu=AuthenticAMD\n"
        "\t# indented comment\n"
        "dev 0001:40:00.0 1002:73bf 0x030000 header=0 role=root-fs,keyboard role=default-route\n"
        "dev 0001:41:00.0 8086:10fb 0x020000 role=default-route\n");
    ASSERT_TRUE(spec.ok()) << spec.error().describe();
    EXPECT_TRUE(spec->iommu_units.empty());
    EXPECT_FALSE(spec->reset_method_files);
    EXPECT_EQ(spec->cpu_vendor, "AuthenticAMD");
    EXPECT_EQ(spec->cmdline, "");
    ASSERT_EQ(spec->devices.size(), 2u);
    const FakeDevice& d = spec->devices[0];
    EXPECT_EQ(d.address, addr("0001:40:00.0"));
    EXPECT_EQ(d.line, 4);
    EXPECT_EQ(d.roles, (std::vector<std::string>{"root-fs", "keyboard", "default-route"}));
    EXPECT_EQ(d.group, std::nullopt);
    // Interface names are made up only for default-route devices without net=,
    // in address order.
    EXPECT_EQ(spec->devices[0].netdev, "eth0");
    EXPECT_EQ(spec->devices[1].netdev, "eth1");
}

TEST(FakeHostSpecParse, MadeUpInterfaceNamesFollowAddressOrder) {
    auto spec = parse_fake_host_spec(
        "dev 00:1f.6 8086:15b8 0x020000 role=default-route\n"
        "dev 00:03.0 8086:15b8 0x020000 role=default-route\n"
        "dev 00:04.0 8086:15b8 0x020000 net=eth0\n");
    ASSERT_TRUE(spec.ok()) << spec.error().describe();
    EXPECT_EQ(spec->devices[0].netdev, "eth2");
    EXPECT_EQ(spec->devices[1].netdev, "eth1");
    EXPECT_EQ(spec->devices[2].netdev, "eth0");
}

struct BadSpec {
    const char* text;
    const char* message_part;  // besides "line N:"
    int line;
};

class FakeHostSpecErrors : public ::testing::TestWithParam<BadSpec> {};

TEST_P(FakeHostSpecErrors, NameLineAndToken) {
    const BadSpec& c = GetParam();
    auto spec = parse_fake_host_spec(c.text);
    ASSERT_FALSE(spec.ok()) << c.text;
    const std::string msg = spec.error().message;
    EXPECT_EQ(msg.rfind("line " + std::to_string(c.line) + ":", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.message_part), std::string::npos) << msg;
}

constexpr const char* kOk = "dev 00:01.0 8086:1901 0x060400 bus=01\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, FakeHostSpecErrors,
    ::testing::Values(
        BadSpec{"dev 00:02.0 8086:1234 0x030000 colour=red\n", "'colour=red'", 1},
        BadSpec{"\n\ndev 00:02.0 8086:1234 0x030000 group=x\n", "'group=x'", 3},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 group=-1\n", "'group=-1'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 group\n", "'group'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 group=\n", "'group='", 1},
        BadSpec{"dev 00:2g.0 8086:1234 0x030000\n", "'00:2g.0'", 1},
        BadSpec{"dev 00:20.0 8086:1234 0x030000\n", "slot is above 0x1f", 1},
        BadSpec{"dev 00:02.0 8086-1234 0x030000\n", "'8086-1234'", 1},
        BadSpec{"dev 00:02.0 8086:12345 0x030000\n", "'8086:12345'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x1030000\n", "'0x1030000'", 1},
        BadSpec{"dev 00:02.0 8086:1234\n", "needs ADDR", 1},
        BadSpec{"# c\ndev 00:02.0 8086:1234 0x030000 rev=100\n", "'rev=100'", 2},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 subsys=1043\n", "'subsys=1043'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 header=3\n", "'header=3'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 boot_vga=yes\n", "'boot_vga=yes'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 reset=flr,,bus\n", "'reset=flr,,bus'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 numa=x\n", "'numa=x'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 physfn=zz\n", "'physfn=zz'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 role=gpu\n", "'role=gpu'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 driver=a/b\n", "'driver=a/b'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 net=averyveryverylongname\n", "'net=averyveryverylongname'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 group=1 group=2\n", "'group=2'", 1},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 driver=\"i915\n", "unterminated quote", 1},
        BadSpec{"host cpu=GenuineIntel\nhost colour=red\n", "'colour=red'", 2},
        BadSpec{"host iommu=dmar0,,x\n", "'iommu=dmar0,,x'", 1},
        BadSpec{"host reset_method=maybe\n", "'reset_method=maybe'", 1},
        BadSpec{"host cpu=GenuineIntel\nhost cpu=AuthenticAMD\n", "'cpu=AuthenticAMD'", 2},
        BadSpec{"host\n", "'host' needs", 1}, BadSpec{"device 00:02.0 8086:1234 0x030000\n", "'device'", 1},
        // Consistency checks after all lines are read still name the line.
        BadSpec{"dev 00:02.0 8086:1234 0x030000\n# x\ndev 0000:00:02.0 8086:1234 0x030000\n",
                "already defined on line 1", 3},
        BadSpec{"dev 00:02.0 8086:1234 0x030000 bus=05\n", "not a bridge", 1},
        BadSpec{"dev 00:01.0 8086:1901 0x060400 bus=01\ndev 00:1c.0 8086:a110 0x060400 bus=01\n",
                "already belongs to bridge 0000:00:01.0", 2},
        BadSpec{"dev 03:10.0 8086:1520 0x020000 physfn=03:00.0\n", "not in the spec", 1},
        BadSpec{"dev 03:00.0 8086:1520 0x020000 physfn=03:00.0\n", "itself", 1},
        BadSpec{"dev 00:01.0 8086:1901 0x060400 bus=00\n", "loop", 1},
        BadSpec{"dev 01:00.0 8086:1901 0x060400 bus=02\ndev 02:00.0 8086:1901 0x060400 bus=01\n", "loop", 1},
        BadSpec{"dev 00:17.0 8086:a102 0x010601 role=root-fs\ndev 01:00.0 144d:a808 0x010802 role=root-fs\n",
                "root-fs already given", 2},
        BadSpec{"dev 00:1f.6 8086:15b8 0x020000 net=eno1\ndev 00:1f.7 8086:15b8 0x020000 net=eno1\n", "used twice", 2},
        BadSpec{"proc 10 Xorg unit=gdm3 /dev/dri/card0\n", "'unit=gdm3'", 1},
        BadSpec{"proc 10 Xorg unit=gdm/3.service\n", "'unit=gdm/3.service'", 1},
        BadSpec{"proc 10 Xorg unit=a.service /dev/dri/card0 unit=b.service\n", "unit= given twice", 1}));

TEST(FakeHostSpecParse, ValidLineSanity) {
    // The base line of the error cases parses, so each error comes from its token.
    EXPECT_TRUE(parse_fake_host_spec(kOk).ok());
    EXPECT_TRUE(parse_fake_host_spec("dev 00:02.0 8086:1234 030000 group=1\n").ok());
    EXPECT_TRUE(parse_fake_host_spec("").ok());
}

// ---------------------------------------------------------------------------
// Built roots
// ---------------------------------------------------------------------------

class FakeRootTest : public ::testing::Test {
protected:
    FakeRoot root_{kHost};
    fs::path sys() const { return root_.path() / "sys"; }
    fs::path proc() const { return root_.path() / "proc"; }
    fs::path dev(std::string_view a) const { return root_.device_dir(a); }
};

TEST_F(FakeRootTest, DevicesNestUnderTheirBridges) {
    const fs::path gpu = sys() / "devices" / "pci0000:00" / "0000:00:01.0" / "0000:01:00.0";
    EXPECT_TRUE(fs::is_directory(gpu));
    EXPECT_EQ(dev("01:00.0"), gpu);
    EXPECT_TRUE(fs::is_directory(sys() / "devices" / "pci0000:00" / "0000:00:1c.0" / "0000:02:00.0" / "0000:03:04.0"));
    EXPECT_TRUE(fs::is_directory(sys() / "devices" / "pci0000:00" / "0000:00:17.0"));
    // VFs sit by their own bus, under the same bridge as their PF.
    EXPECT_TRUE(fs::is_directory(sys() / "devices" / "pci0000:00" / "0000:00:1c.4" / "0000:04:10.2"));
}

TEST_F(FakeRootTest, BusLinksResolveToTheDeviceDirs) {
    const fs::path link = sys() / "bus" / "pci" / "devices" / "0000:01:00.0";
    ASSERT_TRUE(fs::is_symlink(link));
    EXPECT_EQ(fs::read_symlink(link), fs::path("../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"));
    EXPECT_EQ(fs::canonical(link), fs::canonical(dev("01:00.0")));
    std::vector<std::string> expected;
    for (const auto& d : root_.spec().devices) expected.push_back(d.address.str());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(names_in(sys() / "bus" / "pci" / "devices"), expected);
    for (const auto& a : expected) {
        EXPECT_EQ(fs::canonical(sys() / "bus" / "pci" / "devices" / a), fs::canonical(dev(a))) << a;
    }
}

TEST_F(FakeRootTest, AttributeFiles) {
    const fs::path gpu = dev("01:00.0");
    EXPECT_EQ(slurp(gpu / "vendor"), "0x10de\n");
    EXPECT_EQ(slurp(gpu / "device"), "0x13c2\n");
    EXPECT_EQ(slurp(gpu / "subsystem_vendor"), "0x1043\n");
    EXPECT_EQ(slurp(gpu / "subsystem_device"), "0x8508\n");
    EXPECT_EQ(slurp(gpu / "class"), "0x030000\n");
    EXPECT_EQ(slurp(gpu / "revision"), "0xa1\n");
    EXPECT_EQ(slurp(gpu / "driver_override"), "(null)\n");
    EXPECT_EQ(slurp(gpu / "numa_node"), "-1\n");
    EXPECT_EQ(slurp(gpu / "reset_method"), "flr bus\n");
    EXPECT_EQ(slurp(gpu / "boot_vga"), "0\n");
    EXPECT_EQ(slurp(gpu / "irq"), "0\n");
    EXPECT_EQ(slurp(gpu / "enable"), "1\n");
    EXPECT_TRUE(fs::is_regular_file(gpu / "resource"));
    EXPECT_EQ(slurp(dev("03:04.0") / "driver_override"), "vfio-pci\n");
    EXPECT_EQ(slurp(dev("00:14.0") / "numa_node"), "0\n");
    EXPECT_FALSE(fs::exists(dev("01:00.1") / "boot_vga"));
    EXPECT_FALSE(fs::exists(dev("00:00.0") / "reset_method"));  // reset=none
    EXPECT_EQ(slurp(dev("01:00.1") / "reset_method"), "flr bus\n");
}

TEST_F(FakeRootTest, ConfigSpace) {
    const std::string gpu = slurp(dev("01:00.0") / "config");
    ASSERT_EQ(gpu.size(), 256u);
    auto byte = [](const std::string& c, std::size_t off) { return static_cast<unsigned char>(c[off]); };
    EXPECT_EQ(byte(gpu, 0), 0xde);
    EXPECT_EQ(byte(gpu, 1), 0x10);
    EXPECT_EQ(byte(gpu, 2), 0xc2);
    EXPECT_EQ(byte(gpu, 3), 0x13);
    EXPECT_EQ(byte(gpu, 8), 0xa1);
    EXPECT_EQ(byte(gpu, 9), 0x00);
    EXPECT_EQ(byte(gpu, 0xa), 0x00);
    EXPECT_EQ(byte(gpu, 0xb), 0x03);
    EXPECT_EQ(byte(gpu, 0xe), 0x80);  // header 0, multifunction (01:00.1 exists)
    EXPECT_EQ(byte(gpu, 0x2c), 0x43);
    EXPECT_EQ(byte(gpu, 0x2d), 0x10);
    EXPECT_EQ(byte(gpu, 0x2e), 0x08);
    EXPECT_EQ(byte(gpu, 0x2f), 0x85);

    const std::string sata = slurp(dev("00:17.0") / "config");
    EXPECT_EQ(byte(sata, 0xe), 0x00);
    EXPECT_EQ(byte(sata, 9), 0x01);
    EXPECT_EQ(byte(sata, 0xa), 0x06);
    EXPECT_EQ(byte(sata, 0xb), 0x01);

    // Root port 00:1c.0 -> bus 02, whose PCI bridge leads to bus 03.
    const std::string port = slurp(dev("00:1c.0") / "config");
    EXPECT_EQ(byte(port, 0xe), 0x81);  // header 1, 00:1c.4 shares the slot
    EXPECT_EQ(byte(port, 0x18), 0x00);
    EXPECT_EQ(byte(port, 0x19), 0x02);
    EXPECT_EQ(byte(port, 0x1a), 0x03);
    const std::string bridge = slurp(dev("02:00.0") / "config");
    EXPECT_EQ(byte(bridge, 0xe), 0x01);
    EXPECT_EQ(byte(bridge, 0x18), 0x02);
    EXPECT_EQ(byte(bridge, 0x19), 0x03);
    EXPECT_EQ(byte(bridge, 0x1a), 0x03);
}

TEST_F(FakeRootTest, DriversAndDriverLinks) {
    const fs::path drivers = sys() / "bus" / "pci" / "drivers";
    EXPECT_TRUE(fs::is_regular_file(sys() / "bus" / "pci" / "drivers_probe"));
    for (const char* name : {"vfio-pci", "nouveau", "pcieport", "ixgbevf"}) {
        for (const char* f : {"bind", "unbind", "new_id", "remove_id"}) {
            EXPECT_TRUE(fs::is_regular_file(drivers / name / f)) << name << "/" << f;
        }
    }
    const fs::path link = dev("01:00.0") / "driver";
    EXPECT_EQ(fs::read_symlink(link), fs::path("../../../../bus/pci/drivers/nouveau"));
    EXPECT_EQ(fs::canonical(link), fs::canonical(drivers / "nouveau"));
    EXPECT_EQ(fs::read_symlink(dev("00:17.0") / "driver"), fs::path("../../../bus/pci/drivers/ahci"));
    EXPECT_EQ(fs::canonical(drivers / "nouveau" / "0000:01:00.0"), fs::canonical(dev("01:00.0")));
    EXPECT_EQ(fs::canonical(drivers / "pcieport" / "0000:00:1c.4"), fs::canonical(dev("00:1c.4")));
    EXPECT_FALSE(fs::exists(dev("00:00.0") / "driver"));
    EXPECT_FALSE(fs::exists(dev("03:04.0") / "driver"));
    EXPECT_FALSE(fs::exists(drivers / "vfio-pci" / "0000:03:04.0"));
}

TEST_F(FakeRootTest, IommuGroups) {
    const fs::path groups = sys() / "kernel" / "iommu_groups";
    EXPECT_EQ(names_in(groups / "1" / "devices"),
              (std::vector<std::string>{"0000:00:01.0", "0000:01:00.0", "0000:01:00.1"}));
    EXPECT_EQ(names_in(groups / "7" / "devices"), (std::vector<std::string>{"0000:02:00.0", "0000:03:04.0"}));
    EXPECT_EQ(slurp(groups / "1" / "type"), "DMA\n");
    EXPECT_EQ(names_in(groups), (std::vector<std::string>{"0", "1", "11", "2", "30", "31", "33", "4", "6", "7", "8"}));
    const fs::path link = dev("01:00.1") / "iommu_group";
    EXPECT_EQ(fs::read_symlink(link), fs::path("../../../../kernel/iommu_groups/1"));
    EXPECT_EQ(fs::canonical(link), fs::canonical(groups / "1"));
    EXPECT_EQ(fs::read_symlink(groups / "1" / "devices" / "0000:01:00.1"),
              fs::path("../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.1"));
    EXPECT_EQ(fs::canonical(groups / "1" / "devices" / "0000:01:00.1"), fs::canonical(dev("01:00.1")));
}

TEST_F(FakeRootTest, IommuUnitsAndProc) {
    EXPECT_EQ(names_in(sys() / "class" / "iommu"), (std::vector<std::string>{"dmar0", "dmar1"}));
    EXPECT_EQ(fs::read_symlink(sys() / "class" / "iommu" / "dmar1"), fs::path("../../devices/virtual/iommu/dmar1"));
    EXPECT_TRUE(fs::is_directory(sys() / "class" / "iommu" / "dmar1"));
    EXPECT_EQ(slurp(proc() / "cmdline"), "BOOT_IMAGE=/vmlinuz root=UUID=1234 ro intel_iommu=on\n");
    const std::string cpuinfo = slurp(proc() / "cpuinfo");
    EXPECT_NE(cpuinfo.find("processor\t: 1\nvendor_id\t: GenuineIntel\n"), std::string::npos);
    EXPECT_TRUE(fs::is_regular_file(proc() / "modules"));
}

TEST_F(FakeRootTest, SriovLinks) {
    const fs::path pf = dev("04:00.0");
    EXPECT_EQ(slurp(pf / "sriov_numvfs"), "2\n");
    EXPECT_EQ(fs::read_symlink(pf / "virtfn0"), fs::path("../0000:04:10.0"));
    EXPECT_EQ(fs::canonical(pf / "virtfn0"), fs::canonical(dev("04:10.0")));
    EXPECT_EQ(fs::canonical(pf / "virtfn1"), fs::canonical(dev("04:10.2")));
    EXPECT_FALSE(fs::exists(pf / "virtfn2"));
    EXPECT_EQ(fs::read_symlink(dev("04:10.2") / "physfn"), fs::path("../0000:04:00.0"));
    EXPECT_EQ(fs::canonical(dev("04:10.2") / "physfn"), fs::canonical(pf));
    EXPECT_FALSE(fs::exists(pf / "physfn"));
    EXPECT_FALSE(fs::exists(dev("01:00.0") / "sriov_numvfs"));
}

TEST_F(FakeRootTest, RootFilesystemOnAhci) {
    const std::string mountinfo = slurp(proc() / "self" / "mountinfo");
    EXPECT_NE(mountinfo.find(" 8:2 / / "), std::string::npos) << mountinfo;
    const fs::path block = sys() / "dev" / "block" / "8:2";
    ASSERT_TRUE(fs::is_symlink(block));
    const fs::path part = fs::canonical(block);
    EXPECT_EQ(part.filename(), "sda2");
    EXPECT_TRUE(is_under(part, fs::canonical(dev("00:17.0")))) << part;
    EXPECT_EQ(slurp(part / "dev"), "8:2\n");
    EXPECT_EQ(fs::canonical(sys() / "class" / "block" / "sda2"), part);
}

TEST_F(FakeRootTest, DefaultRouteNic) {
    const fs::path net = dev("00:1f.6") / "net" / "eno1";
    EXPECT_EQ(fs::read_symlink(net / "device"), fs::path("../../../0000:00:1f.6"));
    EXPECT_EQ(fs::canonical(net / "device"), fs::canonical(dev("00:1f.6")));
    EXPECT_EQ(fs::canonical(sys() / "class" / "net" / "eno1" / "device"), fs::canonical(dev("00:1f.6")));
    const std::string route = slurp(proc() / "net" / "route");
    std::istringstream lines(route);
    std::string header, line;
    std::getline(lines, header);
    EXPECT_EQ(header.rfind("Iface\tDestination\tGateway", 0), 0u);
    int defaults = 0, others = 0;
    while (std::getline(lines, line)) {
        if (line.rfind("eno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0", 0) == 0) {
            ++defaults;
        } else if (line.rfind("eno1\t", 0) == 0) {
            ++others;
        }
    }
    EXPECT_EQ(defaults, 1);
    EXPECT_EQ(others, 1);
}

TEST_F(FakeRootTest, KeyboardMouseAndPowerButton) {
    const fs::path inputs = sys() / "class" / "input";
    const fs::path xhci = fs::canonical(dev("00:14.0"));
    int keyboards = 0, mice = 0, off_pci = 0;
    for (const auto& name : names_in(inputs)) {
        const fs::path real = fs::canonical(inputs / name);
        const std::string ev = slurp(real / "capabilities" / "ev");
        if (ev == "120013\n") {
            ++keyboards;
            EXPECT_TRUE(is_under(real, xhci)) << real;
            EXPECT_EQ(slurp(real / "name"), "Logitech USB Keyboard\n");
            EXPECT_EQ(real.parent_path().parent_path().parent_path().filename(), "1-2:1.0");
        } else if (ev == "17\n") {
            ++mice;
        } else if (!is_under(real, fs::canonical(sys() / "devices" / "pci0000:00"))) {
            ++off_pci;
        }
    }
    EXPECT_EQ(keyboards, 1);
    EXPECT_EQ(mice, 1);
    EXPECT_EQ(off_pci, 1);
}

TEST(FakeRoot, BareHostHasEmptyRoleFiles) {
    FakeRoot root(
        "host iommu=none reset_method=no\n"
        "dev 00:02.0 8086:193b 0x030000 driver=i915 boot_vga=1\n"
        "dev 00:1f.6 8086:15b7 0x020000 driver=e1000e net=eno1\n");
    const fs::path sys = root.path() / "sys";
    const fs::path proc = root.path() / "proc";
    EXPECT_TRUE(fs::is_directory(sys / "class" / "iommu"));
    EXPECT_TRUE(fs::is_empty(sys / "class" / "iommu"));
    EXPECT_TRUE(fs::is_directory(sys / "kernel" / "iommu_groups"));
    EXPECT_TRUE(fs::is_empty(sys / "kernel" / "iommu_groups"));
    EXPECT_FALSE(fs::exists(root.device_dir("00:02.0") / "iommu_group"));
    EXPECT_FALSE(fs::exists(root.device_dir("00:02.0") / "reset_method"));
    EXPECT_EQ(slurp(root.device_dir("00:02.0") / "boot_vga"), "1\n");
    EXPECT_TRUE(fs::is_empty(sys / "class" / "input"));
    EXPECT_TRUE(fs::is_empty(sys / "dev" / "block"));
    // net= without the role: the interface exists, but there is no route.
    EXPECT_EQ(fs::canonical(sys / "class" / "net" / "eno1" / "device"), fs::canonical(root.device_dir("00:1f.6")));
    const std::string route = slurp(proc / "net" / "route");
    EXPECT_EQ(std::count(route.begin(), route.end(), '\n'), 1);
    EXPECT_EQ(route.rfind("Iface\t", 0), 0u);
    const std::string mountinfo = slurp(proc / "self" / "mountinfo");
    EXPECT_NE(mountinfo.find(" 0:19 / / "), std::string::npos) << mountinfo;
    EXPECT_EQ(slurp(proc / "cmdline"), "\n");
}

TEST(FakeRoot, NvmeRootFilesystemAndAmdCpu) {
    FakeRoot root(
        "host cpu=AuthenticAMD iommu=ivhd0\n"
        "dev 00:01.2 1022:1483 0x060400 group=2 driver=pcieport bus=01\n"
        "dev 01:00.0 144d:a808 0x010802 group=3 driver=nvme role=root-fs\n");
    const fs::path sys = root.path() / "sys";
    const fs::path part = fs::canonical(sys / "dev" / "block" / "259:2");
    EXPECT_EQ(part, fs::canonical(root.device_dir("01:00.0") / "nvme" / "nvme0" / "nvme0n1" / "nvme0n1p2"));
    EXPECT_EQ(fs::canonical(sys / "class" / "block" / "nvme0n1p2"), part);
    EXPECT_EQ(slurp(part / "dev"), "259:2\n");
    EXPECT_NE(slurp(root.path() / "proc" / "self" / "mountinfo").find("23 1 259:2 / / "), std::string::npos);
    EXPECT_NE(slurp(root.path() / "proc" / "cpuinfo").find("vendor_id\t: AuthenticAMD\n"), std::string::npos);
    EXPECT_EQ(fs::read_symlink(sys / "class" / "iommu" / "ivhd0"), fs::path("../../devices/virtual/iommu/ivhd0"));
}

// Everything under a root: relative path -> "L:target", "F:contents" or "D".
std::map<std::string, std::string> tree(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        const std::string rel = fs::relative(it->path(), root).string();
        if (it->is_symlink()) {
            out[rel] = "L:" + fs::read_symlink(it->path()).string();
        } else if (it->is_directory()) {
            out[rel] = "D";
        } else {
            out[rel] = "F:" + slurp(it->path());
        }
    }
    return out;
}

TEST(FakeRoot, LineOrderDoesNotMatter) {
    std::vector<std::string> lines;
    std::istringstream in(kHost);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::string reversed;
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) reversed += *it + "\n";
    FakeRoot a(kHost);
    FakeRoot b(reversed);
    const auto ta = tree(a.path());
    EXPECT_GT(ta.size(), 200u);
    EXPECT_EQ(ta, tree(b.path()));
}

TEST(FakeRoot, RemovedOnDestructionAndRefusesToOverwrite) {
    fs::path kept;
    {
        FakeRoot root(kOk);
        kept = root.path();
        EXPECT_TRUE(fs::is_directory(kept / "sys" / "devices" / "pci0000:00" / "0000:00:01.0"));
        auto spec = parse_fake_host_spec(kOk);
        ASSERT_TRUE(spec.ok());
        auto again = build_fake_root(*spec, root.path());
        ASSERT_FALSE(again.ok());
        EXPECT_NE(again.error().path.find(root.path().string()), std::string::npos) << again.error().describe();
        EXPECT_EQ(again.error().err, EEXIST);

        FakeRoot moved(std::move(root));
        EXPECT_EQ(moved.path(), kept);
        EXPECT_TRUE(root.path().empty());  // NOLINT: checking the moved-from state
    }
    EXPECT_FALSE(fs::exists(kept));
    EXPECT_THROW(FakeRoot("dev nonsense\n"), std::runtime_error);
}

TEST(FakeRoot, SpecBuiltInCode) {
    FakeHostSpec spec;
    FakeDevice nic;
    nic.address = addr("0000:05:00.0");
    nic.vendor = 0x8086;
    nic.device = 0x1572;
    nic.class_code = 0x020000;
    nic.group = 9;
    nic.roles = {"default-route"};
    spec.devices.push_back(nic);
    FakeRoot root(spec);
    EXPECT_TRUE(fs::is_directory(root.path() / "sys" / "devices" / "pci0000:05" / "0000:05:00.0"));
    EXPECT_FALSE(fs::exists(root.device_dir("05:00.0") / "reset_method"));  // nullopt: no file
    EXPECT_EQ(fs::canonical(root.path() / "sys" / "class" / "net" / "eth0" / "device"),
              fs::canonical(root.device_dir("05:00.0")));

    spec.devices.push_back(nic);  // same address twice
    EXPECT_THROW(FakeRoot{spec}, std::runtime_error);
}

// ---------------------------------------------------------------------------
// lspci reads the fake root like a real one
// ---------------------------------------------------------------------------

std::vector<std::string> run_lines(const std::string& command) {
    std::vector<std::string> out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    std::string current;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) {
        current += buf.data();
        if (!current.empty() && current.back() == '\n') {
            current.pop_back();
            out.push_back(current);
            current.clear();
        }
    }
    if (!current.empty()) out.push_back(current);
    const int status = ::pclose(pipe);
    EXPECT_EQ(status, 0) << command;
    return out;
}

std::string hex(unsigned value, int digits) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*x", digits, value);
    return buf;
}

void expect_lspci_matches(const FakeRoot& root, bool with_domains) {
    const std::string cmd =
        "lspci -nn -A linux-sysfs -O sysfs.path='" + (root.path() / "sys" / "bus" / "pci").string() + "' 2>&1";
    const auto lines = run_lines(cmd);
    ASSERT_EQ(lines.size(), root.spec().devices.size()) << cmd;
    std::set<std::string> seen;
    for (const auto& d : root.spec().devices) {
        const std::string prefix = (with_domains ? d.address.str() : d.address.short_str()) + " ";
        auto it =
            std::find_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
        ASSERT_NE(it, lines.end()) << "no lspci line for " << prefix;
        const std::string& line = *it;
        seen.insert(line);
        EXPECT_NE(line.find("[" + hex(d.class_code >> 8, 4) + "]: "), std::string::npos) << line;
        EXPECT_NE(line.find("[" + hex(d.vendor, 4) + ":" + hex(d.device, 4) + "]"), std::string::npos) << line;
        const std::string rev = "(rev " + hex(d.revision, 2) + ")";
        if (d.revision != 0) {
            EXPECT_EQ(line.substr(line.size() - rev.size()), rev) << line;
        } else {
            EXPECT_EQ(line.find("(rev "), std::string::npos) << line;
        }
    }
    EXPECT_EQ(seen.size(), lines.size());
}

TEST(FakeRootLspci, ListsEveryDevice) {
    FakeRoot root(kHost);
    expect_lspci_matches(root, false);
}

TEST(FakeRootLspci, ListsDevicesWithSerialNumbers) {
    // A 4096-byte config space with a PCI Express capability reads as a valid one.
    FakeRoot root(
        "dev 00:01.0 8086:1901 0x060400 driver=pcieport rev=07 bus=01 dsn=00-00-00-00-00-00-01-01\n"
        "dev 01:00.0 8086:1533 0x020000 driver=igb rev=03 dsn=00-1b-21-ff-ff-a1-b2-c3 mac=00:1b:21:a1:b2:c3\n"
        "dev 00:1d.0 144d:a808 0x010802 driver=nvme nvme_serial=S4EWNX0R123456\n");
    expect_lspci_matches(root, false);
}

TEST(FakeRootLspci, ListsDevicesOfSeveralDomains) {
    FakeRoot root(
        "dev 0000:00:01.0 8086:1901 0x060400 driver=pcieport rev=07 bus=01\n"
        "dev 0000:01:00.0 10de:1b80 0x030000 driver=nouveau rev=a1\n"
        "dev 0001:00:02.0 8086:2030 0x060400 driver=pcieport rev=04 bus=03\n"
        "dev 0001:03:00.0 144d:a808 0x010802 driver=nvme\n");
    expect_lspci_matches(root, true);
    EXPECT_TRUE(fs::is_directory(root.path() / "sys" / "devices" / "pci0001:00" / "0001:00:02.0" / "0001:03:00.0"));
}

}  // namespace

// ---------------------------------------------------------------------------
// Modules and processes for the single-GPU handoff
// ---------------------------------------------------------------------------

TEST(FakeRoot, NvidiaModulesListTheirUsersAsTheKernelDoes) {
    FakeRoot root("host modules=nvidia_drm,nvidia_modeset,nvidia_uvm,nvidia,snd_hda_intel\n");
    EXPECT_EQ(slurp(root.path() / "proc/modules"),
              "nvidia_drm 77824 4 - Live 0x0000000000000000\n"
              "nvidia_modeset 1314816 8 nvidia_drm, Live 0x0000000000000000\n"
              "nvidia_uvm 1540096 0 - Live 0x0000000000000000\n"
              "nvidia 56147968 460 nvidia_modeset,nvidia_uvm, Live 0x0000000000000000\n"
              "snd_hda_intel 16384 0 - Live 0x0000000000000000\n");
    // Only the listed modules are users: without nvidia_drm and nvidia_uvm.
    FakeRoot fewer("host modules=nvidia_modeset,nvidia\n");
    EXPECT_EQ(slurp(fewer.path() / "proc/modules"),
              "nvidia_modeset 1314816 7 - Live 0x0000000000000000\n"
              "nvidia 56147968 459 nvidia_modeset, Live 0x0000000000000000\n");
}

TEST(FakeRoot, ProcessesCarryTheCgroupOfTheirUnitOrOfASession) {
    auto spec = parse_fake_host_spec(
        "proc 1200 Xorg unit=gdm3.service /dev/dri/card0 /dev/nvidiactl\n"
        "proc 1300 gnome-shell /dev/dri/renderD128 unit=gdm@seat0.service\n"
        "proc 1400 bash /dev/pts/0\n");
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    ASSERT_EQ(spec->processes.size(), 3u);
    EXPECT_EQ(spec->processes[0].unit, "gdm3.service");
    EXPECT_EQ(spec->processes[0].fds, (std::vector<std::string>{"/dev/dri/card0", "/dev/nvidiactl"}));
    EXPECT_EQ(spec->processes[1].unit, "gdm@seat0.service");  // anywhere after COMM
    EXPECT_EQ(spec->processes[1].fds, (std::vector<std::string>{"/dev/dri/renderD128"}));
    EXPECT_EQ(spec->processes[2].unit, std::nullopt);

    FakeRoot root(*spec);
    const fs::path proc = root.path() / "proc";
    EXPECT_EQ(slurp(proc / "1200/cgroup"), "0::/system.slice/gdm3.service\n");
    EXPECT_EQ(slurp(proc / "1300/cgroup"), "0::/system.slice/gdm@seat0.service\n");
    EXPECT_EQ(slurp(proc / "1400/cgroup"), "0::/user.slice/user-1000.slice/session-2.scope\n");
    EXPECT_EQ(fs::read_symlink(proc / "1200/fd/3"), "/dev/dri/card0");
    EXPECT_EQ(fs::read_symlink(proc / "1200/fd/4"), "/dev/nvidiactl");
    EXPECT_FALSE(fs::exists(fs::symlink_status(proc / "1200/fd/5")));  // the unit token is no fd
    EXPECT_EQ(fs::read_symlink(proc / "1300/fd/3"), "/dev/dri/renderD128");
}
