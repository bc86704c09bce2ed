// A host as libvirt shows it, for virt-hostdev: libvirt's node-device XML
// (virNodeDeviceGetXMLDesc) parsed into the same host model that sysfs gives.
// The checks that only a connection can make (host uses, domains competing
// for a group) are in policy/libvirt_checks.hpp. Everything here works on text
// and values; nothing links libvirt.
//
// What libvirt shows, and so what this model holds:
//  - every PCI function with its ids, vendor/product names, class (older
//    libvirt leaves the class out), bound driver (<driver><name>;
//    absent = unbound), IOMMU group and members, SR-IOV links, NUMA node, and
//    its parent bridge;
//  - the devices below each PCI function: network interfaces, disks (through
//    scsi_host, scsi_target and scsi), USB devices and their interfaces.
// What libvirt does not show: which disk holds the root filesystem, which
// interface carries the default route, which display is the boot display,
// reset methods, driver_override, config-space header types of endpoints.
// Hence (see README "virt-hostdev"):
//  - HostRole::HostKeyboard is set on a PCI function with a USB interface of
//    the boot keyboard class (HID, subclass 1, protocol 1) below it;
//  - network interfaces and disks below a PCI function are recorded as host
//    uses: a warning when a domain would take the function, never a block,
//    because a NIC or NVMe drive meant for a guest has them too whenever it
//    is on its host driver;
//  - RootFilesystem, DefaultRoute and BootVga are never set.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/result.hpp"
#include "hostdev/host/host.hpp"

namespace hostdev {

// One node device, the parts hostdev uses.
struct NodeDevice {
    std::string name;                   // "pci_0000_01_00_0", "net_eth0_52_54_00_12_34_56", ...
    std::string parent;                 // "" when it has none
    std::string capability;             // type of the first <capability>: "pci", "net", "storage", ...
    std::optional<std::string> driver;  // <driver><name>

    // capability "pci": the fields libvirt shows (driver included). Fields
    // libvirt does not show keep the model's "unknown" values.
    std::optional<PciDevice> pci;
    std::vector<PciAddress> group_members;  // <iommuGroup> addresses, as listed
    bool class_known = false;               // <class> was present

    std::string interface;  // capability "net": <interface>
    std::string block;      // capability "storage": <block> (/dev/sda)
    struct UsbClass {
        unsigned cls = 0, subclass = 0, protocol = 0;
    };
    std::optional<UsbClass> usb_interface;  // capability "usb"
};

// Largest node-device XML accepted (libvirt's are a few kilobytes).
inline constexpr std::size_t kMaxNodeDeviceXmlBytes = 1U << 20;

// Parses one <device> document. `source` names it in errors (the node device
// name, or a file). A DOCTYPE is refused; entities are never expanded.
Result<NodeDevice> parse_nodedev_xml(std::string_view xml, std::string_view source);

// The host CPU vendor from virConnectGetCapabilities' XML
// (<host><cpu><vendor>Intel</vendor>), spelled as /proc/cpuinfo spells it
// ("GenuineIntel", "AuthenticAMD", "HygonGenuine"); "" when unknown.
std::string cpu_vendor_from_capabilities(std::string_view capabilities_xml);

// Something the host has on a PCI function, as libvirt shows it now.
struct HostUse {
    enum class Kind { NetworkInterface, Disk, Keyboard } kind = Kind::NetworkInterface;
    std::string name;  // "eth0", "/dev/sda", or the USB device's node name
};
std::string_view to_string(HostUse::Kind kind);  // "network-interface", "disk", "keyboard"

struct LibvirtHost {
    Host host;
    std::map<PciAddress, std::vector<HostUse>> uses;  // by the nearest PCI function above
};

// The host model from every node device of a connection (any order, any
// capability; non-PCI devices give host uses). Devices whose XML could not be
// parsed are passed as errors and become host warnings. Group members that
// libvirt lists but does not describe become devices with only an address and
// a problem, as the sysfs reader does for a group's orphan members. Names are
// libvirt's; the caller resolves the rest (resolve_names).
LibvirtHost host_from_node_devices(const std::vector<Result<NodeDevice>>& devices, std::string_view cpu_vendor);

}  // namespace hostdev
