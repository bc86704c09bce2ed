// hostdev boot-config: the configuration that binds the whole IOMMU groups of
// some devices to vfio-pci at boot, as the manual guides do it by hand:
//   /etc/modprobe.d/vfio.conf   options vfio-pci ids=..., softdep DRIVER pre: vfio-pci
//   kernel command line         intel_iommu=on | amd_iommu=on, iommu=pt, vfio-pci.ids=...
//   initramfs                   the vfio modules, for initramfs-tools, dracut or mkinitcpio
// Groups come from the planner (planner.hpp), so a blocked group is refused
// with hostdev-fix's words. A vendor:device ID shared with a device that stays
// on the host never goes into ids= or vfio-pci.ids= (it would take that device
// too): those devices are bound by address, through a modprobe install line
// for vfio-pci that writes their driver_override before vfio-pci loads.
#pragma once

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/planner.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

struct BootConfigOptions {
    std::optional<InitramfsTool> initramfs;  // nullopt: the one the host uses (never None)
    // Also bind functions of the same slot that sit in another IOMMU group.
    PlanOptions::WholeSlot whole_slot = PlanOptions::WholeSlot::Report;
    // hostdev.conf vfio_variant_drivers: a device whose VFIO driver is a
    // variant one is left to the hook (a note says so), never put in ids=.
    VariantMode vfio_variants = VariantMode::Auto;
};

// One set of devices to bind: a domain definition, or addresses given directly.
struct BootConfigInput {
    std::string source;  // file name, or "command line"
    Domain domain;
};

struct BootDevice {
    PciAddress address;
    std::uint16_t vendor = 0;
    std::uint16_t device = 0;
    std::optional<std::string> driver;  // the driver it is on now
    int group = 0;
    // Devices with the same vendor:device that stay on the host; when there
    // is one, this device is bound by address instead of by ID.
    std::vector<PciAddress> shares_ids_with;
    [[nodiscard]] bool by_address() const { return !shares_ids_with.empty(); }
    [[nodiscard]] std::string ids() const;  // "10de:13c2"
};

// A kernel command line parameter and what to do about it.
struct CmdlineChange {
    enum class Action { Add, Replace, Remove, Present } action = Action::Add;
    std::string param;    // "intel_iommu=on"
    std::string current;  // the value there now, for Replace and Remove ("vfio-pci.ids=10de:1b81")
};

// A file boot-config writes under the root's /etc.
struct ConfigFile {
    enum class Kind {
        ModprobeConf,           // modprobe.d/vfio.conf: the whole file
        DracutConf,             // dracut.conf.d/vfio.conf: the whole file
        InitramfsToolsModules,  // initramfs-tools/modules: lines added to what is there
        MkinitcpioConf,         // mkinitcpio.conf: modules put first in MODULES=(...)
    } kind = Kind::ModprobeConf;
    std::string rel;                         // relative to /etc: "modprobe.d/vfio.conf"
    std::string content;                     // the whole file (ModprobeConf, DracutConf)
    std::vector<std::string> modules;        // modules to have (InitramfsToolsModules, MkinitcpioConf)
    [[nodiscard]] std::string path() const;  // "/etc/modprobe.d/vfio.conf"
};

struct BootConfig {
    std::vector<FixResult> plans;       // one per input, as hostdev-fix reports them
    std::vector<BootDevice> devices;    // to bind at boot, in address order
    std::vector<std::string> ids;       // for ids= and vfio-pci.ids=, in device order
    std::vector<std::string> softdeps;  // modules of the devices' present drivers
    std::vector<std::string> notes;     // things to know, in words
    std::vector<CmdlineChange> cmdline;
    std::optional<Bootloader> bootloader;  // the host's; nullopt unknown
    std::vector<std::string> boot_entries;
    std::optional<InitramfsTool> initramfs;       // chosen tool (never None), nullopt: none found or unknown
    bool initramfs_named = false;                 // chosen with --initramfs
    std::optional<InitramfsTool> host_initramfs;  // what the host has (nullopt unknown)
    std::vector<std::string> initramfs_modules;
    std::vector<ConfigFile> files;  // what --write writes
    [[nodiscard]] bool blocked() const;
};

BootConfig plan_boot_config(const std::vector<BootConfigInput>& inputs, const Host& host,
                            const BootConfigOptions& options = {});

// The configuration and every step, for stdout.
std::string format_boot_config(const BootConfig& config, const Host& host);
// Why it is blocked, in hostdev-fix's words (its explanation), for stderr.
std::string boot_config_explanation(const BootConfig& config, const Host& host);

// The new text of a file, given its current text (nullopt: the file is absent).
Result<std::string> render_config_file(const ConfigFile& file, const std::optional<std::string>& current);
// initramfs-tools/modules: the modules missing from the file appended, one per line.
std::string ensure_initramfs_tools_modules(std::string_view current, const std::vector<std::string>& modules);
// mkinitcpio.conf: the modules first in the last MODULES=(...) (or MODULES="..."),
// in this order, the others kept after them; a MODULES line appended when none.
Result<std::string> ensure_mkinitcpio_modules(std::string_view current, const std::vector<std::string>& modules);

struct WrittenFile {
    enum class Action { Created, Replaced, Unchanged } action = Action::Created;
    std::string path;    // as on the host: "/etc/modprobe.d/vfio.conf"
    std::string backup;  // Replaced: the copy of the old file, as on the host
};

// Writes every file under the root's etc, each atomically (temporary file,
// fsync, rename). A file that would change is first copied to
// FILE.hostdev-backup-STAMP (mode kept); an unchanged file is left alone. When
// a write fails, the files already written are put back as they were and the
// backups made are removed, so the root is as before.
Result<std::vector<WrittenFile>> write_boot_config(const BootConfig& config, const FsRoot& root,
                                                   std::string_view stamp);
// UTC time as "20240131T120501Z", for backup names.
std::string backup_stamp(std::time_t when);

// The kernel module that provides a PCI driver: what sysfs said (Host::driver_modules),
// else the well-known name (xhci_hcd -> xhci_pci, i801_smbus -> i2c_i801), else
// the driver's name with '-' as '_'.
std::string module_of_driver(const Host& host, const std::string& driver);

}  // namespace hostdev
