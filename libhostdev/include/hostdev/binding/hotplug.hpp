// The executor of a whole-group hot-plug (policy/hotplug.hpp makes the plan):
// the calls run through an interface, in order; when one fails, the calls
// before it are undone in reverse order, each with the undo its step was
// written with. virt-hostdev implements the interface with libvirt; the unit
// tests with a fake that records every call and fails where told.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/result.hpp"
#include "hostdev/policy/hotplug.hpp"

namespace hostdev {

// The four libvirt calls of a hot-plug. A call that fails changes nothing
// that hostdev has to undo: libvirt rolls a failed attach, detach or node
// (re)attach back itself.
class HotplugApi {
public:
    HotplugApi() = default;
    HotplugApi(const HotplugApi&) = delete;
    HotplugApi& operator=(const HotplugApi&) = delete;
    virtual ~HotplugApi() = default;

    // virNodeDeviceDetachFlags(node_device, "vfio", 0): off its host driver, onto vfio-pci.
    virtual Status detach_node(const std::string& node_device) = 0;
    // virNodeDeviceReAttach(node_device): back to a host driver.
    virtual Status reattach_node(const std::string& node_device) = 0;
    // virDomainAttachDeviceFlags(domain, xml, VIR_DOMAIN_AFFECT_LIVE or _CONFIG).
    virtual Status attach_device(const std::string& domain, const std::string& xml, Definition definition) = 0;
    // virDomainDetachDeviceFlags(domain, xml, ...), returning once `source`
    // has left the definition: for the live one, once the guest has released
    // it (bounded; an error when it has not, the unplug request then stays
    // with the guest).
    virtual Status detach_device(const std::string& domain, const std::string& xml, Definition definition,
                                 const PciAddress& source) = 0;
};

// One call through the interface.
Status perform(HotplugApi& api, const HotplugCall& call);

enum class HotplugPhase { Do, Undo };

struct HotplugOutcome {
    std::vector<HotplugCall> done;      // the calls made, in order
    std::optional<std::size_t> failed;  // the step whose call failed
    std::optional<Error> error;         // and why
    std::vector<HotplugCall> undone;    // the undo calls made, in order
    std::vector<Error> undo_errors;     // the undo calls that failed
    std::vector<HotplugCall> left;      // calls made and not undone, in order
    [[nodiscard]] bool ok() const { return !failed; }
    // exits::hotplug: kDone, kFailed (all undone) or kNotUndone.
    [[nodiscard]] int exit_code() const;
};

// Runs the steps in order. When a call fails, the calls before it are undone,
// last first. Unwinding goes on past a failed undo of a node call (the device
// stays where it is, the others can still come back), and stops at a failed
// undo of a device call: a device that stays in the guest (or out of it)
// keeps the rest of its group on vfio-pci, where a running guest needs it.
// `observe` is told of every call made, with its status.
HotplugOutcome run_hotplug(const std::vector<HotplugStep>& steps, HotplugApi& api,
                           const std::function<void(const HotplugCall&, const Status&, HotplugPhase)>& observe = {});

}  // namespace hostdev
