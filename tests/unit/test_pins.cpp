// Device pins (README "Device pins"): read from and written to <metadata>,
// checked against hosts read from fresh fake roots of one machine before and
// after its buses were renumbered, a card moved, two identical GPUs swapped
// and a real hardware swap; --relocate and --repin; the hook and detach
// refusing a drifted device without writing anything.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/binding/hook.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/pins.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
using hostdev::testing::read_fake_host;

namespace {

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

// One machine: a passed-through NIC behind 00:1d.0, the root filesystem's
// NVMe behind 00:1c.0, a GPU with its audio function behind 00:01.0.
const char* kBefore = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=3842:2974
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1 subsys=3842:2974
dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=02
dev 02:00.0 144d:a808 0x010802 group=5 driver=nvme subsys=144d:a801 role=root-fs
dev 00:1d.0 8086:a118 0x060400 group=6 driver=pcieport bus=03
dev 03:00.0 8086:1533 0x020000 group=6 driver=igb rev=03 subsys=8086:0001
)";

// The same machine after a BIOS option turned on the root port 00:1b.0 with an
// M.2 drive behind it: every later bus moved up by one, and 03:00.0 is now
// the controller of the root filesystem.
const char* kRenumbered = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=3842:2974
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1 subsys=3842:2974
dev 00:1b.0 8086:a167 0x060400 group=4 driver=pcieport bus=02
dev 02:00.0 1987:5012 0x010802 group=4 driver=nvme subsys=1987:5012
dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=03
dev 03:00.0 144d:a808 0x010802 group=5 driver=nvme subsys=144d:a801 role=root-fs
dev 00:1d.0 8086:a118 0x060400 group=6 driver=pcieport bus=04
dev 04:00.0 8086:1533 0x020000 group=6 driver=igb rev=03 subsys=8086:0001
)";

// The NIC moved from the slot of 00:1d.0 to that of 00:1d.4.
const char* kMovedCard = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=3842:2974
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1 subsys=3842:2974
dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=02
dev 02:00.0 144d:a808 0x010802 group=5 driver=nvme subsys=144d:a801 role=root-fs
dev 00:1d.0 8086:a118 0x060400 group=6 driver=pcieport bus=03
dev 00:1d.4 8086:a11c 0x060400 group=7 driver=pcieport bus=04
dev 04:00.0 8086:1533 0x020000 group=7 driver=igb rev=03 subsys=8086:0001
)";

// The NIC at 03:00.0 replaced by another model on purpose.
const char* kSwappedNic = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=3842:2974
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1 subsys=3842:2974
dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=02
dev 02:00.0 144d:a808 0x010802 group=5 driver=nvme subsys=144d:a801 role=root-fs
dev 00:1d.0 8086:a118 0x060400 group=6 driver=pcieport bus=03
dev 03:00.0 8086:10d3 0x020000 group=6 driver=e1000e subsys=8086:a01f
)";

// Two identical GPUs behind 00:01.0 and 00:01.1 ...
const char* kTwinGpus = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:1b80 0x030000 group=2 driver=nouveau rev=a1 subsys=1462:3362
dev 00:01.1 8086:1905 0x060400 group=3 driver=pcieport bus=02
dev 02:00.0 10de:1b80 0x030000 group=4 driver=nouveau rev=a1 subsys=1462:3362
)";
// ... whose bus numbers swapped (the port 00:01.1 enumerated first) ...
const char* kTwinGpusSwapped = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=02
dev 02:00.0 10de:1b80 0x030000 group=4 driver=nouveau rev=a1 subsys=1462:3362
dev 00:01.1 8086:1905 0x060400 group=3 driver=pcieport bus=01
dev 01:00.0 10de:1b80 0x030000 group=2 driver=nouveau rev=a1 subsys=1462:3362
)";
// ... or both moved to the chipset's root ports, where no slot path is the pinned one.
const char* kTwinGpusMoved = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=03
dev 03:00.0 10de:1b80 0x030000 group=5 driver=nouveau rev=a1 subsys=1462:3362
dev 00:1c.4 8086:a114 0x060400 group=7 driver=pcieport bus=04
dev 04:00.0 10de:1b80 0x030000 group=7 driver=nouveau rev=a1 subsys=1462:3362
)";

Host host_of(const char* spec) {
    FakeRoot root(spec);
    return read_fake_host(root);
}

