// The host model: every PCI function with what the kernel says about it, the
// IOMMU groups, and the host facts that decide what may leave the host. Built
// from sysfs (sysfs.hpp) or from a snapshot (snapshot.hpp); both give the same
// model, so every command works on a live host and on a captured one alike.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/identity.hpp"
#include "hostdev/base/pci_address.hpp"
#include "hostdev/host/gpu_holders.hpp"
#include "hostdev/host/host_setup.hpp"

namespace hostdev {

// Roles that make a device something the host itself needs.
enum class HostRole {
    RootFilesystem,  // the controller above the root filesystem
    DefaultRoute,    // the NIC of the default route
    HostKeyboard,    // a USB controller with the host's keyboard
    BootVga,         // the firmware's boot display (boot_vga = 1)
};
std::string_view to_string(HostRole role);  // "root-filesystem", ...
std::optional<HostRole> host_role_from_string(std::string_view text);
std::string_view describe(HostRole role);  // "holds the root filesystem", ...

// PCI class codes hostdev decides by (class and subclass, the upper 16 bits of
// the 24-bit code), named as Linux names them in include/linux/pci_ids.h; the
// values are the PCI-SIG's "PCI Code and ID Assignment Specification", §1.
namespace pci_class {
inline constexpr std::uint8_t kBaseDisplay = 0x03;                  // PCI_BASE_CLASS_DISPLAY
inline constexpr std::uint16_t kMemoryRam = 0x0500;                 // PCI_CLASS_MEMORY_RAM
inline constexpr std::uint16_t kMemoryOther = 0x0580;               // PCI_CLASS_MEMORY_OTHER (PMC and the like)
inline constexpr std::uint16_t kBridgeHost = 0x0600;                // PCI_CLASS_BRIDGE_HOST
inline constexpr std::uint16_t kBridgeIsa = 0x0601;                 // PCI_CLASS_BRIDGE_ISA (LPC)
inline constexpr std::uint16_t kBridgePci = 0x0604;                 // PCI_CLASS_BRIDGE_PCI
inline constexpr std::uint16_t kBridgePciSemiTransparent = 0x0609;  // spec §1, class 06h subclass 09h
inline constexpr std::uint16_t kSerialSmbus = 0x0c05;               // PCI_CLASS_SERIAL_SMBUS
}  // namespace pci_class

// Config-space header layouts (PCI Local Bus Specification 3.0, §6.1; the
// low 7 bits of PCI_HEADER_TYPE in include/uapi/linux/pci_regs.h).
inline constexpr std::uint8_t kHeaderTypeNormal = 0;   // PCI_HEADER_TYPE_NORMAL
inline constexpr std::uint8_t kHeaderTypeBridge = 1;   // PCI_HEADER_TYPE_BRIDGE
inline constexpr std::uint8_t kHeaderTypeCardbus = 2;  // PCI_HEADER_TYPE_CARDBUS

// PCI vendor ids hostdev knows by name (include/linux/pci_ids.h).
inline constexpr std::uint16_t kVendorNvidia = 0x10de;  // PCI_VENDOR_ID_NVIDIA

// What kind of function a device is, for the sibling policy and for display.
enum class DeviceKind {
    Bridge,    // PCI-to-PCI / CardBus bridge (class 0x0604/0x0609 or header type 1/2)
    Platform,  // host bridge, ISA/LPC, memory controller/PMC, SMBus
    Endpoint,  // everything else
};
std::string_view to_string(DeviceKind kind);  // "bridge", "platform", "endpoint"

struct PciDevice {
    PciAddress address;
    std::uint16_t vendor = 0;
    std::uint16_t device = 0;
    std::uint16_t subsystem_vendor = 0;
    std::uint16_t subsystem_device = 0;
    std::uint32_t class_code = 0;  // 24 bits: class, subclass, prog-if
    std::uint8_t revision = 0;
    std::optional<std::uint8_t> header_type;  // layout (0, 1, 2), multifunction bit masked

    std::string vendor_name;  // from pci.ids; empty when unknown
    std::string device_name;  // from pci.ids; empty when unknown
    std::string class_name;   // subclass name, else class name; empty when unknown

    std::optional<std::string> driver;           // bound driver, nullopt when unbound
    std::optional<std::string> driver_override;  // nullopt when "(null)" / unset
    std::optional<int> iommu_group;              // nullopt without IOMMU or link
    std::optional<bool> boot_vga;                // only VGA-class devices have the file
    // Reset methods as the kernel lists them ("flr", "bus", ...). Empty means none;
    // nullopt means the kernel does not say (older than 5.15).
    std::optional<std::vector<std::string>> reset_methods;
    std::optional<PciAddress> physfn;        // set on SR-IOV virtual functions
    std::vector<PciAddress> virtfns;         // set on SR-IOV physical functions
    std::vector<std::string> netdevs;        // network interfaces (sysfs net/ under the device), sorted
    std::vector<PciAddress> parent_bridges;  // nearest first, from the device path
    std::optional<int> numa_node;            // nullopt when -1 or unknown
    // sysfs `modalias` as the kernel writes it
    // ("pci:v000015B3d0000101Esv000015B3sd00000062bc02sc00i00"); nullopt when unknown.
    std::optional<std::string> modalias;
    // A parent of mediated devices (sysfs mdev_supported_types/ present): its
    // mdevs are passed to guests, never the parent itself.
    bool mdev_parent = false;
    // An NVIDIA SR-IOV vGPU function with a vGPU type set (sysfs
    // nvidia/current_vgpu_type, nonzero): the vendor driver serves it as a vGPU.
    std::optional<unsigned> vgpu_type;
    std::vector<HostRole> roles;
    std::vector<std::string> problems;  // what could not be read, and why
    // Serial numbers (base/identity.hpp); read only where ReadOptions asks.
    DeviceSerials serials;
    // Identity fields the source does not show (node devices carry no
    // subsystem ids, revision or serials; an older snapshot may lack a key):
    // unknown, so never compared with a pin.
    std::vector<IdentityField> unread_identity;

