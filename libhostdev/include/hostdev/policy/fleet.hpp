// A fleet: one virt-hostdev command (check or groups) run on several libvirt
// connections. Each host's outcome (its status, exit code, and its report or
// why there is none), the fleet's summary and exit code, and the combined
// report in text and JSON (README "Checking a fleet"). Values in, text out;
// nothing here connects to anything.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hostdev {

// The command a fleet runs; it decides the exit codes of a host.
enum class FleetCommand { Check, Groups };

// What became of one host. A host that answered has its command's verdict
// (check: its worst domain's status; groups: ok); one that did not is
// unreachable (the connection failed) or failed (connected, but its devices or
// domains could not be read).
enum class HostStatus { Ok, Fixable, Blocked, Invalid, Unreachable, Failed };
inline constexpr std::array<HostStatus, 6> kHostStatuses = {HostStatus::Ok,          HostStatus::Fixable,
                                                            HostStatus::Blocked,     HostStatus::Invalid,
                                                            HostStatus::Unreachable, HostStatus::Failed};
// "ok", "fixable", "blocked", "invalid", "unreachable", "failed"
std::string_view to_string(HostStatus s);

struct HostOutcome {
    std::string uri;  // as given on the command line
    HostStatus status = HostStatus::Ok;
    int exit_code = 0;  // what the command would exit with on this host alone
    // A host that answered: its report as the single-host command writes it.
    std::optional<nlohmann::ordered_json> report;  // --format json
    std::string text;                              // --format text
    // A host that did not answer: why, in the words (and hints) the
    // single-host command prints on stderr.
    std::optional<std::string> error;
};

// A host that answered: its status follows from its exit code (check: 0 ok,
// 1 fixable, 2 blocked, 3 invalid; groups: 0 ok).
HostOutcome answered_host(FleetCommand command, std::string uri, int exit_code);

enum class Reach { NotConnected, Connected };
// A host that did not answer: unreachable, or failed after connecting; its
// exit code is the command's failure (check 3, groups 1).
HostOutcome failed_host(FleetCommand command, std::string uri, Reach reach, std::string error);

struct FleetSummary {
    std::size_t hosts = 0;
    std::array<std::size_t, kHostStatuses.size()> counts{};  // by HostStatus
    // The highest exit code of any host: for check 0 ok < 1 fixable <
    // 2 blocked < 3 invalid, unreachable or failed; for groups 0 < 1.
    int exit_code = 0;
    [[nodiscard]] std::size_t count(HostStatus s) const { return counts[static_cast<std::size_t>(s)]; }
};
FleetSummary summarize(const std::vector<HostOutcome>& hosts);

// {"hosts": [{"uri", "status", "exit_code", "report" | "error"}...],
//  "summary": {"hosts", "ok", "fixable", "blocked", "invalid", "unreachable",
//  "failed", "exit_code"}}, the hosts in the order given.
nlohmann::ordered_json fleet_report(const std::vector<HostOutcome>& hosts);

// "== URI" before each host's text (or "error: ..." for a host that did not
// answer), a blank line between hosts, then the summary line.
std::string fleet_text(const std::vector<HostOutcome>& hosts);
// "fleet: 3 hosts: 1 ok, 1 blocked, 1 unreachable" (statuses with no host left out).
std::string summary_line(const FleetSummary& summary);

}  // namespace hostdev