std::string domain_with(const std::string& hostdevs, const std::string& metadata = "") {
    return "<domain type='kvm'>\n"
           "  <name>guest</name>\n"
           "  <uuid>0f0e0d0c-0b0a-4908-8706-050403020100</uuid>\n" +
           metadata +
           "  <memory unit='KiB'>65536</memory>\n"
           "  <os>\n"
           "    <type arch='x86_64' machine='q35'>hvm</type>\n"
           "  </os>\n"
           "  <devices>\n" +
           hostdevs + "  </devices>\n</domain>\n";
}

std::string hostdev_at(int bus, int function = 0) {
    char b[8], f[8];
    std::snprintf(b, sizeof b, "0x%02x", bus);
    std::snprintf(f, sizeof f, "0x%x", function);
    return std::string("    <hostdev mode='subsystem' type='pci' managed='yes'>\n") +
           "      <source>\n        <address domain='0x0000' bus='" + b + "' slot='0x00' function='" + f +
           "'/>\n      </source>\n    </hostdev>\n";
}

PlanOptions pinning() { return PlanOptions::from_flags("never", false, "auto"); }
PlanOptions following(PlanOptions::Follow f) {
    PlanOptions o = pinning();
    o.follow = f;
    return o;
}

FixResult fix(const std::string& xml, const Host& host, const PlanOptions& o = pinning()) {
    return fix_domain(xml, "guest.xml", host, nullptr, o);
}

// The domain as hostdev-fix pins it on `spec`.
std::string pinned_on(const char* spec, const std::string& xml) {
    FixResult r = fix(xml, host_of(spec));
    EXPECT_NE(r.status, FixStatus::Blocked);
    EXPECT_NE(r.fixed, xml);
    return r.fixed;
}

std::string errors_of(const FixResult& r) {
    std::string s;
    for (const auto& p : r.problems)
        if (p.severity == Severity::Error) s += p.message + "\n";
    return s;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::vector<std::string> kinds(const FixResult& r) {
    std::vector<std::string> k;
    for (const auto& c : r.plan.changes) k.emplace_back(to_string(c.kind));
    return k;
}

const std::string kPinsNs = "xmlns:hostdev=\"urn:hostdev:pins:1\"";

}  // namespace

// ---- reading pins ----------------------------------------------------------

TEST(PinParse, ReadsEveryFieldByNamespaceWithAnyPrefix) {
    const std::string md =
        "  <metadata>\n"
        "    <p:pins xmlns:p='urn:hostdev:pins:1'>\n"
        "      <p:device address='0000:03:00.0' vendor='0x8086' device='1533' subsystem-vendor='0x8086'"
        " subsystem-device='0x0001' class='0x020000' revision='0x03' slot-path='0000:00/1d.0/00.0'"
        " dsn='00-1b-21-ff-ff-a1-b2-c3' nvme-serial='S4EW &amp; 1' mac='a0:36:9f:01:02:03' future='x'/>\n"
        "      <p:other/>\n"
        "    </p:pins>\n"
        "  </metadata>\n";
    auto d = parse_domain_xml(domain_with(hostdev_at(3), md), "guest.xml");
    ASSERT_TRUE(d.ok()) << d.error().describe();
    ASSERT_EQ(d->pins.size(), 1U);
    const DevicePin& p = d->pins[0];
    EXPECT_EQ(p.address, addr("0000:03:00.0"));
    EXPECT_EQ(p.line, 6);
    EXPECT_EQ(p.identity.vendor, 0x8086);
    EXPECT_EQ(p.identity.device, 0x1533);
    EXPECT_EQ(p.identity.subsystem_vendor, 0x8086);
    EXPECT_EQ(p.identity.subsystem_device, 0x0001);
    EXPECT_EQ(p.identity.class_code, 0x020000U);
    EXPECT_EQ(p.identity.revision, 0x03);
    EXPECT_EQ(p.identity.slot_path, "0000:00/1d.0/00.0");
    EXPECT_EQ(p.identity.serials.dsn, "00-1b-21-ff-ff-a1-b2-c3");
    EXPECT_EQ(p.identity.serials.nvme, "S4EW & 1");
    EXPECT_EQ(p.identity.serials.mac, "a0:36:9f:01:02:03");
}

