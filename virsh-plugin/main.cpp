// virt-hostdev: hostdev's checks over the libvirt API, for every defined
// domain of a connection, local (qemu:///system) or remote
// (qemu+ssh://HOST/system), with the host's PCI topology read through
// libvirt's node-device API.
#include <cstdio>

#include "commands.hpp"
#include "connection.hpp"
#include "hostdev/base/fileio.hpp"
#include "hostdev/domain/schema.hpp"
#include "hostdev/policy/fix.hpp"

namespace hostdev::virt {

PlanOptions JudgeOptions::plan() const {
    PlanOptions o = PlanOptions::from_flags(hide_kvm, whole_slot, pin);
    if (relocate) o.follow = PlanOptions::Follow::Relocate;
    if (repin) o.follow = PlanOptions::Follow::Repin;
    return o;
}

void add_judge_options(CLI::App& cmd, JudgeOptions& options) {
    cmd.add_option("--hide-kvm", options.hide_kvm,
                   "Add <kvm><hidden state='on'/>: auto (NVIDIA GPUs in Windows or unknown guests), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->capture_default_str();
    cmd.add_flag("--whole-slot", options.whole_slot,
                 "Also add functions of the same slot that sit in another IOMMU group");
    cmd.add_option("--pin", options.pin,
                   "Device pins (README \"Device pins\"): auto records each passed-through device's identity "
                   "where a pin is missing, never leaves pins as they are; existing pins are checked either way")
        ->check(CLI::IsMember({"auto", "never"}))
        ->capture_default_str();
    cmd.add_option("--schema-dir", options.schema_dir,
                   "libvirt's RelaxNG schemas (default: " + SchemaValidator::default_dir().string() + ")")
        ->type_name("DIR");
}

void add_follow_options(CLI::App& cmd, JudgeOptions& options) {
    auto* relocate = cmd.add_flag("--relocate", options.relocate,
                                  "Follow pinned devices that moved: rewrite each drifted source address to where "
                                  "the pinned device is now (as hostdev-fix --relocate)");
    auto* repin = cmd.add_flag("--repin", options.repin,
                               "Accept the devices now at the domain's addresses: rewrite each drifted pin");
    relocate->excludes(repin);
}

bool single_connection_or_report(const GlobalOptions& global, std::string_view what, std::string_view advice) {
    if (!global.fleet()) return true;
    std::string msg = std::string(what) + ": give one -c, not " + std::to_string(global.uris.size());
    if (!advice.empty()) msg += ", and " + std::string(advice);
    print_error(msg);
    return false;
}

}  // namespace hostdev::virt

namespace {

int run(int argc, char** argv) {
    using namespace hostdev::virt;
    init_libvirt();
    CLI::App app{
        "virt-hostdev: hostdev's PCI passthrough checks over the libvirt API.\n\n"
        "Reads the host's PCI devices and IOMMU groups through libvirt's node-device API and judges every\n"
        "defined domain's <hostdev> devices as hostdev-fix does, on this host (qemu:///system) or on a\n"
        "remote one (qemu+ssh://HOST/system), and hot-plugs whole IOMMU groups (attach, detach). Only reads,\n"
        "unless `fix --define`, `attach` or `detach` is given.",
        "virt-hostdev"};
    app.set_version_flag("--version", std::string("virt-hostdev ") + HOSTDEV_VERSION);
    app.require_subcommand(1);
    app.fallthrough();
    GlobalOptions global;
    app.add_option("-c,--connect", global.uris,
                   "libvirt URI (default: libvirt's own choice, as virsh). Repeat it for a fleet: check and groups "
                   "then run on every host, concurrently, and print one report per host in the order given and a "
                   "summary (see `check --help`)")
        ->type_name("URI")
        ->allow_extra_args(false);
    app.add_option("--jobs", global.jobs,
                   "With several -c: how many hosts are read at once, each over its own connection")
        ->type_name("N")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app.add_option("--pci-ids", global.pci_ids,
                   "PCI ID database for names libvirt does not give (default: $HOSTDEV_PCI_IDS or "
                   "/usr/share/misc/pci.ids)")
        ->type_name("FILE");
    app.footer(
        "Seen through libvirt: PCI functions with driver and IOMMU group, and the network interfaces, disks\n"
        "and USB keyboards below them. Not seen: which disk holds the root filesystem, which NIC carries the\n"
        "default route, the boot display. A USB keyboard blocks its controller as in hostdev-fix; interfaces\n"
        "and disks are warnings. For the full policy, run `hostdev snapshot` on the host and\n"
        "`hostdev-fix --host SNAPSHOT`.\n"
        "Exit codes of check and fix: as hostdev-fix (0 ok, 1 check found changes, 2 blocked, 3 invalid or\n"
        "cannot connect, 4 output not written). groups and snapshot: 0 ok, 1 failure. attach and detach: 0 done,\n"
        "1 failed and undone, 2 blocked, 3 invalid or cannot connect, 4 failed and not all undone.\n"
        "With several -c (check, groups; fix and snapshot take one): the highest exit code of any host, an\n"
        "unreachable host counting as a failed connection (check 3, groups 1).");
    int exit_code = hostdev::exits::virt::kOk;
    add_check_command(app, global, exit_code);
    add_fix_command(app, global, exit_code);
    add_groups_command(app, global, exit_code);
    add_snapshot_command(app, global, exit_code);
    add_attach_command(app, global, exit_code);
    add_detach_command(app, global, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : hostdev::exits::virt::kUsage;
    }
    return exit_code;
}

}  // namespace

// One guard: an escaped exception is "invalid input" as for check and fix;
// a failed write to stdout at least "failure".
int main(int argc, char** argv) {
    hostdev::cli::set_program_name("virt-hostdev");
    return hostdev::cli::guarded_main(hostdev::exits::fix::kInvalid, hostdev::exits::virt::kFailure,
                                      [&] { return run(argc, argv); });
}
