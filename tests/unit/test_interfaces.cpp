// <interface type='hostdev'> (SR-IOV VFs and any PCI NIC): read as a PCI
// passthrough device, planned, edited and reported like a <hostdev>, on hosts
// read from fresh fake roots.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "fake_host.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/domain/schema.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/planner.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
using hostdev::testing::read_fake_host;

namespace {

using Element = PassthroughDevice::Element;

// An 82599ES behind an isolating root port (each VF alone in its group); an
// I350 without VFs and an 82574L behind a root port without ACS (one group:
// NICs passed as interfaces need their siblings); a second I350 whose port 0
// carries the host's default route, with a VF in its group; and a third whose
// VF shares its group with its own physical function.
const char* kSriovHost = R"(
host cmdline="intel_iommu=on"
dev 00:02.0 8086:2030 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 8086:10fb 0x020000 group=30 driver=ixgbe net=enp1s0f0
dev 01:10.0 8086:10ed 0x020000 group=32 driver=ixgbevf physfn=01:00.0
dev 01:10.2 8086:10ed 0x020000 group=34 driver=ixgbevf physfn=01:00.0
dev 00:1c.0 8086:a190 0x060400 group=20 driver=pcieport bus=02
dev 02:00.0 8086:1521 0x020000 group=20 driver=igb net=enp2s0f0
dev 02:00.1 8086:1521 0x020000 group=20 driver=igb net=enp2s0f1
dev 02:01.0 8086:10d3 0x020000 group=20 driver=e1000e net=enp2s1
dev 00:1c.4 8086:a194 0x060400 group=21 driver=pcieport bus=03
dev 03:00.0 8086:1521 0x020000 group=21 driver=igb role=default-route net=eno1
dev 03:10.0 8086:1520 0x020000 group=21 driver=igbvf physfn=03:00.0
dev 00:1c.6 8086:a196 0x060400 group=22 driver=pcieport bus=04
dev 04:00.0 8086:1521 0x020000 group=22 driver=igb net=enp4s0f0
dev 04:10.0 8086:1520 0x020000 group=22 driver=igbvf physfn=04:00.0
)";

Host sriov_host() {
    FakeRoot root(kSriovHost);
    return read_fake_host(root);
}

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

const std::string kHead =
    "<domain type='kvm'>\n"
    "  <name>vf-guest</name>\n"
    "  <uuid>6a2f4c1e-8b3d-4e7a-9f05-1c2d3e4f5a6b</uuid>\n"
    "  <memory unit='KiB'>65536</memory>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='q35'>hvm</type>\n"
    "  </os>\n"
    "  <devices>\n";
const std::string kTail =
    "  </devices>\n"
    "</domain>\n";

std::string doc(const std::string& devices) { return kHead + devices + kTail; }

// An <interface type='hostdev'> on its own lines, with a MAC address and,
// when given, a guest address.
std::string vf(const char* bus, const char* slot, const char* fn, const char* managed = " managed='yes'",
               const std::string& guest = "") {
    return std::string("    <interface type='hostdev'") + managed +
           ">\n"
           "      <mac address='52:54:00:6d:90:02'/>\n"
           "      <source>\n"
           "        <address type='pci' domain='0x0000' bus='" +
           bus + "' slot='" + slot + "' function='" + fn +
           "'/>\n"
           "      </source>\n" +
           (guest.empty() ? "" : "      " + guest + "\n") + "    </interface>\n";
}

std::string hostdev_element(const char* bus, const char* slot, const char* fn) {
    return std::string("    <hostdev mode='subsystem' type='pci' managed='yes'>\n") +
           "      <source>\n"
           "        <address domain='0x0000' bus='" +
           bus + "' slot='" + slot + "' function='" + fn +
           "'/>\n"
           "      </source>\n"
           "    </hostdev>\n";
}

Domain parse(const std::string& xml) {
    auto d = parse_domain_xml(xml, "vm.xml");
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().describe());
    return d.ok() ? *d : Domain{};
}

std::string parse_error(const std::string& xml) {
    auto d = parse_domain_xml(xml, "vm.xml");
    EXPECT_FALSE(d.ok()) << xml;
    return d.ok() ? std::string() : d.error().message;
}

const SchemaValidator& validator() {
    static auto v = SchemaValidator::load(SchemaValidator::default_dir());
    if (!v) throw std::runtime_error(v.error().describe());
    return **v;
}

