#include "hostdev/policy/fix.hpp"

#include <algorithm>

#include "hostdev/base/text.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/policy/pins.hpp"

namespace hostdev {

using nlohmann::ordered_json;

std::string_view to_string(FixStatus s) {
    switch (s) {
        case FixStatus::Ok: return "ok";
        case FixStatus::Fixable: return "fixable";
        case FixStatus::Blocked: return "blocked";
        case FixStatus::Invalid: return "invalid";
    }
    return "invalid";
}

int exit_code_for(FixStatus status, bool check_only) {
    switch (status) {
        case FixStatus::Ok: return exits::fix::kNothingToDo;
        case FixStatus::Fixable: return check_only ? exits::fix::kChangesNeeded : exits::fix::kNothingToDo;
        case FixStatus::Blocked: return exits::fix::kBlocked;
        case FixStatus::Invalid: return exits::fix::kInvalid;
    }
    return exits::fix::kInvalid;
}

namespace {

FixResult invalid(FixResult r, const Error& e) {
    r.status = FixStatus::Invalid;
    r.problems.push_back(Problem{Severity::Error, std::nullopt, e.describe()});
    return r;
}

}  // namespace

namespace {

bool has_error(const std::vector<Problem>& problems) {
    return std::any_of(problems.begin(), problems.end(),
                       [](const Problem& p) { return p.severity == Severity::Error; });
}

}  // namespace

void add_problems(FixResult& r, std::vector<Problem> problems) {
    for (auto& p : problems) r.problems.push_back(std::move(p));
    if (has_error(r.problems) && (r.status == FixStatus::Ok || r.status == FixStatus::Fixable))
        r.status = FixStatus::Blocked;
}

void add_network_problems(FixResult& r, const Networks& networks, const Host& host, std::string_view not_given_hint) {
    if (!r.domain || r.status == FixStatus::Invalid) return;
    add_problems(r, judge_network_pools(*r.domain, networks, host, not_given_hint));
}

namespace {

// Only pins to record: the domain is ok as it is (a domain without pins
// behaves as before pins existed), and the pins are written with any output.
bool only_pins(const DomainEdits& e) {
    return e.pins && e.inject.empty() && e.set_guest_multifunction.empty() && !e.ensure_kvm_hidden &&
           e.move_source.empty();
}

// --relocate / --repin: the rewrite of the drifted pins, before the plan.
PinRewrite follow_pins(const Domain& domain, const Host& host, PlanOptions::Follow follow) {
    switch (follow) {
        case PlanOptions::Follow::Relocate: return relocate_pins(domain, host);
        case PlanOptions::Follow::Repin: return repin(domain, host);
        case PlanOptions::Follow::None: break;
    }
    return {};
}

// Plans `document` and applies the plan; `r` gets the plan, problems, status and fixed text.
FixResult plan_and_apply(FixResult r, const DomainDocument& document, const Host& host,
                         const SchemaValidator* validator, const PlanOptions& options, std::vector<Change> before) {
    const std::string& file = r.file;
    r.domain = document.domain();
    r.plan = plan_domain(document.domain(), host, options);
    r.plan.changes.insert(r.plan.changes.begin(), before.begin(), before.end());
    r.problems = r.plan.problems;
    if (r.plan.blocked()) {
        r.status = FixStatus::Blocked;
        return r;
    }
    std::string text(document.text());
    if (!r.plan.edits.empty()) {
        auto fixed = apply_domain_edits(document, r.plan.edits, file);
        if (!fixed) return invalid(std::move(r), fixed.error());
        text = std::move(*fixed);
    }
    if (validator && text != r.fixed) {
        if (auto st = validator->validate(text, file); !st) {
            return invalid(std::move(r),
                           st.error().context(
                               "the fixed document would not be valid, so nothing is written (please report this)"));
        }
    }
    const bool changed = !before.empty() || (!r.plan.edits.empty() && !only_pins(r.plan.edits));
    r.fixed = std::move(text);
    r.status = changed ? FixStatus::Fixable : FixStatus::Ok;
    return r;
}

}  // namespace

FixResult fix_domain(std::string_view text, std::string_view file, const Host& host, const SchemaValidator* validator,
                     const PlanOptions& options) {
    FixResult r;
    r.file = std::string(file);
    r.fixed = std::string(text);
    auto document = DomainDocument::parse(text, file);
    if (!document) return invalid(std::move(r), document.error());
    r.domain = document->domain();
    if (validator) {
        if (auto st = validator->validate(text, file); !st) return invalid(std::move(r), st.error());
    }
    PinRewrite follow = follow_pins(document->domain(), host, options.follow);
    if (!follow.problems.empty()) {
        r.problems = follow.problems;
        r.status = FixStatus::Blocked;
        return r;
    }
    if (follow.edits.empty()) return plan_and_apply(std::move(r), *document, host, validator, options, {});
    // The sources follow their devices first; the planner then completes and
    // checks the groups at the new addresses like any others.
    auto moved = apply_domain_edits(*document, follow.edits, file);
    if (!moved) return invalid(std::move(r), moved.error());
    const std::string stage = std::move(*moved);
    auto again = DomainDocument::parse(stage, file);
    if (!again) return invalid(std::move(r), again.error());
    return plan_and_apply(std::move(r), *again, host, validator, options, std::move(follow.changes));
}

ordered_json fix_report(const FixResult& r, const Host& host) {
    ordered_json j;
    j["file"] = r.file;
    j["domain"] = r.domain ? ordered_json(r.domain->name) : ordered_json(nullptr);
    j["uuid"] = r.domain && !r.domain->uuid.empty() ? ordered_json(r.domain->uuid) : ordered_json(nullptr);
    j["status"] = std::string(to_string(r.status));
    ordered_json groups = ordered_json::array();
    for (const auto& g : r.plan.groups) {
        ordered_json members = ordered_json::array();
        for (const auto& m : g.members) {
            ordered_json mj;
            mj["address"] = m.address.str();
            mj["verdict"] = std::string(to_string(m.verdict));
            mj["reason"] = m.reason;
            mj["requested"] = m.requested;
            mj["element"] = m.element ? ordered_json(std::string(to_string(*m.element))) : ordered_json(nullptr);
            if (const PciDevice* d = host.find(m.address)) {
                mj["ids"] = pci_ids(d->vendor, d->device);
                mj["class"] = pci_class_code(d->class_code);
                mj["driver"] = d->driver ? ordered_json(*d->driver) : ordered_json(nullptr);
                mj["name"] = describe_device(*d);
            }
            members.push_back(std::move(mj));
        }
        ordered_json req = ordered_json::array();
        for (const auto& a : g.requested) req.push_back(a.str());
        groups.push_back({{"group", g.group}, {"requested", req}, {"members", members}});
    }
    j["groups"] = groups;
    ordered_json changes = ordered_json::array();
    for (const auto& c : r.plan.changes) {
        ordered_json cj;
        cj["kind"] = std::string(to_string(c.kind));
        cj["device"] = c.device ? ordered_json(c.device->str()) : ordered_json(nullptr);
        cj["description"] = c.description;
        changes.push_back(std::move(cj));
    }
    if (r.status == FixStatus::Blocked || r.status == FixStatus::Invalid) changes = ordered_json::array();
    j["changes"] = changes;
    ordered_json problems = ordered_json::array();
    for (const auto& p : r.problems) {
        problems.push_back({{"severity", std::string(to_string(p.severity))},
                            {"device", p.device ? ordered_json(p.device->str()) : ordered_json(nullptr)},
                            {"message", p.message}});
    }
    j["problems"] = problems;
    return j;
}

std::string fix_explanation(const FixResult& r, const Host& host) {
    std::string out;
    const std::string who = r.file + (r.domain && !r.domain->name.empty() ? " (" + r.domain->name + ")" : "");
    for (const auto& g : r.plan.groups) {
        std::string req;
        for (const auto& a : g.requested) req += (req.empty() ? "" : ", ") + a.str();
        out += who + ": IOMMU group " + std::to_string(g.group) + " of " + req + ":\n";
        for (const auto& m : g.members) {
            const PciDevice* d = host.find(m.address);
            out += "  " + std::string(to_string(m.verdict)) + ": " + (d ? describe_device(*d) : m.address.str()) +
                   " - " + m.reason + "\n";
        }
    }
    for (const auto& p : r.problems) out += who + ": " + std::string(to_string(p.severity)) + ": " + p.message + "\n";
    if (r.status == FixStatus::Fixable || r.status == FixStatus::Ok)
        for (const auto& c : r.plan.changes) out += who + ": change: " + c.description + "\n";
    switch (r.status) {
        case FixStatus::Ok:
            out += who + (r.plan.changes.empty() ? ": ok, nothing to change\n"
                                                 : ": ok, nothing to change but the device pins, which any output "
                                                   "records (README \"Device pins\")\n");
            break;
        case FixStatus::Fixable: break;
        case FixStatus::Blocked: out += who + ": blocked, nothing written\n"; break;
        case FixStatus::Invalid: out += who + ": invalid, nothing written\n"; break;
    }
    return out;
}

}  // namespace hostdev
