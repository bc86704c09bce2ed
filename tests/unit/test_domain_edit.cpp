// apply_domain_edits: over every corpus file and several edit sets, the output
// keeps every input line (in order), is schema-valid, shows the edits when
// parsed again, and is a fixed point; literal spot checks pin down the exact
// text inserted in each style.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "golden.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/domain/schema.hpp"

namespace {

using hostdev::apply_domain_edits;
using hostdev::DomainEdits;
using hostdev::InjectedHostdev;
using hostdev::parse_domain_xml;
using hostdev::PassthroughDevice;
using hostdev::PciAddress;

const std::filesystem::path kData = hostdev::testing::source_path("tests/data");

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

// A file of the domain corpus (tests/data/domains).
std::string corpus(const char* name) { return hostdev::testing::read_text_file(kData / "domains" / name); }

DomainEdits hide_kvm() {
    DomainEdits e;
    e.ensure_kvm_hidden = true;
    return e;
}

// The edited text holds `text` (shown whole when it does not).
#define EXPECT_HAS(out, text) EXPECT_NE((out).find(text), std::string::npos) << (out)

std::vector<std::string> corpus_files() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(kData / "domains"))
        if (e.path().extension() == ".xml") names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// Lines split on '\n'; a '\r' stays part of its line.
std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t b = 0;
    while (b <= s.size()) {
        std::size_t e = s.find('\n', b);
        if (e == std::string::npos) {
            out.push_back(s.substr(b));
            break;
        }
        out.push_back(s.substr(b, e - b));
        b = e + 1;
    }
    return out;
}

// The only in-line changes an edit may make: a multifunction attribute, the
// value of <hidden state=...>, and a self-closing element that gains children.
std::string normalize(std::string line) {
    static const std::regex multifunction(R"( multifunction=(['"])[a-z]*\1)");
    static const std::regex hidden(R"(<hidden state=(['"])[a-z]*\1)");
    line = std::regex_replace(line, multifunction, "");
    line = std::regex_replace(line, hidden, "<hidden state=Q");
    for (const char* tag : {"devices", "features", "kvm"}) {
        std::string self = std::string("<") + tag + "/>";
        std::size_t p = line.find(self);
        if (p != std::string::npos) line.replace(p, self.size(), std::string("<") + tag + ">");
    }
    return line;
}

// Every input line appears in the output, in order.
::testing::AssertionResult lines_are_subsequence(const std::string& in, const std::string& out) {
    auto a = lines_of(in);
    auto b = lines_of(out);
    std::size_t j = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::string want = normalize(a[i]);
        while (j < b.size() && normalize(b[j]) != want) ++j;
        if (j == b.size())
            return ::testing::AssertionFailure() << "input line " << i + 1 << " [" << a[i] << "] is missing from:\n"
                                                 << out;
        ++j;
    }
    return ::testing::AssertionSuccess();
}

std::shared_ptr<const hostdev::SchemaValidator> validator() {
    static auto v = [] {
        auto r = hostdev::SchemaValidator::load(hostdev::SchemaValidator::default_dir());
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
        return r.ok() ? *r : nullptr;
    }();
    return v;
}

DomainEdits inject_set() {
    DomainEdits e;
    e.inject.push_back(InjectedHostdev{addr("0000:7e:00.1"), true, addr("0000:0a:00.1"), false});
    e.inject.push_back(InjectedHostdev{addr("0000:7e:00.2"), false, std::nullopt, false});
    e.inject.push_back(InjectedHostdev{addr("0000:7e:00.3"), true, addr("0000:0a:01.0"), true});
    return e;
}

struct EditSet {
    const char* name;
    bool inject;
    bool hide;
    bool multifunction;  // every existing hostdev with a guest address
};

using Param = std::tuple<std::string, EditSet>;

class CorpusEdit : public ::testing::TestWithParam<Param> {};

