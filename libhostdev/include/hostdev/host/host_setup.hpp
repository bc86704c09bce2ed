// The host's setup outside sysfs and procfs, from its own files under /etc,
// /boot, /efi and /lib/modules: which initramfs tool and boot loader it is
// configured with (and the boot loader's entries), whether the hostdev hook
// is installed for libvirt, and which vfio kernel modules the running kernel
// has. Named enums for the closed sets; a Host holds them as std::optional,
// where nullopt means unknown (not under the root, or a snapshot from before
// hostdev recorded it) and None means none configured.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace hostdev {

class FsRoot;
struct Host;

// Fills the setup facts of `host` (libvirt_hook, initramfs_tool, bootloader,
// boot_entries, vfio_modules) from the files under `root`; every path is
// resolved inside the root. The vfio modules need host.kernel_release (read
// from procfs first); the rest stays unknown when the root has no /etc.
void read_host_setup(const FsRoot& root, Host& host);

// Reads only what choosing a VFIO driver needs (vfio_variant_aliases and
// libvirt_version; the kernel release too when unknown): the binder's read,
// which skips the other setup facts. read_host_setup calls it.
void read_vfio_variant_setup(const FsRoot& root, Host& host);

// /proc/sys/kernel/osrelease when it can name a directory of lib/modules.
std::optional<std::string> read_kernel_release(const FsRoot& root);

// One `alias vfio_pci:PATTERN MODULE` line of modules.alias.
struct VfioAlias {
    std::string pattern;  // "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*", as written
    std::string module;   // "mlx5_vfio_pci"
    bool operator==(const VfioAlias&) const = default;
};

// libvirt's release: MAJOR.MINOR.MICRO (libvirt.so.0.MAJOR*1000+MINOR.MICRO).
struct LibvirtVersion {
    unsigned major = 0, minor = 0, micro = 0;
    auto operator<=>(const LibvirtVersion&) const = default;
    [[nodiscard]] std::string str() const;  // "9.0.0"
};

enum class InitramfsTool { None, InitramfsTools, Dracut, Mkinitcpio };
std::string_view to_string(InitramfsTool t);  // "none", "initramfs-tools", "dracut", "mkinitcpio"
std::optional<InitramfsTool> initramfs_tool_from_string(std::string_view text);

enum class Bootloader { None, Grub, SystemdBoot };
std::string_view to_string(Bootloader b);  // "none", "grub", "systemd-boot"
std::optional<Bootloader> bootloader_from_string(std::string_view text);

}  // namespace hostdev
