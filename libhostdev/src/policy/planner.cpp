#include "hostdev/policy/planner.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "hostdev/base/text.hpp"
#include "hostdev/policy/handoff.hpp"
#include "hostdev/policy/pins.hpp"
#include "hostdev/policy/policy.hpp"

namespace hostdev {

std::string_view to_string(Verdict v) {
    switch (v) {
        case Verdict::Covered: return "covered";
        case Verdict::StaysOnHost: return "stays-on-host";
        case Verdict::Injected: return "injected";
        case Verdict::Blocked: return "blocked";
    }
    return "blocked";
}

std::string_view to_string(Severity s) {
    switch (s) {
        case Severity::Error: return "error";
        case Severity::Warning: return "warning";
        case Severity::Note: return "note";
    }
    return "error";
}

std::string_view to_string(Change::Kind k) {
    switch (k) {
        case Change::Kind::InjectHostdev: return "inject-hostdev";
        case Change::Kind::SetMultifunction: return "set-multifunction";
        case Change::Kind::HideKvm: return "hide-kvm";
        case Change::Kind::Pin: return "pin";
        case Change::Kind::Relocate: return "relocate";
        case Change::Kind::Repin: return "repin";
    }
    return "inject-hostdev";
}

PlanOptions PlanOptions::from_flags(std::string_view hide_kvm, bool whole_slot, std::string_view pin) {
    PlanOptions o;
    o.pins = pin == "never" ? Pins::Never : Pins::Write;
    o.hide_kvm = hide_kvm == "always" ? HideKvm::Always : hide_kvm == "never" ? HideKvm::Never : HideKvm::Auto;
    o.whole_slot = whole_slot ? WholeSlot::Inject : WholeSlot::Report;
    return o;
}

bool Plan::blocked() const {
    return std::any_of(problems.begin(), problems.end(),
                       [](const Problem& p) { return p.severity == Severity::Error; });
}

namespace {

bool is_nvidia_display(const PciDevice& d) { return d.vendor == kVendorNvidia && d.is_display(); }

// Where the planner learnt the guest's OS, in words.
std::string guest_os_source(const GuestOs& os) {
    const std::string line = ", line " + std::to_string(os.line);
    switch (os.source) {
        case GuestOs::Source::Libosinfo: return "libosinfo id " + os.id + line;
        case GuestOs::Source::Hyperv: return "Hyper-V enlightenments in <features><hyperv>" + line;
        case GuestOs::Source::HypervClock: return "the hypervclock timer" + line;
        case GuestOs::Source::None: break;
    }
    return "no libosinfo metadata and no Hyper-V enlightenments";
}

class Planner {
public:
    Planner(const Domain& domain, const Host& host, const PlanOptions& options)
        : domain_(domain), host_(host), options_(options) {}

    Plan run() {
        for (const auto& h : domain_.passthrough) {
            if (!in_domain_.count(h.source)) in_domain_[h.source] = &h;
        }
        // Devices listed twice.
        std::set<PciAddress> seen;
        for (const auto& h : domain_.passthrough) {
            if (!seen.insert(h.source).second)
                add(Severity::Warning, h.source,
                    h.source.str() + " is listed more than once in the domain (line " + std::to_string(h.line) +
                        "); libvirt will refuse to start it");
        }
        for (const auto& [addr, h] : in_domain_) queue_.push_back(Request{addr, h->managed});
        // Keep document order for the requests.
        std::stable_sort(queue_.begin(), queue_.end(), [&](const Request& a, const Request& b) {
            return in_domain_.at(a.address)->line < in_domain_.at(b.address)->line;
        });
        while (!queue_.empty()) {
            Request r = queue_.front();
            queue_.pop_front();
            plan_request(r);
        }
        assign_guest_addresses();
        plan_handoff_words();
        plan_kvm_hidden();
        if (options_.pins == PlanOptions::Pins::Write) plan_pins();
        return std::move(plan_);
    }

private:
    struct Request {
        PciAddress address;
        bool managed = false;
    };

    void add(Severity s, std::optional<PciAddress> d, std::string msg) {
        plan_.problems.push_back(Problem{s, d, std::move(msg)});
    }

    bool assigned(const PciAddress& a) const { return in_domain_.count(a) || injected_.count(a); }

