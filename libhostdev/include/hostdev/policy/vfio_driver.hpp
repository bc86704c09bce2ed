// Which VFIO driver a device goes to, in one place: vfio-pci, or a VFIO
// variant driver (mlx5_vfio_pci, hisi_acc_vfio_pci, pds_vfio_pci,
// nvgrace_gpu_vfio_pci, virtio_vfio_pci, ...) as libvirt would bind it, so that
// libvirt's own managed detach finds the device on the driver it wants and
// leaves it there.
//
// libvirt 10.0.0 and later bind a managed <hostdev> to <driver model='X'/> when
// the domain names one, else to the module of the `alias vfio_pci:...` line of
// modules.alias that matches "vfio_" + the device's modalias with the fewest
// `*` (vfio_pci's own catch-all alias matches every device and loses to any
// variant), else to vfio-pci. Older libvirt always binds vfio-pci and ignores
// <driver model>. hostdev.conf `vfio_variant_drivers` says whose rule applies:
//   auto (default)  as the installed libvirt does (its version read from its
//                   library's file name); vfio-pci when that is unknown
//   yes             variant drivers whatever libvirt's version
//   no              always vfio-pci
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hostdev/host/host.hpp"

namespace hostdev {

inline constexpr std::string_view kVfioPci = "vfio-pci";
// The first libvirt release that binds VFIO variant drivers (and reads <driver model>).
inline constexpr LibvirtVersion kLibvirtVariantsSince{10, 0, 0};

enum class VariantMode { Auto, Yes, No };
std::string_view to_string(VariantMode m);  // "auto", "yes", "no"
std::optional<VariantMode> variant_mode_from_string(std::string_view text);

// The best VFIO variant match of a device in the kernel's modules.alias: the
// module, and the alias line that chose it.
struct VfioVariant {
    std::string module;   // "mlx5_vfio_pci"
    std::string pattern;  // "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"
};
// nullopt when the device's modalias or the aliases are unknown, or when only
// vfio_pci's own alias matches. Ties: the first line in modules.alias.
std::optional<VfioVariant> best_vfio_variant(const PciDevice& device, const Host& host);

struct VfioDriverChoice {
    std::string driver;  // "vfio-pci", "mlx5_vfio_pci": driver_override, drivers/NAME, modprobe NAME
    std::string reason;  // why, in a sentence that starts with the device's address
};

// The driver libvirt would bind `device` to, asked for with `model`
// (<driver model=...>, nullopt when absent), on `host`, in `mode`.
VfioDriverChoice choose_vfio_driver(const PciDevice& device, const std::optional<std::string>& model, const Host& host,
                                    VariantMode mode);

// Is `driver` a VFIO driver: vfio-pci (or vfio_pci), a module named by a
// vfio_pci alias of the host, or any *_vfio_pci driver? A device already on
// one is left where it is.
bool is_vfio_driver(std::string_view driver, const Host& host);
// The same without the host's aliases: vfio-pci or *_vfio_pci by name.
bool is_vfio_driver(std::string_view driver);

}  // namespace hostdev