TEST_P(CorpusEdit, PreservesLinesValidatesAndIsIdempotent) {
    const auto& [file, set] = GetParam();
    const std::string in = hostdev::testing::read_text_file(kData / "domains" / file);
    auto before = parse_domain_xml(in, file);
    ASSERT_TRUE(before.ok()) << before.error().message;

    DomainEdits edits;
    if (set.inject) edits = inject_set();
    edits.ensure_kvm_hidden = set.hide;
    std::set<PciAddress> marked;
    if (set.multifunction)
        for (const auto& h : before->passthrough)
            if (h.guest_address) {
                edits.set_guest_multifunction.push_back(h.source);
                marked.insert(h.source);
            }

    auto out = apply_domain_edits(in, edits, file);
    ASSERT_TRUE(out.ok()) << out.error().message;

    // (a) every input line is still there, in order.
    EXPECT_TRUE(lines_are_subsequence(in, *out));
    // Line ends follow the document.
    if (in.find("\r\n") != std::string::npos) {
        for (std::size_t p = out->find('\n'); p != std::string::npos; p = out->find('\n', p + 1))
            ASSERT_TRUE(p > 0 && (*out)[p - 1] == '\r') << "bare LF at offset " << p << " in\n" << *out;
    } else {
        EXPECT_EQ(out->find('\r'), std::string::npos);
    }

    // (b) schema-valid.
    ASSERT_NE(validator(), nullptr);
    auto valid = validator()->validate(*out, file);
    EXPECT_TRUE(valid.ok()) << (valid.ok() ? "" : valid.error().message) << "\n" << *out;

    // (c) the edits show when parsed again; nothing else changed.
    auto after = parse_domain_xml(*out, file);
    ASSERT_TRUE(after.ok()) << after.error().message;
    std::size_t injected = set.inject ? edits.inject.size() : 0;
    ASSERT_EQ(after->passthrough.size(), before->passthrough.size() + injected);
    // The injected <hostdev>s follow the last <hostdev>, so an <interface
    // type='hostdev'> after it comes after them in document order.
    std::vector<PassthroughDevice> kept, added;
    for (const auto& p : after->passthrough) {
        bool is_injected = std::any_of(edits.inject.begin(), edits.inject.end(),
                                       [&](const InjectedHostdev& ih) { return ih.source == p.source; });
        (is_injected ? added : kept).push_back(p);
    }
    ASSERT_EQ(added.size(), injected);
    for (std::size_t i = 0; i < before->passthrough.size(); ++i) {
        const auto& b = before->passthrough[i];
        const auto& a = kept[i];
        EXPECT_EQ(a.element, b.element);
        EXPECT_EQ(a.source, b.source);
        EXPECT_EQ(a.managed, b.managed);
        EXPECT_EQ(a.guest_address, b.guest_address);
        EXPECT_EQ(a.guest_multifunction, b.guest_multifunction || marked.count(b.source) > 0);
        EXPECT_EQ(a.boot_order, b.boot_order);
        EXPECT_EQ(a.alias, b.alias);
        EXPECT_EQ(a.has_rom, b.has_rom);
        EXPECT_EQ(a.driver_name, b.driver_name);
    }
    for (std::size_t k = 0; k < injected; ++k) {
        const auto& want = edits.inject[k];
        const auto& got = added[k];
        EXPECT_EQ(got.element, PassthroughDevice::Element::Hostdev);
        EXPECT_EQ(got.source, want.source);
        EXPECT_EQ(got.managed, want.managed);
        EXPECT_EQ(got.guest_address, want.guest_address);
        EXPECT_EQ(got.guest_multifunction, want.guest_multifunction);
    }
    EXPECT_EQ(after->other_hostdevs, before->other_hostdevs);
    EXPECT_EQ(after->name, before->name);
    if (set.hide) {
        EXPECT_EQ(after->kvm_hidden_state, std::optional<std::string>("on"));
    } else {
        EXPECT_EQ(after->kvm_hidden_state, before->kvm_hidden_state);
    }

    // (e) a second run changes nothing.
    auto again = apply_domain_edits(*out, edits, file);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(*again, *out);
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusEdit,
                         ::testing::Combine(::testing::ValuesIn(corpus_files()),
                                            ::testing::Values(EditSet{"hide", false, true, false},
                                                              EditSet{"inject", true, false, false},
                                                              EditSet{"all", true, true, true})),
                         [](const ::testing::TestParamInfo<Param>& p) {
                             std::string n = std::get<0>(p.param) + "_" + std::get<1>(p.param).name;
                             for (char& ch : n)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

TEST(DomainEdit, CorpusIsNotEmpty) { EXPECT_GE(corpus_files().size(), 15U); }

TEST(DomainEdit, EmptyEditsReturnIdenticalBytes) {
    for (const auto& f : corpus_files()) {
        std::string in = hostdev::testing::read_text_file(kData / "domains" / f);
        auto out = apply_domain_edits(in, DomainEdits{}, f);
        ASSERT_TRUE(out.ok()) << out.error().message;
        EXPECT_EQ(*out, in) << f;
    }
}

TEST(DomainEdit, EditsOfWhatIsPresentChangeNothing) {
    std::string in = corpus("full-hostdev.xml");
    DomainEdits e;
    e.inject.push_back(InjectedHostdev{addr("0000:04:00.0"), false, std::nullopt, false});
    e.set_guest_multifunction.push_back(addr("0000:0b:00.0"));  // already 'on'
    e.ensure_kvm_hidden = true;                                 // already 'on'
    auto out = apply_domain_edits(in, e, "full-hostdev.xml");
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, in);
}

TEST(DomainEdit, InvalidInputIsAnError) {
    auto out = apply_domain_edits(hostdev::testing::read_text_file(kData / "hostile" / "billion-laughs.xml"),
                                  DomainEdits{}, "b.xml");
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.error().message.find("b.xml:2: DTD/DOCTYPE"), std::string::npos);
}

