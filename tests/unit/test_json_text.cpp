// Every JSON output goes through json::to_text: a name that is not UTF-8 (a
// driver link or pci.ids name in a copied root) becomes U+FFFD instead of
// making nlohmann's dump() throw out of the command.
#include <gtest/gtest.h>

#include "hostdev/base/json_reader.hpp"
#include "hostdev/setup/doctor.hpp"

using namespace hostdev;

TEST(JsonText, InvalidUtf8BecomesReplacementCharacters) {
    nlohmann::ordered_json j;
    j["driver"] = std::string("bad\xff\xfe");
    EXPECT_EQ(json::to_text(j), "{\n  \"driver\": \"bad\xEF\xBF\xBD\xEF\xBF\xBD\"\n}\n");
}

TEST(JsonText, DoctorJsonWithANameThatIsNotUtf8) {
    Host h;
    h.iommu_present = true;
    h.cpu_vendor = "GenuineIntel";
    PciDevice d;
    d.address = *PciAddress::parse("0000:01:00.0");
    d.class_code = 0x030000;
    d.driver = std::string("nou\xffveau");
    d.device_name = std::string("GPU \xc3");
    d.boot_vga = true;
    d.roles.push_back(HostRole::BootVga);
    d.iommu_group = 1;
    h.devices.push_back(d);
    h.normalize();
    std::string out;
    EXPECT_NO_THROW(out = format_doctor_json(run_doctor(h)));
    EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);
}
