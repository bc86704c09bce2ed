// hostdev doctor: is this host ready for PCI passthrough? Each check gives a
// verdict (ok, warn, error), what it found, and the fix in words. The checks
// read only the host model (host.hpp), so a snapshot is checked exactly like
// the live host it was taken from.
//
// Check ids (stable; README "hostdev doctor"):
//   iommu                an active IOMMU with IOMMU groups
//   interrupt-remapping  remapped interrupts, without which VFIO refuses devices
//   acs-override         pcie_acs_override= on the kernel command line
//   vfio-modules         vfio, vfio_iommu_type1 and vfio_pci loaded, built in or installed
//   device-reset         per passthrough candidate: a way to reset it
//   device-boot-vga      per candidate: the boot display held by a firmware framebuffer
//   gpu-holders          the boot GPU: fbcon, processes holding its DRM or NVIDIA nodes,
//                        a running display manager (unknown from a snapshot)
//   device-shared-ids    per candidate: vendor:device shared with another device
//   device-left-alone    per mdev parent or vGPU function: why it is never detached (ok)
//   libvirt-hook         the hostdev qemu hook installed for libvirt
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/exit_codes.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/policy/policy.hpp"  // is_passthrough_candidate

namespace hostdev {

enum class CheckVerdict { Ok, Warn, Error };
std::string_view to_string(CheckVerdict v);  // "ok", "warn", "error"

struct Check {
    std::string id;
    CheckVerdict verdict = CheckVerdict::Ok;
    std::string message;               // what was found
    std::string fix;                   // what to do; empty when ok
    std::optional<PciAddress> device;  // per-device checks only
};

struct DoctorReport {
    std::vector<Check> checks;
    [[nodiscard]] int exit_code()
        const;  // exits::doctor: errors with any error, else warnings with any warning, else all ok
};

DoctorReport run_doctor(const Host& host);

// One line per check ("warn  acs-override: ..."), an indented "fix:" line under
// each that is not ok, and a closing count.
std::string format_doctor_text(const DoctorReport& report);
// {"checks": [{"id", "verdict", "message", "fix", "device"?}], "exit_code": N}
std::string format_doctor_json(const DoctorReport& report);

}  // namespace hostdev