// --- literal spot checks ---

std::string edit(const std::string& in, const DomainEdits& e) {
    auto out = apply_domain_edits(in, e, "vm.xml");
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
    return out.ok() ? *out : std::string();
}

DomainEdits one_injection(bool managed, bool guest, bool multifunction = false) {
    DomainEdits e;
    std::optional<PciAddress> g;
    if (guest) g = addr("0000:05:00.1");
    e.inject.push_back(InjectedHostdev{addr("0000:01:00.1"), managed, g, multifunction});
    return e;
}

TEST(DomainEditLiteral, InjectAfterLastHostdevSingleQuotesTwoSpaces) {
    const std::string in =
        "<domain type='kvm'>\n"
        "  <name>a</name>\n"
        "  <devices>\n"
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "      <source>\n"
        "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
        "      </source>\n"
        "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"
        "    </hostdev>\n"
        "    <memballoon model='virtio'/>\n"
        "  </devices>\n"
        "</domain>\n";
    DomainEdits e = one_injection(true, true);
    e.set_guest_multifunction.push_back(addr("0000:01:00.0"));
    EXPECT_EQ(edit(in, e),
              "<domain type='kvm'>\n"
              "  <name>a</name>\n"
              "  <devices>\n"
              "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
              "      <source>\n"
              "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
              "      </source>\n"
              "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0' multifunction='on'/>\n"
              "    </hostdev>\n"
              "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
              "      <source>\n"
              "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
              "      </source>\n"
              "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x1'/>\n"
              "    </hostdev>\n"
              "    <memballoon model='virtio'/>\n"
              "  </devices>\n"
              "</domain>\n");
}

TEST(DomainEditLiteral, TabsStayTabsAndDoubleQuotesFollowTheHostdev) {
    std::string out = edit(corpus("tabs.xml"), one_injection(false, false));
    EXPECT_HAS(out,
               "\t\t</hostdev>\n"
               "\t\t<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\">\n"
               "\t\t\t<source>\n"
               "\t\t\t\t<address domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" function=\"0x1\"/>\n"
               "\t\t\t</source>\n"
               "\t\t</hostdev>\n"
               "\t</devices>\n");
    for (const auto& line : lines_of(out)) EXPECT_TRUE(line.empty() || line[0] != ' ') << line;
}