TEST(PinParse, OtherNamespacesAndLaterPinsElementsAreNotPins) {
    const std::string md =
        "  <metadata>\n"
        "    <x:pins xmlns:x='urn:someone-else'><x:device address='0000:01:00.0' vendor='0x1'/></x:pins>\n"
        "    <hostdev:pins xmlns:hostdev='urn:hostdev:pins:1'>\n"
        "      <hostdev:device address='0000:03:00.0'/>\n"
        "    </hostdev:pins>\n"
        "    <h2:pins xmlns:h2='urn:hostdev:pins:1'><h2:device address='0000:04:00.0'/></h2:pins>\n"
        "  </metadata>\n";
    auto d = parse_domain_xml(domain_with(hostdev_at(3), md), "guest.xml");
    ASSERT_TRUE(d.ok()) << d.error().describe();
    ASSERT_EQ(d->pins.size(), 1U);
    EXPECT_EQ(d->pins[0].address, addr("0000:03:00.0"));
    EXPECT_EQ(d->pins[0].identity, DeviceIdentity{});  // nothing known: nothing compared
}

TEST(PinParse, BadPinsAreErrorsWithFileAndLine) {
    struct Case {
        std::string device;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"<h:device vendor='0x10de'/>", "guest.xml:6: device pin: <device> without address="},
        {"<h:device address='03:00'/>", "guest.xml:6: device pin: address='03:00'"},
        {"<h:device address='0000:03:00.0' vendor='0x1zde'/>",
         "guest.xml:6: device pin: 0000:03:00.0: vendor='0x1zde' is not a hexadecimal number up to 0xffff"},
        {"<h:device address='0000:03:00.0' class='0x1000000'/>", "class='0x1000000' is not a hexadecimal number"},
        {"<h:device address='0000:03:00.0' revision=''/>", "revision='' is not a hexadecimal number up to 0xff"},
        {"<h:device address='0000:03:00.0' subsystem-vendor='0x8086'/>",
         "subsystem-vendor and subsystem-device go together"},
        {"<h:device address='0000:03:00.0'/><h:device address='03:00.0'/>", "0000:03:00.0 is pinned twice"},
    };
    for (const auto& c : cases) {
        const std::string md = "  <metadata>\n    <h:pins xmlns:h='urn:hostdev:pins:1'>\n      " + c.device +
                               "\n    </h:pins>\n  </metadata>\n";
        auto d = parse_domain_xml(domain_with(hostdev_at(3), md), "guest.xml");
        ASSERT_FALSE(d.ok()) << c.device;
        EXPECT_TRUE(contains(d.error().describe(), c.expected)) << d.error().describe();
    }
}

// ---- writing pins ----------------------------------------------------------

TEST(PinWrite, HostdevFixPinsRequestedAndInjectedDevicesAfterTheUuid) {
    const std::string xml = domain_with(hostdev_at(1));
    FixResult r = fix(xml, host_of(kBefore));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);  // the audio function is injected
    const std::string expected_md =
        "  <uuid>0f0e0d0c-0b0a-4908-8706-050403020100</uuid>\n"
        "  <metadata>\n"
        "    <hostdev:pins " +
        kPinsNs +
        ">\n"
        "      <hostdev:device address=\"0000:01:00.0\" vendor=\"0x10de\" device=\"0x13c2\" "
        "subsystem-vendor=\"0x3842\" subsystem-device=\"0x2974\" class=\"0x030000\" revision=\"0xa1\" "
        "slot-path=\"0000:00/01.0/00.0\"/>\n"
        "      <hostdev:device address=\"0000:01:00.1\" vendor=\"0x10de\" device=\"0x0fbb\" "
        "subsystem-vendor=\"0x3842\" subsystem-device=\"0x2974\" class=\"0x040300\" revision=\"0xa1\" "
        "slot-path=\"0000:00/01.0/00.1\"/>\n"
        "    </hostdev:pins>\n"
        "  </metadata>\n"
        "  <memory unit='KiB'>65536</memory>\n";
    EXPECT_TRUE(contains(r.fixed, expected_md)) << r.fixed;
    const std::vector<std::string> k = kinds(r);
    EXPECT_EQ(std::count(k.begin(), k.end(), "pin"), 2);
    // A second run changes nothing.
    FixResult again = fix(r.fixed, host_of(kBefore));
    EXPECT_EQ(again.status, FixStatus::Ok);
    EXPECT_EQ(again.fixed, r.fixed);
    EXPECT_TRUE(again.plan.changes.empty());
}