    void plan_request(const Request& r) {
        if (planned_.count(r.address)) return;
        planned_.insert(r.address);
        if (const DevicePin* pin = domain_.pin_of(r.address)) {
            if (auto p = pin_problem(*pin, host_)) {
                const bool refused = p->severity == Severity::Error;
                plan_.problems.push_back(std::move(*p));
                if (refused) return;
            }
        }
        const PciDevice* d = host_.find(r.address);
        if (!d) {
            add(Severity::Error, r.address,
                r.address.str() + " is not on this host: no such PCI device (check the address, or the host snapshot)");
            return;
        }
        if (auto refusal = refusal_of_request(*d)) {
            add(Severity::Error, r.address, *refusal);
            return;
        }
        if (!d->iommu_group) {
            add(Severity::Error, r.address,
                describe_device(*d) + " has no IOMMU group: " +
                    (host_.iommu_present ? std::string("the kernel did not place it in one") : no_iommu_advice(host_)));
            return;
        }
        plan_group(*d->iommu_group, r);
        plan_slot(*d, r);
    }

    void plan_group(int number, const Request& r) {
        auto existing = group_index_.find(number);
        if (existing != group_index_.end()) {
            auto& g = plan_.groups[existing->second];
            if (std::find(g.requested.begin(), g.requested.end(), r.address) == g.requested.end())
                g.requested.push_back(r.address);
            return;
        }
        group_index_[number] = plan_.groups.size();
        GroupPlan& g = plan_.groups.emplace_back();
        g.group = number;
        g.requested.push_back(r.address);
        auto it = host_.groups.find(number);
        if (it == host_.groups.end()) return;
        const std::string group_s = "IOMMU group " + std::to_string(number);
        for (const auto& a : it->second.members) {
            const PciDevice* m = host_.find(a);
            MemberPlan mp;
            mp.address = a;
            mp.requested = in_domain_.count(a) != 0;
            if (mp.requested) {
                const PassthroughDevice& p = *in_domain_.at(a);
                mp.element = p.element;
                mp.verdict = Verdict::Covered;
                mp.reason = p.element == PassthroughDevice::Element::Interface
                                ? "requested by <interface type='hostdev'> (line " + std::to_string(p.line) + ")"
                                : "a <hostdev> of the domain";
            } else if (injected_.count(a)) {
                mp.verdict = Verdict::Injected;
                mp.reason = "added for another device of the domain";
            } else if (!m) {
                mp.verdict = Verdict::Blocked;
                mp.reason = "member of " + group_s + " that the host does not describe";
            } else if (Departure dep = departure_of(*m); dep.kind != Departure::Kind::Goes) {
                mp.verdict = dep.kind == Departure::Kind::MayStay ? Verdict::StaysOnHost : Verdict::Blocked;
                mp.reason = std::move(dep.reason);
            } else {
                mp.verdict = Verdict::Injected;
                mp.reason = "endpoint in " + group_s + " with " + r.address.str() +
                            (m->driver ? " (now on " + *m->driver + ")" : std::string(" (no driver)")) +
                            ": the group is only viable when every endpoint is assigned";
                inject(*m, r, mp.reason);
            }
            if (mp.verdict == Verdict::Blocked)
                add(Severity::Error, a,
                    (m ? describe_device(*m) : a.str()) + " shares " + group_s + " with " + r.address.str() +
                        " and cannot leave the host: " + mp.reason);
            g.members.push_back(std::move(mp));
        }
    }

    void inject(const PciDevice& m, const Request& r, const std::string& reason) {
        // A pin the domain kept for this address must fit the device injected
        // there when pins are left as they are (with Pins::Write it is replaced).
        if (const DevicePin* pin = domain_.pin_of(m.address); pin && options_.pins == PlanOptions::Pins::Never)
            if (auto p = pin_problem(*pin, host_); p && p->severity == Severity::Error) plan_.problems.push_back(*p);
        injected_[m.address] = r.managed;
        InjectedHostdev ih;
        ih.source = m.address;
        ih.managed = r.managed;
        plan_.edits.inject.push_back(ih);
        plan_.changes.push_back(Change{
            Change::Kind::InjectHostdev, m.address,
            "add <hostdev> for " + describe_device(m) + ", managed='" + (r.managed ? "yes" : "no") + "': " + reason});
    }