TEST(DomainEditLiteral, FourSpaceStepDoubleQuotes) {
    std::string out = edit(corpus("double-quotes.xml"), one_injection(true, true, true));
    EXPECT_HAS(out,
               "        </hostdev>\n"
               "        <hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\">\n"
               "            <source>\n"
               "                <address domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" function=\"0x1\"/>\n"
               "            </source>\n"
               "            <address type=\"pci\" domain=\"0x0000\" bus=\"0x05\" slot=\"0x00\" "
               "function=\"0x1\" multifunction=\"on\"/>\n"
               "        </hostdev>\n"
               "        <video>\n");
}

TEST(DomainEditLiteral, CrlfLineEnds) {
    DomainEdits e = one_injection(true, false);
    e.ensure_kvm_hidden = true;
    std::string out = edit(corpus("crlf.xml"), e);
    EXPECT_HAS(out,
               "    <kvm>\r\n"
               "      <hint-dedicated state='on'/>\r\n"
               "      <hidden state='on'/>\r\n"
               "    </kvm>\r\n");
    EXPECT_HAS(out,
               "    </hostdev>\r\n"
               "    <hostdev mode='subsystem' type='pci' managed='yes'>\r\n"
               "      <source>\r\n");
}

TEST(DomainEditLiteral, FeaturesBlockAfterOs) {
    std::string out = edit(corpus("no-features.xml"), hide_kvm());
    EXPECT_HAS(out,
               "    <boot dev='network'/>\n"
               "  </os>\n"
               "  <features>\n"
               "    <kvm>\n"
               "      <hidden state='on'/>\n"
               "    </kvm>\n"
               "  </features>\n"
               "  <on_reboot>restart</on_reboot>\n");
}

TEST(DomainEditLiteral, FeaturesAfterOsWithTrailingComment) {
    std::string out = edit(corpus("comments.xml"), hide_kvm());
    EXPECT_HAS(out,
               "  </os> <!-- end of os -->\n"
               "  <features>\n"
               "    <kvm>\n"
               "      <hidden state='on'/>\n"
               "    </kvm>\n"
               "  </features>\n"
               "  <!-- no <features> on purpose -->\n");
}

TEST(DomainEditLiteral, HiddenOffBecomesOnAndNothingElse) {
    std::string in = corpus("hidden-off.xml");
    DomainEdits e;
    e.ensure_kvm_hidden = true;
    std::string expected = in;
    expected.replace(expected.find("<hidden state='off'/>"), 21, "<hidden state='on'/>");
    EXPECT_EQ(edit(in, e), expected);
}

TEST(DomainEditLiteral, MultifunctionOffIsReplaced) {
    std::string in = corpus("kvm-no-hidden.xml");
    DomainEdits e;
    e.set_guest_multifunction.push_back(addr("0000:65:00.0"));
    std::string expected = in;
    expected.replace(expected.find("multifunction='off'"), 19, "multifunction='on'");
    EXPECT_EQ(edit(in, e), expected);
}

TEST(DomainEditLiteral, HiddenAddedToExistingKvm) {
    std::string out = edit(corpus("kvm-no-hidden.xml"), hide_kvm());
    EXPECT_HAS(out,
               "      <poll-control state='on'/>\n"
               "      <hidden state='on'/>\n"
               "    </kvm>\n");
}

TEST(DomainEditLiteral, KvmAddedToHypervFeatures) {
    std::string out = edit(corpus("hyperv-features.xml"), hide_kvm());
    EXPECT_HAS(out,
               "    </hyperv>\n"
               "    <vmport state='off'/>\n"
               "    <kvm>\n"
               "      <hidden state='on'/>\n"
               "    </kvm>\n"
               "  </features>\n");
}

