// virt-hostdev fix: one domain's definition completed as hostdev-fix does;
// printed, shown as a diff, or redefined through libvirt (UUID kept).
#include <algorithm>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "connection.hpp"
#include "hostdev/output/diff.hpp"
#include "judge.hpp"

namespace hostdev::virt {
namespace {

struct FixOptions {
    std::string domain;
    bool define = false;
    bool diff = false;
    bool quiet = false;
    JudgeOptions judge;
};

// Redefines the domain from the fixed XML, then reads it back: same UUID, and
// nothing left to change.
int define_fixed(const Connection& conn, const JudgedDomain& d, const LibvirtHost& host,
                 const SchemaValidator& validator, const PlanOptions& plan, bool quiet) {
    auto defined = conn.define(d.result.fixed);
    if (!defined) {
        print_error(d.info.name + ": " + defined.error().describe() + "; the definition is unchanged");
        return exits::fix::kInvalid;
    }
    DomainInfo after = Connection::describe(defined->get());
    if (after.uuid != d.info.uuid) {
        print_error(d.info.name + ": libvirt defined domain '" + after.name + "' with UUID " + after.uuid +
                    " instead of redefining UUID " + d.info.uuid + "; check with: virsh -c " + conn.uri() +
                    " list --all --uuid");
        return exits::fix::kInvalid;
    }
    if (!after.xml) {
        print_error(d.info.name + ": redefined, but " + after.error.value_or(make_error("no definition")).describe());
        return exits::fix::kInvalid;
    }
    FixResult again = fix_domain(*after.xml, d.info.name, host.host, &validator, plan);
    if (again.status != FixStatus::Ok) {
        print_error(d.info.name + ": redefined (UUID " + after.uuid + " kept), but libvirt's stored definition is " +
                    std::string(to_string(again.status)) + " when read back:");
        std::fputs(fix_explanation(again, host.host).c_str(), stderr);
        return again.status == FixStatus::Fixable ? exits::fix::kChangesNeeded : exit_code_for(again.status, true);
    }
    if (!quiet) {
        std::string msg = d.info.name + ": redefined on " + conn.uri() + ", UUID " + after.uuid + " kept";
        if (d.info.active)
            msg += "; the running domain keeps its current devices until it is shut down and started again";
        print_note(msg);
    }
    return exits::fix::kNothingToDo;
}

int run_fix(const FixOptions& opt, const GlobalOptions& global) {
    if (!single_connection_or_report(global, "fix changes one domain on one connection")) return exits::fix::kInvalid;
    auto conn = open_or_report(global.uri(), opt.define ? Connection::Access::ReadWrite : Connection::Access::ReadOnly);
    if (!conn) return exits::fix::kInvalid;
    auto validator = schemas_or_report(opt.judge.schema_dir);
    if (!validator) return exits::fix::kInvalid;
    auto target = conn->lookup(opt.domain);
    if (!target) {
        print_error(target.error().describe());
        return exits::fix::kInvalid;
    }
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    virDomainGetUUIDString(target->get(), uuid);
    const std::string target_uuid = uuid;
    auto host = read_host_or_report(*conn, global.pci_ids);
    if (!host) return exits::fix::kInvalid;
    // Every defined domain is judged too: an autostart conflict blocks here
    // as it does in check.
    auto domains = conn->persistent_domains();
    if (!domains) {
        print_error(domains.error().describe());
        return exits::fix::kInvalid;
    }
    domains->push_back(std::move(*target));
    const PlanOptions plan = opt.judge.plan();
    Progress progress(true);
    auto judged = judge_domains(*conn, std::move(*domains), *host, *validator, plan, progress);
    auto it =
        std::find_if(judged.begin(), judged.end(), [&](const JudgedDomain& d) { return d.info.uuid == target_uuid; });
    if (it == judged.end()) {
        print_error("domain '" + opt.domain + "' disappeared while it was read");
        return exits::fix::kInvalid;
    }
    const JudgedDomain& d = *it;
    if (!opt.quiet) {
        for (const auto& w : host->host.warnings) print_warning(w);
        std::fputs(domain_explanation(d, host->host).c_str(), stderr);
    }
    switch (d.result.status) {
        case FixStatus::Invalid:
        case FixStatus::Blocked: return exit_code_for(d.result.status, false);
        case FixStatus::Ok:
            if (d.result.fixed != *d.info.xml) break;  // pins to record (README "Device pins")
            if (opt.define) {
                if (!opt.quiet) print_note(d.info.name + ": nothing to change, not redefined");
            } else if (!opt.diff && !emit(*d.info.xml, std::nullopt)) {
                return exits::fix::kWriteFailed;
            }
            return exits::fix::kNothingToDo;
        case FixStatus::Fixable: break;
    }
    if (opt.diff) {
        const std::string file = d.info.name + ".xml";
        if (!emit(unified_diff(*d.info.xml, d.result.fixed, "a/" + file, "b/" + file), std::nullopt))
            return exits::fix::kWriteFailed;
    }
    if (opt.define) return define_fixed(*conn, d, *host, *validator, plan, opt.quiet);
    if (!opt.diff && !emit(d.result.fixed, std::nullopt)) return exits::fix::kWriteFailed;
    return exits::fix::kNothingToDo;
}

}  // namespace

void add_fix_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto opt = std::make_shared<FixOptions>();
    auto* cmd = app.add_subcommand(
        "fix", "Complete one domain's IOMMU groups as hostdev-fix does: print the fixed XML, a diff, or redefine it");
    cmd->add_option("DOMAIN", opt->domain, "Domain by name or UUID")->required();
    cmd->add_flag("--define", opt->define,
                  "Redefine the domain with the fixed XML through libvirt (UUID kept, verified after)");
    cmd->add_flag("--diff", opt->diff, "Print a unified diff of the changes instead of the fixed XML");
    cmd->add_flag("-q,--quiet", opt->quiet, "No explanation on stderr");
    add_judge_options(*cmd, opt->judge);
    add_follow_options(*cmd, opt->judge);
    cmd->footer(
        "The domain's inactive definition is judged with every other defined domain (an autostart conflict\n"
        "blocks). Blocked or invalid: nothing is printed on stdout and nothing is defined.\n"
        "Exit codes: 0 fixed (or nothing to change), 2 blocked, 3 invalid, cannot connect, or libvirt refused\n"
        "the definition; with --define, 1 when libvirt's stored definition still needs changes.");
    cmd->callback([opt, &global, &exit_code] { exit_code = run_fix(*opt, global); });
}

}  // namespace hostdev::virt