const MemberPlan* member(const Plan& p, const char* a) {
    for (const auto& g : p.groups)
        for (const auto& m : g.members)
            if (m.address == addr(a)) return &m;
    return nullptr;
}

bool has_problem(const Plan& p, Severity s, const std::string& words) {
    for (const auto& pr : p.problems)
        if (pr.severity == s && pr.message.find(words) != std::string::npos) return true;
    return false;
}

// Only insertions (and the documented in-line multifunction edit) may change
// the input: every input byte is in the output, in order.
bool is_insertion_only(const std::string& in, const std::string& out) {
    std::size_t j = 0;
    for (char c : in) {
        while (j < out.size() && out[j] != c) ++j;
        if (j == out.size()) return false;
        ++j;
    }
    return true;
}

}  // namespace

// ---------------------------------------------------------------- parser

TEST(InterfaceParse, EveryFieldInDocumentOrderWithTheHostdevs) {
    const std::string xml = doc(hostdev_element("0x02", "0x00", "0x0") +
                                "    <interface type='hostdev' managed='yes'>\n"
                                "      <mac address='52:54:00:6d:90:02'/>\n"
                                "      <driver name='vfio' model='igbvf_vfio_pci'/>\n"
                                "      <source>\n"
                                "        <address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/>\n"
                                "      </source>\n"
                                "      <vlan><tag id='42'/></vlan>\n"
                                "      <boot order='2'/>\n"
                                "      <rom bar='off'/>\n"
                                "      <alias name='ua-vf0'/>\n"
                                "      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>\n"
                                "    </interface>\n" +
                                hostdev_element("0x03", "0x00", "0x0"));
    Domain d = parse(xml);
    ASSERT_EQ(d.passthrough.size(), 3U);
    EXPECT_EQ(d.passthrough[0].element, Element::Hostdev);
    EXPECT_EQ(d.passthrough[2].element, Element::Hostdev);
    const PassthroughDevice& i = d.passthrough[1];
    EXPECT_EQ(i.element, Element::Interface);
    EXPECT_EQ(to_string(i.element), "interface");
    EXPECT_EQ(i.source, addr("01:10.2"));
    EXPECT_TRUE(i.managed);
    EXPECT_EQ(i.driver_name, std::optional<std::string>("vfio"));
    EXPECT_EQ(i.driver_model, std::optional<std::string>("igbvf_vfio_pci"));
    EXPECT_EQ(i.boot_order, std::optional<unsigned>(2));
    EXPECT_TRUE(i.has_rom);
    EXPECT_EQ(i.alias, std::optional<std::string>("ua-vf0"));
    ASSERT_TRUE(i.guest_address.has_value());
    EXPECT_EQ(*i.guest_address, addr("00:06.0"));
    EXPECT_EQ(i.line, 14);
    EXPECT_EQ(d.other_hostdevs, 0U);
    // Its guest address is one of the domain's, named by its element.
    ASSERT_EQ(d.guest_pci_addresses.size(), 1U);
    EXPECT_EQ(d.guest_pci_addresses[0].element, "interface");
}

TEST(InterfaceParse, ManagedIsNoWhenAbsentAndOnlyYesOrNo) {
    EXPECT_FALSE(parse(doc(vf("0x01", "0x10", "0x0", ""))).passthrough.at(0).managed);
    EXPECT_FALSE(parse(doc(vf("0x01", "0x10", "0x0", " managed='no'"))).passthrough.at(0).managed);
    EXPECT_EQ(parse_error(doc(vf("0x01", "0x10", "0x0", " managed='on'"))),
              "vm.xml:9: managed='on' must be 'yes' or 'no'");
}

TEST(InterfaceParse, OtherInterfaceTypesAreNotPassthrough) {
    Domain d = parse(
        doc("    <interface type='network'>\n      <source network='default'/>\n"
            "      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n    </interface>\n"
            "    <interface type='bridge'><source bridge='br0'/></interface>\n"
            "    <interface type='direct'><source dev='eno1' mode='bridge'/></interface>\n"
            "    <interface type='user'/>\n"));
    EXPECT_TRUE(d.passthrough.empty());
    EXPECT_EQ(d.other_hostdevs, 0U);
    ASSERT_EQ(d.guest_pci_addresses.size(), 1U);  // still a guest address the domain uses
    EXPECT_EQ(d.guest_pci_addresses[0].address, addr("00:03.0"));
}

