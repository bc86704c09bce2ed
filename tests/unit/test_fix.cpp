// hostdev-fix's pipeline over every example domain (with its example host) and
// the domain-style corpus: golden fixed outputs and reports, the edit-only
// property, schema validity and idempotence.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "golden.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/policy/fix.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

const SchemaValidator& validator() {
    static auto v = SchemaValidator::load(SchemaValidator::default_dir());
    if (!v) throw std::runtime_error(v.error().describe());
    return **v;
}

const Host& example_host(const std::string& name) {
    static std::map<std::string, Host> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        auto h = load_snapshot(source_path("examples/hosts/" + name + ".json"));
        if (!h) throw std::runtime_error(h.error().describe());
        it = cache.emplace(name, *h).first;
    }
    return it->second;
}

// Which example host each example domain is written for.
const std::map<std::string, std::string> kExampleDomainHost = {
    {"win10-gtx970", "z170-gtx970"}, {"blocked-hda", "z170-gtx970"}, {"usb-xhci", "hm170-laptop"},
    {"nvme", "hm170-laptop"},        {"sriov-vf", "sriov-server"},   {"sriov-vf-shared", "sriov-server"},
    {"router-i210", "workstation"},
};

// hostdev-fix's defaults (device pins recorded).
PlanOptions cli_defaults() { return PlanOptions::from_flags("auto", false); }

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
}

// The edit-only property: the input's lines appear, in order, among the
// output's lines. Only the documented in-line edits may rewrite a line:
// a guest <address .../> gaining multifunction='on' (or its 'off' turned to
// 'on'), <hidden state=X/> turned to 'on', and a self-closing <devices/>,
// <features/> or <kvm/> opened to receive children.
std::vector<std::string> allowed_rewrites(const std::string& line) {
    std::vector<std::string> out;
    if (line.find("<address") != std::string::npos) {
        for (const char* q : {"'", "\""}) {
            const std::string off = std::string("multifunction=") + q + "off" + q;
            if (auto pos = line.find(off); pos != std::string::npos)
                out.push_back(line.substr(0, pos) + "multifunction=" + q + "on" + q + line.substr(pos + off.size()));
            if (line.find("multifunction") == std::string::npos) {
                std::string with = line;
                auto end = with.rfind("/>");
                if (end != std::string::npos)
                    out.push_back(with.insert(end, std::string(" multifunction=") + q + "on" + q));
            }
        }
    }
    if (auto pos = line.find("<hidden state="); pos != std::string::npos) {
        char q = line[pos + 14];
        auto close = line.find(q, pos + 15);
        if (close != std::string::npos) out.push_back(line.substr(0, pos + 15) + "on" + line.substr(close));
    }
    for (const char* tag : {"devices", "features", "kvm"}) {
        const std::string self = std::string("<") + tag + "/>";
        if (auto pos = line.find(self); pos != std::string::npos) out.push_back(line.substr(0, pos) + "<" + tag + ">");
    }
    return out;
}

bool edit_only(const std::string& before, const std::string& after, std::string& why) {
    auto in = lines_of(before), out = lines_of(after);
    std::size_t j = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto rewrites = allowed_rewrites(in[i]);
        bool found = false;
        while (j < out.size() && !found) {
            const std::string& o = out[j++];
            found = o == in[i] || std::find(rewrites.begin(), rewrites.end(), o) != rewrites.end();
        }
        if (!found) {
            why = "input line " + std::to_string(i + 1) + " missing from the output: " + in[i];
            return false;
        }
    }
    return true;
}

// A host on which every PCI hostdev of the domain is an NVIDIA GPU function
// whose group also holds the other function of its slot, so the planner has
// something to inject for every style of document.
Host sibling_host_for(const Domain& d) {
    Host h;
    h.iommu_present = true;
    int next_group = 1;
    std::map<std::tuple<std::uint32_t, int, int>, int> group_of_slot;
    auto add = [&](PciAddress a) {
        if (h.find(a)) return;
        auto key = std::make_tuple(a.domain, int{a.bus}, int{a.slot});
        if (!group_of_slot.count(key)) group_of_slot[key] = next_group++;
        PciDevice dev;
        dev.address = a;
        dev.vendor = 0x10de;
        dev.device = a.function == 0 ? 0x13c2 : 0x0fbb;
        dev.class_code = a.function == 0 ? 0x030000 : 0x040300;
        dev.driver = a.function == 0 ? "nouveau" : "snd_hda_intel";
        dev.iommu_group = group_of_slot[key];
        h.devices.push_back(dev);
        h.normalize();
    };
    for (const auto& hd : d.passthrough) {
        add(hd.source);
        PciAddress other = hd.source;
        other.function = hd.source.function == 0 ? 1 : 0;
        add(other);
    }
    return h;
}

void check_properties(const std::string& text, const std::string& file, const Host& host) {
    FixResult r = fix_domain(text, file, host, &validator(), {});
    ASSERT_NE(r.status, FixStatus::Invalid) << file << ": " << (r.problems.empty() ? "" : r.problems[0].message);
    if (r.status == FixStatus::Blocked) return;
    std::string why;
    EXPECT_TRUE(edit_only(text, r.fixed, why)) << file << ": " << why;
    EXPECT_TRUE(validator().validate(r.fixed, file).ok()) << file;
    // Idempotent: a second run finds nothing to do and returns the same bytes.
    FixResult again = fix_domain(r.fixed, file, host, &validator(), {});
    EXPECT_EQ(again.status, FixStatus::Ok) << file;
    EXPECT_EQ(again.fixed, r.fixed) << file;
    EXPECT_TRUE(again.plan.changes.empty()) << file;
}