TEST(DomainEditLiteral, SelfClosingDevicesFeaturesAndKvm) {
    DomainEdits e = one_injection(true, false);
    e.ensure_kvm_hidden = true;
    EXPECT_EQ(edit(corpus("devices-selfclosing.xml"), e),
              "<domain type='kvm'>\n"
              "  <name>devices-selfclosing</name>\n"
              "  <memory unit='GiB'>1</memory>\n"
              "  <os>\n"
              "    <type arch='x86_64'>hvm</type>\n"
              "  </os>\n"
              "  <features>\n"
              "    <kvm>\n"
              "      <hidden state='on'/>\n"
              "    </kvm>\n"
              "  </features>\n"
              "  <devices>\n"
              "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
              "      <source>\n"
              "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
              "      </source>\n"
              "    </hostdev>\n"
              "  </devices>\n"
              "</domain>\n");
    DomainEdits h;
    h.ensure_kvm_hidden = true;
    std::string out = edit(corpus("kvm-selfclosing.xml"), h);
    EXPECT_HAS(out,
               "    <acpi/>\n"
               "    <kvm>\n"
               "      <hidden state=\"on\"/>\n"
               "    </kvm>\n"
               "  </features>\n");
}

TEST(DomainEditLiteral, AfterOneLinerWithTrailingComment) {
    std::string out = edit(corpus("mixed-quotes.xml"), one_injection(false, false));
    EXPECT_HAS(out,
               "</hostdev> <!-- one-liner -->\n"
               "  <hostdev mode='subsystem' type='pci' managed='no'>\n"
               "   <source>\n"
               "    <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
               "   </source>\n"
               "  </hostdev>\n"
               "  <watchdog");
}

TEST(DomainEditLiteral, AfterLastHostdevOfAnyType) {
    std::string out = edit(corpus("usb-alongside.xml"), one_injection(true, false));
    std::size_t mdev = out.find("type='mdev'");
    std::size_t injected = out.find("function='0x1'");
    std::size_t input = out.find("<input type='tablet'");
    ASSERT_NE(injected, std::string::npos);
    EXPECT_LT(mdev, injected);
    EXPECT_LT(injected, input);
}

TEST(DomainEditLiteral, EndOfDevicesWithoutHostdevs) {
    std::string out = edit(corpus("no-features.xml"), one_injection(false, false));
    EXPECT_HAS(out,
               "    </interface>\n"
               "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
               "      <source>\n"
               "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
               "      </source>\n"
               "    </hostdev>\n"
               "  </devices>\n");
}

TEST(DomainEditLiteral, DevicesCreatedWhenAbsent) {
    std::string out = edit(corpus("no-devices.xml"), one_injection(true, false));
    EXPECT_HAS(out,
               "  </features>\n"
               "  <devices>\n"
               "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
               "      <source>\n"
               "        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
               "      </source>\n"
               "    </hostdev>\n"
               "  </devices>\n"
               "</domain>\n");
}

TEST(DomainEditLiteral, FeaturesBeforeDevicesOrAtEnd) {
    DomainEdits e;
    e.ensure_kvm_hidden = true;
    EXPECT_EQ(edit("<domain type=\"kvm\">\n  <name>a</name>\n  <devices>\n  </devices>\n</domain>\n", e),
              "<domain type=\"kvm\">\n  <name>a</name>\n  <features>\n    <kvm>\n      <hidden state=\"on\"/>\n"
              "    </kvm>\n  </features>\n  <devices>\n  </devices>\n</domain>\n");
    EXPECT_EQ(edit("<domain type='kvm'>\n\t<name>a</name>\n</domain>\n", e),
              "<domain type='kvm'>\n\t<name>a</name>\n\t<features>\n\t\t<kvm>\n\t\t\t<hidden state='on'/>\n"
              "\t\t</kvm>\n\t</features>\n</domain>\n");
}