TEST(InterfaceParse, ASourceThatIsNotAPciAddressIsRefusedWithItsLine) {
    EXPECT_EQ(parse_error(doc("    <interface type='hostdev' managed='yes'>\n"
                              "      <mac address='52:54:00:6d:90:02'/>\n"
                              "    </interface>\n")),
              "vm.xml:9: <interface type='hostdev'> has no <source><address>");
    const std::string untyped =
        parse_error(doc("    <interface type='hostdev'>\n      <source>\n"
                        "        <address domain='0x0000' bus='0x01' slot='0x10'/>\n"
                        "      </source>\n    </interface>\n"));
    EXPECT_EQ(untyped.rfind("vm.xml:11: <interface type='hostdev'> needs <source><address type='pci'", 0), 0U)
        << untyped;
    const std::string usb =
        parse_error(doc("    <interface type='hostdev'>\n      <source>\n"
                        "        <address type='usb' bus='1' device='2'/>\n"
                        "      </source>\n    </interface>\n"));
    EXPECT_EQ(usb.rfind("vm.xml:11: ", 0), 0U) << usb;
    // A bad number in the source address names the address's line, as for a <hostdev>.
    const std::string bad = parse_error(doc(vf("0x01", "0x1x0", "0x0")));
    EXPECT_EQ(bad.rfind("vm.xml:12: ", 0), 0U) << bad;
}

// ---------------------------------------------------------------- planner

TEST(InterfacePlan, AVfAloneInItsGroupIsCoveredAndNothingChanges) {
    Host host = sriov_host();
    Plan p = plan_domain(parse(doc(vf("0x01", "0x10", "0x0"))), host);
    ASSERT_EQ(p.groups.size(), 1U);
    EXPECT_EQ(p.groups[0].group, 32);
    ASSERT_EQ(p.groups[0].members.size(), 1U);
    const MemberPlan& m = p.groups[0].members[0];
    EXPECT_EQ(m.verdict, Verdict::Covered);
    EXPECT_TRUE(m.requested);
    EXPECT_EQ(m.element, std::optional<Element>(Element::Interface));
    EXPECT_EQ(m.reason, "requested by <interface type='hostdev'> (line 9)");
    EXPECT_TRUE(p.edits.empty());
    EXPECT_FALSE(p.blocked());
}

TEST(InterfacePlan, SiblingsOfANicBehindAPortWithoutAcsAreInjectedWithTheInterfacesManaged) {
    Host host = sriov_host();
    for (const char* managed : {" managed='yes'", " managed='no'", ""}) {
        SCOPED_TRACE(managed);
        const bool want = std::string(managed) == " managed='yes'";
        Plan p = plan_domain(parse(doc(vf("0x02", "0x01", "0x0", managed))), host);
        EXPECT_FALSE(p.blocked());
        ASSERT_EQ(p.groups.size(), 1U);
        EXPECT_EQ(member(p, "00:1c.0")->verdict, Verdict::StaysOnHost);
        EXPECT_EQ(member(p, "02:01.0")->verdict, Verdict::Covered);
        for (const char* a : {"02:00.0", "02:00.1"}) {
            EXPECT_EQ(member(p, a)->verdict, Verdict::Injected) << a;
            EXPECT_FALSE(member(p, a)->element.has_value()) << a;
        }
        ASSERT_EQ(p.edits.inject.size(), 2U);
        for (const auto& ih : p.edits.inject) EXPECT_EQ(ih.managed, want);
    }
}

TEST(InterfacePlan, ASiblingTheHostNeedsRefusesTheInterface) {
    Host host = sriov_host();
    Plan p = plan_domain(parse(doc(vf("0x03", "0x10", "0x0"))), host);
    EXPECT_TRUE(p.blocked());
    EXPECT_EQ(member(p, "03:00.0")->verdict, Verdict::Blocked);
    EXPECT_TRUE(has_problem(p, Severity::Error, "shares IOMMU group 21 with 0000:03:10.0 and cannot leave the host"));
    EXPECT_TRUE(has_problem(p, Severity::Error, "default route"));
}

