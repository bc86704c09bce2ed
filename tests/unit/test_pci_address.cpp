#include <gtest/gtest.h>

#include "hostdev/base/pci_address.hpp"

using hostdev::PciAddress;

TEST(PciAddress, ParsesFullAndShortForms) {
    auto a = PciAddress::parse("0000:01:00.1");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->domain, 0);
    EXPECT_EQ(a->bus, 1);
    EXPECT_EQ(a->slot, 0);
    EXPECT_EQ(a->function, 1);
    auto b = PciAddress::parse("3E:1F.7");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->str(), "0000:3e:1f.7");
    EXPECT_EQ(b->short_str(), "3e:1f.7");
    EXPECT_EQ(PciAddress::parse("ABCD:ff:00.0")->str(), "abcd:ff:00.0");
}

TEST(PciAddress, RejectsMalformedAndOutOfRange) {
    for (const char* bad : {"", "01:00", "0000:01:00", "0000:01:00.8", "0000:01:20.0", "100000000:01:00.0",
                            "0000:100:00.0", "0000:01:00.0x", "zz:00.0", "0000:01:00.0:1", "01.00.0", ":00.0"}) {
        auto r = PciAddress::parse(bad);
        EXPECT_FALSE(r.ok()) << bad;
        if (!r.ok()) {
            EXPECT_NE(r.error().message.find("invalid PCI address"), std::string::npos);
        }
    }
    EXPECT_NE(PciAddress::parse("0000:01:20.0").error().message.find("slot is above 0x1f"), std::string::npos);
    EXPECT_NE(PciAddress::parse("0000:01:00.8").error().message.find("function is above 7"), std::string::npos);
}

TEST(PciAddress, LibvirtAttributesHexOrDecimalDomainOptional) {
    auto a = PciAddress::from_libvirt("0x0000", "0x01", "0x00", "0x1");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->str(), "0000:01:00.1");
    auto b = PciAddress::from_libvirt(std::nullopt, "2", "31", "7");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->str(), "0000:02:1f.7");
    auto c = PciAddress::from_libvirt("65535", "255", "0x1F", "0X7");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->str(), "ffff:ff:1f.7");
}

TEST(PciAddress, LibvirtAttributesErrorsNameTheAttribute) {
    auto r = PciAddress::from_libvirt("0x0000", "0x100", "0x00", "0x0");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("bus='0x100'"), std::string::npos);
    EXPECT_NE(r.error().message.find("out of range"), std::string::npos);
    EXPECT_FALSE(PciAddress::from_libvirt("0x100000000", "0", "0", "0").ok());
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "0", "32", "0").ok());
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "0", "0", "8").ok());
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "0x", "0", "0").ok());
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "-1", "0", "0").ok());
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "1a", "0", "0").ok());
    EXPECT_NE(PciAddress::from_libvirt(std::nullopt, "08", "0", "0").error().message.find("bus='08' is not a number"),
              std::string::npos);
}

// libvirt reads an absent attribute as 0, in a source address too.
TEST(PciAddress, LibvirtAbsentFieldsAreZero) {
    auto a = PciAddress::from_libvirt(std::nullopt, std::nullopt, "3", std::nullopt);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->str(), "0000:00:03.0");
    EXPECT_EQ(PciAddress::from_libvirt(std::nullopt, std::nullopt, std::nullopt, std::nullopt)->str(), "0000:00:00.0");
}

// Base 0 as strtoul reads it: a leading 0 is octal (bus='010' is bus 8, not 10).
TEST(PciAddress, LibvirtLeadingZeroIsOctal) {
    auto a = PciAddress::from_libvirt(std::nullopt, "010", "037", "07");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->str(), "0000:08:1f.7");
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "08", "0", "0").ok());
    EXPECT_FALSE(PciAddress::from_libvirt(std::nullopt, "0", "0", "010").ok());  // function 8
}

