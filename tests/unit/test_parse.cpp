#include <gtest/gtest.h>

#include "hostdev/host/parse.hpp"

namespace parse = hostdev::parse;

TEST(Parse, SysfsHexAndInt) {
    EXPECT_EQ(*parse::sysfs_hex("0x10de\n", 0xffff), 0x10deu);
    EXPECT_EQ(*parse::sysfs_hex("0x030000\n"), 0x030000u);
    EXPECT_EQ(*parse::sysfs_hex("a1"), 0xa1u);
    EXPECT_FALSE(parse::sysfs_hex("", 0xffff).ok());
    EXPECT_FALSE(parse::sysfs_hex("0x\n", 0xffff).ok());
    EXPECT_FALSE(parse::sysfs_hex("0x1g\n", 0xffff).ok());
    EXPECT_FALSE(parse::sysfs_hex("0x10000", 0xffff).ok());
    EXPECT_EQ(*parse::sysfs_int("-1\n"), -1);
    EXPECT_EQ(*parse::sysfs_int("1\n"), 1);
    EXPECT_FALSE(parse::sysfs_int("one").ok());
}

TEST(Parse, DriverOverrideAndWordLists) {
    EXPECT_FALSE(parse::driver_override("(null)\n").has_value());
    EXPECT_FALSE(parse::driver_override("\n").has_value());
    EXPECT_EQ(*parse::driver_override("vfio-pci\n"), "vfio-pci");
    EXPECT_EQ(parse::word_list("flr bus\n"), (std::vector<std::string>{"flr", "bus"}));
    EXPECT_TRUE(parse::word_list("\n").empty());
}

TEST(Parse, ConfigHeader) {
    std::string cfg(64, '\0');
    cfg[0] = '\xde';
    cfg[1] = '\x10';  // vendor 10de
    cfg[2] = '\xc2';
    cfg[3] = '\x13';  // device 13c2
    cfg[8] = '\xa1';  // revision
    cfg[9] = 0x00;
    cfg[10] = 0x00;
    cfg[11] = 0x03;      // class 030000
    cfg[0x0e] = '\x80';  // type 0, multifunction
    cfg[0x2c] = '\x43';
    cfg[0x2d] = '\x10';
    cfg[0x2e] = '\x08';
    cfg[0x2f] = '\x85';
    auto h = parse::config_header(cfg);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->vendor, 0x10de);
    EXPECT_EQ(h->device, 0x13c2);
    EXPECT_EQ(h->revision, 0xa1);
    EXPECT_EQ(h->class_code, 0x030000u);
    EXPECT_EQ(h->header_type, 0);
    EXPECT_TRUE(h->multifunction);
    EXPECT_EQ(h->subsystem_vendor, 0x1043);
    EXPECT_EQ(h->subsystem_device, 0x8508);
    cfg[0x0e] = 0x01;  // bridge: no subsystem ids at 0x2c
    h = parse::config_header(cfg);
    EXPECT_EQ(h->header_type, 1);
    EXPECT_FALSE(h->multifunction);
    EXPECT_EQ(h->subsystem_vendor, 0);
    EXPECT_FALSE(parse::config_header(std::string(8, '\0')).ok());
}

TEST(Parse, LinksAndPaths) {
    EXPECT_EQ(*parse::iommu_group_link("../../../kernel/iommu_groups/13"), 13);
    EXPECT_FALSE(parse::iommu_group_link("../../../kernel/iommu_groups/x").ok());
    EXPECT_EQ(parse::link_basename("../../../bus/pci/drivers/snd_hda_intel"), "snd_hda_intel");
    auto chain = parse::pci_addresses_in_path(
        "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:02:00.0:pcie001/nvme/nvme0");
    ASSERT_EQ(chain.size(), 3u);
    EXPECT_EQ(chain[0].str(), "0000:00:01.0");
    EXPECT_EQ(chain[2].str(), "0000:02:00.0");
    EXPECT_TRUE(parse::pci_addresses_in_path("/sys/devices/platform/i8042/serio0/input/input3").empty());
}

