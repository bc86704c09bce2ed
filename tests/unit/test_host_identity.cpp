// Identity fields through snapshots and node devices: serials written and
// read back, older snapshots without the identity keys, node devices that
// do not show them; each unread field unknown, never zeros that compare.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "fake_host.hpp"
#include "hostdev/base/identity.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/host/snapshot.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;

namespace {

PciAddress addr(std::string_view s) { return *PciAddress::parse(s); }

const PciDevice& device(const Host& h, std::string_view a) {
    const PciDevice* d = h.find(addr(a));
    if (d == nullptr) throw std::runtime_error("no device " + std::string(a));
    return *d;
}

bool unread(const PciDevice& d, IdentityField f) {
    return std::find(d.unread_identity.begin(), d.unread_identity.end(), f) != d.unread_identity.end();
}

const char* kSerialHost = R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport rev=07 bus=01 dsn=00-00-00-00-00-00-01-01
dev 01:00.0 8086:1533 0x020000 group=1 driver=igb rev=03 dsn=00-1b-21-ff-ff-a1-b2-c3 mac=00:1B:21:A1:B2:C3 net=enp1s0
dev 00:1d.0 144d:a808 0x010802 group=2 driver=nvme nvme_serial=S4EWNX0R123456
dev 00:17.0 8086:a102 0x010601 group=4 driver=ahci
)";

}  // namespace

// ---- snapshots ------------------------------------------------------------