TEST(PinWrite, OnlyPinsToRecordKeepsTheDomainOk) {
    const std::string xml = domain_with(hostdev_at(3));
    FixResult r = fix(xml, host_of(kBefore));
    EXPECT_EQ(r.status, FixStatus::Ok);  // --check passes: a domain without pins behaves as before
    EXPECT_EQ(kinds(r), std::vector<std::string>{"pin"});
    EXPECT_TRUE(contains(r.fixed, "<hostdev:device address=\"0000:03:00.0\" vendor=\"0x8086\""));
    EXPECT_TRUE(contains(fix_explanation(r, host_of(kBefore)), "ok, nothing to change but the device pins"));
    // --pin never: nothing recorded.
    FixResult never = fix(xml, host_of(kBefore), PlanOptions::from_flags("never", false, "never"));
    EXPECT_EQ(never.status, FixStatus::Ok);
    EXPECT_EQ(never.fixed, xml);
}

TEST(PinWrite, IntoExistingMetadataAndReplacingThePinsOfRemovedDevices) {
    const std::string md =
        "  <metadata>\n"
        "    <libosinfo:libosinfo xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\">\n"
        "      <libosinfo:os id=\"http://debian.org/debian/12\"/>\n"
        "    </libosinfo:libosinfo>\n"
        "  </metadata>\n";
    FixResult r = fix(domain_with(hostdev_at(3), md), host_of(kBefore));
    ASSERT_EQ(r.status, FixStatus::Ok) << errors_of(r);
    EXPECT_TRUE(contains(r.fixed, "    </libosinfo:libosinfo>\n    <hostdev:pins " + kPinsNs + ">\n")) << r.fixed;
    // The hostdev removed by hand: its pin is dropped, the element stays where it was.
    std::string edited = r.fixed;
    const std::string hd = hostdev_at(3);
    edited.replace(edited.find(hd), hd.size(), hostdev_at(1, 1));
    FixResult again = fix(edited, host_of(kBefore));
    ASSERT_NE(again.status, FixStatus::Blocked) << errors_of(again);
    EXPECT_FALSE(contains(again.fixed, "0000:03:00.0"));
    EXPECT_TRUE(contains(again.fixed, "<hostdev:device address=\"0000:01:00.1\""));
    EXPECT_TRUE(std::any_of(again.plan.changes.begin(), again.plan.changes.end(), [](const Change& c) {
        return c.kind == Change::Kind::Pin && contains(c.description, "drop the pin of 0000:03:00.0");
    }));
}

TEST(PinWrite, ValuesAreEscapedAndReadBack) {
    Host h = host_of(kBefore);
    h.find(addr("0000:03:00.0"))->serials.nvme = "A&B<\"C\">";
    FixResult r = fix(domain_with(hostdev_at(3)), h);
    ASSERT_EQ(r.status, FixStatus::Ok);
    EXPECT_TRUE(contains(r.fixed, "nvme-serial=\"A&amp;B&lt;&quot;C&quot;&gt;\"")) << r.fixed;
    auto d = parse_domain_xml(r.fixed, "guest.xml");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->pins.at(0).identity.serials.nvme, "A&B<\"C\">");
}

// ---- drift -----------------------------------------------------------------

TEST(PinDrift, ARenumberedBusIsRefusedNamingWhatIsThereAndWhereThePinnedDeviceIs) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    FixResult r = fix(pinned, host_of(kRenumbered));
    ASSERT_EQ(r.status, FixStatus::Blocked);
    EXPECT_EQ(exit_code_for(r.status, false), 2);
    const std::string e = errors_of(r);
    EXPECT_TRUE(contains(e,
                         "0000:03:00.0 is not the device the domain was made for: the domain's pin (line 6) "
                         "expects 8086:1533 subsystem 8086:0001 class 020000 rev 03 slot path 0000:00/1d.0/00.0"))
        << e;
    EXPECT_TRUE(contains(e, "the controller of the root filesystem")) << e;
    EXPECT_TRUE(contains(e, "; what is there now is 0000:03:00.0 (Non-Volatile memory controller: "));
    EXPECT_TRUE(contains(e,
                         "fields that differ: vendor 8086 -> 144d, device 1533 -> a808, subsystem 8086:0001 -> "
                         "144d:a801, class 020000 -> 010802, revision 03 -> 00, slot path 0000:00/1d.0/00.0 -> "
                         "0000:00/1c.0/00.0; "))
        << e;
    EXPECT_TRUE(contains(e, "the pinned device is now at 0000:04:00.0 (same slot path: the buses were renumbered)"))
        << e;
    EXPECT_TRUE(contains(e, "hostdev-fix --relocate")) << e;
    EXPECT_EQ(r.fixed, pinned);  // nothing written
    // Without its pin the same domain would take the root filesystem's group
    // (it is refused for that reason alone, not for drift).
    FixResult unpinned = fix(domain_with(hostdev_at(3)), host_of(kRenumbered));
    EXPECT_FALSE(contains(errors_of(unpinned), "not the device the domain was made for"));
}

