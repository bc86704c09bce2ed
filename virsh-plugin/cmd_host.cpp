// virt-hostdev groups: the IOMMU groups as libvirt shows them.
// virt-hostdev snapshot: that host as a hostdev snapshot, and optionally every
// defined domain's definition, so hostdev-fix can judge them offline.
#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "commands.hpp"
#include "connection.hpp"
#include "hostdev/base/fileio.hpp"
#include "hostdev/base/json_reader.hpp"
#include "hostdev/base/parallel.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/output/format.hpp"
#include "hostdev/policy/fleet.hpp"
#include "judge.hpp"

namespace hostdev::virt {
namespace {

struct GroupsOptions {
    std::string format = "text";
    std::optional<std::filesystem::path> out;
};

// Several -c: each host's groups read on its own thread with its own
// connection (at most --jobs at once); one listing per host in the order of
// -c, then the summary (text), or {"hosts": [...], "summary": {...}} with
// each host's groups document as its report (json).
int run_groups_fleet(const GroupsOptions& opt, const GlobalOptions& global, OutputFormat format) {
    if (format == OutputFormat::Dot) {
        print_error(
            "--format dot draws one host: give one -c per run (virt-hostdev -c URI groups --format dot), or use "
            "text or json for several");
        return exits::virt::kUsage;
    }
    std::vector<HostOutcome> hosts(global.uris.size());
    Progress progress(true);
    std::size_t finished = 0;
    run_bounded(
        hosts.size(), global.jobs,
        [&](std::size_t i) {
            const std::string& uri = global.uris[i];
            auto conn = Connection::open(uri, Connection::Access::ReadOnly);
            if (!conn) {
                hosts[i] = failed_host(FleetCommand::Groups, uri, Reach::NotConnected, conn.error().describe());
                return;
            }
            Progress quiet(false);
            auto host = read_libvirt_host(*conn, global.pci_ids, quiet);
            if (!host) {
                hosts[i] = failed_host(FleetCommand::Groups, uri, Reach::Connected, host.error().describe());
                return;
            }
            HostOutcome h = answered_host(FleetCommand::Groups, uri, exits::virt::kOk);
            if (format == OutputFormat::Json)
                h.report = nlohmann::ordered_json::parse(format_groups_json(host->host));
            else
                h.text = format_groups_text(host->host);
            hosts[i] = std::move(h);
        },
        [&](std::size_t) { progress.update("hosts read", ++finished, hosts.size()); });
    progress.clear();
    const int worst = summarize(hosts).exit_code;
    const std::string out = format == OutputFormat::Json ? json::to_text(fleet_report(hosts)) : fleet_text(hosts);
    return emit(out, opt.out) ? worst : exits::virt::kFailure;
}

int run_groups(const GroupsOptions& opt, const GlobalOptions& global) {
    if (global.fleet())
        return run_groups_fleet(opt, global, output_format_from_string(opt.format).value_or(OutputFormat::Text));
    auto conn = open_or_report(global.uri(), Connection::Access::ReadOnly);
    if (!conn) return exits::virt::kFailure;
    auto host = read_host_or_report(*conn, global.pci_ids);
    if (!host) return exits::virt::kFailure;
    const OutputFormat format = output_format_from_string(opt.format).value_or(OutputFormat::Text);
    // The text listing carries the warnings itself; other formats keep stdout machine-readable.
    if (format != OutputFormat::Text)
        for (const auto& w : host->host.warnings) print_warning(w);
    return emit(format_groups(host->host, format), opt.out) ? exits::virt::kOk : exits::virt::kFailure;
}

struct SnapshotOptions {
    std::optional<std::filesystem::path> out;
    std::optional<std::filesystem::path> domains_dir;
};

// A file name for a domain's definition: its name, unless the name cannot be
// one (libvirt refuses '/' in names, but not a leading dot).
std::string definition_file(const DomainInfo& d) {
    if (d.name.empty() || d.name.front() == '.' || d.name.find('/') != std::string::npos) return d.uuid + ".xml";
    return d.name + ".xml";
}

int run_snapshot(const SnapshotOptions& opt, const GlobalOptions& global) {
    if (!single_connection_or_report(global, "snapshot writes one host, the input of hostdev-fix --host",
                                     "run it once per host (virt-hostdev -c URI snapshot -o HOST.json)"))
        return exits::virt::kUsage;
    auto conn = open_or_report(global.uri(), Connection::Access::ReadOnly);
    if (!conn) return exits::virt::kFailure;
    auto host = read_host_or_report(*conn, global.pci_ids);
    if (!host) return exits::virt::kFailure;
    Progress progress(true);
    for (const auto& w : host->host.warnings) print_warning(w);
    int rc = exits::virt::kOk;
    if (opt.domains_dir) {
        if (::mkdir(opt.domains_dir->c_str(), 0755) != 0 && errno != EEXIST) {
            print_error(
                make_error("cannot create the directory for domain definitions", opt.domains_dir->string(), errno)
                    .describe());
            return exits::virt::kFailure;
        }
        auto domains = conn->persistent_domains();
        if (!domains) {
            print_error(domains.error().describe());
            return exits::virt::kFailure;
        }
        for (std::size_t i = 0; i < domains->size(); ++i) {
            progress.update("reading domains", i + 1, domains->size());
            DomainInfo d = Connection::describe((*domains)[i].get());
            if (!d.xml) {
                progress.clear();
                print_error(d.error.value_or(make_error("no definition")).describe());
                rc = exits::virt::kFailure;
                continue;
            }
            if (auto st = fileio::write_file_atomic(*opt.domains_dir / definition_file(d), *d.xml); !st) {
                progress.clear();
                print_error(st.error().describe());
                rc = exits::virt::kFailure;
            }
        }
        progress.clear();
    }
    if (!emit(write_snapshot(host->host), opt.out)) rc = exits::virt::kFailure;
    return rc;
}

}  // namespace

void add_groups_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto opt = std::make_shared<GroupsOptions>();
    auto* cmd = app.add_subcommand("groups", "List IOMMU groups and their devices as libvirt shows them");
    cmd->add_option("--format", opt->format, "Output format: text, json or dot (Graphviz), as hostdev groups")
        ->check(CLI::IsMember({"text", "json", "dot"}))
        ->capture_default_str();
    cmd->add_option("-o,--output", opt->out, "Write to FILE (atomically) instead of standard output")
        ->type_name("FILE");
    cmd->footer(
        "With several -c: each host's listing after a line \"== URI\" (text), or {\"hosts\": [...], \"summary\":\n"
        "{...}} with each host's groups document as its \"report\" (json; dot draws one host only), in the\n"
        "order of -c; exit 1 when any host could not be read.");
    cmd->callback([opt, &global, &exit_code] { exit_code = run_groups(*opt, global); });
}

void add_snapshot_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto opt = std::make_shared<SnapshotOptions>();
    auto* cmd = app.add_subcommand("snapshot",
                                   "Write the host as libvirt shows it as a hostdev snapshot (for hostdev-fix --host)");
    cmd->add_option("-o,--output", opt->out, "Write to FILE (atomically) instead of standard output")
        ->type_name("FILE");
    cmd->add_option("--domains", opt->domains_dir,
                    "Also write every defined domain's inactive definition to DIR/NAME.xml")
        ->type_name("DIR");
    cmd->footer(
        "hostdev-fix --host SNAPSHOT DIR/*.xml then judges the domains as virt-hostdev check does, less the\n"
        "checks across domains and the warnings about host interfaces and disks.");
    cmd->callback([opt, &global, &exit_code] { exit_code = run_snapshot(*opt, global); });
}

}  // namespace hostdev::virt