TEST(Parse, RootMount) {
    const char* mi =
        "22 28 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
        "28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro\n"
        "30 28 0:5 / /dev rw,nosuid - devtmpfs udev rw\n";
    auto m = parse::root_mount(mi);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->major, 259u);
    EXPECT_EQ(m->minor, 2u);
    EXPECT_EQ(m->fstype, "ext4");
    EXPECT_EQ(m->source, "/dev/nvme0n1p2");
    // Several optional fields, and a later mount over / wins.
    const char* stacked =
        "1 0 8:1 / / rw shared:1 master:2 - ext4 /dev/sda1 rw\n"
        "2 1 0:33 / / rw - overlay overlay rw,lowerdir=/x\n";
    EXPECT_EQ(parse::root_mount(stacked)->major, 0u);
    EXPECT_EQ(parse::root_mount(stacked)->fstype, "overlay");
    EXPECT_FALSE(parse::root_mount("garbage line\n").has_value());
}

TEST(Parse, DefaultRoutes) {
    const char* route =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eno1\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
        "wlp3s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n";
    EXPECT_EQ(parse::default_route_interfaces(route), (std::vector<std::string>{"eno1", "wlp3s0"}));
    const char* v6 =
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 "
        "00000400 00000001 00000000 00000003     eno1\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 "
        "ffffffff 00000001 00000000 00200200       lo\n";
    EXPECT_EQ(parse::default_route_interfaces_v6(v6), (std::vector<std::string>{"eno1"}));
}

TEST(Parse, CpuVendorKeyboardCmdline) {
    EXPECT_EQ(parse::cpu_vendor("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"), "AuthenticAMD");
    EXPECT_EQ(parse::cpu_vendor("processor : 0\n"), "");
    EXPECT_TRUE(parse::input_is_keyboard("120013\n"));
    EXPECT_FALSE(parse::input_is_keyboard("17\n"));      // mouse: no EV_REP
    EXPECT_FALSE(parse::input_is_keyboard("100000\n"));  // EV_REP alone
    EXPECT_TRUE(parse::input_is_keyboard("0 120013\n"));
    EXPECT_EQ(parse::cmdline_param("ro quiet intel_iommu=on iommu=pt", "intel_iommu"), "on");
    EXPECT_EQ(parse::cmdline_param("intel_iommu=off intel_iommu=on", "intel_iommu"), "on");
    EXPECT_EQ(parse::cmdline_param("quiet splash", "quiet"), "");
    EXPECT_FALSE(parse::cmdline_param("iommu=pt", "intel_iommu").has_value());
    EXPECT_FALSE(parse::cmdline_param("intel_iommu_x=1", "intel_iommu").has_value());
}

TEST(Parse, ProcessStartTime) {
    // /proc/PID/stat: field 22 is the start time; the name may hold spaces and parens.
    const std::string tail =
        " S 1 812 812 0 -1 4194560 2553 0 0 0 12 5 0 0 20 0 17 0 4242 1234567 890 18446744073709551615\n";
    EXPECT_EQ(parse::process_start_time("812 (libvirtd)" + tail), 4242u);
    EXPECT_EQ(parse::process_start_time("812 (a (b) c)" + tail), 4242u);
    EXPECT_EQ(parse::process_start_time("812 (x) S 1 2 3"), std::nullopt);      // too few fields
    EXPECT_EQ(parse::process_start_time("812 libvirtd" + tail), std::nullopt);  // no name in parens
    EXPECT_EQ(parse::process_start_time(""), std::nullopt);
    EXPECT_EQ(parse::process_start_time("812 (x) S 1 812 812 0 -1 4194560 2553 0 0 0 12 5 0 0 20 0 17 0 42x2 1"),
              std::nullopt);
}
