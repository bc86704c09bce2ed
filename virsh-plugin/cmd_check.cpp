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

int run_check(const CheckOptions& opt, const GlobalOptions& global) {
    if (opt.all == !opt.domains.empty()) {
        print_error(opt.all ? "give --all or domain names, not both" : "give --all or one or more domain names");
        return exits::fix::kInvalid;
    }
    auto conn = open_or_report(global.uri, Connection::Access::ReadOnly);
    if (!conn) return exits::fix::kInvalid;
    auto validator = schemas_or_report(opt.judge.schema_dir);
    if (!validator) return exits::fix::kInvalid;
    auto host = read_host_or_report(*conn, global.pci_ids);
    if (!host) return exits::fix::kInvalid;
    auto domains = conn->persistent_domains();
    if (!domains) {
        print_error(domains.error().describe());
        return exits::fix::kInvalid;
    }
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
    Progress progress(true);
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

    int worst = exits::fix::kNothingToDo;
    std::map<FixStatus, int> counts;
    for (const auto& d : report) {
        worst = std::max(worst, exit_code_for(d.result.status, /*check_only=*/true));
        ++counts[d.result.status];
    }
    if (opt.format == "json") {
        nlohmann::ordered_json doc;
        doc["uri"] = conn->uri();
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const auto& d : report) list.push_back(domain_report(d, host->host));
        doc["domains"] = std::move(list);
        doc["warnings"] = host->host.warnings;
        doc["exit_code"] = worst;
        return emit(json::to_text(doc), std::nullopt) ? worst : std::max(worst, exits::fix::kWriteFailed);
    }
    for (const auto& w : host->host.warnings) print_warning(w);
    std::string out;
    for (const auto& d : report) out += domain_explanation(d, host->host);
    std::string summary =
        conn->uri() + ": " + std::to_string(report.size()) + (report.size() == 1 ? " domain" : " domains");
    const char* sep = ": ";
    for (auto s : {FixStatus::Ok, FixStatus::Fixable, FixStatus::Blocked, FixStatus::Invalid}) {
        if (!counts[s]) continue;
        summary += sep + std::to_string(counts[s]) + " " + std::string(to_string(s));
        sep = ", ";
    }
    out += summary + "\n";
    return emit(out, std::nullopt) ? worst : std::max(worst, exits::fix::kWriteFailed);
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
        "Fleet: one line per host, e.g. virt-hostdev -c qemu+ssh://HOST/system check --all --format json");
    cmd->callback([opt, &global, &exit_code] { exit_code = run_check(*opt, global); });
}

}  // namespace hostdev::virt