TEST(PinDrift, AFieldTheHostDoesNotShowIsANoteNotAMismatch) {
    Host before = host_of(kBefore);
    before.find(addr("0000:03:00.0"))->serials.dsn = "00-1b-21-ff-ff-a1-b2-c3";
    const std::string pinned = fix(domain_with(hostdev_at(3)), before).fixed;
    ASSERT_TRUE(contains(pinned, "dsn=\"00-1b-21-ff-ff-a1-b2-c3\""));
    Host copied = host_of(kBefore);  // serials unknown, as in a copied tree
    copied.find(addr("0000:03:00.0"))->unread_identity = {IdentityField::Serial};
    FixResult r = fix(pinned, copied);
    EXPECT_EQ(r.status, FixStatus::Ok) << errors_of(r);
    ASSERT_EQ(r.problems.size(), 1U);
    EXPECT_EQ(r.problems[0].severity, Severity::Note);
    EXPECT_TRUE(contains(r.problems[0].message, "0000:03:00.0: the pinned serial not compared"))
        << r.problems[0].message;
    // Another serial on a host that shows it is a mismatch.
    Host other = host_of(kBefore);
    other.find(addr("0000:03:00.0"))->serials.dsn = "00-1b-21-ff-ff-00-00-01";
    FixResult mismatch = fix(pinned, other);
    EXPECT_EQ(mismatch.status, FixStatus::Blocked);
    EXPECT_TRUE(contains(errors_of(mismatch),
                         "fields that differ: serial dsn 00-1b-21-ff-ff-a1-b2-c3 -> dsn 00-1b-21-ff-ff-00-00-01"))
        << errors_of(mismatch);
}

TEST(PinDrift, APinnedDeviceMissingFromTheHostSaysWhereItIsNow) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    FixResult r = fix(pinned, host_of(kMovedCard));
    ASSERT_EQ(r.status, FixStatus::Blocked);
    EXPECT_TRUE(contains(errors_of(r),
                         "0000:03:00.0 is not on this host: no such PCI device; the domain's pin (line 6) expects "
                         "8086:1533 subsystem 8086:0001 class 020000 rev 03 slot path 0000:00/1d.0/00.0; the only "
                         "device of the pinned model on this host is at 0000:04:00.0 (slot path 0000:00/1d.4/00.0): "
                         "the card was moved to another slot"))
        << errors_of(r);
}

// ---- --relocate ------------------------------------------------------------

TEST(PinRelocate, FollowsARenumberedBusBySlotPathAndPlansTheNewGroup) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    FixResult r = fix(pinned, host_of(kRenumbered), following(PlanOptions::Follow::Relocate));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    EXPECT_EQ(kinds(r).front(), "relocate");
    EXPECT_TRUE(contains(r.plan.changes.front().description,
                         "move 0000:03:00.0 to 0000:04:00.0: the pinned device is now at 0000:04:00.0 (same slot "
                         "path: the buses were renumbered)"))
        << r.plan.changes.front().description;
    EXPECT_TRUE(contains(r.fixed, "<address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>")) << r.fixed;
    EXPECT_TRUE(contains(r.fixed, "<hostdev:device address=\"0000:04:00.0\" vendor=\"0x8086\""));
    EXPECT_FALSE(contains(r.fixed, "0000:03:00.0"));
    ASSERT_EQ(r.plan.groups.size(), 1U);  // the planner ran on the new address
    EXPECT_EQ(r.plan.groups[0].group, 6);
    // The relocated domain is what the host has now: nothing left to do.
    FixResult again = fix(r.fixed, host_of(kRenumbered));
    EXPECT_EQ(again.status, FixStatus::Ok) << errors_of(again);
    EXPECT_EQ(again.fixed, r.fixed);
}

TEST(PinRelocate, ACardMovedToAnotherSlotIsFollowedAndSaidSo) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    Host moved = host_of(kMovedCard);
    FixResult r = fix(pinned, moved, following(PlanOptions::Follow::Relocate));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    EXPECT_TRUE(contains(r.plan.changes.front().description,
                         "move 0000:03:00.0 to 0000:04:00.0: the only device of the pinned model on this host is at "
                         "0000:04:00.0 (slot path 0000:00/1d.4/00.0): the card was moved to another slot"))
        << r.plan.changes.front().description;
    EXPECT_TRUE(contains(r.fixed, "bus='0x04'")) << r.fixed;
    // The pin follows the card to its new slot path.
    EXPECT_TRUE(contains(r.fixed, "address=\"0000:04:00.0\"")) << r.fixed;
    EXPECT_TRUE(contains(r.fixed, "slot-path=\"0000:00/1d.4/00.0\"")) << r.fixed;
    EXPECT_EQ(fix(r.fixed, moved).status, FixStatus::Ok);
}