    // The single-GPU handoff (handoff.hpp), said as the hook will do it: from
    // the host's holder facts when it has them, else the boot display alone.
    void plan_handoff_words() {
        std::vector<PciAddress> moving;
        for (const auto& g : plan_.groups)
            for (const auto& m : g.members)
                if (m.verdict == Verdict::Covered || m.verdict == Verdict::Injected) moving.push_back(m.address);
        if (!host_.gpu_holders) {
            for (const auto& a : moving)
                if (const PciDevice* d = host_.find(a); d && d->has_role(HostRole::BootVga) && needs_handoff(host_, *d))
                    add(Severity::Warning, a,
                        describe_device(*d) +
                            " is the boot display: the hook hands the host's console and display to the guest "
                            "when it starts and gives them back when it stops (single-GPU passthrough; what "
                            "holds the GPU is read then: run hostdev-fix on the host itself to see the plan)");
            return;
        }
        const HandoffPlan hp = plan_handoff(host_, moving, options_.handoff);
        if (hp.refusal) {
            std::optional<PciAddress> at;
            for (const auto& a : moving)
                if (const PciDevice* d = host_.find(a); d && needs_handoff(host_, *d)) at = a;
            add(Severity::Error, at, *hp.refusal);
            return;
        }
        if (!hp.handoff) return;
        const PciDevice* gpu = host_.find(hp.handoff->gpu);
        bool first = true;
        for (auto& line : describe_handoff(*hp.handoff)) {
            if (first && gpu) line = describe_device(*gpu) + line.substr(hp.handoff->gpu.str().size());
            add(Severity::Warning, hp.handoff->gpu, std::move(line));
            first = false;
        }
    }

    // Functions of the same slot in other groups: a note, or injected with --whole-slot.
    void plan_slot(const PciDevice& d, const Request& r) {
        for (const auto& o : host_.devices) {
            if (!o.address.same_slot(d.address) || o.address == d.address) continue;
            if (o.iommu_group == d.iommu_group || assigned(o.address)) continue;
            if (options_.whole_slot == PlanOptions::WholeSlot::Inject && !refusal_of_request(o)) {
                inject(o, r, "function of the same slot as " + d.address.str() + " (--whole-slot)");
                queue_.push_back(Request{o.address, r.managed});
                planned_.erase(o.address);
            } else if (!planned_notes_.count(o.address)) {
                planned_notes_.insert(o.address);
                add(Severity::Note, o.address,
                    describe_device(o) + " is another function of the same slot as " + d.address.str() + " but in " +
                        (o.iommu_group ? "IOMMU group " + std::to_string(*o.iommu_group)
                                       : std::string("no IOMMU group")) +
                        "; not added (use --whole-slot to add it)");
            }
        }
    }

    // Where an injected function goes in the guest. It shares the guest slot of
    // the domain's hostdev from its host slot (the anchor), on a function no
    // device of the domain uses: its host function number when free, else the
    // lowest free one. libvirt refuses a definition in which two devices use
    // one guest address, whatever the devices are. When the slot cannot take
    // it, the address is left for libvirt to assign, with a note.
    void assign_guest_addresses() {
        std::map<PciAddress, const GuestPciAddress*> used;
        for (const auto& g : domain_.guest_pci_addresses) used.emplace(g.address, &g);
        // First every function that can have its host function number gets it,
        // so that one taken address moves only its own function.
        std::map<PciAddress, PciAddress> taken_here;  // guest address -> injected function holding it
        for (const auto& ih : plan_.edits.inject)
            if (auto natural = natural_guest_address(ih.source); natural && !used.count(*natural))
                taken_here.emplace(*natural, ih.source);
        for (auto& ih : plan_.edits.inject) {
            std::string where = place_injected(ih, used, taken_here);
            for (auto& c : plan_.changes)
                if (c.kind == Change::Kind::InjectHostdev && c.device == ih.source) c.description += "; " + where;
        }
        mark_shared_function_zero();
    }

    // The first hostdev of the domain from the same host slot as `source`
    // that has a guest address, else the first without one.
    const PassthroughDevice* anchor_for(const PciAddress& source) const {
        const PassthroughDevice* without = nullptr;
        for (const auto& h : domain_.passthrough) {
            if (!h.source.same_slot(source)) continue;
            if (h.guest_address && !libvirt_chooses(*h.guest_address)) return &h;
            if (!without) without = &h;
        }
        return without;
    }

    // Whether `guest` is the guest address of a passthrough device of the
    // domain (a <hostdev> or <interface type='hostdev'>, whose address the
    // editor can mark multifunction).
    bool is_passthrough_guest(const PciAddress& guest) const {
        return std::any_of(domain_.passthrough.begin(), domain_.passthrough.end(),
                           [&](const PassthroughDevice& h) { return h.guest_address == guest; });
    }

