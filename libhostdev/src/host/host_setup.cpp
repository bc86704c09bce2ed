#include "hostdev/host/host_setup.hpp"

namespace hostdev {

std::string_view to_string(InitramfsTool t) {
    switch (t) {
        case InitramfsTool::None: return "none";
        case InitramfsTool::InitramfsTools: return "initramfs-tools";
        case InitramfsTool::Dracut: return "dracut";
        case InitramfsTool::Mkinitcpio: return "mkinitcpio";
    }
    return "none";
}

std::optional<InitramfsTool> initramfs_tool_from_string(std::string_view text) {
    for (auto t : {InitramfsTool::None, InitramfsTool::InitramfsTools, InitramfsTool::Dracut, InitramfsTool::Mkinitcpio})
        if (to_string(t) == text) return t;
    return std::nullopt;
}

std::string_view to_string(Bootloader b) {
    switch (b) {
        case Bootloader::None: return "none";
        case Bootloader::Grub: return "grub";
        case Bootloader::SystemdBoot: return "systemd-boot";
    }
    return "none";
}

std::optional<Bootloader> bootloader_from_string(std::string_view text) {
    for (auto b : {Bootloader::None, Bootloader::Grub, Bootloader::SystemdBoot})
        if (to_string(b) == text) return b;
    return std::nullopt;
}

}  // namespace hostdev
