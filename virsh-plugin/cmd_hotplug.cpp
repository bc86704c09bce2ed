// virt-hostdev attach and detach: whole-group hot-plug. The plan (which
// calls, in which order, with which undo) is the library's
// (policy/hotplug.hpp), and so is the executor that unwinds
// (binding/hotplug.hpp); this file reads what they need from the connection,
// prints, and gives them libvirt.
#include <chrono>
#include <memory>

#include "commands.hpp"
#include "connection.hpp"
#include "hostdev/binding/hotplug.hpp"
#include "hostdev/policy/hotplug.hpp"
#include "judge.hpp"

namespace hostdev::virt {
namespace {

enum class Direction { Attach, Detach };

struct HotplugOptions {
    std::string domain;
    std::vector<std::string> devices;
    AffectFlags affect;
    bool dry_run = false;
    bool whole_slot = false;  // attach only
    unsigned timeout = 30;    // seconds a live unplug waits for the guest
};

void report(const std::vector<Problem>& problems) {
    for (const auto& p : problems) {
        switch (p.severity) {
            case Severity::Error: print_error(p.message); break;
            case Severity::Warning: print_warning(p.message); break;
            case Severity::Note: print_note(p.message); break;
        }
    }
}

int run_hotplug_command(Direction dir, const HotplugOptions& opt, const GlobalOptions& global) {
    std::vector<PciAddress> devices;
    for (const auto& s : opt.devices) {
        auto a = parse_device_argument(s);
        if (!a) {
            print_error(a.error().describe());
            return exits::hotplug::kInvalid;
        }
        devices.push_back(*a);
    }
    if (!single_connection_or_report(global, std::string(dir == Direction::Attach ? "attach" : "detach") +
                                                 " changes one domain on one connection"))
        return exits::hotplug::kInvalid;
    auto conn =
        open_or_report(global.uri(), opt.dry_run ? Connection::Access::ReadOnly : Connection::Access::ReadWrite);
    if (!conn) return exits::hotplug::kInvalid;
    auto dom = conn->lookup(opt.domain);
    if (!dom) {
        print_error(dom.error().describe());
        return exits::hotplug::kInvalid;
    }
    auto target = Connection::hotplug_view(dom->get());
    if (!target) {
        print_error(target.error().describe());
        return exits::hotplug::kInvalid;
    }
    auto affected = resolve_affected(opt.affect, target->active, target->persistent, target->name);
    if (!affected) {
        print_error(affected.error().describe());
        return exits::hotplug::kInvalid;
    }
    auto host = read_host_or_report(*conn, global.pci_ids);
    if (!host) return exits::hotplug::kInvalid;
    // What every other domain holds or defines.
    auto listed = conn->all_domains();
    if (!listed) {
        print_error(listed.error().describe());
        return exits::hotplug::kInvalid;
    }
    std::vector<HotplugDomain> others;
    for (const auto& d : *listed) {
        auto v = Connection::hotplug_view(d.get());
        if (v)
            others.push_back(std::move(*v));
        else
            print_warning(v.error().describe() + "; what it holds is not checked");
    }
    HotplugRequest request{*target, *affected, devices,
                           opt.whole_slot ? PlanOptions::WholeSlot::Inject : PlanOptions::WholeSlot::Report};
    auto plan = dir == Direction::Attach ? plan_attach(request, *host, others) : plan_detach(request, *host, others);
    if (!plan) {
        print_error(plan.error().describe());
        return exits::hotplug::kInvalid;
    }
    for (const auto& w : host->host.warnings) print_warning(w);
    report(plan->problems);
    if (plan->blocked()) {
        print_error(target->name + ": blocked, no call made");
        return exits::hotplug::kBlocked;
    }
    if (opt.dry_run) {
        std::string out;
        for (const auto& s : plan->steps) out += s.call.line() + "\n";
        return emit(out, std::nullopt) ? exits::hotplug::kDone : exits::hotplug::kFailed;
    }
    if (plan->steps.empty()) return exits::hotplug::kDone;

    LibvirtHotplug api(*conn, dom->get(), std::chrono::seconds(opt.timeout));
    // Each call made, on stdout as --dry-run prints it ("undo " in front of
    // the calls that unwind).
    HotplugOutcome outcome =
        run_hotplug(plan->steps, api, [](const HotplugCall& c, const Status& st, HotplugPhase phase) {
            if (!st) return;
            (void)emit((phase == HotplugPhase::Undo ? "undo " : "") + c.line() + "\n", std::nullopt);
        });
    if (outcome.ok()) {
        print_note(target->name + ": " + std::to_string(plan->endpoints.size()) + " endpoint" +
                   (plan->endpoints.size() == 1 ? "" : "s") + " of IOMMU group" +
                   (plan->groups.size() == 1 ? " " : "s ") +
                   [&] {
                       std::string g;
                       for (std::size_t i = 0; i < plan->groups.size(); ++i)
                           g += (i ? ", " : "") + std::to_string(plan->groups[i]);
                       return g;
                   }() +
                   (dir == Direction::Attach ? " attached" : " detached and returned to the host"));
        return exits::hotplug::kDone;
    }
    print_error(outcome.error->describe());
    for (const auto& e : outcome.undo_errors) print_error(e.describe());
    if (outcome.exit_code() == exits::hotplug::kFailed) {
        print_error(target->name + ": " +
                    (outcome.undone.empty()
                         ? std::string("nothing had been changed")
                         : "the " + std::to_string(outcome.undone.size()) + " call" +
                               (outcome.undone.size() == 1 ? "" : "s") + " made before it were undone") +
                    ": the domain and the host are as before");
    } else {
        print_error(target->name + ": undoing stopped; these calls still stand (undo them by hand, in reverse):");
        for (const auto& c : outcome.left) print_error("  " + c.line());
    }
    return outcome.exit_code();
}

void add_hotplug_command(CLI::App& app, Direction dir, const GlobalOptions& global, int& exit_code) {
    auto opt = std::make_shared<HotplugOptions>();
    const bool attach = dir == Direction::Attach;
    auto* cmd = app.add_subcommand(
        attach ? "attach" : "detach",
        attach ? "Hot-plug whole IOMMU groups into a domain: every endpoint off its host driver, then into the guest"
               : "Hot-unplug whole IOMMU groups from a domain, then return every endpoint to its host driver");
    cmd->add_option("DOMAIN", opt->domain, "Domain by name or UUID")->required();
    cmd->add_option("ADDR", opt->devices,
                    "PCI devices: DDDD:BB:SS.F, BB:SS.F or a node device name (pci_0000_01_00_0); the rest of "
                    "each one's IOMMU group comes with it")
        ->required();
    cmd->add_flag("--live", opt->affect.live, "The running guest (VIR_DOMAIN_AFFECT_LIVE)");
    cmd->add_flag("--config", opt->affect.config, "The persistent definition (VIR_DOMAIN_AFFECT_CONFIG)");
    cmd->add_flag("--current", opt->affect.current,
                  "The running guest if it runs, else the persistent definition (the default, as in virsh)");
    cmd->add_flag("--dry-run", opt->dry_run,
                  "Print the libvirt calls, one per line, and make none (the connection is opened read-only)");
    cmd->add_option("--timeout", opt->timeout, "Seconds a live unplug waits for the guest to release each device")
        ->capture_default_str()
        ->type_name("SECONDS");
    if (attach)
        cmd->add_flag("--whole-slot", opt->whole_slot,
                      "Also the functions of the same slot that sit in other IOMMU groups, with their groups (as "
                      "check --whole-slot)");
    if (attach) {
        cmd->footer(
            "Example: virt-hostdev -c qemu:///system attach win10 0000:01:00.0 --live\n"
            "--live, --config and --current as in virsh: --current (the default) is the running guest when the\n"
            "domain runs, else its persistent definition, and excludes the other two. Each call printed names the\n"
            "definition it changes (live, config).\n"
            "The sibling policy of check decides what goes with each device: every endpoint of its IOMMU group;\n"
            "bridges and idle platform functions stay; a member the host needs, a device a running domain holds,\n"
            "or two autostarted definitions sharing a group refuse the attach.\n"
            "Calls: virNodeDeviceDetachFlags(pci_..., \"vfio\") for each endpoint not on a VFIO driver yet, then\n"
            "virDomainAttachDeviceFlags with <hostdev managed='no'> for each endpoint the definition lacks, function "
            "0\n"
            "of each host slot last. managed='no': libvirt leaves the devices on vfio-pci when they are unplugged or\n"
            "the guest stops; virt-hostdev detach returns them. In the running guest each function gets a guest slot\n"
            "of its own (libvirt hot-plugs function 0 only); in the persistent definition the functions of one host\n"
            "slot share a free guest slot (multifunction).\n"
            "On a failure the calls made are undone in reverse: devices detached from the guest, returned to the\n"
            "host.\n"
            "Exit codes: 0 done (or nothing to do), 1 a call failed and everything was undone, 2 blocked (no call\n"
            "made), 3 invalid address, flags or domain, or cannot connect, 4 a call failed and undoing it failed too\n"
            "(the calls that still stand are listed).");
    } else {
        cmd->footer(
            "Example: virt-hostdev -c qemu:///system detach win10 0000:01:00.0 --live\n"
            "--live, --config and --current as in virsh: --current (the default) is the running guest when the\n"
            "domain runs, else its persistent definition, and excludes the other two. Each call printed names the\n"
            "definition it changes (live, config).\n"
            "Calls: virDomainDetachDeviceFlags for each endpoint of the groups the definition has (function 0\n"
            "first; a live unplug waits until the guest has released it, --timeout), then virNodeDeviceReAttach for\n"
            "each endpoint the domain had or that is on a VFIO driver, unless a running guest still holds it.\n"
            "Refused (no call made) where libvirt cannot unplug: a function of a multifunction guest slot, a guest\n"
            "bus with hotplug='off', an <interface type='hostdev'>.\n"
            "On a failure the calls made are undone in reverse: devices back on vfio-pci and in the guest.\n"
            "Exit codes: 0 done (or nothing to do), 1 a call failed and everything was undone, 2 refused (no call\n"
            "made), 3 invalid address, flags or domain, or cannot connect, 4 a call failed and undoing it failed too\n"
            "(the calls that still stand are listed).");
    }
    cmd->callback([opt, dir, &global, &exit_code] { exit_code = run_hotplug_command(dir, *opt, global); });
}

}  // namespace

void add_attach_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    add_hotplug_command(app, Direction::Attach, global, exit_code);
}

void add_detach_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    add_hotplug_command(app, Direction::Detach, global, exit_code);
}

}  // namespace hostdev::virt