// A VF in the group of its own physical function cannot be passed: the group
// is viable only when the PF leaves too, and taking the PF from its driver
// removes its VFs. Asked for directly, the PF is refused for the same reason.
TEST(InterfacePlan, AVfInTheGroupOfItsOwnPhysicalFunctionIsBlocked) {
    Host host = sriov_host();
    Plan p = plan_domain(parse(doc(vf("0x04", "0x10", "0x0"))), host);
    EXPECT_TRUE(p.blocked());
    EXPECT_EQ(member(p, "04:00.0")->verdict, Verdict::Blocked);
    EXPECT_NE(member(p, "04:00.0")->reason.find("SR-IOV physical function with 1 virtual function enabled by igb"),
              std::string::npos)
        << member(p, "04:00.0")->reason;
    EXPECT_TRUE(p.edits.inject.empty());
    Plan pf = plan_domain(parse(doc(vf("0x04", "0x00", "0x0"))), host);
    EXPECT_TRUE(pf.blocked());
    EXPECT_TRUE(has_problem(pf, Severity::Error, "set sriov_numvfs to 0 to pass the PF itself"));
}

TEST(InterfacePlan, AnInterfaceAndAHostdevInOneGroupCoverEachOther) {
    Host host = sriov_host();
    Plan p = plan_domain(
        parse(doc(vf("0x02", "0x01", "0x0", " managed='no'") + hostdev_element("0x02", "0x00", "0x0"))), host);
    EXPECT_FALSE(p.blocked());
    ASSERT_EQ(p.groups.size(), 1U);
    EXPECT_EQ(p.groups[0].requested, (std::vector<PciAddress>{addr("02:01.0"), addr("02:00.0")}));
    EXPECT_EQ(member(p, "02:01.0")->element, std::optional<Element>(Element::Interface));
    EXPECT_EQ(member(p, "02:00.0")->element, std::optional<Element>(Element::Hostdev));
    EXPECT_EQ(member(p, "02:00.0")->reason, "a <hostdev> of the domain");
    ASSERT_EQ(p.edits.inject.size(), 1U);
    EXPECT_EQ(p.edits.inject[0].source, addr("02:00.1"));
    EXPECT_FALSE(p.edits.inject[0].managed);  // the first request of the group, the interface, says no
}

TEST(InterfacePlan, AnInterfacesGuestAddressAnchorsTheSiblingsAndGetsMultifunction) {
    Host host = sriov_host();
    const std::string guest = "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>";
    Plan p = plan_domain(parse(doc(vf("0x02", "0x00", "0x0", " managed='yes'", guest))), host);
    ASSERT_FALSE(p.blocked());
    ASSERT_EQ(p.edits.inject.size(), 2U);  // 02:00.1 and the NIC 02:01.0
    std::set<PciAddress> guests;
    for (const auto& ih : p.edits.inject) {
        if (ih.source == addr("02:00.1")) {
            ASSERT_TRUE(ih.guest_address.has_value());
            EXPECT_EQ(*ih.guest_address, addr("00:07.1"));  // the slot of the interface, its host function
        } else {
            EXPECT_FALSE(ih.guest_address.has_value());  // the NIC is in another host slot
        }
    }
    EXPECT_EQ(p.edits.set_guest_multifunction, (std::vector<PciAddress>{addr("02:00.0")}));
}

