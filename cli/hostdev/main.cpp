// hostdev: host PCI topology, IOMMU groups and passthrough management.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "output.hpp"

namespace {

int run(int argc, char** argv) {
    CLI::App app{
        "hostdev: PCI passthrough (VFIO) host manager.\n"
        "Lists IOMMU groups, captures host topology for checking libvirt domains, and moves whole\n"
        "IOMMU groups between host drivers and vfio-pci as a transaction.",
        "hostdev"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("hostdev ") + HOSTDEV_VERSION);
    int exit_code = hostdev::exits::tool::kOk;
    hostdev::cli::add_groups_command(app, exit_code);
    hostdev::cli::add_snapshot_command(app, exit_code);
    hostdev::cli::add_detach_command(app, exit_code);
    hostdev::cli::add_reattach_command(app, exit_code);
    hostdev::cli::add_status_command(app, exit_code);
    hostdev::cli::add_recover_command(app, exit_code);
    hostdev::cli::add_doctor_command(app, exit_code);
    hostdev::cli::add_boot_config_command(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : hostdev::exits::tool::kUsage;
    }
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    using hostdev::exits::tool::kFailure;
    return hostdev::cli::guarded_main(kFailure, kFailure, [&] { return run(argc, argv); });
}