TEST(PinRelocate, TwinGpusWhoseBusesSwappedAreToldApartBySlotPath) {
    const std::string pinned = pinned_on(kTwinGpus, domain_with(hostdev_at(1)));
    Host swapped = host_of(kTwinGpusSwapped);
    FixResult refused = fix(pinned, swapped);
    ASSERT_EQ(refused.status, FixStatus::Blocked);
    EXPECT_TRUE(contains(errors_of(refused), "fields that differ: slot path 0000:00/01.0/00.0 -> 0000:00/01.1/00.0;"))
        << errors_of(refused);
    EXPECT_TRUE(contains(errors_of(refused), "the pinned device is now at 0000:02:00.0")) << errors_of(refused);
    FixResult r = fix(pinned, swapped, following(PlanOptions::Follow::Relocate));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    EXPECT_TRUE(contains(r.fixed, "bus='0x02'")) << r.fixed;
}

TEST(PinRelocate, IdenticalDevicesNeitherSerialNorSlotPathSeparateAreRefusedListingThem) {
    const std::string pinned = pinned_on(kTwinGpus, domain_with(hostdev_at(1)));
    FixResult r = fix(pinned, host_of(kTwinGpusMoved), following(PlanOptions::Follow::Relocate));
    ASSERT_EQ(r.status, FixStatus::Blocked);
    EXPECT_TRUE(contains(errors_of(r),
                         "cannot relocate 0000:01:00.0 (10de:1b80 subsystem 1462:3362 class 030000 rev a1 slot path "
                         "0000:00/01.0/00.0): 2 devices of the pinned model are on this host (0000:03:00.0 and "
                         "0000:04:00.0) and neither serial nor slot path tells which one was pinned at 0000:01:00.0"))
        << errors_of(r);
    EXPECT_EQ(r.fixed, pinned);
}

TEST(PinRelocate, ASerialDecidesBetweenIdenticalDevices) {
    Host before = host_of(kTwinGpus);
    before.find(addr("0000:01:00.0"))->serials.dsn = "aa-00-00-00-00-00-00-01";
    before.find(addr("0000:02:00.0"))->serials.dsn = "aa-00-00-00-00-00-00-02";
    const std::string pinned = fix(domain_with(hostdev_at(1)), before).fixed;
    Host after = host_of(kTwinGpusMoved);
    after.find(addr("0000:03:00.0"))->serials.dsn = "aa-00-00-00-00-00-00-02";
    after.find(addr("0000:04:00.0"))->serials.dsn = "aa-00-00-00-00-00-00-01";
    FixResult r = fix(pinned, after, following(PlanOptions::Follow::Relocate));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    EXPECT_TRUE(contains(r.plan.changes.front().description, "the pinned device (same serial) is now at 0000:04:00.0"))
        << r.plan.changes.front().description;
    EXPECT_TRUE(contains(r.fixed, "bus='0x04'"));
}

// ---- --repin ---------------------------------------------------------------

TEST(PinRepin, AcceptsTheDeviceNowAtTheAddressSayingWhatChanged) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    Host swapped = host_of(kSwappedNic);
    EXPECT_EQ(fix(pinned, swapped).status, FixStatus::Blocked);
    FixResult r = fix(pinned, swapped, following(PlanOptions::Follow::Repin));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    ASSERT_EQ(kinds(r).front(), "repin");
    EXPECT_TRUE(contains(r.plan.changes.front().description,
                         "Intel Corporation Device 8086:10d3): device "
                         "1533 -> 10d3, subsystem 8086:0001 -> 8086:a01f, revision 03 -> 00"))
        << r.plan.changes.front().description;
    EXPECT_TRUE(contains(r.fixed, "device=\"0x10d3\""));
    FixResult again = fix(r.fixed, swapped);
    EXPECT_EQ(again.status, FixStatus::Ok);
    EXPECT_EQ(again.fixed, r.fixed);
}

// ---- the hook and detach ---------------------------------------------------