std::vector<fs::path> xml_files(const std::string& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(source_path(dir)))
        if (e.path().extension() == ".xml") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST(FixExamples, EveryExampleDomainHasAHost) {
    for (const auto& f : xml_files("examples/domains"))
        EXPECT_TRUE(kExampleDomainHost.count(f.stem().string())) << f << " has no example host in this test";
}

TEST(FixExamples, GoldenOutputsAndReports) {
    for (const auto& [name, host_name] : kExampleDomainHost) {
        SCOPED_TRACE(name);
        const Host& host = example_host(host_name);
        const std::string file = "examples/domains/" + name + ".xml";
        FixResult r = fix_domain(read_text_file(source_path(file)), file, host, &validator(), cli_defaults());
        expect_golden(r.fixed, source_path("tests/golden/fix/" + name + ".xml"));
        expect_golden(fix_report(r, host).dump(2) + "\n", source_path("tests/golden/fix/" + name + ".report.json"));
        expect_golden(fix_explanation(r, host), source_path("tests/golden/fix/" + name + ".explain.txt"));
    }
}

TEST(FixExamples, ExpectedStatuses) {
    auto status = [](const std::string& name) {
        const std::string file = "examples/domains/" + name + ".xml";
        return fix_domain(read_text_file(source_path(file)), file, example_host(kExampleDomainHost.at(name)),
                          &validator(), cli_defaults())
            .status;
    };
    EXPECT_EQ(status("win10-gtx970"), FixStatus::Fixable);
    EXPECT_EQ(status("usb-xhci"), FixStatus::Fixable);
    EXPECT_EQ(status("nvme"), FixStatus::Ok);
    EXPECT_EQ(status("blocked-hda"), FixStatus::Blocked);
    EXPECT_EQ(status("sriov-vf"), FixStatus::Ok);
    EXPECT_EQ(status("sriov-vf-shared"), FixStatus::Blocked);
    EXPECT_EQ(status("router-i210"), FixStatus::Ok);  // only its pin to record
}

// README "Device pins": the router pinned on the workstation, judged after
// the renumbering (refused) and relocated.
TEST(FixExamples, RenumberedWorkstationGoldens) {
    const std::string file = "examples/domains/router-i210.xml";
    FixResult pinned =
        fix_domain(read_text_file(source_path(file)), file, example_host("workstation"), &validator(), cli_defaults());
    ASSERT_EQ(pinned.status, FixStatus::Ok);
    const Host& after = example_host("workstation-renumbered");
    FixResult refused = fix_domain(pinned.fixed, "router.xml", after, &validator(), cli_defaults());
    EXPECT_EQ(refused.status, FixStatus::Blocked);
    expect_golden(fix_explanation(refused, after), source_path("tests/golden/fix/router-i210.renumbered.explain.txt"));
    expect_golden(fix_report(refused, after).dump(2) + "\n",
                  source_path("tests/golden/fix/router-i210.renumbered.report.json"));
    PlanOptions relocate = cli_defaults();
    relocate.follow = PlanOptions::Follow::Relocate;
    FixResult moved = fix_domain(pinned.fixed, "router.xml", after, &validator(), relocate);
    EXPECT_EQ(moved.status, FixStatus::Fixable);
    expect_golden(moved.fixed, source_path("tests/golden/fix/router-i210.relocated.xml"));
    expect_golden(fix_explanation(moved, after), source_path("tests/golden/fix/router-i210.relocated.explain.txt"));
}

TEST(FixProperties, ExamplesOnTheirHosts) {
    for (const auto& [name, host_name] : kExampleDomainHost) {
        const std::string file = "examples/domains/" + name + ".xml";
        check_properties(read_text_file(source_path(file)), file, example_host(host_name));
    }
}

TEST(FixProperties, EveryCorpusStyle) {
    auto files = xml_files("tests/data/domains");
    ASSERT_GE(files.size(), 10u);
    int fixed = 0;
    for (const auto& f : files) {
        SCOPED_TRACE(f.filename().string());
        const std::string text = read_text_file(f);
        auto d = parse_domain_xml(text, f.filename().string());
        ASSERT_TRUE(d.ok()) << d.error().describe();
        Host host = sibling_host_for(*d);
        check_properties(text, f.filename().string(), host);
        if (fix_domain(text, f.filename().string(), host, &validator(), {}).status == FixStatus::Fixable) ++fixed;
    }
    // Most of the corpus has PCI hostdevs, so most documents were really edited.
    EXPECT_GE(fixed, static_cast<int>(files.size()) / 2);
}

TEST(FixProperties, HideKvmModes) {
    const std::string file = "examples/domains/win10-gtx970.xml";
    const std::string text = read_text_file(source_path(file));
    const Host& host = example_host("z170-gtx970");
    PlanOptions never;
    never.hide_kvm = PlanOptions::HideKvm::Never;
    FixResult r = fix_domain(text, file, host, &validator(), never);
    EXPECT_EQ(r.fixed.find("<hidden"), std::string::npos);
    // NVMe on the laptop: auto adds nothing, always adds <features> from scratch.
    const std::string nvme_file = "examples/domains/nvme.xml";
    const std::string nvme = read_text_file(source_path(nvme_file));
    PlanOptions always;
    always.hide_kvm = PlanOptions::HideKvm::Always;
    FixResult a = fix_domain(nvme, nvme_file, example_host("hm170-laptop"), &validator(), always);
    EXPECT_EQ(a.status, FixStatus::Fixable);
    EXPECT_NE(a.fixed.find("<hidden state='on'/>"), std::string::npos);
    std::string why;
    EXPECT_TRUE(edit_only(nvme, a.fixed, why)) << why;
}
