// Guest addresses of injected functions: never one another device of the
// domain already uses (libvirt refuses "Attempted double use of PCI Address"),
// a free function of the anchor's guest slot, or none with a note.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "fake_host.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/planner.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;

namespace {

// A GPU with four functions in one group (display, audio, USB, serial bus, as
// on NVIDIA Turing cards), and a NIC in a group of its own.
const char* kHost = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:1e84 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:10f8 0x040300 group=1 driver=snd_hda_intel
dev 01:00.2 10de:1ad8 0x0c0330 group=1 driver=xhci_hcd
dev 01:00.3 10de:1ad9 0x0c8000 group=1 driver=nvidia-gpu
dev 00:1c.0 8086:a110 0x060400 group=2 driver=pcieport bus=02
dev 02:00.0 8086:1533 0x020000 group=3 driver=igb
)";

const Host& host() {
    static FakeRoot root(kHost);
    static Host h = hostdev::testing::read_fake_host(root);
    return h;
}

std::string gpu(const std::string& guest) {
    return "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
           "      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>\n" +
           guest + "    </hostdev>\n";
}

std::string guest_addr(const char* slot, const char* fn, const char* extra = "") {
    return std::string("      <address type='pci' domain='0x0000' bus='0x00' slot='") + slot + "' function='" + fn +
           "'" + extra + "/>\n";
}

std::string domain_xml(const std::string& devices) {
    return "<domain type='kvm'>\n  <name>g</name>\n  <memory>1</memory>\n  <os><type>hvm</type></os>\n"
           "  <devices>\n" +
           devices + "  </devices>\n</domain>\n";
}

Domain parse(const std::string& xml) {
    auto d = parse_domain_xml(xml, "g.xml");
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().describe());
    return d.ok() ? *d : Domain{};
}

const InjectedHostdev& injected(const Plan& p, const char* source) {
    const PciAddress a = *PciAddress::parse(source);
    for (const auto& ih : p.edits.inject)
        if (ih.source == a) return ih;
    throw std::runtime_error(std::string("not injected: ") + source);
}

std::string guest_of(const Plan& p, const char* source) {
    const auto& ih = injected(p, source);
    return ih.guest_address ? ih.guest_address->str() : "none";
}

std::string change_of(const Plan& p, const char* source) {
    const PciAddress a = *PciAddress::parse(source);
    for (const auto& c : p.changes)
        if (c.kind == Change::Kind::InjectHostdev && c.device == a) return c.description;
    return "";
}

bool has_note(const Plan& p, const std::string& text) {
    return std::any_of(p.problems.begin(), p.problems.end(), [&](const Problem& pr) {
        return pr.severity == Severity::Note && pr.message.find(text) != std::string::npos;
    });
}

// The fixed document: parses, and no two devices use one guest address.
void expect_no_double_use(const std::string& xml) {
    FixResult r = fix_domain(xml, "g.xml", host(), nullptr, {});
    ASSERT_EQ(r.status, FixStatus::Fixable) << (r.problems.empty() ? "" : r.problems[0].message);
    auto fixed = parse_domain_xml(r.fixed, "fixed.xml");
    ASSERT_TRUE(fixed.ok()) << fixed.error().describe();
    std::set<PciAddress> seen;
    for (const auto& g : fixed->guest_pci_addresses)
        EXPECT_TRUE(seen.insert(g.address).second)
            << g.address.str() << " used twice (<" << g.element << "> line " << g.line << ")\n"
            << r.fixed;
}

}  // namespace

TEST(GuestAddresses, HostFunctionNumbersWhenFree) {
    const std::string xml = domain_xml(gpu(guest_addr("0x05", "0x0")));
    Plan p = plan_domain(parse(xml), host());
    EXPECT_EQ(guest_of(p, "01:00.1"), "0000:00:05.1");
    EXPECT_EQ(guest_of(p, "01:00.2"), "0000:00:05.2");
    EXPECT_EQ(guest_of(p, "01:00.3"), "0000:00:05.3");
    EXPECT_NE(
        change_of(p, "01:00.1").find("; guest address 0000:00:05.1, function 1 of the guest slot of 0000:01:00.0"),
        std::string::npos)
        << change_of(p, "01:00.1");
    EXPECT_EQ(p.edits.set_guest_multifunction, (std::vector<PciAddress>{*PciAddress::parse("01:00.0")}));
    expect_no_double_use(xml);
}

// Before, 01:00.1 went to 00:05.1 although the controller sits there, and
// libvirt refused the fixed domain.
TEST(GuestAddresses, NaturalAddressTakenByAController) {
    const std::string xml =
        domain_xml(gpu(guest_addr("0x05", "0x0")) + "    <controller type='usb' index='0' model='ich9-ehci1'>\n" +
                   guest_addr("0x05", "0x1") + "    </controller>\n");
    Plan p = plan_domain(parse(xml), host());
    EXPECT_EQ(guest_of(p, "01:00.1"), "0000:00:05.4");  // 1 is the controller's, 2 and 3 go to 01:00.2 and .3
    EXPECT_EQ(guest_of(p, "01:00.2"), "0000:00:05.2");
    EXPECT_EQ(guest_of(p, "01:00.3"), "0000:00:05.3");
    EXPECT_NE(change_of(p, "01:00.1").find("(0000:00:05.1 is the <controller> on line 11)"), std::string::npos)
        << change_of(p, "01:00.1");
    expect_no_double_use(xml);
}

