// The parts of a libvirt domain definition that hostdev reads: its PCI
// passthrough devices (<hostdev type='pci'>, <interface type='hostdev'>), the guest PCI addresses its devices use, and
// its <features>. The parser treats its input as hostile: no DTD, no entities, bounded size and depth, UTF-8 only, and
// every error names the file and line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/identity.hpp"
#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev {

// A host PCI device the domain passes through, and the element that asks for
// it. Every kind is read into this one model, which the planner, hostdev-fix,
// detach --domain, the hook, boot-config and virt-hostdev use alike:
//   <hostdev mode='subsystem' type='pci'>   (mode may be absent: libvirt's default)
//   <interface type='hostdev'>              (an SR-IOV VF or any PCI NIC; its source
//                                            address must be type='pci')
// USB, SCSI and mdev hostdevs are counted (Domain::other_hostdevs), never moved.
struct PassthroughDevice {
    enum class Element { Hostdev, Interface };
    Element element = Element::Hostdev;       // which element requested the device
    PciAddress source;                        // <source><address domain= bus= slot= function=/>
    bool managed = false;                     // managed='yes' → true; absent or 'no' → false
    std::optional<std::string> driver_name;   // <driver name='vfio'/>
    std::optional<std::string> driver_model;  // <driver model='mlx5_vfio_pci'/> (libvirt 10.0 and later)
    bool has_rom = false;                     // <rom .../>
    std::optional<PciAddress> guest_address;  // <address type='pci' .../> child of the element
    bool guest_multifunction = false;         // multifunction='on' on that guest address
    std::optional<unsigned> boot_order;       // <boot order='N'/>
    std::optional<std::string> alias;         // <alias name=.../>
    int line = 0;                             // 1-based line of the element's start tag
};
std::string_view to_string(PassthroughDevice::Element e);  // "hostdev", "interface"

// A guest PCI address a device asks for: an <address type='pci'> directly
// inside any element under <devices> (controller, disk, interface, video,
// memballoon, hostdev, ...). libvirt refuses a definition in which two devices
// ask for one address ("Attempted double use of PCI Address").
struct GuestPciAddress {
    PciAddress address;
    bool multifunction = false;  // multifunction='on'
    std::string element;         // the device element: "controller", "disk", "hostdev", ...
    int line = 0;                // 1-based line of the <address>
};

// libvirt reads a guest address whose domain, bus and slot are all 0 as "no
// address: choose one" (virDeviceInfoPCIAddressIsWanted), whatever the function.
[[nodiscard]] inline bool libvirt_chooses(const PciAddress& guest) {
    return guest.domain == 0 && guest.bus == 0 && guest.slot == 0;
}

// What the definition says about the guest's operating system, and where it
// says it (--hide-kvm auto hides KVM only from a Windows or unknown guest):
//   Libosinfo    <metadata><libosinfo:libosinfo xmlns:libosinfo=
//                "http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os
//                id='...'/>, matched by namespace URI (any prefix); an id under
//                http://microsoft.com/win/ is Windows, any other id another OS
//   Hyperv       no such metadata, and <features><hyperv> turns on at least one
//                enlightenment (or mode='passthrough'): Windows
//   HypervClock  neither, and <clock><timer name='hypervclock' present='yes'/>:
//                Windows
// Hyper-V enlightenments are what Windows uses on a hypervisor, and libvirt's
// tools (virt-install, virt-manager, through libosinfo) add them only for
// Windows guests. Nothing else is taken as a sign (clock offset='localtime',
// a TPM, Secure Boot firmware or the domain's name are common in Linux
// guests too): the OS stays unknown.
struct GuestOs {
    enum class Kind { Unknown, Windows, Other } kind = Kind::Unknown;
    enum class Source { None, Libosinfo, Hyperv, HypervClock } source = Source::None;
    std::string id;  // the libosinfo os id (Source::Libosinfo)
    int line = 0;    // line of the element it was learnt from
};

// An <interface type='network'><source network='NAME'/>: when the network
// forwards in hostdev mode, libvirt gives it a PCI device of the network's pool
// as the domain starts (network.hpp).
struct NetworkInterface {
    std::string network;  // <source network=...>
    int line = 0;         // line of <interface>
};

// What a passed-through device was when hostdev-fix completed the domain, kept
// in the domain's <metadata> (README "Device pins", the format is a contract):
//   <metadata>
//     <hostdev:pins xmlns:hostdev="urn:hostdev:pins:1">
//       <hostdev:device address="0000:01:00.0" vendor="0x10de" device="0x13c2"
//           subsystem-vendor="0x1043" subsystem-device="0x8508" class="0x030000"
//           revision="0xa1" slot-path="0000:00/01.0/00.0" dsn="..." nvme-serial="..." mac="..."/>
//     </hostdev:pins>
//   </metadata>
// Matched by namespace URI (any prefix); only the first <pins> counts, as
// libvirt keeps only the first element of a namespace. Every attribute but
// address may be absent (unknown, never compared); unknown attributes are ignored.
inline constexpr std::string_view kPinNamespace = "urn:hostdev:pins:1";
struct DevicePin {
    PciAddress address;  // the host address the pin was taken at
    DeviceIdentity identity;
    int line = 0;  // line of its <device> element, 0 when not read from a document
};

// A guest PCI controller (<controller type='pci' index='N' model='M'>): the
// bus N a device's guest <address bus='N'> sits on. What a bus takes, as
// libvirt's address assignment has it (domain_addr.c): a pci-root (i440fx)
// or pci-bridge bus slots 1 to 31, a pcie-root-port or
// pcie-switch-downstream-port bus slot 0 alone; a pcie-root (q35) bus no
// hot-plug.
struct PciController {
    unsigned index = 0;
    std::string model;    // "pci-root", "pcie-root", "pcie-root-port", "pci-bridge", ... ("" when absent)
    bool hotplug = true;  // <target hotplug='off'/> turns it off
    int line = 0;         // line of <controller>
};

struct Domain {
    std::string name, uuid, type;                // type: attribute of <domain> (kvm, qemu)
    std::vector<PassthroughDevice> passthrough;  // every PCI passthrough device, document order
    std::size_t other_hostdevs = 0;              // usb, scsi, scsi_host, mdev, capabilities mode
    // Every guest PCI address of every device, in document order, except those
    // libvirt chooses itself (libvirt_chooses).
    std::vector<GuestPciAddress> guest_pci_addresses;
    std::vector<PciController> pci_controllers;  // document order
    bool has_features = false;
    // <features><kvm><hidden state=.../>: the state value, "" when <hidden> has
    // no state attribute, nullopt when there is no <hidden>.
    std::optional<std::string> kvm_hidden_state;
    GuestOs guest_os;
    std::vector<NetworkInterface> network_interfaces;  // document order
    std::vector<DevicePin> pins;                       // document order, one per address
    [[nodiscard]] const DevicePin* pin_of(const PciAddress& address) const;
};

// Limits applied to every domain definition.
inline constexpr std::size_t kMaxDomainXmlBytes = 32U * 1024U * 1024U;
inline constexpr int kMaxDomainXmlDepth = 256;

// Parses a domain definition. Errors read "FILE:LINE: what is wrong" where a
// line is known (e.g. "vm.xml:3: DTD/DOCTYPE is not allowed in a domain
// definition"), "FILE: what is wrong" otherwise.
Result<Domain> parse_domain_xml(std::string_view text, std::string_view filename);

}  // namespace hostdev
