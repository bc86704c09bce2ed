// hostdev-fix's pipeline for one domain definition, shared by every front end
// (hostdev-fix on files, virt-hostdev on a connection's domains): parse with
// the hostile-input checks, validate against libvirt's schema, plan by the
// sibling policy, apply the edits byte-preservingly, and validate the result
// before anyone may write it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hostdev/base/exit_codes.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/schema.hpp"
#include "hostdev/policy/network_pool.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

enum class FixStatus { Ok, Fixable, Blocked, Invalid };
std::string_view to_string(FixStatus s);  // "ok", "fixable", "blocked", "invalid"

// The exit code of one result (exits::fix, base/exit_codes.hpp).
int exit_code_for(FixStatus status, bool check_only);

struct FixResult {
    std::string file;  // as named by the caller
    FixStatus status = FixStatus::Ok;
    std::optional<Domain> domain;  // when it parsed
    Plan plan;
    std::string fixed;              // the fixed document (status Fixable), else the input
    std::vector<Problem> problems;  // plan problems, plus why it is invalid
};

// Adds problems found outside the plan (virt-hostdev's host uses and checks
// across domains) and decides the status again, as fix_domain decides it: an
// error makes an ok or fixable domain blocked. The one place that decides a
// domain's status from its problems.
void add_problems(FixResult& result, std::vector<Problem> problems);

// The problems of the domain's hostdev networks (network_pool.hpp), added
// through add_problems: an error makes the domain blocked (nothing written), a
// warning or note informs. Nothing for a result whose domain did not parse.
void add_network_problems(FixResult& result, const Networks& networks, const Host& host,
                          std::string_view not_given_hint);

// validator may be null (no schema check: only for callers that say so).
FixResult fix_domain(std::string_view text, std::string_view file, const Host& host, const SchemaValidator* validator,
                     const PlanOptions& options);

// The report of one result: file, domain, status, groups with each member's
// verdict and reason, changes, problems (README "hostdev-fix --format json").
nlohmann::ordered_json fix_report(const FixResult& result, const Host& host);
// Explanation in words, one line per fact, for stderr.
std::string fix_explanation(const FixResult& result, const Host& host);

}  // namespace hostdev