TEST(InterfacePlan, FunctionZeroHeldByAnInterfaceThatIsNotPassthroughLeavesTheAddressToLibvirt) {
    Host host = sriov_host();
    const std::string xml =
        doc("    <interface type='network'><source network='default'/>"
            "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></interface>\n" +
            hostdev_element("0x02", "0x00", "0x0")
                .insert(std::string("    <hostdev mode='subsystem' type='pci' managed='yes'>\n").size(),
                        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x1'/>\n"));
    Plan p = plan_domain(parse(xml), host);
    ASSERT_FALSE(p.blocked());
    for (const auto& ih : p.edits.inject) EXPECT_FALSE(ih.guest_address.has_value()) << ih.source.str();
    EXPECT_TRUE(p.edits.set_guest_multifunction.empty());
    EXPECT_TRUE(has_problem(p, Severity::Note, "is a <interface> (line 9) without multifunction='on'"));
}

// ---------------------------------------------------------------- fix

TEST(InterfaceFix, InjectedSiblingsAndMultifunctionOnTheInterfaceEditOnlyAndIdempotent) {
    Host host = sriov_host();
    const std::string guest = "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>";
    const std::string in = doc(vf("0x02", "0x00", "0x0", " managed='no'", guest));
    FixResult r = fix_domain(in, "vm.xml", host, &validator(), {});
    ASSERT_EQ(r.status, FixStatus::Fixable) << fix_explanation(r, host);
    EXPECT_TRUE(is_insertion_only(in, r.fixed)) << r.fixed;
    // The interface's own guest address carries multifunction='on' now.
    EXPECT_NE(r.fixed.find("<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0' "
                           "multifunction='on'/>\n    </interface>"),
              std::string::npos)
        << r.fixed;
    // The siblings come after the interface as <hostdev> with its managed.
    const std::string sibling =
        "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
        "      <source>\n"
        "        <address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>\n"
        "      </source>\n"
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x1'/>\n"
        "    </hostdev>\n";
    EXPECT_NE(r.fixed.find(sibling), std::string::npos) << r.fixed;
    EXPECT_LT(r.fixed.find("</interface>"), r.fixed.find(sibling));
    EXPECT_TRUE(validator().validate(r.fixed, "vm.xml").ok());
    FixResult again = fix_domain(r.fixed, "vm.xml", host, &validator(), {});
    EXPECT_EQ(again.status, FixStatus::Ok) << fix_explanation(again, host);
    EXPECT_EQ(again.fixed, r.fixed);
    ASSERT_TRUE(again.domain.has_value());
    EXPECT_EQ(again.domain->passthrough.size(), 3U);
    EXPECT_EQ(again.domain->passthrough[0].element, Element::Interface);
    EXPECT_TRUE(again.domain->passthrough[0].guest_multifunction);
}

TEST(InterfaceFix, TheReportNamesTheRequestingElement) {
    Host host = sriov_host();
    FixResult r = fix_domain(doc(vf("0x02", "0x01", "0x0") + hostdev_element("0x02", "0x00", "0x0")), "vm.xml", host,
                             &validator(), {});
    ASSERT_EQ(r.status, FixStatus::Fixable);
    const auto j = fix_report(r, host);
    std::map<std::string, nlohmann::ordered_json> element;
    for (const auto& m : j["groups"][0]["members"]) element[m["address"].get<std::string>()] = m["element"];
    EXPECT_EQ(element.at("0000:02:01.0"), "interface");
    EXPECT_EQ(element.at("0000:02:00.0"), "hostdev");
    EXPECT_TRUE(element.at("0000:02:00.1").is_null());
    EXPECT_TRUE(element.at("0000:00:1c.0").is_null());
    const std::string text = fix_explanation(r, host);
    EXPECT_NE(text.find(" - requested by <interface type='hostdev'> (line 9)\n"), std::string::npos) << text;
    EXPECT_NE(text.find(" - a <hostdev> of the domain\n"), std::string::npos) << text;
}

TEST(InterfaceEdit, MultifunctionOnAnInterfaceAndErrorsNameTheElement) {
    const std::string guest = "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>";
    const std::string in =
        doc(hostdev_element("0x03", "0x00", "0x0") + vf("0x02", "0x00", "0x0", " managed='yes'", guest));
    DomainEdits e;
    e.set_guest_multifunction = {addr("02:00.0")};
    auto out = apply_domain_edits(in, e, "vm.xml");
    ASSERT_TRUE(out.ok()) << out.error().describe();
    std::string want = in;
    const std::string before = "function='0x0'/>\n    </interface>";
    want.replace(want.find(before), before.size(), "function='0x0' multifunction='on'/>\n    </interface>");
    EXPECT_EQ(*out, want);
    // The <hostdev> before it has no guest address: the error names it and its line.
    e.set_guest_multifunction = {addr("03:00.0")};
    auto err = apply_domain_edits(in, e, "vm.xml");
    ASSERT_FALSE(err.ok());
    EXPECT_EQ(err.error().message,
              "vm.xml:9: <hostdev> of 0000:03:00.0 has no guest <address type='pci'> to mark multifunction");
    const std::string bare = doc(vf("0x02", "0x00", "0x0"));
    e.set_guest_multifunction = {addr("02:00.0")};
    auto err2 = apply_domain_edits(bare, e, "vm.xml");
    ASSERT_FALSE(err2.ok());
    EXPECT_EQ(err2.error().message,
              "vm.xml:9: <interface> of 0000:02:00.0 has no guest <address type='pci'> to mark multifunction");
}

TEST(InterfaceEdit, AnInterfaceIsNotInjectedAgainAsAHostdev) {
    const std::string in = doc(vf("0x02", "0x01", "0x0"));
    DomainEdits e;
    e.inject.push_back(InjectedHostdev{addr("02:01.0"), true, std::nullopt, false});
    auto out = apply_domain_edits(in, e, "vm.xml");
    ASSERT_TRUE(out.ok()) << out.error().describe();
    EXPECT_EQ(*out, in);
}
