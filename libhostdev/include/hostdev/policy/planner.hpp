// The planner: for each PCI passthrough device of a domain (<hostdev>, <interface type='hostdev'>), its IOMMU group and
// a verdict for every member, by the sibling policy (DESIGN.md, "Sibling policy"):
//   covered        already a <hostdev> (or <interface type='hostdev'>) of the domain
//   stays-on-host  a bridge, or a platform function with no driver bound
//   injected       any other endpoint: added as a <hostdev>
//   blocked        a platform function with a driver, or an endpoint the host
//                  needs (root filesystem, default route, host keyboard)
// It also decides the guest addresses of injected functions (a free function
// of the guest slot of the domain's hostdev from the same host slot, never an
// address another device of the domain uses; else none, for libvirt to
// assign, with a note), whether KVM must be hidden, and the problems (errors
// block, warnings and notes inform).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hostdev/domain/domain.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/policy/handoff.hpp"

namespace hostdev {

enum class Verdict { Covered, StaysOnHost, Injected, Blocked };
std::string_view to_string(Verdict v);  // "covered", "stays-on-host", "injected", "blocked"

enum class Severity { Error, Warning, Note };
std::string_view to_string(Severity s);  // "error", "warning", "note"

struct Problem {
    Severity severity = Severity::Error;
    std::optional<PciAddress> device;
    std::string message;
};

struct MemberPlan {
    PciAddress address;
    Verdict verdict = Verdict::Covered;
    std::string reason;
    bool requested = false;  // a <hostdev> of the domain as given
    // The element that requested it (its first when listed twice); nullopt
    // when not requested.
    std::optional<PassthroughDevice::Element> element;
};

struct GroupPlan {
    int group = 0;
    std::vector<PciAddress> requested;  // the domain's devices in this group
    std::vector<MemberPlan> members;    // every member, in address order
};

// A change the plan makes to the document, in words.
struct Change {
    // Pin: a device pin recorded or dropped (README "Device pins"); Relocate:
    // a source address follows its pinned device (--relocate); Repin: a pin
    // rewritten to the device now at its address (--repin).
    enum class Kind { InjectHostdev, SetMultifunction, HideKvm, Pin, Relocate, Repin } kind;
    std::optional<PciAddress> device;
    std::string description;
};
// "inject-hostdev", "set-multifunction", "hide-kvm", "pin", "relocate", "repin"
std::string_view to_string(Change::Kind k);

struct PlanOptions {
    enum class HideKvm { Auto, Always, Never } hide_kvm = HideKvm::Auto;
    enum class WholeSlot { Report, Inject } whole_slot = WholeSlot::Report;
    // Write: the edits record a pin for every device the domain passes
    // through (kept where one exists, dropped for addresses it no longer
    // uses). Never: pins are left as they are. Pins that exist are checked
    // either way.
    enum class Pins { Write, Never } pins = Pins::Never;
    // hostdev-fix --relocate / --repin (fix.hpp): drifted pins are followed or
    // rewritten before the plan is made; the planner itself ignores this.
    enum class Follow { None, Relocate, Repin } follow = Follow::None;
    // hostdev.conf's single-GPU handoff settings (handoff.hpp), for the plan's words.
    HandoffSettings handoff;
    // From the command-line spellings: --hide-kvm auto|always|never (anything
    // else is auto), --whole-slot and --pin auto|never (anything else is auto:
    // write pins).
    static PlanOptions from_flags(std::string_view hide_kvm, bool whole_slot, std::string_view pin = "auto");
};

struct Plan {
    std::vector<GroupPlan> groups;  // in order of first request
    std::vector<Problem> problems;
    std::vector<Change> changes;
    DomainEdits edits;
    [[nodiscard]] bool blocked() const;
};

Plan plan_domain(const Domain& domain, const Host& host, const PlanOptions& options = {});

}  // namespace hostdev
