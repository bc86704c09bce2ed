// base/identity on literals: slot paths, the comparison of a pin with a
// host's identity, same_model and same_serial, and the identity in words.
#include <gtest/gtest.h>

#include "hostdev/base/identity.hpp"

using namespace hostdev;

namespace {

PciAddress addr(std::string_view s) { return *PciAddress::parse(s); }

}  // namespace

TEST(Identity, SlotPath) {
    EXPECT_EQ(slot_path(addr("0000:00:1f.3"), {}), "0000:00/1f.3");
    EXPECT_EQ(slot_path(addr("0000:03:00.0"), {addr("0000:00:1c.4")}), "0000:00/1c.4/00.0");
    // Nearest first: the switch's downstream port, its upstream port, the root port.
    EXPECT_EQ(slot_path(addr("0001:05:00.1"), {addr("0001:04:02.0"), addr("0001:03:00.0"), addr("0001:00:01.0")}),
              "0001:00/01.0/00.0/02.0/00.1");
    // Renumbered buses, the same slot path.
    EXPECT_EQ(slot_path(addr("0000:07:00.0"), {addr("0000:00:1c.4")}),
              slot_path(addr("0000:03:00.0"), {addr("0000:00:1c.4")}));
}

namespace {

DeviceIdentity gpu_identity() {
    DeviceIdentity id;
    id.vendor = 0x10de;
    id.device = 0x13c2;
    id.subsystem_vendor = 0x1043;
    id.subsystem_device = 0x8508;
    id.class_code = 0x030000;
    id.revision = 0xa1;
    id.slot_path = "0000:00/01.0/00.0";
    id.serials.dsn = "00-1b-21-ff-ff-a1-b2-c3";
    return id;
}

}  // namespace

TEST(Identity, CompareMatchesAndNamesWhatDiffers) {
    const DeviceIdentity pin = gpu_identity();
    EXPECT_TRUE(compare_identity(pin, pin).matches());
    EXPECT_TRUE(compare_identity(pin, pin).not_compared.empty());
    DeviceIdentity other = pin;
    other.device = 0x13c0;
    other.subsystem_device = 0x8509;
    other.revision = 0xa2;
    other.slot_path = "0000:00/1c.0/00.0";
    other.serials.dsn = "00-1b-21-ff-ff-a1-b2-c4";
    const IdentityComparison c = compare_identity(pin, other);
    EXPECT_FALSE(c.matches());
    EXPECT_EQ(c.differ,
              (std::vector<IdentityField>{IdentityField::Device, IdentityField::Subsystem, IdentityField::Revision,
                                          IdentityField::SlotPath, IdentityField::Serial}));
    DeviceIdentity cls = pin;
    cls.class_code = 0x030200;
    EXPECT_EQ(compare_identity(pin, cls).differ, std::vector<IdentityField>{IdentityField::Class});
}

TEST(Identity, CompareSkipsWhatEitherSideDoesNotKnow) {
    const DeviceIdentity pin = gpu_identity();
    DeviceIdentity host;
    host.vendor = 0x10de;
    host.device = 0x13c2;
    const IdentityComparison c = compare_identity(pin, host);
    EXPECT_TRUE(c.matches());
    EXPECT_EQ(c.not_compared,
              (std::vector<IdentityField>{IdentityField::Subsystem, IdentityField::Class, IdentityField::Revision,
                                          IdentityField::SlotPath, IdentityField::Serial}));
    // A pin without a field never compares it.
    DeviceIdentity bare;
    bare.vendor = 0x10de;
    EXPECT_TRUE(compare_identity(bare, pin).matches());
    EXPECT_TRUE(compare_identity(bare, pin).not_compared.empty());
    // Serials of another kind only: not compared; one kind equal and one different: differ.
    DeviceIdentity nvme_only = pin;
    nvme_only.serials = {std::nullopt, "S4EW", std::nullopt};
    EXPECT_EQ(compare_identity(pin, nvme_only).not_compared, std::vector<IdentityField>{IdentityField::Serial});
    DeviceIdentity two = pin;
    two.serials.mac = "00:1b:21:a1:b2:c3";
    DeviceIdentity two_other = two;
    two_other.serials.mac = "00:1b:21:a1:b2:c4";
    EXPECT_EQ(compare_identity(two, two_other).differ, std::vector<IdentityField>{IdentityField::Serial});
}

TEST(Identity, SameModelAndSameSerial) {
    const DeviceIdentity pin = gpu_identity();
    DeviceIdentity moved = pin;
    moved.slot_path = "0000:00/1c.0/00.0";
    moved.revision = 0xa2;
    EXPECT_TRUE(same_model(pin, moved));  // revision and slot are not the model
    EXPECT_TRUE(same_serial(pin, moved));
    DeviceIdentity sibling = moved;
    sibling.serials.dsn = "00-1b-21-ff-ff-a1-b2-c4";
    EXPECT_TRUE(same_model(pin, sibling));
    EXPECT_FALSE(same_serial(pin, sibling));
    DeviceIdentity other_card = pin;
    other_card.subsystem_vendor = 0x1458;
    EXPECT_FALSE(same_model(pin, other_card));
    DeviceIdentity other_class = pin;
    other_class.class_code = 0x040300;
    EXPECT_FALSE(same_model(pin, other_class));
    DeviceIdentity unknown;  // knows nothing: agrees with every model, no serial to share
    EXPECT_TRUE(same_model(pin, unknown));
    EXPECT_FALSE(same_serial(pin, unknown));
}

TEST(Identity, InWords) {
    const DeviceIdentity pin = gpu_identity();
    EXPECT_EQ(describe_identity(pin),
              "10de:13c2 subsystem 1043:8508 class 030000 rev a1 slot path 0000:00/01.0/00.0 "
              "dsn 00-1b-21-ff-ff-a1-b2-c3");
    EXPECT_EQ(identity_value(DeviceIdentity{}, IdentityField::Serial), "unknown");
    EXPECT_EQ(to_string(IdentityField::SlotPath), "slot path");
}