    // The anchor's guest slot with the host function number of `source`.
    std::optional<PciAddress> natural_guest_address(const PciAddress& source) const {
        const PassthroughDevice* anchor = anchor_for(source);
        if (!anchor || !anchor->guest_address || libvirt_chooses(*anchor->guest_address)) return std::nullopt;
        PciAddress a = *anchor->guest_address;
        a.function = source.function;
        return a;
    }

    // Sets ih.guest_address (or leaves it empty) and says where, in words.
    std::string place_injected(InjectedHostdev& ih, const std::map<PciAddress, const GuestPciAddress*>& used,
                               std::map<PciAddress, PciAddress>& taken_here) {
        const PassthroughDevice* anchor = anchor_for(ih.source);
        if (!anchor) return "guest address left for libvirt to assign (no <hostdev> of the domain is in its host slot)";
        if (!anchor->guest_address || libvirt_chooses(*anchor->guest_address))
            return "guest address left for libvirt to assign (" + anchor->source.str() + " has none to share)";
        PciAddress slot = *anchor->guest_address;
        slot.function = 0;
        const std::string slot_s = slot.str().substr(0, slot.str().size() - 2);
        auto is_free = [&](PciAddress a) {
            auto t = taken_here.find(a);
            return !used.count(a) && (t == taken_here.end() || t->second == ih.source);
        };
        auto leave = [&](const std::string& why) {
            add(Severity::Note, ih.source,
                "no guest address for " + ih.source.str() + ": " + why + "; libvirt will assign one (guest slot " +
                    slot_s + " of " + anchor->source.str() + " cannot take it)");
            return "guest address left for libvirt to assign (" + why + ")";
        };
        // Another function in a slot needs multifunction='on' on function 0;
        // hostdev can set it only on a passthrough element of the domain.
        if (auto f0 = used.find(slot); f0 != used.end() && !f0->second->multifunction && !is_passthrough_guest(slot))
            return leave("function 0 of guest slot " + slot_s + " is a <" + f0->second->element + "> (line " +
                         std::to_string(f0->second->line) + ") without multifunction='on'");
        std::optional<PciAddress> pick;
        PciAddress natural = slot;
        natural.function = ih.source.function;
        if (is_free(natural)) pick = natural;
        for (std::uint8_t f = 0; !pick && f < 8; ++f) {
            PciAddress a = slot;
            a.function = f;
            if (is_free(a)) pick = a;
        }
        if (!pick) return leave("all eight functions of guest slot " + slot_s + " are in use");
        taken_here[*pick] = ih.source;
        ih.guest_address = *pick;
        ih.guest_multifunction = pick->function == 0;
        std::string why = "guest address " + pick->str() + ", function " + std::to_string(pick->function) +
                          " of the guest slot of " + anchor->source.str();
        if (*pick != natural) {
            auto other = used.find(natural);
            why += other != used.end() ? " (" + natural.str() + " is the <" + other->second->element + "> on line " +
                                             std::to_string(other->second->line) + ")"
                                       : " (" + natural.str() + " is given to another injected function)";
        }
        return why;
    }

    // Function 0 of a shared guest slot that is a <hostdev> of the domain
    // gets multifunction='on'.
    void mark_shared_function_zero() {
        for (const auto& ih : plan_.edits.inject) {
            if (!ih.guest_address) continue;
            for (const auto& h : domain_.passthrough) {
                if (!h.guest_address || h.guest_multifunction || h.guest_address->function != 0) continue;
                if (!h.guest_address->same_slot(*ih.guest_address)) continue;
                auto& v = plan_.edits.set_guest_multifunction;
                if (std::find(v.begin(), v.end(), h.source) != v.end()) continue;
                v.push_back(h.source);
                plan_.changes.push_back(Change{Change::Kind::SetMultifunction, h.source,
                                               "set multifunction='on' on the guest address of " + h.source.str() +
                                                   ": guest slot " + h.guest_address->short_str().substr(0, 5) +
                                                   " now holds several functions"});
            }
        }
    }

    // The first NVIDIA display device the domain assigns, asked for or added.
    const PciDevice* assigned_nvidia_display() const {
        for (const auto& [a, _] : in_domain_)
            if (const PciDevice* d = host_.find(a); d && is_nvidia_display(*d)) return d;
        for (const auto& [a, _] : injected_)
            if (const PciDevice* d = host_.find(a); d && is_nvidia_display(*d)) return d;
        return nullptr;
    }

