#include "hostdev/host/host_source.hpp"

#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"

namespace hostdev {

Result<Host> open_host(const HostSource& source) {
    if (source.root && source.snapshot) return make_error("give either --root or --host, not both");
    if (source.snapshot) {
        auto host = load_snapshot(*source.snapshot);
        if (host) resolve_names(*host, source.pci_ids);
        return host;
    }
    FsRoot root(source.root.value_or("/"));
    ReadOptions options;
    options.pci_ids = source.pci_ids;
    auto host = read_host(root, options);
    if (!host) {
        return host.error().context("cannot read host under " + root.root().string());
    }
    return host;
}

}  // namespace hostdev