TEST(SnapshotSerials, RoundTrip) {
    FakeRoot root(kSerialHost);
    const Host h = hostdev::testing::read_fake_host(root);
    const std::string text = write_snapshot(h);
    EXPECT_NE(text.find("\"serials\": {\n        \"dsn\": \"00-1b-21-ff-ff-a1-b2-c3\",\n        \"nvme\": null,\n"
                        "        \"mac\": \"00:1b:21:a1:b2:c3\"\n      }"),
              std::string::npos)
        << text;
    auto back = parse_snapshot(text, "host.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    ASSERT_EQ(back->devices.size(), h.devices.size());
    for (std::size_t i = 0; i < h.devices.size(); ++i) {
        EXPECT_EQ(back->devices[i].serials, h.devices[i].serials) << h.devices[i].address.str();
        EXPECT_TRUE(back->devices[i].unread_identity.empty()) << h.devices[i].address.str();
        EXPECT_EQ(identity_of(back->devices[i]), identity_of(h.devices[i])) << h.devices[i].address.str();
    }
    EXPECT_EQ(write_snapshot(*back), text);
}

namespace {

// A device as a snapshot from before the identity keys has it.
std::string old_snapshot(std::string_view extra_keys) {
    return std::string(R"({"format": "hostdev-snapshot", "version": 1, "iommu": {"present": true, "units": []},
  "kernel": {"cmdline": "", "cpu_vendor": ""}, "groups": [{"group": 1}],
  "devices": [{"address": "0000:03:00.0", "vendor": "10de", "device": "13c2", "class": "030000",
               "iommu_group": 1)") +
           std::string(extra_keys) + "}], \"warnings\": []}";
}

}  // namespace

TEST(SnapshotSerials, OldSnapshotLeavesTheNewFieldsUnread) {
    auto h = parse_snapshot(old_snapshot(""), "old.json");
    ASSERT_TRUE(h.ok()) << h.error().describe();
    const PciDevice& d = h->devices.at(0);
    EXPECT_TRUE(unread(d, IdentityField::Subsystem));
    EXPECT_TRUE(unread(d, IdentityField::Revision));
    EXPECT_TRUE(unread(d, IdentityField::SlotPath));
    EXPECT_TRUE(unread(d, IdentityField::Serial));
    EXPECT_FALSE(unread(d, IdentityField::Vendor));
    const DeviceIdentity id = identity_of(d);
    EXPECT_EQ(id.vendor, 0x10de);
    EXPECT_EQ(id.class_code, 0x030000u);
    EXPECT_EQ(id.subsystem_vendor, std::nullopt);
    EXPECT_EQ(id.subsystem_device, std::nullopt);
    EXPECT_EQ(id.revision, std::nullopt);
    EXPECT_EQ(id.slot_path, std::nullopt);
    EXPECT_TRUE(id.serials.empty());
    // A pin of the full identity is not compared on those fields, and matches.
    DeviceIdentity pin = id;
    pin.subsystem_vendor = 0x1043;
    pin.subsystem_device = 0x8508;
    pin.revision = 0xa1;
    pin.slot_path = "0000:00/01.0/00.0";
    pin.serials.dsn = "00-1b-21-ff-ff-a1-b2-c3";
    const IdentityComparison c = compare_identity(pin, id);
    EXPECT_TRUE(c.matches());
    EXPECT_EQ(c.not_compared, (std::vector<IdentityField>{IdentityField::Subsystem, IdentityField::Revision,
                                                          IdentityField::SlotPath, IdentityField::Serial}));
    // Written again, the unread fields stay unknown.
    auto again = parse_snapshot(write_snapshot(*h), "again.json");
    ASSERT_TRUE(again.ok()) << again.error().describe();
    EXPECT_EQ(again->devices.at(0).unread_identity, d.unread_identity);
}

TEST(SnapshotSerials, EachKeyPresentIsRead) {
    auto h = parse_snapshot(old_snapshot(R"(, "subsystem_vendor": "1043", "subsystem_device": "8508",
        "revision": "a1", "parent_bridges": ["0000:00:01.0"], "serials": {"dsn": null, "nvme": "X1", "mac": null})"),
                            "new.json");
    ASSERT_TRUE(h.ok()) << h.error().describe();
    const PciDevice& d = h->devices.at(0);
    EXPECT_TRUE(d.unread_identity.empty());
    const DeviceIdentity id = identity_of(d);
    EXPECT_EQ(id.subsystem_vendor, 0x1043);
    EXPECT_EQ(id.revision, 0xa1);
    EXPECT_EQ(id.slot_path, "0000:00/01.0/00.0");
    EXPECT_EQ(id.serials, (DeviceSerials{std::nullopt, "X1", std::nullopt}));
    // Only the serials absent.
    auto partial = parse_snapshot(old_snapshot(R"(, "subsystem_vendor": "1043", "subsystem_device": "8508",
        "revision": "a1", "parent_bridges": [])"),
                                  "partial.json");
    ASSERT_TRUE(partial.ok()) << partial.error().describe();
    EXPECT_EQ(partial->devices.at(0).unread_identity, std::vector<IdentityField>{IdentityField::Serial});
}

TEST(SnapshotSerials, BadSerialsAreErrorsNamingTheKey) {
    for (const char* bad : {R"(, "serials": "00-1b")", R"(, "serials": {"dsn": 7})", R"(, "serials": [])",
                            R"(, "serials": {"mac": true})"}) {
        auto h = parse_snapshot(old_snapshot(bad), "bad.json");
        ASSERT_FALSE(h.ok()) << bad;
        EXPECT_NE(h.error().describe().find("devices[0].serials"), std::string::npos) << h.error().describe();
    }
}

// ---- node devices ---------------------------------------------------------

TEST(NodedevIdentity, WhatLibvirtDoesNotShowIsUnread) {
    const std::string with_class =
        "<device><name>pci_0000_01_00_0</name><parent>computer</parent><capability type='pci'>"
        "<class>0x030000</class><domain>0</domain><bus>1</bus><slot>0</slot><function>0</function>"
        "<product id='0x13c2'/><vendor id='0x10de'/></capability></device>";
    const std::string without_class =
        "<device><name>pci_0000_02_00_0</name><parent>computer</parent><capability type='pci'>"
        "<domain>0</domain><bus>2</bus><slot>0</slot><function>0</function>"
        "<product id='0x1533'/><vendor id='0x8086'/></capability></device>";
    std::vector<Result<NodeDevice>> devices;
    devices.push_back(parse_nodedev_xml(with_class, "a"));
    devices.push_back(parse_nodedev_xml(without_class, "b"));
    for (const auto& d : devices) ASSERT_TRUE(d.ok()) << d.error().describe();
    const Host h = host_from_node_devices(devices, "").host;
    const PciDevice& gpu = device(h, "01:00.0");
    EXPECT_EQ(gpu.unread_identity,
              (std::vector<IdentityField>{IdentityField::Subsystem, IdentityField::Revision, IdentityField::Serial}));
    const DeviceIdentity id = identity_of(gpu);
    EXPECT_EQ(id.vendor, 0x10de);
    EXPECT_EQ(id.class_code, 0x030000u);
    EXPECT_EQ(id.subsystem_vendor, std::nullopt);
    EXPECT_EQ(id.revision, std::nullopt);
    EXPECT_EQ(id.slot_path, "0000:01/00.0");
    EXPECT_TRUE(unread(device(h, "02:00.0"), IdentityField::Class));
    EXPECT_EQ(identity_of(device(h, "02:00.0")).class_code, std::nullopt);
    // Through a snapshot the unread fields stay unknown, never zeros.
    auto back = parse_snapshot(write_snapshot(h), "nodedev.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(identity_of(device(*back, "01:00.0")), id);
}