    // --hide-kvm auto hides KVM from an NVIDIA display device in a Windows or
    // unknown guest, never in a guest known to be another OS; an explicit
    // state is kept. always and never do as they say.
    void plan_kvm_hidden() {
        if (options_.hide_kvm == PlanOptions::HideKvm::Never) return;
        const PciDevice* nvidia = assigned_nvidia_display();
        const bool always = options_.hide_kvm == PlanOptions::HideKvm::Always;
        if (!nvidia && !always) return;
        if (domain_.kvm_hidden_state == "on") return;
        const std::optional<PciAddress> where = nvidia ? std::optional(nvidia->address) : std::nullopt;
        if (!always && domain_.guest_os.kind == GuestOs::Kind::Other) {
            add(Severity::Note, where,
                describe_device(*nvidia) + ": <kvm><hidden state='on'/> not added: the guest is not Windows (" +
                    guest_os_source(domain_.guest_os) +
                    "); hiding KVM hides its paravirtual interfaces, kvmclock among them, which Linux guests rely "
                    "on, and NVIDIA's drivers allow GeForce passthrough since R465 (2021) (use --hide-kvm always to "
                    "hide it anyway)");
            return;
        }
        if (domain_.kvm_hidden_state && !always) {
            add(Severity::Note, where,
                "the domain sets <kvm><hidden state='" + *domain_.kvm_hidden_state +
                    "'/> explicitly; kept (use --hide-kvm always to turn it on for the NVIDIA driver)");
            return;
        }
        plan_.edits.ensure_kvm_hidden = true;
        std::string why = "add <features><kvm><hidden state='on'/> (--hide-kvm always)";
        if (nvidia && domain_.guest_os.kind == GuestOs::Kind::Windows)
            why = "add <features><kvm><hidden state='on'/>: the domain assigns NVIDIA GPU " + nvidia->address.str() +
                  " to a Windows guest (" + guest_os_source(domain_.guest_os) +
                  "), whose NVIDIA drivers before R465 stop with Code 43 when they see KVM";
        else if (nvidia && domain_.guest_os.kind == GuestOs::Kind::Unknown)
            why = "add <features><kvm><hidden state='on'/>: the domain assigns NVIDIA GPU " + nvidia->address.str() +
                  " and its guest OS is unknown (" + guest_os_source(domain_.guest_os) +
                  "); a Windows guest's NVIDIA drivers before R465 stop with Code 43 when they see KVM (a Linux "
                  "guest loses kvmclock: give it libosinfo metadata, or use --hide-kvm never)";
        plan_.changes.push_back(Change{Change::Kind::HideKvm, where, std::move(why)});
    }

    const Domain& domain_;
    // The pins of every device the domain passes through once edited: kept
    // where the domain has one, taken from the host for the others; pins of
    // addresses the domain no longer uses are dropped.
    void plan_pins() {
        std::set<PciAddress> wanted;
        for (const auto& [a, h] : in_domain_) wanted.insert(a);
        for (const auto& [a, managed] : injected_) wanted.insert(a);
        std::vector<DevicePin> pins;
        bool changed = false;
        for (const auto& a : wanted) {
            // A pin speaks only for a device of the domain: one left behind
            // for an address the domain no longer used is not reused for a
            // device injected there now.
            if (const DevicePin* p = domain_.pin_of(a); p && in_domain_.count(a)) {
                pins.push_back(*p);
            } else if (const PciDevice* d = host_.find(a)) {
                pins.push_back(pin_for(*d));
                changed = true;
                plan_.changes.push_back(
                    Change{Change::Kind::Pin, a,
                           "pin " + describe_device(*d) + " as " + describe_identity(pins.back().identity)});
            }
        }
        for (const auto& p : domain_.pins) {
            if (in_domain_.count(p.address)) continue;
            if (wanted.count(p.address)) {
                changed = true;  // replaced above by the device injected there
                continue;
            }
            changed = true;
            plan_.changes.push_back(
                Change{Change::Kind::Pin, p.address,
                       "drop the pin of " + p.address.str() + ": no device of the domain has this address"});
        }
        if (changed) plan_.edits.pins = std::move(pins);
    }

    const Host& host_;
    const PlanOptions& options_;
    Plan plan_;
    std::map<PciAddress, const PassthroughDevice*> in_domain_;
    std::map<PciAddress, bool> injected_;
    std::set<PciAddress> planned_;
    std::set<PciAddress> planned_notes_;
    std::map<int, std::size_t> group_index_;
    std::deque<Request> queue_;
};

}  // namespace

Plan plan_domain(const Domain& domain, const Host& host, const PlanOptions& options) {
    return Planner(domain, host, options).run();
}

}  // namespace hostdev
