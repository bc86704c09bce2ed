// hostdev-fix: completes every PCI <hostdev>'s IOMMU group in libvirt domain
// definitions, hides KVM where the NVIDIA driver needs it, validates against
// libvirt's schema and explains every change. Exit codes (exits::fix): 0
// nothing to change or output written, 1 --check found changes, 2 blocked, 3
// invalid input, 4 the output could not be written.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "host_source.hpp"
#include "hostdev/base/fileio.hpp"
#include "hostdev/base/json_reader.hpp"
#include "hostdev/output/diff.hpp"
#include "hostdev/policy/fix.hpp"
#include "output.hpp"

namespace {

using namespace hostdev;

struct Options {
    std::vector<std::string> files;
    std::vector<std::string> network_files;
    HostSource source;
    bool check = false, diff = false, in_place = false, quiet = false, whole_slot = false;
    bool relocate = false, repin = false;
    std::string pin = "auto";
    std::optional<std::string> out;
    std::string format = "text", hide_kvm = "auto";
    std::optional<std::filesystem::path> schema_dir;

    [[nodiscard]] bool json() const { return format == "json"; }
    // The fixed XML goes to stdout: text format, nothing else asked for.
    [[nodiscard]] bool stdout_xml() const { return !json() && !check && !diff && !in_place && !out; }
};

constexpr const char* kAbout =
    "hostdev-fix: complete the IOMMU groups of a libvirt domain's PCI <hostdev> devices.\n\n"
    "For each <hostdev type='pci'> and <interface type='hostdev'> (an SR-IOV VF or any PCI NIC),\n"
    "every other member of its IOMMU group is added as a <hostdev> (with the same managed value),\n"
    "unless it is a bridge or an unbound platform function, which stay with the host. A group\n"
    "member the host needs (root filesystem controller, default-route NIC, USB controller with the\n"
    "host keyboard, a platform function with a driver) blocks the domain: nothing is written.\n"
    "<kvm><hidden state='on'/> is added for NVIDIA GPUs in Windows or unknown guests (libosinfo\n"
    "metadata, Hyper-V enlightenments). Input and output are validated against libvirt's RelaxNG\n"
    "schema; every other byte stays as written. Each passed-through device is pinned in <metadata>\n"
    "(what it is, apart from its address), so that a renumbered bus never hands the wrong device to\n"
    "the guest: see --pin, --relocate and --repin.\n";

void add_options(CLI::App& app, Options& o) {
    app.add_option("FILE", o.files, "Domain definitions (libvirt domain XML); - reads standard input")->required();
    cli::add_host_options(app, o.source);
    app.add_flag("--check", o.check, "Change nothing; exit 1 when a file needs changes (for CI)");
    app.add_flag("--diff", o.diff, "Print a unified diff of the changes instead of the fixed XML");
    auto* out = app.add_option("-o,--output", o.out,
                               "Write the fixed XML to OUT (one input file): a file is replaced atomically, keeping "
                               "its owner and mode; a link's target is replaced; a device or FIFO is written to")
                    ->type_name("OUT");
    auto* ip = app.add_flag("--in-place", o.in_place, "Rewrite each input file atomically, keeping its owner and mode");
    out->excludes(ip);
    app.add_option("--format", o.format,
                   "text: fixed XML or diff on stdout, explanation on stderr; "
                   "json: a report on stdout (see README)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--hide-kvm", o.hide_kvm,
                   "Add <kvm><hidden state='on'/>: auto (NVIDIA GPUs in Windows or unknown guests), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->capture_default_str();
    app.add_option("--network", o.network_files,
                   "A libvirt network definition (virsh net-dumpxml NAME; a FIFO too), repeatable: the pool of "
                   "each <forward mode='hostdev'> network a domain uses is judged on the host (a pool device whose "
                   "IOMMU group cannot be made viable blocks the domain); a network a domain uses that is not "
                   "given is a note")
        ->type_name("FILE");
    app.add_flag("--whole-slot", o.whole_slot, "Also add functions of the same slot that sit in another IOMMU group");
    app.add_option("--pin", o.pin,
                   "Device pins in <metadata> (README \"Device pins\"): auto records what each passed-through "
                   "device is (ids, subsystem, class, revision, slot path, serial) wherever one is missing; never "
                   "leaves pins as they are. Existing pins are checked either way: a device at a pinned address "
                   "that is not the pinned one blocks the domain")
        ->check(CLI::IsMember({"auto", "never"}))
        ->capture_default_str();
    auto* relocate = app.add_flag("--relocate", o.relocate,
                                  "Follow pinned devices that moved: each drifted source address is rewritten to "
                                  "where the pinned device is now (same serial, else same model at the pinned slot "
                                  "path, else the only device of that model); refused when identical devices "
                                  "remain that neither tells apart");
    auto* repin = app.add_flag("--repin", o.repin,
                               "Accept the devices now at the domain's addresses (a real hardware swap): rewrite "
                               "each drifted pin, saying what changed");
    relocate->excludes(repin);
    app.add_option("--schema-dir", o.schema_dir,
                   "libvirt's RelaxNG schemas (default: " + SchemaValidator::default_dir().string() + ")")
        ->type_name("DIR");
    app.add_flag("-q,--quiet", o.quiet, "No explanation on stderr");
    app.footer(
        "Exit codes: 0 nothing to change, or fixed output written; 1 --check found changes;\n"
        "2 blocked (a group member cannot leave the host, a device is missing, a device is not the pinned\n"
        "one): nothing written;\n"
        "3 invalid input (unreadable, not XML, not a domain, schema-invalid, a bad --network file, bad flag);\n"
        "4 the output could not be written (disk full, permissions, a closed pipe).\n"
        "With several files the highest code wins.\n"
        "CI: hostdev-fix --check --host host.json --format json domains/*.xml");
}

// A command line whose parts do not fit together; nullopt when they do.
std::optional<std::string> usage_problem(const Options& o) {
    if ((o.out || o.stdout_xml()) && o.files.size() > 1)
        return "several input files: use --check, --diff, --in-place or --format json (stdout and -o take one file)";
    if (o.in_place && std::find(o.files.begin(), o.files.end(), "-") != o.files.end())
        return "--in-place cannot rewrite standard input";
    return std::nullopt;
}

// Every --network file, read and parsed; the first error.
Result<Networks> read_networks(const std::vector<std::string>& files) {
    Networks networks;
    for (const auto& file : files) {
        auto text = fileio::read_file(file, kMaxDomainXmlBytes + 1);
        if (!text) return text.error().reworded("cannot read network definition");
        auto net = parse_network_xml(*text, file);
        if (!net) return net.error();
        HOSTDEV_TRY(add_network(networks, std::move(*net), file));
    }
    return networks;
}

// A domain definition: a file (a FIFO too: hostdev-fix <(virsh dumpxml vm)) or stdin.
Result<std::string> read_input(const std::string& file) {
    if (file != "-") {
        auto text = fileio::read_file(file, kMaxDomainXmlBytes + 1);
        if (!text) return text.error().reworded("cannot read domain definition");
        return text;
    }
    std::string text;
    char buf[65536];
    std::size_t n;
    while (text.size() <= kMaxDomainXmlBytes && (n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
    if (std::ferror(stdin)) return make_error("cannot read domain definition", "<stdin>", errno);
    return text;
}

// Writes what a fixable or ok result asks for: the XML or diff on stdout,
// -o, --in-place. Returns exits::fix::kWriteFailed when a write failed.
int write_result(const Options& o, const std::string& file, const std::string& shown, const std::string& text,
                 const FixResult& r) {
    bool written = true;
    if (o.diff && !o.json())
        written = cli::emit(unified_diff(text, r.fixed, "a/" + shown, "b/" + shown), std::nullopt);
    else if (o.stdout_xml())
        written = cli::emit(r.fixed, std::nullopt);
    if (o.out)
        written = cli::emit(r.fixed, std::filesystem::path(*o.out)) && written;
    else if (o.in_place && r.fixed != text)
        written = cli::emit(r.fixed, std::filesystem::path(file)) && written;
    return written ? exits::fix::kNothingToDo : exits::fix::kWriteFailed;
}

// One file through the pipeline: explanation, outputs, report. Returns its exit code.
int fix_file(const Options& o, const std::string& file, const Host& host, const SchemaValidator* validator,
             const Networks& networks, nlohmann::ordered_json& reports) {
    const std::string shown = file == "-" ? std::string("<stdin>") : file;
    FixResult r;
    int rc = exits::fix::kNothingToDo;
    if (auto text = read_input(file)) {
        PlanOptions plan = PlanOptions::from_flags(o.hide_kvm, o.whole_slot, o.pin);
        if (o.relocate) plan.follow = PlanOptions::Follow::Relocate;
        if (o.repin) plan.follow = PlanOptions::Follow::Repin;
        r = fix_domain(*text, shown, host, validator, plan);
        add_network_problems(r, networks, host, "pass --network FILE (virsh net-dumpxml NAME)");
        if (!o.quiet) std::fputs(fix_explanation(r, host).c_str(), stderr);
        if ((r.status == FixStatus::Ok || r.status == FixStatus::Fixable) && !o.check)
            rc = write_result(o, file, shown, *text, r);
    } else {
        r.file = shown;
        r.status = FixStatus::Invalid;
        r.problems.push_back(Problem{Severity::Error, std::nullopt, text.error().describe()});
        if (!o.quiet) std::fputs(fix_explanation(r, host).c_str(), stderr);
    }
    if (o.json()) reports.push_back(fix_report(r, host));
    return std::max(rc, exit_code_for(r.status, o.check));
}

int run(int argc, char** argv) {
    CLI::App app{kAbout, "hostdev-fix"};
    Options o;
    add_options(app, o);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : exits::fix::kInvalid;
    }
    if (auto problem = usage_problem(o)) {
        cli::print_error(*problem);
        return exits::fix::kInvalid;
    }
    auto host = open_host(o.source);
    if (!host) {
        cli::print_error(host.error().describe());
        return exits::fix::kInvalid;
    }
    auto validator = SchemaValidator::load(o.schema_dir.value_or(SchemaValidator::default_dir()));
    if (!validator) {
        cli::print_error(validator.error().describe());
        return exits::fix::kInvalid;
    }
    auto networks = read_networks(o.network_files);
    if (!networks) {
        cli::print_error(networks.error().describe());
        return exits::fix::kInvalid;
    }
    int worst = exits::fix::kNothingToDo;
    nlohmann::ordered_json reports = nlohmann::ordered_json::array();
    for (const auto& file : o.files)
        worst = std::max(worst, fix_file(o, file, *host, validator->get(), *networks, reports));
    if (o.json()) {
        nlohmann::ordered_json doc;
        doc["files"] = std::move(reports);
        doc["exit_code"] = worst;
        if (!cli::emit(json::to_text(doc), std::nullopt)) worst = exits::fix::kWriteFailed;
    }
    return worst;
}

}  // namespace

int main(int argc, char** argv) {
    hostdev::cli::set_program_name("hostdev-fix");
    return hostdev::cli::guarded_main(hostdev::exits::fix::kInvalid, hostdev::exits::fix::kWriteFailed,
                                      [&] { return run(argc, argv); });
}
