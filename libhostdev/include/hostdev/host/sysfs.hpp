// Reads the host model from sysfs and procfs under an FsRoot; the host's setup
// (boot loader, initramfs, hook, kernel modules) comes from host_setup.hpp,
// which read_host calls. Every path is resolved inside the root, attributes
// are never read through a link out of their device directory, and nothing
// opened under a root other than "/" can block (a FIFO reads as empty). A bad
// or partial tree never fails the whole read: what cannot be read is
// recorded as a device problem or a host warning, and every device is listed
// with what is known. Only a root without any PCI device directory is an
// error.
#pragma once

#include <filesystem>
#include <optional>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/host/pciids.hpp"

namespace hostdev {

struct ReadOptions {
    // pci.ids to name devices with; nullopt: PciIds::default_path().
    std::optional<std::filesystem::path> pci_ids;
    enum class Names { Resolve, Skip } names = Names::Resolve;
    // Reader threads for large hosts (256 functions or more); 0: one per CPU, at most 4.
    unsigned threads = 0;
    // The readiness facts of Host (kernel release, interrupt remapping, modules,
    // framebuffers, libvirt hook, initramfs, bootloader): a caller that only
    // moves devices may skip them and leave them unknown.
    enum class Readiness { Read, Skip } readiness = Readiness::Read;
    // Serial numbers (PciDevice::serials): the PCIe Device Serial Number in
    // config space beyond the header, an NVMe controller's serial, a network
    // interface's permanent MAC. Skip leaves them unknown (a caller reads them
    // later for the devices it needs with read_serials).
    enum class Serials { Read, Skip } serials = Serials::Read;
};

Result<Host> read_host(const FsRoot& root, const ReadOptions& options = {});

// Reads PciDevice::serials of the devices at `addresses` under `root` (every
// device when empty); what cannot be read stays unknown, never an error.
void read_serials(const FsRoot& root, Host& host, const std::vector<PciAddress>& addresses);

// Fills names that are still empty from the database; leaves known ones.
void resolve_names(Host& host, const PciIds& ids);
// Loads the database for just the vendors of this host and resolves names; a
// missing database is a host warning, not an error.
void resolve_names(Host& host, const std::optional<std::filesystem::path>& pci_ids);

}  // namespace hostdev
