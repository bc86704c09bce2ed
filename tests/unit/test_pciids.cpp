#include <gtest/gtest.h>

#include "hostdev/host/pciids.hpp"
#include "hostdev/output/format.hpp"

using hostdev::PciIds;

namespace {
const char* kIds =
    "# comment\n"
    "10de  NVIDIA Corporation\n"
    "\t13c2  GM204 [GeForce GTX 970]\n"
    "\t\t1043 8508  STRIX GTX 970\n"
    "\t0fbb  GM204 High Definition Audio Controller\n"
    "8086  Intel Corporation\n"
    "\ta12f  100 Series/C230 Series Chipset Family USB 3.0 xHCI Controller\n"
    "C 03  Display controller\n"
    "\t00  VGA compatible controller\n"
    "\t\t00  VGA controller\n"
    "C 0c  Serial bus controller\n"
    "\t03  USB controller\n"
    "C ff  Unassigned class\n";
}

TEST(PciIds, LooksUpVendorsDevicesClasses) {
    PciIds ids = PciIds::parse(kIds);
    EXPECT_EQ(ids.vendor(0x10de), "NVIDIA Corporation");
    EXPECT_EQ(ids.device(0x10de, 0x13c2), "GM204 [GeForce GTX 970]");
    EXPECT_EQ(ids.device(0x10de, 0x1234), "");
    EXPECT_EQ(ids.vendor(0x1234), "");
    EXPECT_EQ(ids.class_name(0x0300), "VGA compatible controller");
    EXPECT_EQ(ids.class_name(0x0380), "Display controller");  // unknown subclass: class name
    EXPECT_EQ(ids.class_name(0xff00), "Unassigned class");
    EXPECT_EQ(ids.class_name(0x1200), "");
}

TEST(PciIds, WantedVendorsLimitDeviceNames) {
    std::unordered_set<std::uint16_t> wanted{0x8086};
    PciIds ids = PciIds::parse(kIds, &wanted);
    EXPECT_EQ(ids.vendor(0x10de), "NVIDIA Corporation");
    EXPECT_EQ(ids.device(0x10de, 0x13c2), "");
    EXPECT_NE(ids.device(0x8086, 0xa12f), "");
}

TEST(PciIds, LspciLineFallbacksMatchLspci) {
    hostdev::PciDevice d;
    d.address = *hostdev::PciAddress::parse("02:00.0");
    d.vendor = 0x4422;
    d.device = 0x13c2;
    d.class_code = 0x0c9930;
    d.revision = 3;
    d.class_name = "Serial bus controller";
    // Unknown vendor: lspci prints "Device [vvvv:dddd]".
    EXPECT_EQ(hostdev::lspci_line(d, hostdev::AddressStyle::Short),
              "02:00.0 Serial bus controller [0c99]: Device [4422:13c2] (rev 03)");
    d.vendor_name = "NVIDIA Corporation";
    d.class_name.clear();
    d.revision = 0;
    EXPECT_EQ(hostdev::lspci_line(d, hostdev::AddressStyle::Full),
              "0000:02:00.0 Class [0c99]: NVIDIA Corporation Device [4422:13c2]");
}
