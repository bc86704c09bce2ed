// The host's setup outside sysfs and procfs, from its own files under /etc,
// /boot, /efi and /lib/modules: which initramfs tool and boot loader it is
// configured with (and the boot loader's entries), whether the hostdev hook
// is installed for libvirt, and which vfio kernel modules the running kernel
// has. Named enums for the closed sets; a Host holds them as std::optional,
// where nullopt means unknown (not under the root, or a snapshot from before
// hostdev recorded it) and None means none configured.
#pragma once

#include <optional>
#include <string_view>

namespace hostdev {

class FsRoot;
struct Host;

// Fills the setup facts of `host` (libvirt_hook, initramfs_tool, bootloader,
// boot_entries, vfio_modules) from the files under `root`; every path is
// resolved inside the root. The vfio modules need host.kernel_release (read
// from procfs first); the rest stays unknown when the root has no /etc.
void read_host_setup(const FsRoot& root, Host& host);

enum class InitramfsTool { None, InitramfsTools, Dracut, Mkinitcpio };
std::string_view to_string(InitramfsTool t);  // "none", "initramfs-tools", "dracut", "mkinitcpio"
std::optional<InitramfsTool> initramfs_tool_from_string(std::string_view text);

enum class Bootloader { None, Grub, SystemdBoot };
std::string_view to_string(Bootloader b);  // "none", "grub", "systemd-boot"
std::optional<Bootloader> bootloader_from_string(std::string_view text);

}  // namespace hostdev
