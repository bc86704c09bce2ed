// virt-hostdev check: every defined domain (or the named ones) through
// hostdev-fix's pipeline, with the checks across domains.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <memory>

#include "commands.hpp"
#include "connection.hpp"
#include "hostdev/base/json_reader.hpp"
#include "hostdev/base/parallel.hpp"
#include "hostdev/policy/fleet.hpp"
#include "judge.hpp"

namespace hostdev::virt {
namespace {

struct CheckOptions {
    bool all = false;
    std::vector<std::string> domains;
    std::string format = "text";
    JudgeOptions judge;
};

bool names_domain(const JudgedDomain& d, const std::string& name) {
    if (d.info.name == name) return true;
    if (d.info.uuid.empty() || d.info.uuid.size() != name.size()) return false;
    return std::equal(name.begin(), name.end(), d.info.uuid.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
}

// One host's check, kept apart from printing so that a fleet can collect it:
// what the single-host command writes on stdout (the JSON report, or the
// explanations and the summary line) and on stderr (the host's warnings, or
// why it stopped).
struct HostCheck {
    int exit_code = exits::fix::kNothingToDo;
    std::optional<std::string> error;   // why there is no report
    Reach reach = Reach::NotConnected;  // with an error: did the connection open?
    std::vector<std::string> warnings;
    nlohmann::ordered_json json;  // --format json
    std::string text;             // --format text
};

HostCheck failed(std::string error, Reach reach) {
    HostCheck c;
    c.exit_code = exits::fix::kInvalid;
    c.error = std::move(error);
    c.reach = reach;
    return c;
}

// `validator` null: loaded once connected (a single host: a connection that
// fails is reported before missing schemas, as always).
HostCheck check_host(const CheckOptions& opt, const std::optional<std::string>& uri, const GlobalOptions& global,
                     std::shared_ptr<const SchemaValidator> validator, bool show_progress) {
    auto conn = Connection::open(uri, Connection::Access::ReadOnly);
    if (!conn) return failed(conn.error().describe(), Reach::NotConnected);
    if (!validator) {
        auto loaded = SchemaValidator::load(opt.judge.schema_dir.value_or(SchemaValidator::default_dir()));
        if (!loaded) return failed(loaded.error().describe(), Reach::Connected);
        validator = *loaded;
    }
    Progress progress(show_progress);
    auto host = read_libvirt_host(*conn, global.pci_ids, progress);
    if (!host) return failed(host.error().describe(), Reach::Connected);
    auto domains = conn->persistent_domains();
    if (!domains) return failed(domains.error().describe(), Reach::Connected);
    // Named domains: looked up as virsh does (transient ones included); the
    // checks across domains always see every defined domain.
    std::map<std::string, Error> missing;
    for (const auto& name : opt.domains) {
        auto d = conn->lookup(name);
        if (d)
            domains->push_back(std::move(*d));
        else
            missing.emplace(name, d.error());
    }
    auto judged = judge_domains(*conn, std::move(*domains), *host, *validator, opt.judge.plan(), progress);

    std::vector<JudgedDomain> report;
    if (opt.all) {
        report = std::move(judged);
    } else {
        for (const auto& name : opt.domains) {
            if (auto m = missing.find(name); m != missing.end()) {
                report.push_back(invalid_domain(name, m->second));
                continue;
            }
            auto it = std::find_if(judged.begin(), judged.end(),
                                   [&](const JudgedDomain& d) { return names_domain(d, name); });
            if (it != judged.end()) report.push_back(*it);
        }
    }

    HostCheck out;
    out.reach = Reach::Connected;
    std::map<FixStatus, int> counts;
    for (const auto& d : report) {
        out.exit_code = std::max(out.exit_code, exit_code_for(d.result.status, /*check_only=*/true));
        ++counts[d.result.status];
    }
    if (opt.format == "json") {
        nlohmann::ordered_json doc;
        doc["uri"] = conn->uri();
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const auto& d : report) list.push_back(domain_report(d, host->host));
        doc["domains"] = std::move(list);
        doc["warnings"] = host->host.warnings;
        doc["exit_code"] = out.exit_code;
        out.json = std::move(doc);
        return out;
    }
    out.warnings = host->host.warnings;
    for (const auto& d : report) out.text += domain_explanation(d, host->host);
    std::string summary =
        conn->uri() + ": " + std::to_string(report.size()) + (report.size() == 1 ? " domain" : " domains");
    const char* sep = ": ";
    for (auto s : {FixStatus::Ok, FixStatus::Fixable, FixStatus::Blocked, FixStatus::Invalid}) {
        if (!counts[s]) continue;
        summary += sep + std::to_string(counts[s]) + " " + std::string(to_string(s));
        sep = ", ";
    }
    out.text += summary + "\n";
    return out;
}

int run_single(const CheckOptions& opt, const GlobalOptions& global) {
    HostCheck c = check_host(opt, global.uri(), global, nullptr, /*show_progress=*/true);
    if (c.error) {
        print_error(*c.error);
        return c.exit_code;
    }
    if (opt.format == "json")
        return emit(json::to_text(c.json), std::nullopt) ? c.exit_code
                                                         : std::max(c.exit_code, exits::fix::kWriteFailed);
    for (const auto& w : c.warnings) print_warning(w);
    return emit(c.text, std::nullopt) ? c.exit_code : std::max(c.exit_code, exits::fix::kWriteFailed);
}

// Several -c: each host checked on its own thread with its own connection (at
// most --jobs at once), the reports in the order of -c, then the summary.
int run_fleet(const CheckOptions& opt, const GlobalOptions& global) {
    auto validator = schemas_or_report(opt.judge.schema_dir);
    if (!validator) return exits::fix::kInvalid;
    std::vector<HostOutcome> hosts(global.uris.size());
    Progress progress(true);
    std::size_t finished = 0;
    run_bounded(
        hosts.size(), global.jobs,
        [&](std::size_t i) {
            const std::string& uri = global.uris[i];
            HostCheck c = check_host(opt, uri, global, validator, /*show_progress=*/false);
            if (c.error) {
                hosts[i] = failed_host(FleetCommand::Check, uri, c.reach, std::move(*c.error));
                return;
            }
            HostOutcome h = answered_host(FleetCommand::Check, uri, c.exit_code);
            if (opt.format == "json") {
                h.report = std::move(c.json);
            } else {
                for (const auto& w : c.warnings) h.text += "warning: " + w + "\n";
                h.text += c.text;
            }
            hosts[i] = std::move(h);
        },
        [&](std::size_t) { progress.update("hosts checked", ++finished, hosts.size()); });
    progress.clear();
    const int worst = summarize(hosts).exit_code;
    const std::string out = opt.format == "json" ? json::to_text(fleet_report(hosts)) : fleet_text(hosts);
    return emit(out, std::nullopt) ? worst : std::max(worst, exits::fix::kWriteFailed);
}

int run_check(const CheckOptions& opt, const GlobalOptions& global) {
    if (opt.all == !opt.domains.empty()) {
        print_error(opt.all ? "give --all or domain names, not both" : "give --all or one or more domain names");
        return exits::fix::kInvalid;
    }
    return global.fleet() ? run_fleet(opt, global) : run_single(opt, global);
}

}  // namespace

void add_check_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto opt = std::make_shared<CheckOptions>();
    auto* cmd = app.add_subcommand(
        "check", "Judge defined domains as hostdev-fix --check does: ok, fixable, blocked or invalid");
    auto* all = cmd->add_flag("--all", opt->all, "Every defined domain of the connection");
    auto* names = cmd->add_option("DOMAIN", opt->domains, "Domains by name or UUID");
    all->excludes(names);
    cmd->add_option("--format", opt->format,
                    "text: an explanation per domain and a summary line; json: a report (see README)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    add_judge_options(*cmd, opt->judge);
    cmd->footer(
        "Each domain's inactive definition goes through hostdev-fix's pipeline (schema, sibling policy).\n"
        "Across domains: two domains assigning one IOMMU group cannot run together (warning for both); when\n"
        "both start automatically, that is an error (blocked) for both.\n"
        "Exit code: the worst domain's, as hostdev-fix --check: 0 ok, 1 fixable, 2 blocked, 3 invalid.\n"
        "Fleet: several -c check each host at once (--jobs), e.g.\n"
        "  virt-hostdev -c qemu+ssh://kvm1/system -c qemu+ssh://kvm2/system check --all --format json\n"
        "prints one report per host in the order of -c (text: a line \"== URI\" before each; JSON:\n"
        "{\"hosts\": [...], \"summary\": {...}}), then the fleet's summary; a host that cannot be reached is\n"
        "reported in its place. Exit code: the highest of any host (an unreachable one counts 3).");
    cmd->callback([opt, &global, &exit_code] { exit_code = run_check(*opt, global); });
}

}  // namespace hostdev::virt
