// SchemaValidator: libvirt's installed domain.rng through libxml2; verdicts
// agree with virt-xml-validate, messages carry file and line, nothing is
// printed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "golden.hpp"
#include "hostdev/domain/schema.hpp"

namespace {

using hostdev::SchemaValidator;

const std::filesystem::path kData = hostdev::testing::source_path("tests/data");

std::vector<std::filesystem::path> xml_files(const std::string& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(kData / dir))
        if (e.path().extension() == ".xml") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// A fresh directory under $TMPDIR, removed with the object.
class TempDir {
public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hostdev-schema-XXXXXX";
        char* made = mkdtemp(tmpl.data());
        EXPECT_NE(made, nullptr) << "mkdtemp failed";
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

const SchemaValidator& validator() {
    static auto v = [] {
        auto r = SchemaValidator::load(SchemaValidator::default_dir());
        if (!r.ok()) {
            ADD_FAILURE() << r.error().describe();
            std::abort();
        }
        return *r;
    }();
    return *v;
}

TEST(Schema, LoadsTheInstalledSchema) {
    auto r = SchemaValidator::load(SchemaValidator::default_dir());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ((*r)->schema_file(), SchemaValidator::default_dir() / "domain.rng");
}

TEST(Schema, MissingSchemaNamesFileAndPackage) {
    TempDir dir;
    auto r = SchemaValidator::load(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().path, (dir.path() / "domain.rng").string());
    EXPECT_EQ(r.error().err, ENOENT);
    EXPECT_NE(r.error().message.find("libvirt0"), std::string::npos) << r.error().message;
}

TEST(Schema, BrokenSchemaIsAnErrorAndPrintsNothing) {
    TempDir dir;
    std::ofstream(dir.path() / "domain.rng") << "<grammar xmlns='http://relaxng.org/ns/structure/1.0'>\n"
                                                "  <start><ref name='nowhere'/></start>\n"
                                                "</grammar>\n";
    ::testing::internal::CaptureStderr();
    auto r = SchemaValidator::load(dir.path());
    std::string printed = ::testing::internal::GetCapturedStderr();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("cannot parse"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("nowhere"), std::string::npos) << r.error().message;
    EXPECT_EQ(printed, "");
}

TEST(Schema, EveryCorpusDomainIsValid) {
    auto files = xml_files("domains");
    ASSERT_FALSE(files.empty());
    for (const auto& f : files) {
        auto st = validator().validate(hostdev::testing::read_text_file(f), f.filename().string());
        EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    }
}

TEST(Schema, InvalidDomainsListFileAndLine) {
    ::testing::internal::CaptureStderr();
    auto st = validator().validate(hostdev::testing::read_text_file(kData / "schema-invalid" / "managed-maybe.xml"),
                                   "mm.xml");
    std::string printed = ::testing::internal::GetCapturedStderr();
    ASSERT_FALSE(st.ok());
    const std::string& m = st.error().message;
    EXPECT_EQ(m.rfind("mm.xml: not valid against " + (SchemaValidator::default_dir() / "domain.rng").string(), 0), 0U)
        << m;
    EXPECT_NE(m.find("\nmm.xml:7: "), std::string::npos) << m;  // <devices> fails to validate
    EXPECT_EQ(printed, "");
}

TEST(Schema, NotADomainAndNotXml) {
    auto net =
        validator().validate(hostdev::testing::read_text_file(kData / "hostile" / "root-network.xml"), "net.xml");
    ASSERT_FALSE(net.ok());
    EXPECT_NE(net.error().message.find("\nnet.xml:2: Expecting element domain, got network"), std::string::npos)
        << net.error().message;
    auto junk = validator().validate("name: vm1\n", "junk.xml");
    ASSERT_FALSE(junk.ok());
    EXPECT_NE(junk.error().message.find("\njunk.xml:1: "), std::string::npos) << junk.error().message;
    auto empty = validator().validate("", "empty.xml");
    EXPECT_FALSE(empty.ok());
}

TEST(Schema, DoctypeIsRefusedBeforeLibxml2SeesIt) {
    for (const char* f : {"billion-laughs.xml", "external-entity.xml"}) {
        auto st = validator().validate(hostdev::testing::read_text_file(kData / "hostile" / f), f);
        ASSERT_FALSE(st.ok()) << f;
        EXPECT_NE(st.error().message.find("DTD/DOCTYPE is not allowed"), std::string::npos) << st.error().message;
    }
    auto st = validator().validate("<?xml version='1.0'?>\n<!-- x -->\n<!DOCTYPE domain>\n<domain/>\n", "d.xml");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("\nd.xml:3: DTD/DOCTYPE is not allowed"), std::string::npos)
        << st.error().message;
}

TEST(Schema, ReusableAcrossManyDocuments) {
    std::string good = hostdev::testing::read_text_file(kData / "domains" / "basic.xml");
    std::string bad = hostdev::testing::read_text_file(kData / "schema-invalid" / "bad-type.xml");
    for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(validator().validate(good, "good.xml").ok());
        EXPECT_FALSE(validator().validate(bad, "bad.xml").ok());
    }
}

// The reference verdict: libvirt's own script (package libvirt-clients).
// Its output goes to `log`.
bool virt_xml_validate_accepts(const std::filesystem::path& file, const std::filesystem::path& log) {
    std::string cmd = "virt-xml-validate '" + file.string() + "' domain >'" + log.string() + "' 2>&1";
    int rc = std::system(cmd.c_str());
    EXPECT_NE(rc, -1);
    EXPECT_TRUE(WIFEXITED(rc));
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

TEST(Schema, VerdictsAgreeWithVirtXmlValidate) {
    TempDir dir;
    const std::filesystem::path log = dir.path() / "virt-xml-validate.log";
    ASSERT_EQ(std::system(("command -v virt-xml-validate >'" + log.string() + "' 2>&1").c_str()), 0)
        << "virt-xml-validate (package libvirt-clients) is needed to check verdicts";
    std::vector<std::filesystem::path> files = xml_files("domains");
    for (const auto& f : xml_files("schema-invalid")) files.push_back(f);
    for (const auto& f : xml_files("hostile")) {
        // A DOCTYPE is refused on principle; virt-xml-validate would read it.
        std::string text = hostdev::testing::read_text_file(f);
        if (text.find("<!DOCTYPE") == std::string::npos) files.push_back(f);
    }
    int valid = 0;
    int invalid = 0;
    for (const auto& f : files) {
        bool ours = validator().validate(hostdev::testing::read_text_file(f), f.filename().string()).ok();
        bool theirs = virt_xml_validate_accepts(f, log);
        EXPECT_EQ(ours, theirs) << f;
        (ours ? valid : invalid)++;
    }
    // Both verdicts occur, so the comparison means something.
    EXPECT_GE(valid, 15);
    EXPECT_GE(invalid, 10);
}

}  // namespace
