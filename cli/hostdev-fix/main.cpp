// hostdev-fix: completes every PCI <hostdev>'s IOMMU group in libvirt domain
// definitions, hides KVM where the NVIDIA driver needs it, validates against
// libvirt's schema and explains every change. Exit codes: 0 nothing to change
// or output written, 1 --check found changes, 2 blocked, 3 invalid input.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "host_source.hpp"
#include "hostdev/output/diff.hpp"
#include "hostdev/base/fileio.hpp"
#include "hostdev/policy/fix.hpp"
#include "output.hpp"

namespace {

using namespace hostdev;

void fail(std::string_view msg) { cli::print_error(msg); }

Result<std::string> read_input(const std::string& file) {
    if (file == "-") {
        std::string text;
        char buf[65536];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
            text.append(buf, n);
            if (text.size() > kMaxDomainXmlBytes) break;
        }
        return text;
    }
    auto text = fileio::read_file(file, kMaxDomainXmlBytes + 1);
    if (!text) {
        return text.error().reworded("cannot read domain definition");
    }
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "hostdev-fix: complete the IOMMU groups of a libvirt domain's PCI <hostdev> devices.\n\n"
        "For each <hostdev type='pci'>, every other member of its IOMMU group is added as a <hostdev>\n"
        "(with the same managed value), unless it is a bridge or an unbound platform function, which\n"
        "stay with the host. A group member the host needs (root filesystem controller, default-route\n"
        "NIC, USB controller with the host keyboard, a platform function with a driver) blocks the\n"
        "domain: nothing is written. <kvm><hidden state='on'/> is added for NVIDIA GPUs. Input and\n"
        "output are validated against libvirt's RelaxNG schema; every other byte stays as written.\n",
        "hostdev-fix"};
    std::vector<std::string> files;
    HostSource source;
    bool check = false, diff = false, in_place = false, quiet = false, whole_slot = false;
    std::optional<std::string> out;
    std::string format = "text", hide_kvm = "auto";
    std::optional<std::filesystem::path> schema_dir;

    app.add_option("FILE", files, "Domain definitions (libvirt domain XML); - reads standard input")->required();
    cli::add_host_options(app, source);
    app.add_flag("--check", check, "Change nothing; exit 1 when a file needs changes (for CI)");
    app.add_flag("--diff", diff, "Print a unified diff of the changes instead of the fixed XML");
    auto* o = app.add_option("-o,--output", out, "Write the fixed XML to OUT (one input file)")->type_name("OUT");
    auto* ip = app.add_flag("--in-place", in_place, "Rewrite each input file atomically, keeping its mode");
    o->excludes(ip);
    app.add_option("--format", format, "text: fixed XML or diff on stdout, explanation on stderr; "
                                       "json: a report on stdout (see README)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--hide-kvm", hide_kvm, "Add <kvm><hidden state='on'/>: auto (for NVIDIA GPUs), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->capture_default_str();
    app.add_flag("--whole-slot", whole_slot, "Also add functions of the same slot that sit in another IOMMU group");
    app.add_option("--schema-dir", schema_dir, "libvirt's RelaxNG schemas (default: " + SchemaValidator::default_dir().string() + ")")
        ->type_name("DIR");
    app.add_flag("-q,--quiet", quiet, "No explanation on stderr");
    app.footer("Exit codes: 0 nothing to change, or fixed output written; 1 --check found changes;\n"
               "2 blocked (a group member cannot leave the host, a device is missing): nothing written;\n"
               "3 invalid input (unreadable, not XML, not a domain, schema-invalid, bad flag).\n"
               "With several files the highest code wins.\n"
               "CI: hostdev-fix --check --host host.json --format json domains/*.xml");
    cli::set_program_name("hostdev-fix");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : exits::fix::kInvalid;
    }

    const bool json = format == "json";
    const bool stdout_xml = !json && !check && !diff && !in_place && !out;
    if ((out || stdout_xml) && files.size() > 1) {
        fail("several input files: use --check, --diff, --in-place or --format json (stdout and -o take one file)");
        return exits::fix::kInvalid;
    }
    if (in_place && std::find(files.begin(), files.end(), "-") != files.end()) {
        fail("--in-place cannot rewrite standard input");
        return exits::fix::kInvalid;
    }

    auto host = open_host(source);
    if (!host) {
        fail(host.error().describe());
        return exits::fix::kInvalid;
    }
    auto validator = SchemaValidator::load(schema_dir.value_or(SchemaValidator::default_dir()));
    if (!validator) {
        fail(validator.error().describe());
        return exits::fix::kInvalid;
    }

    const PlanOptions options = PlanOptions::from_flags(hide_kvm, whole_slot);

    int worst = exits::fix::kNothingToDo;
    nlohmann::ordered_json reports = nlohmann::ordered_json::array();
    for (const auto& file : files) {
        const std::string shown = file == "-" ? std::string("<stdin>") : file;
        FixResult r;
        if (auto text = read_input(file)) {
            r = fix_domain(*text, shown, *host, validator->get(), options);
            if (!quiet) std::fputs(fix_explanation(r, *host).c_str(), stderr);
            const bool writable = r.status == FixStatus::Ok || r.status == FixStatus::Fixable;
            if (writable && !check) {
                if (diff && !json) {
                    std::fputs(unified_diff(*text, r.fixed, "a/" + shown, "b/" + shown).c_str(), stdout);
                } else if (stdout_xml) {
                    std::fwrite(r.fixed.data(), 1, r.fixed.size(), stdout);
                }
                if (out) {
                    if (!cli::emit(r.fixed, std::filesystem::path(*out))) worst = std::max(worst, exits::fix::kInvalid);
                } else if (in_place && r.status == FixStatus::Fixable) {
                    if (auto st = fileio::write_file_atomic(file, r.fixed); !st) {
                        fail(st.error().describe());
                        worst = std::max(worst, exits::fix::kInvalid);
                    }
                }
            }
        } else {
            r.file = shown;
            r.status = FixStatus::Invalid;
            r.problems.push_back(Problem{Severity::Error, std::nullopt, text.error().describe()});
            if (!quiet) std::fputs(fix_explanation(r, *host).c_str(), stderr);
        }
        worst = std::max(worst, exit_code_for(r.status, check));
        if (json) reports.push_back(fix_report(r, *host));
    }
    if (json) {
        nlohmann::ordered_json doc;
        doc["files"] = std::move(reports);
        doc["exit_code"] = worst;
        std::fputs((doc.dump(2) + "\n").c_str(), stdout);
    }
    std::fflush(stdout);
    return worst;
}