TEST(PciAddress, LibvirtUintSignsSpacesAndBases) {
    using hostdev::NumberBase;
    using hostdev::parse_libvirt_uint;
    auto value = [](std::string_view t, NumberBase b = NumberBase::Auto) {
        auto r = parse_libvirt_uint(t, b);
        return r.ok() ? static_cast<long long>(*r) : -1LL;
    };
    EXPECT_EQ(value(" \t\n\r\v\f+0x1F"), 31);
    EXPECT_EQ(value("0X1f"), 31);
    EXPECT_EQ(value("4294967295"), 4294967295LL);
    EXPECT_EQ(value("0xffffffff"), 4294967295LL);
    EXPECT_EQ(value("037777777777"), 4294967295LL);
    for (const char* bad : {"", " ", "+", "-", "-0", " -1", "+-1", "++1", "+ 1", "1 ", "0x", "0x ", "0xg", "09",
                            "4294967296", "0x100000000", "99999999999999999999999", "1e1",
                            "\xc2\xa0"
                            "1"})
        EXPECT_EQ(value(bad), -1) << "'" << bad << "'";
    // Node-device elements and the boot order are decimal in libvirt.
    EXPECT_EQ(value("010", NumberBase::Decimal), 10);
    EXPECT_EQ(value(" +7", NumberBase::Decimal), 7);
    EXPECT_EQ(value("0x10", NumberBase::Decimal), -1);
    EXPECT_EQ(value("4294967296", NumberBase::Decimal), -1);
}

// Linux names devices behind Intel VMD with five or more domain digits.
TEST(PciAddress, DomainsAboveFfff) {
    auto a = PciAddress::parse("10000:01:00.0");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->domain, 0x10000U);
    EXPECT_EQ(a->str(), "10000:01:00.0");
    EXPECT_EQ(a->nodedev_name(), "pci_10000_01_00_0");
    EXPECT_EQ(PciAddress::from_nodedev_name("pci_10000_01_00_0")->str(), "10000:01:00.0");
    EXPECT_EQ(PciAddress::parse("ffffffff:ff:1f.7")->str(), "ffffffff:ff:1f.7");
    EXPECT_EQ(PciAddress::from_libvirt("0x10000", "1", "0", "0")->str(), "10000:01:00.0");
    EXPECT_EQ(PciAddress::from_libvirt("4294967295", "1", "0", "0")->str(), "ffffffff:01:00.0");
    // Same bus, slot and function in two domains: different addresses, ordered by domain.
    auto low = *PciAddress::parse("0000:01:00.0");
    EXPECT_NE(low, *a);
    EXPECT_LT(low, *a);
    EXPECT_FALSE(low.same_slot(*a));
    EXPECT_NE(std::hash<PciAddress>{}(low), std::hash<PciAddress>{}(*a));
    EXPECT_NE(std::hash<PciAddress>{}(*PciAddress::parse("1:00:00.0")),
              std::hash<PciAddress>{}(*PciAddress::parse("0:01:00.0")));
}

TEST(PciAddress, NodeDeviceNames) {
    auto a = PciAddress::from_nodedev_name("pci_0000_3e_00_0");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->str(), "0000:3e:00.0");
    EXPECT_EQ(a->nodedev_name(), "pci_0000_3e_00_0");
    for (const char* bad : {"pci_0000_3e_00", "usb_0000_3e_00_0", "pci_0000_3e_00_0_1", "pci_0000_3e_20_0",
                            "pci_0000_3e_00_8", "pci_x_3e_00_0"})
        EXPECT_FALSE(PciAddress::from_nodedev_name(bad).ok()) << bad;
}

TEST(PciAddress, OrderingAndSlots) {
    auto a = *PciAddress::parse("00:1f.0");
    auto b = *PciAddress::parse("00:1f.4");
    auto c = *PciAddress::parse("01:00.0");
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_TRUE(a.same_slot(b));
    EXPECT_FALSE(a.same_slot(c));
}
