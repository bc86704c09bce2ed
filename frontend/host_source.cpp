#include "host_source.hpp"

namespace hostdev::cli {

void add_host_options(CLI::App& cmd, HostSource& source) {
    auto* root = cmd.add_option("--root", source.root, "Read the host under DIR (DIR/sys, DIR/proc) instead of /")
                     ->type_name("DIR")
                     ->check(CLI::ExistingDirectory);
    auto* host =
        cmd.add_option("--host", source.snapshot, "Read the host from a snapshot written by `hostdev snapshot`")
            ->type_name("FILE")
            ->check(CLI::ExistingFile);
    root->excludes(host);
    cmd.add_option("--pci-ids", source.pci_ids,
                   "PCI ID database for device names (default: $HOSTDEV_PCI_IDS or /usr/share/misc/pci.ids)")
        ->type_name("FILE");
}

}  // namespace hostdev::cli
