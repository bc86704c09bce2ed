#include "targets.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include <nlohmann/json.hpp>

#include "hostdev/binding/config.hpp"
#include "hostdev/binding/journal.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/domain/network.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/host/pciids.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/output/format.hpp"
#include "hostdev/policy/fix.hpp"

namespace hostdev::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The fixed world the targets plan in: the example hosts and domains.
struct Fixtures {
    std::vector<Host> hosts;
    std::vector<std::pair<std::string, std::string>> domains;  // file name, text
    std::string problem;                                       // why they could not be read
};

const Fixtures& fixtures() {
    static const Fixtures f = [] {
        Fixtures out;
        const fs::path examples = fs::path(HOSTDEV_SOURCE_DIR) / "examples";
        for (const char* name : {"z170-gtx970.json", "hm170-laptop.json"}) {
            auto h = parse_snapshot(read_text(examples / "hosts" / name), name);
            if (!h)
                out.problem = h.error().describe();
            else
                out.hosts.push_back(std::move(*h));
        }
        for (const auto& e : fs::directory_iterator(examples / "domains"))
            out.domains.emplace_back(e.path().filename().string(), read_text(e.path()));
        if (out.domains.empty()) out.problem = "no example domains under " + examples.string();
        return out;
    }();
    return f;
}

const PlanOptions kOptions[] = {
    PlanOptions{}, PlanOptions{PlanOptions::HideKvm::Always, PlanOptions::WholeSlot::Inject},
    PlanOptions{PlanOptions::HideKvm::Auto, PlanOptions::WholeSlot::Report, PlanOptions::Pins::Write},
    PlanOptions{PlanOptions::HideKvm::Never, PlanOptions::WholeSlot::Report, PlanOptions::Pins::Write,
                PlanOptions::Follow::Relocate},
    PlanOptions{PlanOptions::HideKvm::Never, PlanOptions::WholeSlot::Report, PlanOptions::Pins::Write,
                PlanOptions::Follow::Repin}};

// An error is a message a person can act on: not empty, and valid UTF-8 so
// that it can go into a JSON report.
std::string check_message(const Error& e, std::string_view who) {
    const std::string m = e.describe();
    if (m.empty()) return std::string(who) + ": empty error message";
    if (!parse::valid_utf8(m)) return std::string(who) + ": error message is not valid UTF-8: " + parse::quote(m, 200);
    return {};
}

// The report and explanation of one result are made (the report's JSON is
// written as the front ends write it).
void render(const FixResult& r, const Host& host) {
    (void)fix_report(r, host).dump(2);
    (void)fix_explanation(r, host);
}

std::string fix_twice(std::string_view input, const Host& host, const PlanOptions& options) {
    FixResult r = fix_domain(input, "fuzz.xml", host, nullptr, options);
    render(r, host);
    if (r.status == FixStatus::Blocked || r.status == FixStatus::Invalid) {
        if (r.fixed != input) return "status " + std::string(to_string(r.status)) + " but the document changed";
        return {};
    }
    if (r.fixed == input) {
        if (r.status == FixStatus::Fixable) return "fixable but the document is unchanged";
        return {};
    }
    if (auto again = parse_domain_xml(r.fixed, "fixed.xml"); !again)
        return "the fixed document does not parse: " + again.error().describe();
    auto twice = apply_domain_edits(r.fixed, r.plan.edits, "fixed.xml");
    if (!twice) return "the edits do not apply to the fixed document: " + twice.error().describe();
    if (*twice != r.fixed) return "applying the same edits again changed the fixed document";
    FixResult second = fix_domain(r.fixed, "fixed.xml", host, nullptr, options);
    render(second, host);
    if (second.status != FixStatus::Ok || second.fixed != r.fixed) {
        std::string why = "a second run on the fixed document is " + std::string(to_string(second.status));
        for (const auto& c : second.plan.changes) why += "; change: " + c.description;
        for (const auto& p : second.problems) why += "; " + std::string(to_string(p.severity)) + ": " + p.message;
        return why;
    }
    return {};
}