    [[nodiscard]] std::uint16_t class_id() const { return static_cast<std::uint16_t>(class_code >> 8); }
    [[nodiscard]] DeviceKind kind() const;
    [[nodiscard]] bool is_bridge() const { return kind() == DeviceKind::Bridge; }
    [[nodiscard]] bool is_platform_function() const { return kind() == DeviceKind::Platform; }
    [[nodiscard]] bool is_display() const { return (class_code >> 16) == pci_class::kBaseDisplay; }
    [[nodiscard]] bool has_role(HostRole role) const;
    // True when the kernel says this device has no way to be reset.
    [[nodiscard]] bool lacks_reset() const { return reset_methods && reset_methods->empty(); }
};

struct IommuGroup {
    int number = 0;
    std::vector<PciAddress> members;  // sorted
};

struct Host {
    bool iommu_present = false;
    std::vector<std::string> iommu_units;  // entries of /sys/class/iommu (dmar0, ivhd0)
    std::string kernel_cmdline;
    std::string cpu_vendor;             // "GenuineIntel", "AuthenticAMD", or empty
    std::vector<PciDevice> devices;     // sorted by address
    std::map<int, IommuGroup> groups;   // by number
    std::vector<std::string> warnings;  // host-level problems met while reading

    // Readiness facts for `hostdev doctor` and `hostdev boot-config`. Each is
    // nullopt when unknown: not readable under the root, or a snapshot written
    // before hostdev recorded it.
    std::optional<std::string> kernel_release;               // /proc/sys/kernel/osrelease
    std::optional<bool> interrupt_remapping;                 // remapped chips in /proc/interrupts
    std::optional<std::vector<std::string>> loaded_modules;  // /proc/modules, sorted
    struct VfioModules {
        std::vector<std::string> available;  // module files under lib/modules/REL/kernel/drivers/vfio
        std::vector<std::string> builtin;    // vfio modules built into the kernel (modules.builtin)
    };
    std::optional<VfioModules> vfio_modules;
    // Firmware framebuffers (efifb, vesafb, simplefb, simpledrm, ...) holding
    // the boot display, from /proc/fb and the platform framebuffer drivers.
    std::optional<std::vector<std::string>> firmware_framebuffers;
    // Module of each PCI driver in use where sysfs says (xhci_hcd -> xhci_pci).
    std::map<std::string, std::string> driver_modules;
    // Live path of the installed hostdev qemu hook; "" when there is none.
    std::optional<std::string> libvirt_hook;
    // The initramfs tool and boot loader configured (host_setup.hpp): None
    // when none is, nullopt when unknown.
    std::optional<InitramfsTool> initramfs_tool;
    std::optional<Bootloader> bootloader;
    std::vector<std::string> boot_entries;  // systemd-boot entry files, live paths, sorted
    // The `alias vfio_pci:...` lines of lib/modules/REL/modules.alias (VFIO
    // variant drivers and vfio_pci itself), in file order; nullopt when unknown.
    std::optional<std::vector<VfioAlias>> vfio_variant_aliases;
    // The installed libvirt's version, from its library's file name (never by
    // running libvirt); nullopt when unknown.
    std::optional<LibvirtVersion> libvirt_version;
    // What holds the display devices (gpu_holders.hpp): consoles,
    // framebuffers, DRM nodes, processes, the display manager. nullopt when
    // not read (no display device, readiness facts skipped, or a snapshot).
    std::optional<GpuHolders> gpu_holders;

    [[nodiscard]] const PciDevice* find(const PciAddress& address) const;
    [[nodiscard]] PciDevice* find(const PciAddress& address);
    [[nodiscard]] const IommuGroup* group_of(const PciAddress& address) const;
    // The device whose network interface is `netdev` (enp3s0f0), or nullptr.
    [[nodiscard]] const PciDevice* find_netdev(std::string_view netdev) const;
    [[nodiscard]] std::vector<const PciDevice*> ungrouped() const;
    // Sorts devices and group members and fills groups from the devices'
    // iommu_group numbers (keeping groups that have no member).
    void normalize();
};

// What the device is (base/identity.hpp), with the fields in unread_identity
// unknown; the slot path from the address and the parent bridges.
DeviceIdentity identity_of(const PciDevice& d);

// A device in words for messages: "0000:01:00.1 (Audio device: NVIDIA Corporation GM204 ...)".
std::string describe_device(const PciDevice& d);

// What turns the IOMMU on for a CPU vendor (/proc/cpuinfo's vendor_id): the
// firmware setting and the kernel parameter. Hygon CPUs use AMD-Vi.
struct IommuVendorFacts {
    std::string_view firmware;  // "VT-d (\"Intel Virtualization ...\")"; both names when unknown
    std::string_view param;     // "intel_iommu" or "amd_iommu"; empty when the vendor is unknown
};
IommuVendorFacts iommu_vendor_facts(std::string_view cpu_vendor);

// The message for a host without IOMMU: names the firmware setting and the
// kernel parameter for this CPU vendor.
std::string no_iommu_advice(const Host& host);

}  // namespace hostdev