TEST(PinHook, PrepareOfADriftedDomainIsRefusedWithOneLineAndNothingWritten) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    FakeRoot after(kRenumbered);
    hostdev::testing::SimulatedKernel kernel(after.path(), after.spec());
    const auto before_state = hostdev::testing::capture_driver_state(after.path());
    Config c;
    c.root = after.path();
    HookResult r = run_hook({"guest", "prepare", "begin", "-"}, pinned, c, kernel);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.stderr_text.rfind("hostdev: guest: ", 0), 0U) << r.stderr_text;
    EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "0000:03:00.0 is not the device the domain was made for")) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "controller of the root filesystem")) << r.stderr_text;
    EXPECT_EQ(kernel.writes(), 0);
    EXPECT_EQ(hostdev::testing::capture_driver_state(after.path()), before_state);
    EXPECT_FALSE(std::filesystem::exists(after.path() / "run/hostdev/guest.json"));
    // On the host the pin was made on, the same domain starts.
    FakeRoot same(kBefore);
    hostdev::testing::SimulatedKernel k2(same.path(), same.spec());
    Config c2;
    c2.root = same.path();
    EXPECT_EQ(run_hook({"guest", "prepare", "begin", "-"}, pinned, c2, k2).exit_code, 0);
    EXPECT_GT(k2.writes(), 0);
}

// ---- the editor's rules on odd documents ----------------------------------

TEST(PinWrite, FollowsTheDocumentsLineEndsAndIndentationAndSelfClosingElements) {
    Host h = host_of(kBefore);
    // CRLF and tabs, a self-closing <metadata/>.
    std::string crlf =
        "<domain type='kvm'>\r\n\t<name>guest</name>\r\n\t<metadata/>\r\n\t<devices>\r\n"
        "\t\t<hostdev mode='subsystem' type='pci'>\r\n\t\t\t<source>\r\n"
        "\t\t\t\t<address domain='0' bus='3' slot='0' function='0'/>\r\n\t\t\t</source>\r\n"
        "\t\t</hostdev>\r\n\t</devices>\r\n</domain>\r\n";
    FixResult r = fix(crlf, h);
    ASSERT_EQ(r.status, FixStatus::Ok) << errors_of(r);
    EXPECT_TRUE(contains(r.fixed, "\t<metadata>\r\n\t\t<hostdev:pins " + kPinsNs + ">\r\n\t\t\t<hostdev:device "))
        << r.fixed;
    EXPECT_TRUE(contains(r.fixed, "/>\r\n\t\t</hostdev:pins>\r\n\t</metadata>\r\n\t<devices>")) << r.fixed;
    EXPECT_EQ(r.fixed.find('\n'), r.fixed.find("\r\n") + 1);  // no bare LF anywhere
    for (std::size_t i = 0; i < r.fixed.size(); ++i)
        if (r.fixed[i] == '\n') ASSERT_EQ(r.fixed[i - 1], '\r') << i;
    EXPECT_EQ(fix(r.fixed, h).fixed, r.fixed);

    // A self-closing pins element (no device pinned yet) is replaced in place.
    const std::string md = "  <metadata><p:pins xmlns:p='urn:hostdev:pins:1'/></metadata>\n";
    FixResult s = fix(domain_with(hostdev_at(3), md), h);
    ASSERT_EQ(s.status, FixStatus::Ok) << errors_of(s);
    EXPECT_TRUE(contains(s.fixed, "  <metadata><hostdev:pins " + kPinsNs + ">\n")) << s.fixed;
    EXPECT_FALSE(contains(s.fixed, "p:pins"));
    EXPECT_EQ(fix(s.fixed, h).fixed, s.fixed);
}

TEST(PinWrite, APinsElementInACommentIsNotPinsAndTheResultStillParses) {
    const std::string md =
        "  <metadata>\n"
        "    <!-- <hostdev:pins xmlns:hostdev=\"urn:hostdev:pins:1\"><hostdev:device address=\"0000:03:00.0\" "
        "vendor=\"0x1\"/></hostdev:pins> -->\n"
        "  </metadata>\n";
    FixResult r = fix(domain_with(hostdev_at(3), md), host_of(kBefore));
    ASSERT_EQ(r.status, FixStatus::Ok) << errors_of(r);  // the commented pin is not checked
    auto d = parse_domain_xml(r.fixed, "guest.xml");
    ASSERT_TRUE(d.ok()) << d.error().describe();
    ASSERT_EQ(d->pins.size(), 1U);
    EXPECT_EQ(d->pins[0].identity.vendor, 0x8086);
    EXPECT_TRUE(contains(r.fixed, "-->\n    <hostdev:pins")) << r.fixed;
}

