// The host's setup outside sysfs: which initramfs tool and boot loader it is
// configured with. Named enums for the closed sets; a Host holds them as
// std::optional, where nullopt means unknown (not under the root, or a
// snapshot from before hostdev recorded it) and None means none configured.
#pragma once

#include <optional>
#include <string_view>

namespace hostdev {

enum class InitramfsTool { None, InitramfsTools, Dracut, Mkinitcpio };
std::string_view to_string(InitramfsTool t);  // "none", "initramfs-tools", "dracut", "mkinitcpio"
std::optional<InitramfsTool> initramfs_tool_from_string(std::string_view text);

enum class Bootloader { None, Grub, SystemdBoot };
std::string_view to_string(Bootloader b);  // "none", "grub", "systemd-boot"
std::optional<Bootloader> bootloader_from_string(std::string_view text);

}  // namespace hostdev