// What hostdev-fix --host does with a host: plan the example domains on it.
std::string plan_examples(const Host& host) {
    for (const auto& [name, text] : fixtures().domains) {
        for (const auto& options : kOptions) {
            FixResult r = fix_domain(text, name, host, nullptr, options);
            render(r, host);
            if (r.status == FixStatus::Invalid && r.domain)
                return name + " is invalid on this host: " + (r.problems.empty() ? "" : r.problems.back().message);
        }
    }
    return {};
}

// What reads is written; that reads again and is written the same.
std::string round_trip(const Host& host, std::string_view who) {
    const std::string written = write_snapshot(host);
    auto back = parse_snapshot(written, "written.json");
    if (!back) return std::string(who) + ": its snapshot does not read: " + back.error().describe();
    if (write_snapshot(*back) != written) return std::string(who) + ": a snapshot round trip changed it";
    return {};
}

}  // namespace

std::string domain(std::string_view input) {
    const Fixtures& f = fixtures();
    if (!f.problem.empty()) return "fixtures: " + f.problem;
    if (auto d = parse_domain_xml(input, "fuzz.xml"); !d) return check_message(d.error(), "parse_domain_xml");
    for (const Host& host : f.hosts)
        for (const auto& options : kOptions)
            if (auto why = fix_twice(input, host, options); !why.empty()) return why;
    return {};
}

std::string snapshot(std::string_view input) {
    if (!fixtures().problem.empty()) return "fixtures: " + fixtures().problem;
    auto host = parse_snapshot(input, "fuzz.json");
    if (!host) return check_message(host.error(), "parse_snapshot");
    if (auto why = round_trip(*host, "parse_snapshot"); !why.empty()) return why;
    (void)format_groups_text(*host);
    (void)format_groups_json(*host);
    (void)format_groups_dot(*host);
    return plan_examples(*host);
}

std::string journal(std::string_view input) {
    auto j = journal::parse(input, "fuzz.json");
    return j ? std::string() : check_message(j.error(), "journal::parse");
}

std::string config(std::string_view input) {
    auto c = parse_config(input, "hostdev.conf");
    return c ? std::string() : check_message(c.error(), "parse_config");
}

std::string nodedev(std::string_view input) {
    if (!fixtures().problem.empty()) return "fixtures: " + fixtures().problem;
    std::vector<Result<NodeDevice>> devices;
    for (std::size_t pos = 0; pos <= input.size();) {
        std::size_t end = input.find('\0', pos);
        if (end == std::string_view::npos) end = input.size();
        devices.push_back(parse_nodedev_xml(input.substr(pos, end - pos), "node.xml"));
        if (!devices.back()) {
            if (auto why = check_message(devices.back().error(), "parse_nodedev_xml"); !why.empty()) return why;
        }
        pos = end + 1;
    }
    (void)cpu_vendor_from_capabilities(input);
    LibvirtHost lh = host_from_node_devices(devices, "GenuineIntel");
    if (auto why = round_trip(lh.host, "host_from_node_devices"); !why.empty()) return why;
    (void)format_groups_json(lh.host);
    return plan_examples(lh.host);
}

