// hostdev's domain reader against the table of address spellings that
// tests/oracle/spellings.sh checks against libvirt itself: both read
// tests/data/addresses/spellings.txt, so hostdev and libvirt agree on every
// case there (accepted with the same address, or refused).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "golden.hpp"
#include "hostdev/domain/domain.hpp"

namespace {

struct Spelling {
    int line = 0;
    std::string field, value, expected;
    bool absent = false;
};

std::vector<Spelling> load_table() {
    std::istringstream in(
        hostdev::testing::read_text_file(hostdev::testing::source_path("tests/data/addresses/spellings.txt")));
    std::vector<Spelling> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        auto a = line.find('|');
        auto b = a == std::string::npos ? a : line.find('|', a + 1);
        if (b == std::string::npos) {
            ADD_FAILURE() << "spellings.txt:" << n << ": expected FIELD|SPELLING|EXPECTED";
            continue;
        }
        Spelling s;
        s.line = n;
        s.field = line.substr(0, a);
        s.value = line.substr(a + 1, b - a - 1);
        s.expected = line.substr(b + 1);
        s.absent = s.value == "(absent)";
        out.push_back(std::move(s));
    }
    return out;
}

// The same <address> the oracle defines: every field at its default but the one under test.
std::string address_element(const Spelling& s) {
    std::string out = "<address";
    for (const auto& [field, fallback] : {std::pair<std::string, std::string>{"domain", "0x0000"},
                                          {"bus", "0x01"},
                                          {"slot", "0x00"},
                                          {"function", "0x0"}}) {
        if (field != s.field)
            out += " " + field + "='" + fallback + "'";
        else if (!s.absent)
            out += " " + field + "='" + s.value + "'";
    }
    return out + "/>";
}

TEST(AddressSpellings, TableCoversTheIssueCases) {
    const auto table = load_table();
    EXPECT_GE(table.size(), 40U);
    auto has = [&](const std::string& field, const std::string& value) {
        for (const auto& s : table)
            if (s.field == field && s.value == value) return true;
        return false;
    };
    for (const char* v : {"0x01", "0X01", "1", "01", "010", "08", "0x", "", " 1", "1 ", "+1", "-1", "0x100"})
        EXPECT_TRUE(has("bus", v)) << "bus '" << v << "'";
    for (const char* v : {"0x1f", "0x20"}) EXPECT_TRUE(has("slot", v)) << v;
    for (const char* v : {"7", "8"}) EXPECT_TRUE(has("function", v)) << v;
    for (const char* v : {"0x0000", "0x10000", "0xffff", "0xffffffff", "0x100000000", "(absent)"})
        EXPECT_TRUE(has("domain", v)) << v;
}

TEST(AddressSpellings, AsLibvirtReadsThem) {
    for (const Spelling& s : load_table()) {
        const std::string doc =
            "<domain type='qemu'>\n  <name>spelling</name>\n  <devices>\n"
            "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
            "      <source>" +
            address_element(s) +
            "</source>\n"
            "    </hostdev>\n  </devices>\n</domain>\n";
        auto r = hostdev::parse_domain_xml(doc, "spelling.xml");
        std::string got;
        if (!r.ok())
            got = "refused";
        else if (r->passthrough.size() != 1)
            got = "no hostdev";
        else
            got = r->passthrough[0].source.str();
        EXPECT_EQ(got, s.expected) << "spellings.txt:" << s.line << ": " << s.field << "='" << s.value << "'"
                                   << (r.ok() ? "" : " (" + r.error().message + ")");
    }
}

}  // namespace
