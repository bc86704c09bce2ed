// Whole-group hot-plug (virt-hostdev attach and detach): the plan of libvirt
// calls that moves every endpoint of the requested devices' IOMMU groups into
// a domain or out of it, each call written once with its undo. libvirt runs
// no hook for virDomainAttachDeviceFlags or virDomainDetachDeviceFlags, so
// nothing else moves the rest of a group. Values in, calls out: nothing here
// links libvirt; binding/hotplug.hpp runs the calls through an interface that
// virt-hostdev implements with libvirt.
//
// attach (the sibling policy of the planner, on the groups of the requested
// devices; blocked when a member cannot leave the host, when a running domain
// holds a member, or when two autostarted definitions would share a group):
//   1. virNodeDeviceDetachFlags(pci_..., "vfio")  for each endpoint not on a
//      VFIO driver yet          undo: virNodeDeviceReAttach
//   2. virDomainAttachDeviceFlags(<hostdev managed='no'>, live), for each
//      endpoint the live definition lacks; then the same for config
//                                undo: virDomainDetachDeviceFlags, same flags
// managed='no': the devices are on vfio-pci already (step 1), and libvirt
// must not return one function to the host when it is unplugged while the
// rest of its group is still in the guest; detach returns them.
// Function 0 of each host slot is attached last. Guest addresses: libvirt
// hot-plugs only function 0 of a guest slot (virDomainPCIAddressEnsureAddr:
// "Only PCI device addresses with function=0 are supported"), so in the live
// definition each function gets a slot of its own, chosen by libvirt. In the
// persistent definition, the functions of one host slot that are new to it
// share one free guest slot (multifunction='on' on function 0) when the
// definition has one (a free pcie-root-port, or a free slot of a pci-root or
// pci-bridge bus); else libvirt chooses.
//
// detach (blocked when libvirt could not unplug a device: a function of a
// multifunction guest slot, a bus without hot-plug, an <interface
// type='hostdev'>):
//   1. virDomainDetachDeviceFlags(live) for each endpoint the live definition
//      has (function 0 first); returns once the guest has released it
//                                undo: virDomainAttachDeviceFlags with the element as the domain had it
//   2. the same for config
//   3. virNodeDeviceReAttach for each endpoint the domain had, or that is on a
//      VFIO driver, that no running domain holds afterwards
//                                undo: virNodeDeviceDetachFlags(vfio)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

// virsh's --live, --config and --current (VIR_DOMAIN_AFFECT_LIVE, _CONFIG,
// _CURRENT), as given.
struct AffectFlags {
    bool live = false, config = false, current = false;
};

// The definitions a hot-plug changes.
struct Affected {
    bool live = false, config = false;
};

// virsh's rules: --current excludes --live and --config; none given is
// --current; --current is the live definition of a running domain, else the
// persistent one. --live needs a running domain, --config a persistent one
// (libvirt: "domain is not running", "transient domains do not have any
// persistent config"). The error names the domain and what to give instead.
Result<Affected> resolve_affected(const AffectFlags& flags, bool active, bool persistent, std::string_view domain);

// An ADDR argument: DDDD:BB:SS.F, BB:SS.F (domain 0) or a node device name
// (pci_DDDD_BB_SS_F). The error names the argument and the spellings.
Result<PciAddress> parse_device_argument(std::string_view text);

enum class Definition { Live, Config };
std::string_view to_string(Definition d);  // "live", "config"

// One libvirt call.
struct HotplugCall {
    enum class Kind {
        DetachNode,    // virNodeDeviceDetachFlags(node_device, "vfio", 0)
        ReattachNode,  // virNodeDeviceReAttach(node_device)
        AttachDevice,  // virDomainAttachDeviceFlags(domain, xml, definition)
        DetachDevice,  // virDomainDetachDeviceFlags(domain, xml, definition)
    } kind = Kind::DetachNode;
    PciAddress device;        // the host device it is about
    std::string node_device;  // node calls: "pci_0000_01_00_1"
    std::string domain;       // device calls: the domain's name
    std::string xml;          // device calls: the <hostdev> element
    Definition definition = Definition::Live;

    // The call on one line, as --dry-run prints it:
    //   virNodeDeviceDetachFlags pci_0000_01_00_0 vfio
    //   virDomainAttachDeviceFlags gpu <hostdev ...>...</hostdev> live
    [[nodiscard]] std::string line() const;
    bool operator==(const HotplugCall&) const = default;
};
std::string_view to_string(HotplugCall::Kind k);  // the libvirt function's name

struct HotplugStep {
    HotplugCall call;
    HotplugCall undo;
};

// A domain as libvirt shows it.
struct HotplugDomain {
    std::string name;
    bool active = false;
    bool persistent = true;
    bool autostart = false;
    std::optional<std::string> live_xml;    // when active: virDomainGetXMLDesc(0)
    std::optional<std::string> config_xml;  // when persistent: VIR_DOMAIN_XML_INACTIVE
};

struct HotplugRequest {
    HotplugDomain domain;
    Affected affected;
    std::vector<PciAddress> devices;  // as given (repeats are dropped)
    // attach --whole-slot: the functions of a requested device's slot that
    // sit in other IOMMU groups come too, with their groups (as check's
    // --whole-slot); else each is a note.
    PlanOptions::WholeSlot whole_slot = PlanOptions::WholeSlot::Report;
};

struct HotplugPlan {
    std::vector<int> groups;            // the IOMMU groups of the requested devices, in order
    std::vector<PciAddress> endpoints;  // what moves with them, in group order
    // Errors block (no call is made); warnings and notes inform. Notes say
    // what moves, what stays and where it goes in the guest.
    std::vector<Problem> problems;
    std::vector<HotplugStep> steps;  // in order; empty when blocked or when there is nothing to do
    [[nodiscard]] bool blocked() const;
};

// The plans. `others` are the connection's other domains (the one of the
// request, by name, is skipped). An Error when a definition the request
// needs is missing or does not parse (invalid: nothing is called).
Result<HotplugPlan> plan_attach(const HotplugRequest& request, const LibvirtHost& host,
                                const std::vector<HotplugDomain>& others);
Result<HotplugPlan> plan_detach(const HotplugRequest& request, const LibvirtHost& host,
                                const std::vector<HotplugDomain>& others);

// The <hostdev mode='subsystem' type='pci'> element for a device, on one
// line: managed='no' (or 'yes'), its source address and, when given, its
// guest address (with multifunction='on' when asked).
struct HostdevElement {
    PciAddress source;
    bool managed = false;
    std::optional<PciAddress> guest;
    bool multifunction = false;
};
std::string hostdev_xml(const HostdevElement& e);

}  // namespace hostdev
