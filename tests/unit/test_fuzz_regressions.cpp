// One test per defect the fuzz targets found (the inputs themselves are
// replayed from tests/fuzz/regressions by test_fuzz_corpus.cpp): what the
// reader must say instead.
#include <gtest/gtest.h>

#include <string>

#include "hostdev/binding/journal.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/host/parse.hpp"

namespace parse = hostdev::parse;

namespace {
bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }
}  // namespace

// fuzz_domain: an encoding declaration whose name is not UTF-8 was quoted as
// it is into the message, which then was not UTF-8 (and made JSON reports throw).
TEST(FuzzRegression, DomainEncodingNameThatIsNotUtf8) {
    auto d = hostdev::parse_domain_xml(
        "<?xml version=\"1.0\" encoding=\"utf-\xa8\xa8"
        "8\"?>\n<domain/>\n",
        "vm.xml");
    ASSERT_FALSE(d.ok());
    const std::string m = d.error().message;
    EXPECT_TRUE(parse::valid_utf8(m)) << parse::quote(m, 300);
    EXPECT_TRUE(has(m, "vm.xml:1: invalid UTF-8 (byte 0xa8)")) << m;
}

// fuzz_nodedev: node-device XML that is not UTF-8 was accepted, and its names
// made `virt-hostdev groups --format json` throw.
TEST(FuzzRegression, NodeDeviceXmlThatIsNotUtf8) {
    auto n = hostdev::parse_nodedev_xml(
        "<device><name>pci_0000_01_00_0</name><capability type='pci'><domain>0</domain><bus>1</bus>"
        "<slot>0</slot><function>0</function><product id='0x13c2'>GM\xa0</product>"
        "<vendor id='0x10de'>NVIDIA</vendor></capability></device>",
        "pci_0000_01_00_0");
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.error().message, "pci_0000_01_00_0: node device XML is not valid UTF-8");
    // A name in a root element that is not UTF-8 is refused the same way.
    EXPECT_FALSE(hostdev::parse_nodedev_xml("<dev\xff/>", "n").ok());
    EXPECT_TRUE(parse::valid_utf8(hostdev::parse_nodedev_xml("<dev\xff/>", "n").error().message));
}

// The journal seed {"format": null}: the reader threw json::type_error
// (the hook aborted at reconnect, prepare, status and recover).
TEST(FuzzRegression, JournalWhoseFormatIsNotAString) {
    for (const char* text :
         {R"({"format":null,"version":1})", R"({"format":1})", R"({"format":["hostdev-journal"]})"}) {
        auto j = hostdev::journal::parse(text, "/run/hostdev/x.json");
        ASSERT_FALSE(j.ok()) << text;
        // The error names the file and the key.
        EXPECT_TRUE(has(j.error().describe(), "/run/hostdev/x.json: format")) << j.error().describe();
    }
}

// fuzz_journal (UBSan): a number too large for an int in "done", "group" or
// "version" was converted to int by nlohmann's get<int>(), which is undefined
// behaviour for a float out of range; now it is "not a whole number".
TEST(FuzzRegression, JournalNumbersOutOfIntRange) {
    const std::string head = R"({"format":"hostdev-journal","version":1,"owner":{"key":"manual","name":""},)"
                             R"("state":"detached","devices":[{"address":"0000:01:00.0","original_driver":null,)"
                             R"("original_override":null,)";
    for (const char* device :
         {R"("group":1,"done":[1,184467440737095516152]}]})", R"("group":1e300,"done":[]}]})",
          R"("group":4294967296,"done":[]}]})", R"("group":1,"done":[1.5]}]})", R"("group":1,"done":3}]})"}) {
        auto j = hostdev::journal::parse(head + device, "/run/hostdev/manual.json");
        ASSERT_FALSE(j.ok()) << device;
        EXPECT_TRUE(has(j.error().message, "/run/hostdev/manual.json: devices[0].")) << j.error().message;
    }
    for (const char* version : {"1e300", "-1e300", "18446744073709551616", "4294967297"}) {
        std::string text = head + R"("group":1,"done":[1]}]})";
        text.replace(text.find("\"version\":1"), 11, std::string("\"version\":") + version);
        auto j = hostdev::journal::parse(text, "/run/hostdev/manual.json");
        ASSERT_FALSE(j.ok()) << version;
        EXPECT_TRUE(has(j.error().message, "/run/hostdev/manual.json: version: ")) << j.error().message;
    }
    // The control: an unbound device (no original driver) has no step 2.
    auto ok = hostdev::journal::parse(head + R"("group":7,"done":[1,3]}]})", "/run/hostdev/manual.json");
    ASSERT_TRUE(ok.ok()) << ok.error().describe();
    EXPECT_EQ(ok->devices.at(0).group, 7);
    EXPECT_EQ(ok->devices.at(0).done, (std::vector<int>{1, 3}));
}