std::string kernel_text(std::string_view input) {
    for (const auto& r : {parse::sysfs_hex(input), parse::sysfs_hex(input, 0xffff)})
        if (!r) {
            if (auto why = check_message(r.error(), "sysfs_hex"); !why.empty()) return why;
        }
    if (auto r = parse::sysfs_int(input); !r) {
        if (auto why = check_message(r.error(), "sysfs_int"); !why.empty()) return why;
    }
    if (auto r = parse::iommu_group_link(input); !r) {
        if (auto why = check_message(r.error(), "iommu_group_link"); !why.empty()) return why;
    } else if (*r < 0) {
        return "iommu_group_link gave a negative group";
    }
    if (auto r = parse::config_header(input); !r) {
        if (auto why = check_message(r.error(), "config_header"); !why.empty()) return why;
    } else if (r->header_type > 0x7f) {
        return "config_header kept the multifunction bit in the header type";
    }
    if (auto dsn = parse::device_serial_number(input); dsn && dsn->size() != 23)
        return "device_serial_number gave a serial that is not 8 bytes spelled as lspci does";
    if (auto s = parse::nvme_serial(input); s && (s->empty() || !parse::valid_utf8(*s)))
        return "nvme_serial gave an empty or non-UTF-8 serial";
    if (auto mac = parse::permanent_mac(input, "0\n"); mac && mac->size() != 17)
        return "permanent_mac gave an address that is not six octets";
    (void)parse::driver_override(input);
    (void)parse::word_list(input);
    (void)parse::link_basename(input);
    (void)parse::pci_addresses_in_path(input);
    (void)parse::root_mount(input);
    (void)parse::default_route_interfaces(input);
    (void)parse::default_route_interfaces_v6(input);
    (void)parse::cpu_vendor(input);
    (void)parse::input_is_keyboard(input);
    (void)parse::cmdline_param(input, "intel_iommu");
    (void)parse::cmdline_param(input, parse::trim(input.substr(0, input.find('='))));
    (void)parse::interrupt_remapping(input);
    (void)parse::module_file_name(input);
    (void)parse::loaded_modules(input);
    (void)parse::builtin_modules(input, "kernel/drivers/vfio/");
    (void)parse::firmware_framebuffers(input);
    if (auto v = parse::kernel_version(input); v && (v->first < 0 || v->second < 0))
        return "kernel_version gave a negative number";
    if (!parse::valid_utf8(parse::quote(input))) return "parse::quote gave invalid UTF-8";
    return {};
}

std::string pciids(std::string_view input) {
    const PciIds ids = PciIds::parse(input, nullptr, "pci.ids");
    if (!parse::valid_utf8(ids.first_problem())) return "pci.ids problem is not valid UTF-8";
    if ((ids.skipped_lines() == 0) != ids.first_problem().empty()) return "pci.ids problem count and text disagree";
    // Every name the text could give, looked up by the ids on its own lines.
    auto check = [](std::string_view name) {
        return parse::valid_utf8(name) && name.size() <= PciIds::kMaxNameBytes &&
               name.find_first_of(std::string_view("\0\n\r\t\x1b", 5)) == std::string_view::npos;
    };
    std::uint16_t vendor = 0;
    for (std::size_t pos = 0; pos < input.size();) {
        std::size_t nl = input.find('\n', pos);
        std::string_view line = input.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? input.size() : nl + 1;
        const bool child = !line.empty() && line[0] == '\t';
        if (auto id = parse::sysfs_hex(line.substr(child ? 1 : 0, 4), 0xffff)) {
            const auto n = static_cast<std::uint16_t>(*id);
            if (!child) vendor = n;
            if (!check(ids.vendor(n)) || !check(ids.device(vendor, n)) || !check(ids.class_name(n)))
                return "a pci.ids name is not clean UTF-8 of at most kMaxNameBytes";
        }
    }
    return {};
}

std::string network(std::string_view input) {
    if (!fixtures().problem.empty()) return "fixtures: " + fixtures().problem;
    auto n = parse_network_xml(input, "network.xml");
    if (!n) return check_message(n.error(), "parse_network_xml");
    Domain d;
    d.network_interfaces.push_back(NetworkInterface{n->name, 1});
    Networks nets;
    if (auto st = add_network(nets, *n, "network.xml"); !st) return check_message(st.error(), "add_network");
    for (const Host& h : fixtures().hosts) {
        FixResult r;
        r.domain = d;
        add_network_problems(r, nets, h, "pass --network");
        for (const auto& p : r.problems)
            if (p.message.empty() || !parse::valid_utf8(p.message)) return "a pool problem is empty or not UTF-8";
        render(r, h);
    }
    return {};
}

const std::vector<Target>& targets() {
    static const std::vector<Target> all = {
        {"domain", domain},   {"snapshot", snapshot},       {"journal", journal}, {"config", config},
        {"nodedev", nodedev}, {"kernel_text", kernel_text}, {"pciids", pciids},   {"network", network},
    };
    return all;
}

}  // namespace hostdev::fuzz