TEST(DomainEditLiteral, CompactSingleLineDocument) {
    const std::string in =
        "<domain type='kvm'><name>a</name><os><type>hvm</type></os><devices><hostdev type='pci'>"
        "<source><address bus='1' slot='0' function='0'/></source></hostdev></devices></domain>";
    DomainEdits e = one_injection(true, true);
    e.ensure_kvm_hidden = true;
    std::string out = edit(in, e);
    auto d = parse_domain_xml(out, "vm.xml");
    ASSERT_TRUE(d.ok()) << d.error().message;
    ASSERT_EQ(d->passthrough.size(), 2U);
    EXPECT_EQ(d->passthrough[1].source, addr("01:00.1"));
    EXPECT_EQ(d->kvm_hidden_state, std::optional<std::string>("on"));
    EXPECT_EQ(out.rfind("<domain type='kvm'><name>a</name><os><type>hvm</type></os>", 0), 0U) << out;
    EXPECT_EQ(edit(out, e), out);
}

TEST(DomainEditLiteral, InjectionOrderAndDuplicates) {
    DomainEdits e;
    e.inject.push_back(InjectedHostdev{addr("0000:02:00.3"), true, std::nullopt, false});
    e.inject.push_back(InjectedHostdev{addr("0000:02:00.1"), true, std::nullopt, false});
    e.inject.push_back(InjectedHostdev{addr("0000:02:00.3"), true, std::nullopt, false});
    e.inject.push_back(InjectedHostdev{addr("0000:01:00.0"), true, std::nullopt, false});  // present
    std::string out = edit(corpus("basic.xml"), e);
    auto d = parse_domain_xml(out, "vm.xml");
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->passthrough.size(), 3U);
    EXPECT_EQ(d->passthrough[1].source, addr("02:00.3"));
    EXPECT_EQ(d->passthrough[2].source, addr("02:00.1"));
}

TEST(DomainEditLiteral, MultifunctionErrors) {
    std::string in = corpus("double-quotes.xml");
    DomainEdits absent;
    absent.set_guest_multifunction.push_back(addr("0000:09:00.0"));
    auto r = apply_domain_edits(in, absent, "dq.xml");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("dq.xml: no PCI <hostdev> with source 0000:09:00.0"), std::string::npos)
        << r.error().message;

    DomainEdits no_guest;
    no_guest.set_guest_multifunction.push_back(addr("0000:03:00.0"));
    r = apply_domain_edits(in, no_guest, "dq.xml");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("dq.xml:12: <hostdev> of 0000:03:00.0 has no guest <address"), std::string::npos)
        << r.error().message;
}

TEST(DomainEditLiteral, HiddenWithoutStateGetsOne) {
    DomainEdits e;
    e.ensure_kvm_hidden = true;
    EXPECT_EQ(edit("<domain><features><kvm><hidden/></kvm></features></domain>", e),
              "<domain><features><kvm><hidden state='on'/></kvm></features></domain>");
}

TEST(DomainEditLiteral, UntouchedBytesAroundEdits) {
    // Odd spacing inside tags, entities and CDATA survive byte for byte.
    const std::string in =
        "<?xml version='1.0'?>\n"
        "<domain  type = \"kvm\" >\n"
        "  <name>a&amp;b</name>\n"
        "  <description><![CDATA[<raw> & text]]></description>\n"
        "  <os><type>hvm</type></os>\n"
        "  <devices>\n"
        "    <hostdev type = 'pci' >\n"
        "      <source><address bus='1' slot='0' function='0' /></source>\n"
        "      <address type='pci' bus='5'  slot='0' function='0'  />\n"
        "    </hostdev>\n"
        "  </devices>\n"
        "</domain>\n";
    DomainEdits e;
    e.set_guest_multifunction.push_back(addr("01:00.0"));
    std::string expected = in;
    expected.replace(expected.find("function='0'  />"), 16, "function='0' multifunction='on'  />");
    EXPECT_EQ(edit(in, e), expected);
}

}  // namespace