TEST(GuestAddresses, NaturalAddressTakenByADisk) {
    const std::string xml =
        domain_xml(gpu(guest_addr("0x05", "0x0")) +
                   "    <disk type='file' device='disk'>\n      <target dev='vda' bus='virtio'/>\n" +
                   guest_addr("0x05", "0x2") + "    </disk>\n");
    Plan p = plan_domain(parse(xml), host());
    EXPECT_EQ(guest_of(p, "01:00.1"), "0000:00:05.1");
    EXPECT_EQ(guest_of(p, "01:00.2"), "0000:00:05.4");
    EXPECT_EQ(guest_of(p, "01:00.3"), "0000:00:05.3");
    expect_no_double_use(xml);
}

TEST(GuestAddresses, NaturalAddressTakenByAnotherHostdev) {
    const std::string nic =
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "      <source><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source>\n" +
        guest_addr("0x05", "0x1") + "    </hostdev>\n";
    const std::string xml = domain_xml(gpu(guest_addr("0x05", "0x0", " multifunction='on'")) + nic);
    Plan p = plan_domain(parse(xml), host());
    EXPECT_EQ(guest_of(p, "01:00.1"), "0000:00:05.4");
    EXPECT_NE(change_of(p, "01:00.1").find("(0000:00:05.1 is the <hostdev> on line 12)"), std::string::npos)
        << change_of(p, "01:00.1");
    EXPECT_TRUE(p.edits.set_guest_multifunction.empty());  // already on
    expect_no_double_use(xml);
}

// Every function of the guest slot is taken: the injected functions get no
// guest address, and a note says so; libvirt assigns them.
TEST(GuestAddresses, FullSlotLeavesTheAddressToLibvirt) {
    std::string others;
    for (const char* fn : {"0x1", "0x2", "0x3", "0x4", "0x5", "0x6", "0x7"})
        others += "    <controller type='usb' model='ich9-uhci1'>\n" + guest_addr("0x05", fn) + "    </controller>\n";
    const std::string xml = domain_xml(gpu(guest_addr("0x05", "0x0", " multifunction='on'")) + others);
    Plan p = plan_domain(parse(xml), host());
    for (const char* a : {"01:00.1", "01:00.2", "01:00.3"}) {
        EXPECT_EQ(guest_of(p, a), "none") << a;
        EXPECT_NE(change_of(p, a).find("guest address left for libvirt to assign (all eight functions of guest slot "
                                       "0000:00:05 are in use)"),
                  std::string::npos)
            << change_of(p, a);
    }
    EXPECT_TRUE(
        has_note(p, "no guest address for 0000:01:00.1: all eight functions of guest slot 0000:00:05 are in use"));
    expect_no_double_use(xml);
}

// A function besides 0 needs multifunction='on' on function 0, which hostdev
// only sets on a <hostdev>.
TEST(GuestAddresses, FunctionZeroHeldByAnotherDevice) {
    const std::string audio =
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>\n" +
        guest_addr("0x05", "0x1") + "    </hostdev>\n";
    const std::string xml =
        domain_xml("    <video>\n      <model type='vga'/>\n" + guest_addr("0x05", "0x0") + "    </video>\n" + audio);
    Plan p = plan_domain(parse(xml), host());
    EXPECT_EQ(guest_of(p, "01:00.0"), "none");
    EXPECT_TRUE(has_note(p, "function 0 of guest slot 0000:00:05 is a <video> (line 8) without multifunction='on'"));
}

TEST(GuestAddresses, FunctionZeroFreeGetsMultifunction) {
    const std::string audio =
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>\n" +
        guest_addr("0x05", "0x1") + "    </hostdev>\n";
    Plan p = plan_domain(parse(domain_xml(audio)), host());
    const auto& gpu0 = injected(p, "01:00.0");
    ASSERT_TRUE(gpu0.guest_address.has_value());
    EXPECT_EQ(gpu0.guest_address->str(), "0000:00:05.0");
    EXPECT_TRUE(gpu0.guest_multifunction);
}

TEST(GuestAddresses, NoGuestAddressOnTheRequestedDevice) {
    const std::string xml = domain_xml(gpu(""));
    Plan p = plan_domain(parse(xml), host());
    for (const char* a : {"01:00.1", "01:00.2", "01:00.3"}) {
        EXPECT_EQ(guest_of(p, a), "none") << a;
        EXPECT_NE(change_of(p, a).find("; guest address left for libvirt to assign (0000:01:00.0 has none to share)"),
                  std::string::npos)
            << change_of(p, a);
    }
    EXPECT_FALSE(has_note(p, "no guest address"));
    // An all-zero guest address asks libvirt to choose: the same.
    Plan z = plan_domain(parse(domain_xml(gpu(guest_addr("0x00", "0x0")))), host());
    EXPECT_EQ(guest_of(z, "01:00.1"), "none");
}
