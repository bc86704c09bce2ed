#include "hostdev/policy/fleet.hpp"

#include <algorithm>

#include "hostdev/base/exit_codes.hpp"

namespace hostdev {

std::string_view to_string(HostStatus s) {
    switch (s) {
        case HostStatus::Ok: return "ok";
        case HostStatus::Fixable: return "fixable";
        case HostStatus::Blocked: return "blocked";
        case HostStatus::Invalid: return "invalid";
        case HostStatus::Unreachable: return "unreachable";
        case HostStatus::Failed: return "failed";
    }
    return "failed";
}

namespace {

int failure_exit_code(FleetCommand command) {
    return command == FleetCommand::Check ? exits::fix::kInvalid : exits::virt::kFailure;
}

HostStatus answered_status(FleetCommand command, int exit_code) {
    if (command == FleetCommand::Groups) return exit_code == exits::virt::kOk ? HostStatus::Ok : HostStatus::Failed;
    switch (exit_code) {
        case exits::fix::kNothingToDo: return HostStatus::Ok;
        case exits::fix::kChangesNeeded: return HostStatus::Fixable;
        case exits::fix::kBlocked: return HostStatus::Blocked;
        case exits::fix::kInvalid: return HostStatus::Invalid;
        default: return HostStatus::Failed;
    }
}

}  // namespace

HostOutcome answered_host(FleetCommand command, std::string uri, int exit_code) {
    HostOutcome h;
    h.uri = std::move(uri);
    h.exit_code = exit_code;
    h.status = answered_status(command, exit_code);
    return h;
}

HostOutcome failed_host(FleetCommand command, std::string uri, Reach reach, std::string error) {
    HostOutcome h;
    h.uri = std::move(uri);
    h.exit_code = failure_exit_code(command);
    h.status = reach == Reach::NotConnected ? HostStatus::Unreachable : HostStatus::Failed;
    h.error = std::move(error);
    return h;
}

FleetSummary summarize(const std::vector<HostOutcome>& hosts) {
    FleetSummary s;
    s.hosts = hosts.size();
    for (const auto& h : hosts) {
        ++s.counts[static_cast<std::size_t>(h.status)];
        s.exit_code = std::max(s.exit_code, h.exit_code);
    }
    return s;
}

nlohmann::ordered_json fleet_report(const std::vector<HostOutcome>& hosts) {
    nlohmann::ordered_json doc;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& h : hosts) {
        nlohmann::ordered_json e;
        e["uri"] = h.uri;
        e["status"] = std::string(to_string(h.status));
        e["exit_code"] = h.exit_code;
        if (h.error)
            e["error"] = *h.error;
        else
            e["report"] = h.report.value_or(nlohmann::ordered_json::object());
        list.push_back(std::move(e));
    }
    doc["hosts"] = std::move(list);
    const FleetSummary s = summarize(hosts);
    nlohmann::ordered_json summary;
    summary["hosts"] = s.hosts;
    for (HostStatus st : kHostStatuses) summary[std::string(to_string(st))] = s.count(st);
    summary["exit_code"] = s.exit_code;
    doc["summary"] = std::move(summary);
    return doc;
}

std::string summary_line(const FleetSummary& summary) {
    std::string out = "fleet: " + std::to_string(summary.hosts) + (summary.hosts == 1 ? " host" : " hosts");
    const char* sep = ": ";
    for (HostStatus st : kHostStatuses) {
        if (summary.count(st) == 0) continue;
        out += sep + std::to_string(summary.count(st)) + " " + std::string(to_string(st));
        sep = ", ";
    }
    return out;
}

std::string fleet_text(const std::vector<HostOutcome>& hosts) {
    std::string out;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        const HostOutcome& h = hosts[i];
        if (i > 0) out += "\n";
        out += "== " + h.uri + "\n";
        std::string body = h.error ? "error: " + *h.error : h.text;
        if (!body.empty() && body.back() != '\n') body += '\n';
        out += body;
    }
    if (!hosts.empty()) out += "\n";
    out += summary_line(summarize(hosts)) + "\n";
    return out;
}

}  // namespace hostdev
