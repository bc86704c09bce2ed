// Device pins against a host (README "Device pins"): is the device at a
// pinned address still the one the domain was made for, where is the pinned
// device now, and the rewrites of hostdev-fix --relocate and --repin. The one
// place that decides drift, for every front (the planner calls it, so
// hostdev-fix, virt-hostdev, detach --domain, boot-config and the hook share it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

// The pin of the device as the host shows it now, at its address.
DevicePin pin_for(const PciDevice& device);

// Where a pinned device is on a host, strongest evidence first: the device
// with the pinned serial; else the device of the pinned model (ids,
// subsystem, class) at the pinned slot path (a renumbered bus); else the only
// device of that model on the host (a card moved to another slot).
struct PinLocation {
    enum class Evidence { Serial, SlotPath, OnlyOne } evidence = Evidence::Serial;
    const PciDevice* device = nullptr;
};
struct PinSearch {
    std::optional<PinLocation> found;
    // The devices of the pinned model that neither serial nor slot path
    // separate (when not found; empty when the host has none).
    std::vector<const PciDevice*> candidates;
};
PinSearch locate_pin(const DevicePin& pin, const Host& host);

// The problem of one pinned request on a host, if any: an error when the
// device at the address is not the pinned one (or there is none), naming the
// address, what the pin expects, what is there (with its host role), the
// fields that differ and where the pinned device is now; a note when fields
// of the pin could not be compared (a host that does not show serials).
std::optional<Problem> pin_problem(const DevicePin& pin, const Host& host);

// What hostdev-fix --relocate and --repin change: edits for the source
// addresses and the pins (the planner runs on the result afterwards), the
// changes in words, and the refusals (errors: nothing is written).
struct PinRewrite {
    DomainEdits edits;
    std::vector<Change> changes;
    std::vector<Problem> problems;
};
// Every drifted pin's element(s) follow the pinned device to where it is now,
// and its pin takes the device's identity there (the slot path of a moved
// card); an ambiguous or missing device is refused, listing the candidates.
PinRewrite relocate_pins(const Domain& domain, const Host& host);
// Every drifted pin is rewritten to the device now at its address (a real
// hardware swap), saying what changed.
PinRewrite repin(const Domain& domain, const Host& host);

}  // namespace hostdev
