// parse_domain_xml: fields of every style of the corpus, and every kind of
// hostile input refused with the file and the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "golden.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"

namespace {

using hostdev::Domain;
using hostdev::parse_domain_xml;
using hostdev::PciAddress;

const std::filesystem::path kData = hostdev::testing::source_path("tests/data");

Domain parse_corpus(const std::string& name) {
    auto r = parse_domain_xml(hostdev::testing::read_text_file(kData / "domains" / name), name);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : Domain{};
}

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

std::string parse_error(std::string_view text, std::string_view file = "vm.xml") {
    auto r = parse_domain_xml(text, file);
    EXPECT_FALSE(r.ok()) << "parsed although it should not: " << text.substr(0, 200);
    return r.ok() ? std::string() : r.error().message;
}

const char* kHead =
    "<domain type='kvm'>\n"
    "  <name>t</name>\n"
    "  <memory>1</memory>\n"
    "  <os><type>hvm</type></os>\n";

TEST(DomainParse, BasicFields) {
    Domain d = parse_corpus("basic.xml");
    EXPECT_EQ(d.name, "basic");
    EXPECT_EQ(d.uuid, "6b0a4b8e-2f4e-4a51-9d0e-2a1f3c4d5e60");
    EXPECT_EQ(d.type, "kvm");
    ASSERT_EQ(d.passthrough.size(), 1U);
    const auto& h = d.passthrough[0];
    EXPECT_EQ(h.source, addr("0000:01:00.0"));
    EXPECT_TRUE(h.managed);
    ASSERT_TRUE(h.guest_address.has_value());
    EXPECT_EQ(*h.guest_address, addr("0000:05:00.0"));
    EXPECT_FALSE(h.guest_multifunction);
    EXPECT_FALSE(h.driver_name.has_value());
    EXPECT_FALSE(h.has_rom);
    EXPECT_FALSE(h.boot_order.has_value());
    EXPECT_FALSE(h.alias.has_value());
    EXPECT_EQ(h.line, 34);
    EXPECT_EQ(d.other_hostdevs, 0U);
    EXPECT_TRUE(d.has_features);
    EXPECT_FALSE(d.kvm_hidden_state.has_value());
}

TEST(DomainParse, CommentsEverywhere) {
    Domain d = parse_corpus("comments.xml");
    EXPECT_EQ(d.name, "commented");
    ASSERT_EQ(d.passthrough.size(), 1U);
    EXPECT_EQ(d.passthrough[0].source, addr("0a:00.0"));
    EXPECT_EQ(d.passthrough[0].line, 17);
    EXPECT_FALSE(d.has_features);
}

TEST(DomainParse, DoubleQuotesAndDriver) {
    Domain d = parse_corpus("double-quotes.xml");
    ASSERT_EQ(d.passthrough.size(), 1U);
    EXPECT_FALSE(d.passthrough[0].managed);
    EXPECT_EQ(d.passthrough[0].driver_name, std::optional<std::string>("vfio"));
    EXPECT_FALSE(d.passthrough[0].guest_address.has_value());
    EXPECT_FALSE(d.has_features);
}

TEST(DomainParse, TabsAndCrlf) {
    Domain t = parse_corpus("tabs.xml");
    ASSERT_EQ(t.passthrough.size(), 1U);
    EXPECT_EQ(t.passthrough[0].source, addr("02:00.0"));
    EXPECT_EQ(t.passthrough[0].line, 13);

    Domain c = parse_corpus("crlf.xml");
    ASSERT_EQ(c.passthrough.size(), 1U);
    EXPECT_EQ(c.passthrough[0].line, 14);
    EXPECT_FALSE(c.kvm_hidden_state.has_value());
    EXPECT_TRUE(c.has_features);
}

TEST(DomainParse, DecimalAttributesAndAbsentDomain) {
    Domain d = parse_corpus("decimal-attrs.xml");
    ASSERT_EQ(d.passthrough.size(), 2U);
    EXPECT_EQ(d.passthrough[0].source, addr("0000:01:00.1"));
    EXPECT_EQ(*d.passthrough[0].guest_address, addr("0000:05:01.0"));
    EXPECT_EQ(d.passthrough[1].source, addr("0000:26:1f.7"));
    EXPECT_FALSE(d.passthrough[1].managed);
}

TEST(DomainParse, MissingManagedAndMode) {
    Domain d = parse_corpus("no-managed.xml");
    EXPECT_EQ(d.type, "qemu");
    ASSERT_EQ(d.passthrough.size(), 2U);  // mode absent is libvirt's subsystem
    EXPECT_FALSE(d.passthrough[0].managed);
    EXPECT_FALSE(d.passthrough[1].managed);
    EXPECT_EQ(d.passthrough[0].source, addr("00:1f.3"));
    EXPECT_EQ(d.passthrough[1].source, addr("00:14.0"));
}

TEST(DomainParse, OtherHostdevsLeftAlone) {
    Domain d = parse_corpus("usb-alongside.xml");
    ASSERT_EQ(d.passthrough.size(), 1U);
    EXPECT_EQ(d.passthrough[0].source, addr("00:14.0"));
    EXPECT_EQ(d.other_hostdevs, 3U);  // usb, scsi, mdev
}

TEST(DomainParse, HypervFeaturesAndRom) {
    Domain d = parse_corpus("hyperv-features.xml");
    EXPECT_EQ(d.name, "win11");
    EXPECT_TRUE(d.has_features);
    EXPECT_FALSE(d.kvm_hidden_state.has_value());
    ASSERT_EQ(d.passthrough.size(), 1U);
    EXPECT_TRUE(d.passthrough[0].has_rom);
    EXPECT_EQ(d.passthrough[0].driver_name, std::optional<std::string>("vfio"));
}

TEST(DomainParse, KvmHiddenStates) {
    EXPECT_FALSE(parse_corpus("kvm-no-hidden.xml").kvm_hidden_state.has_value());
    EXPECT_EQ(parse_corpus("hidden-off.xml").kvm_hidden_state, std::optional<std::string>("off"));
    EXPECT_EQ(parse_corpus("full-hostdev.xml").kvm_hidden_state, std::optional<std::string>("on"));
    EXPECT_FALSE(parse_corpus("kvm-selfclosing.xml").kvm_hidden_state.has_value());
}

TEST(DomainParse, MultifunctionValues) {
    Domain off = parse_corpus("kvm-no-hidden.xml");
    ASSERT_EQ(off.passthrough.size(), 1U);
    EXPECT_FALSE(off.passthrough[0].guest_multifunction);  // multifunction='off'
    Domain on = parse_corpus("hidden-off.xml");
    ASSERT_EQ(on.passthrough.size(), 2U);
    EXPECT_TRUE(on.passthrough[0].guest_multifunction);
    EXPECT_FALSE(on.passthrough[1].guest_multifunction);
}

TEST(DomainParse, BootOrderAliasRomGuestAddress) {
    Domain d = parse_corpus("full-hostdev.xml");
    ASSERT_EQ(d.passthrough.size(), 2U);
    const auto& nvme = d.passthrough[0];
    EXPECT_EQ(nvme.boot_order, std::optional<unsigned>(1));
    EXPECT_EQ(nvme.alias, std::optional<std::string>("ua-nvme0"));
    EXPECT_FALSE(nvme.has_rom);
    EXPECT_EQ(*nvme.guest_address, addr("07:00.0"));
    const auto& gpu = d.passthrough[1];
    EXPECT_TRUE(gpu.has_rom);
    EXPECT_TRUE(gpu.guest_multifunction);
    EXPECT_FALSE(gpu.boot_order.has_value());
}

TEST(DomainParse, SelfClosingAndNoDevices) {
    Domain d = parse_corpus("devices-selfclosing.xml");
    EXPECT_TRUE(d.passthrough.empty());
    EXPECT_TRUE(d.has_features);
    Domain n = parse_corpus("no-devices.xml");
    EXPECT_TRUE(n.passthrough.empty());
    Domain b = parse_corpus("bom-declaration.xml");
    EXPECT_EQ(b.name, "bom");
}

TEST(DomainParse, MixedQuotesAndOneLiner) {
    Domain d = parse_corpus("mixed-quotes.xml");
    ASSERT_EQ(d.passthrough.size(), 2U);
    EXPECT_EQ(d.passthrough[1].source, addr("02:00.0"));
    EXPECT_EQ(d.passthrough[1].line, 13);
}

// --- hostile input: every file of tests/data/hostile ---

struct HostileCase {
    const char* file;
    int line;          // 0: no line in the message
    const char* what;  // a part of the message
};

class Hostile : public ::testing::TestWithParam<HostileCase> {};

TEST_P(Hostile, RefusedWithFileAndLine) {
    const HostileCase& c = GetParam();
    std::string text = hostdev::testing::read_text_file(kData / "hostile" / c.file);
    std::string msg = parse_error(text, c.file);
    std::string prefix = std::string(c.file) + ":" + std::to_string(c.line) + ": ";
    EXPECT_EQ(msg.rfind(prefix, 0), 0U) << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Files, Hostile,
    ::testing::Values(HostileCase{"billion-laughs.xml", 2, "DTD/DOCTYPE is not allowed in a domain definition"},
                      HostileCase{"external-entity.xml", 3, "DTD/DOCTYPE is not allowed"},
                      HostileCase{"deep-nesting.xml", 257, "nested deeper than 256"},
                      HostileCase{"invalid-utf8.xml", 3, "invalid UTF-8 (byte 0xe9)"},
                      HostileCase{"latin1-declaration.xml", 1, "encoding 'ISO-8859-1' is not supported"},
                      HostileCase{"missing-source-address.xml", 8, "<hostdev type='pci'> has no <source><address>"},
                      HostileCase{"bus-out-of-range.xml", 10, "bus='0x100' is out of range"},
                      HostileCase{"slot-out-of-range.xml", 10, "slot='32' is out of range"},
                      HostileCase{"not-xml.xml", 1, "not well-formed XML"},
                      HostileCase{"mismatched-tags.xml", 11, "not well-formed XML"},
                      HostileCase{"root-network.xml", 2, "root element is <network>, not <domain>"}),
    [](const ::testing::TestParamInfo<HostileCase>& p) {
        std::string n = p.param.file;
        for (char& ch : n)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return n;
    });

TEST(DomainHostile, OverSizeLimit) {
    std::string big(hostdev::kMaxDomainXmlBytes + 1, ' ');
    std::string msg = parse_error(big, "big.xml");
    EXPECT_EQ(msg.rfind("big.xml: file is 33554433 bytes", 0), 0U) << msg;
    EXPECT_NE(msg.find("32 MiB"), std::string::npos) << msg;
}

TEST(DomainHostile, DepthLimitIsExact) {
    auto nested = [](int depth) {
        std::string s = "<domain>";
        for (int i = 1; i < depth; ++i) s += "<m>";
        for (int i = 1; i < depth; ++i) s += "</m>";
        return s + "</domain>";
    };
    EXPECT_TRUE(parse_domain_xml(nested(256), "ok.xml").ok());
    EXPECT_NE(parse_error(nested(257)).find("nested deeper than 256"), std::string::npos);
    // Far deeper than any stack would survive in a recursive parser.
    EXPECT_NE(parse_error(nested(200000)).find("vm.xml:1: elements are nested"), std::string::npos);
}

TEST(DomainHostile, Utf16AndUtf32) {
    std::string utf16("\xFF\xFE<\0d\0", 6);
    EXPECT_NE(parse_error(utf16).find("vm.xml:1: file is UTF-16 encoded"), std::string::npos);
    std::string utf32("\xFF\xFE\0\0<\0\0\0", 8);
    EXPECT_NE(parse_error(utf32).find("UTF-32"), std::string::npos);
}

TEST(DomainHostile, BadUtf8Sequences) {
    // Overlong '/', a lone continuation byte, a UTF-16 surrogate, a truncated sequence.
    for (std::string bad :
         {std::string("\xC0\xAF"), std::string("\x80"), std::string("\xED\xA0\x80"), std::string("\xE2\x82")}) {
        std::string doc = std::string(kHead) + "  <title>x" + bad + "</title>\n</domain>\n";
        EXPECT_NE(parse_error(doc).find("vm.xml:5: invalid UTF-8"), std::string::npos) << doc;
    }
    std::string ok = std::string(kHead) + "  <title>\xE2\x82\xAC \xF0\x9F\x98\x80</title>\n</domain>\n";
    EXPECT_TRUE(parse_domain_xml(ok, "vm.xml").ok());
}

TEST(DomainHostile, ControlCharacters) {
    std::string doc = std::string(kHead) + "\n  <title>a\x01</title>\n</domain>\n";
    EXPECT_NE(parse_error(doc).find("vm.xml:6: control character U+0001"), std::string::npos);
    std::string nul = std::string(kHead) + std::string("<title>\0</title></domain>", 25);
    EXPECT_NE(parse_error(nul).find("vm.xml:5: control character U+0000"), std::string::npos);
}

TEST(DomainHostile, EncodingDeclarations) {
    for (const char* enc : {"UTF-8", "utf-8", "US-ASCII", "ascii"}) {
        std::string doc = std::string("<?xml version='1.0' encoding='") + enc + "'?>\n" + kHead + "</domain>\n";
        EXPECT_TRUE(parse_domain_xml(doc, "vm.xml").ok()) << enc;
    }
    std::string doc = std::string("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n") + kHead + "</domain>\n";
    EXPECT_NE(parse_error(doc).find("vm.xml:1: encoding 'UTF-16' is not supported"), std::string::npos);
}

TEST(DomainHostile, DoctypeAnywhereBeforeTheRoot) {
    std::string doc = std::string("<!-- c -->\n<?pi x?>\n\n<!DOCTYPE domain>\n") + kHead + "</domain>\n";
    EXPECT_NE(parse_error(doc).find("vm.xml:4: DTD/DOCTYPE is not allowed"), std::string::npos);
    // A DOCTYPE inside a comment is only text.
    std::string commented = std::string("<!-- <!DOCTYPE domain> -->\n") + kHead + "</domain>\n";
    EXPECT_TRUE(parse_domain_xml(commented, "vm.xml").ok());
}

TEST(DomainHostile, WellFormednessRulesPugixmlIsLenientAbout) {
    std::string base = kHead;
    EXPECT_NE(parse_error(base + "  <title>&ent;</title>\n</domain>\n")
                  .find("vm.xml:5: not well-formed XML: reference to undeclared entity &ent;"),
              std::string::npos);
    EXPECT_NE(parse_error(base + "  <title>a & b</title>\n</domain>\n").find("vm.xml:5:"), std::string::npos);
    EXPECT_NE(parse_error(base + "  <title>&#0;</title>\n</domain>\n").find("vm.xml:5:"), std::string::npos);
    EXPECT_NE(parse_error(base + "  <title a='1' a='2'/>\n</domain>\n")
                  .find("vm.xml:5: not well-formed XML: duplicate attribute a"),
              std::string::npos);
    EXPECT_NE(
        parse_error(base + "</domain>\n<domain/>\n").find("vm.xml:6: not well-formed XML: more than one root element"),
        std::string::npos);
    EXPECT_NE(parse_error(base + "</domain>\ntrailing\n")
                  .find("vm.xml:6: not well-formed XML: text outside the root element"),
              std::string::npos);
    EXPECT_NE(parse_error(base + "<?xml version='1.0'?></domain>\n").find("vm.xml:5:"), std::string::npos);
    EXPECT_NE(parse_error(base + "<!-- a -- b --></domain>\n").find("vm.xml:5:"), std::string::npos);
    EXPECT_NE(parse_error(base + "<title a='<'/></domain>\n").find("vm.xml:5:"), std::string::npos);
    // Predefined and character references are fine.
    EXPECT_TRUE(parse_domain_xml(base + "<title>&lt;&amp;&#x41;&#66;</title></domain>", "vm.xml").ok());
}

TEST(DomainHostile, UnclosedAndEmpty) {
    EXPECT_NE(parse_error(std::string(kHead) + "  <devices>\n").find("vm.xml:"), std::string::npos);
    EXPECT_NE(parse_error("").find("vm.xml"), std::string::npos);
    EXPECT_NE(parse_error("   \n").find("vm.xml"), std::string::npos);
}

TEST(DomainHostile, BadHostdevAttributes) {
    auto doc = [](const std::string& hostdev) {
        return std::string(kHead) + "  <devices>\n" + hostdev + "\n  </devices>\n</domain>\n";
    };
    const std::string src = "<source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>";
    EXPECT_NE(parse_error(doc("<hostdev mode='subsystem' type='pci' managed='maybe'>" + src + "</hostdev>"))
                  .find("vm.xml:6: managed='maybe' must be 'yes' or 'no'"),
              std::string::npos);
    EXPECT_NE(parse_error(doc("<hostdev type='pci'>\n<source>\n<address domain='0x100000000' bus='1' slot='0' "
                              "function='0'/>\n</source></hostdev>"))
                  .find("vm.xml:8: domain='0x100000000' is out of range"),
              std::string::npos);
    EXPECT_NE(parse_error(doc("<hostdev type='pci'><source><address bus='08' slot='0'/></source></hostdev>"))
                  .find("vm.xml:6: bus='08' is not a number (a leading 0 makes it octal)"),
              std::string::npos);
    EXPECT_NE(
        parse_error(doc("<hostdev type='pci'><source><address bus='0x1ff' slot='0' function='8'/></source></hostdev>"))
            .find("bus='0x1ff' is out of range"),
        std::string::npos);
    EXPECT_NE(
        parse_error(doc("<hostdev type='pci'><source><address bus='1' slot='0' function='8'/></source></hostdev>"))
            .find("function='8' is out of range"),
        std::string::npos);
    EXPECT_NE(parse_error(doc("<hostdev type='pci'>" + src +
                              "\n<address type='pci' bus='0' slot='0x20' function='0'/></hostdev>"))
                  .find("vm.xml:7: guest <address> of <hostdev>: slot='0x20' is out of range"),
              std::string::npos);
    EXPECT_NE(parse_error(doc("<hostdev type='pci'>" + src + "<boot order='first'/></hostdev>"))
                  .find("boot order='first' is not a number"),
              std::string::npos);
    // libvirt reads the boot order in decimal and refuses 0.
    EXPECT_NE(parse_error(doc("<hostdev type='pci'>" + src + "<boot order='0x1'/></hostdev>"))
                  .find("boot order='0x1' is not a number (expected a decimal number"),
              std::string::npos);
    EXPECT_NE(parse_error(doc("<hostdev type='pci'>" + src + "<boot order='0'/></hostdev>"))
                  .find("boot order='0' must be at least 1"),
              std::string::npos);
    // A source address inside a non-PCI hostdev is not ours to check.
    EXPECT_TRUE(
        parse_domain_xml(
            doc("<hostdev mode='subsystem' type='usb'><source><address bus='999' device='1'/></source></hostdev>"),
            "vm.xml")
            .ok());
}

TEST(DomainParse, GuestAddressFieldsDefaultToZero) {
    std::string doc = std::string(kHead) +
                      "<devices><hostdev type='pci'><source><address bus='1' slot='0' function='0'/></source>"
                      "<address type='pci' slot='3'/></hostdev></devices></domain>";
    auto r = parse_domain_xml(doc, "vm.xml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r->passthrough[0].guest_address, addr("0000:00:03.0"));
}

TEST(DomainParse, HiddenWithoutState) {
    std::string doc = std::string(kHead) + "<features><kvm><hidden/></kvm></features></domain>";
    auto r = parse_domain_xml(doc, "vm.xml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->kvm_hidden_state, std::optional<std::string>(""));
}

}  // namespace

namespace {

// Every guest PCI address of every device, with its element and line; the
// source address of an <interface type='hostdev'> is a host address, and an
// address whose domain, bus and slot are 0 is one libvirt chooses.
TEST(DomainParse, GuestPciAddressesOfEveryDevice) {
    std::string doc =
        std::string(kHead) +
        "  <devices>\n"
        "    <controller type='pci' index='1' model='pci-bridge'><address type='pci' bus='0' slot='0x05' function='0' "
        "multifunction='on'/></controller>\n"
        "    <disk type='file' device='disk'><target dev='vda' bus='virtio'/><address type='pci' bus='0x00' "
        "slot='0x07' function='0x0'/></disk>\n"
        "    <interface type='hostdev'><source><address type='pci' domain='0' bus='3' slot='0' "
        "function='1'/></source>\n"
        "      <address type='pci' domain='0' bus='010' slot='1' function='0'/></interface>\n"
        "    <video><model type='vga'/><address type='pci' slot='2'/></video>\n"
        "    <memballoon model='virtio'><address type='pci' domain='0' bus='0' slot='0' function='3'/></memballoon>\n"
        "    <controller type='usb'><address type='usb' bus='0' port='1'/></controller>\n"
        "    <hostdev mode='subsystem' type='pci'><source><address bus='1' slot='0' function='0'/></source>\n"
        "      <address type='pci' bus='0' slot='0x05' function='1'/></hostdev>\n"
        "  </devices>\n</domain>\n";
    auto r = parse_domain_xml(doc, "vm.xml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const auto& g = r->guest_pci_addresses;
    ASSERT_EQ(g.size(), 5U);
    EXPECT_EQ(g[0].element, "controller");
    EXPECT_EQ(g[0].address, addr("0000:00:05.0"));
    EXPECT_TRUE(g[0].multifunction);
    EXPECT_EQ(g[0].line, 6);
    EXPECT_EQ(g[1].element, "disk");
    EXPECT_EQ(g[1].address, addr("0000:00:07.0"));
    EXPECT_FALSE(g[1].multifunction);
    EXPECT_EQ(g[2].element, "interface");
    EXPECT_EQ(g[2].address, addr("0000:08:01.0"));  // bus='010' is octal
    EXPECT_EQ(g[2].line, 9);
    EXPECT_EQ(g[3].element, "video");
    EXPECT_EQ(g[3].address, addr("0000:00:02.0"));
    EXPECT_EQ(g[4].element, "hostdev");
    EXPECT_EQ(g[4].address, addr("0000:00:05.1"));
    EXPECT_EQ(g[4].line, 14);
    // The <interface type='hostdev'> is a passthrough device too, in document order.
    ASSERT_EQ(r->passthrough.size(), 2U);
    EXPECT_EQ(r->passthrough[0].element, hostdev::PassthroughDevice::Element::Interface);
    EXPECT_EQ(r->passthrough[0].source, addr("0000:03:00.1"));
    EXPECT_EQ(*r->passthrough[0].guest_address, addr("0000:08:01.0"));
    EXPECT_EQ(r->passthrough[1].element, hostdev::PassthroughDevice::Element::Hostdev);
    EXPECT_EQ(*r->passthrough[1].guest_address, addr("0000:00:05.1"));
}

// libvirt reads a device's first <address> child and no other.
TEST(DomainParse, OnlyTheFirstAddressOfADeviceCounts) {
    std::string doc = std::string(kHead) +
                      "<devices><controller type='usb'><address type='usb' bus='0' port='1'/>"
                      "<address type='pci' slot='9'/></controller>"
                      "<hostdev type='pci'><source><address bus='1'/></source><address type='drive'/>"
                      "<address type='pci' slot='8'/></hostdev></devices></domain>";
    auto r = parse_domain_xml(doc, "vm.xml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->guest_pci_addresses.empty());
    ASSERT_EQ(r->passthrough.size(), 1U);
    EXPECT_FALSE(r->passthrough[0].guest_address.has_value());
}

TEST(DomainHostile, BadGuestAddressOfAnyDevice) {
    std::string doc =
        std::string(kHead) +
        "  <devices>\n    <disk type='file'>\n      <address type='pci' bus='0' slot='0x20' function='0'/>\n"
        "    </disk>\n  </devices>\n</domain>\n";
    EXPECT_NE(parse_error(doc).find("vm.xml:7: guest <address> of <disk>: slot='0x20' is out of range"),
              std::string::npos);
}

// The guest OS: libosinfo metadata matched by namespace URI, whatever the
// prefix; without it, only the Windows-only signs.
hostdev::GuestOs guest_os(const std::string& body) {
    auto r = parse_domain_xml(std::string(kHead) + body + "</domain>", "vm.xml");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->guest_os : hostdev::GuestOs{};
}

TEST(DomainParse, GuestOsFromLibosinfoMetadataByNamespaceUri) {
    using K = hostdev::GuestOs::Kind;
    using S = hostdev::GuestOs::Source;
    auto win = guest_os(
        "<metadata>\n<libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>\n"
        "<libosinfo:os id='http://microsoft.com/win/11'/></libosinfo:libosinfo></metadata>");
    EXPECT_EQ(win.kind, K::Windows);
    EXPECT_EQ(win.source, S::Libosinfo);
    EXPECT_EQ(win.id, "http://microsoft.com/win/11");
    EXPECT_EQ(win.line, 7);
    // Another prefix, declared on <domain>'s child; and the default namespace.
    auto other = guest_os(
        "<metadata xmlns:o='http://libosinfo.org/xmlns/libvirt/domain/1.0'><o:libosinfo>"
        "<o:os id='http://ubuntu.com/ubuntu/22.04'/></o:libosinfo></metadata>");
    EXPECT_EQ(other.kind, K::Other);
    EXPECT_EQ(other.id, "http://ubuntu.com/ubuntu/22.04");
    auto dflt = guest_os(
        "<metadata><libosinfo xmlns='http://libosinfo.org/xmlns/libvirt/domain/1.0'>"
        "<os id='http://microsoft.com/win/10'/></libosinfo></metadata>");
    EXPECT_EQ(dflt.kind, K::Windows);
    // The libosinfo prefix bound to another URI is not libosinfo metadata.
    auto wrong = guest_os(
        "<metadata><libosinfo:libosinfo xmlns:libosinfo='http://example.org/other'>"
        "<libosinfo:os id='http://microsoft.com/win/11'/></libosinfo:libosinfo></metadata>");
    EXPECT_EQ(wrong.kind, K::Unknown);
    EXPECT_EQ(wrong.source, S::None);
    // Metadata wins over the signs.
    auto both = guest_os(
        "<metadata><l:libosinfo xmlns:l='http://libosinfo.org/xmlns/libvirt/domain/1.0'>"
        "<l:os id='http://fedoraproject.org/fedora/39'/></l:libosinfo></metadata>"
        "<features><hyperv><relaxed state='on'/></hyperv></features>");
    EXPECT_EQ(both.kind, K::Other);
}

TEST(DomainParse, GuestOsFromWindowsOnlySigns) {
    using K = hostdev::GuestOs::Kind;
    using S = hostdev::GuestOs::Source;
    auto hv =
        guest_os("<features>\n<hyperv mode='custom'><relaxed state='off'/><vapic state='on'/></hyperv></features>");
    EXPECT_EQ(hv.kind, K::Windows);
    EXPECT_EQ(hv.source, S::Hyperv);
    EXPECT_EQ(hv.line, 6);
    EXPECT_EQ(guest_os("<features><hyperv mode='passthrough'/></features>").source, S::Hyperv);
    // Every enlightenment off, or an empty <hyperv>: no sign.
    EXPECT_EQ(guest_os("<features><hyperv><relaxed state='off'/></hyperv></features>").kind, K::Unknown);
    EXPECT_EQ(guest_os("<features><hyperv/></features>").kind, K::Unknown);
    auto clock = guest_os("<clock offset='localtime'><timer name='hypervclock' present='yes'/></clock>");
    EXPECT_EQ(clock.kind, K::Windows);
    EXPECT_EQ(clock.source, S::HypervClock);
    EXPECT_EQ(guest_os("<clock offset='localtime'><timer name='hypervclock' present='no'/></clock>").kind, K::Unknown);
    // localtime alone is common in dual-boot Linux guests: no sign.
    EXPECT_EQ(guest_os("<clock offset='localtime'/>").kind, K::Unknown);
}

}  // namespace

TEST(DomainParse, PciControllersWithTheirHotplug) {
    const std::string xml =
        "<domain type='kvm'><name>vm</name><devices>\n"
        "<controller type='pci' index='0' model='pcie-root'/>\n"
        "<controller type='pci' index='0x2' model='pcie-root-port'>\n"
        "  <target hotplug='off'/>\n"
        "  <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n"
        "</controller>\n"
        "<controller type='usb' index='0' model='qemu-xhci'/>\n"
        "<controller type='pci' model='pci-bridge'/>\n"
        "</devices></domain>";
    auto r = parse_domain_xml(xml, "vm.xml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    // The USB controller is no PCI controller; one without index is the schema's to refuse.
    ASSERT_EQ(r->pci_controllers.size(), 2u);
    EXPECT_EQ(r->pci_controllers[0].model, "pcie-root");
    EXPECT_TRUE(r->pci_controllers[0].hotplug);
    EXPECT_EQ(r->pci_controllers[1].index, 2u);
    EXPECT_EQ(r->pci_controllers[1].model, "pcie-root-port");
    EXPECT_FALSE(r->pci_controllers[1].hotplug);
    EXPECT_EQ(r->pci_controllers[1].line, 3);
}

TEST(DomainDocument, TheExactTextOfEachPassthroughElement) {
    const std::string hostdev =
        "<hostdev mode='subsystem' type=\"pci\" managed='no'>\n"
        "      <source>\n        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
        "      </source>\n      <alias name='hostdev0'/>\n    </hostdev>";
    const std::string iface =
        "<interface type='hostdev'><source><address type='pci' bus='2' slot='0' function='1'/></source></interface>";
    const std::string xml = "<domain type='kvm'><name>vm</name><devices>\n    " + hostdev +
                            "\n    <disk type='file'/>\n    " + iface + "\n</devices></domain>";
    auto doc = hostdev::DomainDocument::parse(xml, "vm.xml");
    ASSERT_TRUE(doc.ok()) << doc.error().message;
    EXPECT_EQ(doc->element_text(0), hostdev);
    EXPECT_EQ(doc->element_text(1), iface);
    EXPECT_EQ(doc->element_text(2), "");
}