TEST(PinDrift, APinnedDeviceGoneFromTheMachineSaysSoWithoutSuggestingARewrite) {
    const std::string pinned = pinned_on(kBefore, domain_with(hostdev_at(3)));
    FixResult r = fix(pinned, host_of(kTwinGpus));
    ASSERT_EQ(r.status, FixStatus::Blocked);
    const std::string e = errors_of(r);
    EXPECT_TRUE(contains(e,
                         "0000:03:00.0 is not on this host: no such PCI device; the domain's pin (line 6) expects "
                         "8086:1533"))
        << e;
    EXPECT_TRUE(contains(e, "; no device of the pinned model is on this host; is the card still in the machine?")) << e;
    EXPECT_FALSE(contains(e, "--relocate")) << e;
    // --relocate refuses it, saying why; nothing is written.
    FixResult rel = fix(pinned, host_of(kTwinGpus), following(PlanOptions::Follow::Relocate));
    EXPECT_EQ(rel.status, FixStatus::Blocked);
    EXPECT_TRUE(contains(errors_of(rel), "cannot relocate 0000:03:00.0 (8086:1533")) << errors_of(rel);
    EXPECT_EQ(rel.fixed, pinned);
}

// Found by fuzzing: a pin left behind for an address the domain no longer
// passed is not reused when the planner injects another device there.
TEST(PinWrite, AStalePinIsNotReusedForADeviceInjectedAtItsAddress) {
    const std::string md =
        "  <metadata>\n"
        "    <hostdev:pins xmlns:hostdev=\"urn:hostdev:pins:1\">\n"
        "      <hostdev:device address=\"0000:01:00.0\" vendor=\"0x1002\" device=\"0x7300\"/>\n"
        "    </hostdev:pins>\n"
        "  </metadata>\n";
    Host h = host_of(kBefore);
    FixResult r = fix(domain_with(hostdev_at(1, 1), md), h);  // the audio function; the GPU is injected
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    EXPECT_TRUE(contains(r.fixed, "<hostdev:device address=\"0000:01:00.0\" vendor=\"0x10de\" device=\"0x13c2\""))
        << r.fixed;
    EXPECT_FALSE(contains(r.fixed, "0x7300"));
    FixResult again = fix(r.fixed, h);
    EXPECT_EQ(again.status, FixStatus::Ok) << errors_of(again);
    EXPECT_EQ(again.fixed, r.fixed);
}

TEST(PinWrite, WithPinsLeftAsTheyAreAStalePinThatDoesNotFitAnInjectedDeviceBlocks) {
    const std::string md =
        "  <metadata>\n"
        "    <hostdev:pins xmlns:hostdev=\"urn:hostdev:pins:1\">\n"
        "      <hostdev:device address=\"0000:01:00.0\" vendor=\"0x1002\" device=\"0x7300\"/>\n"
        "    </hostdev:pins>\n"
        "  </metadata>\n";
    FixResult r =
        fix(domain_with(hostdev_at(1, 1), md), host_of(kBefore), PlanOptions::from_flags("never", false, "never"));
    EXPECT_EQ(r.status, FixStatus::Blocked);
    EXPECT_TRUE(contains(errors_of(r), "0000:01:00.0 is not the device the domain was made for")) << errors_of(r);
}

TEST(PinRelocate, AHostdevInterfaceFollowsItsDeviceAsAHostdevDoes) {
    const std::string iface =
        "    <interface type='hostdev' managed='yes'>\n"
        "      <mac address='52:54:00:6d:90:02'/>\n"
        "      <source>\n"
        "        <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>\n"
        "      </source>\n"
        "    </interface>\n";
    const std::string pinned = pinned_on(kBefore, domain_with(iface));
    ASSERT_TRUE(contains(pinned, "<hostdev:device address=\"0000:03:00.0\" vendor=\"0x8086\""));
    FixResult refused = fix(pinned, host_of(kRenumbered));
    EXPECT_EQ(refused.status, FixStatus::Blocked);
    FixResult r = fix(pinned, host_of(kRenumbered), following(PlanOptions::Follow::Relocate));
    ASSERT_EQ(r.status, FixStatus::Fixable) << errors_of(r);
    EXPECT_TRUE(contains(r.fixed, "<address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>"))
        << r.fixed;
    ASSERT_EQ(r.plan.groups.size(), 1U);
    EXPECT_EQ(r.plan.groups[0].members.back().element, PassthroughDevice::Element::Interface);
    EXPECT_EQ(fix(r.fixed, host_of(kRenumbered)).status, FixStatus::Ok);
}
