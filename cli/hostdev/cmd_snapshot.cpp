// hostdev snapshot: capture the host model as a versioned JSON document.
#include <memory>

#include "commands.hpp"
#include "host_source.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_snapshot_command(CLI::App& app, int& exit_code) {
    struct Options {
        std::optional<std::filesystem::path> root;
        std::optional<std::filesystem::path> pci_ids;
        std::optional<std::filesystem::path> out;
    };
    auto opt = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("snapshot",
                                   "Capture this host's PCI topology, IOMMU groups and host roles as JSON; "
                                   "every command reads it back with --host FILE");
    cmd->add_option("--root", opt->root, "Read the host under DIR instead of /")
        ->type_name("DIR")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--pci-ids", opt->pci_ids, "PCI ID database for device names")->type_name("FILE");
    cmd->add_option("-o,--output", opt->out,
                    "Write to FILE instead of standard output (a file is replaced atomically, keeping its "
                    "owner and mode; a device or FIFO is written to)")
        ->type_name("FILE");
    cmd->callback([opt, &exit_code] {
        HostSource source;
        source.root = opt->root;
        source.pci_ids = opt->pci_ids;
        auto host = open_host(source);
        if (!host) {
            print_error(host.error().describe());
            exit_code = exits::tool::kFailure;
            return;
        }
        for (const auto& w : host->warnings) print_warning(w);
        exit_code = emit(write_snapshot(*host), opt->out) ? exits::tool::kOk : exits::tool::kFailure;
    });
}

}  // namespace hostdev::cli
