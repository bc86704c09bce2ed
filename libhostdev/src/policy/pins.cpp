#include "hostdev/policy/pins.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "hostdev/base/text.hpp"

namespace hostdev {

DevicePin pin_for(const PciDevice& device) { return DevicePin{device.address, identity_of(device), 0}; }

namespace {

// Of the pinned model, and not another device by its serial.
bool may_be(const DevicePin& pin, const PciDevice& d) {
    const DeviceIdentity id = identity_of(d);
    if (!pin.identity.vendor && !pin.identity.device) return false;
    if (!same_model(pin.identity, id)) return false;
    const IdentityComparison c = compare_identity(pin.identity, id);
    return std::find(c.differ.begin(), c.differ.end(), IdentityField::Serial) == c.differ.end();
}

std::string fields_in_words(const std::vector<IdentityField>& fields) {
    std::vector<std::string> names;
    for (auto f : fields) names.emplace_back(to_string(f));
    return join_sentence(names);
}

std::string with_roles(const PciDevice& d) {
    std::string s = describe_device(d);
    std::vector<std::string> roles;
    for (auto r : d.roles) roles.emplace_back(describe(r));
    if (!roles.empty()) s += ", the " + join_sentence(roles, " and the ");
    return s;
}

std::string addresses(const std::vector<const PciDevice*>& devices) {
    std::vector<std::string> a;
    for (const auto* d : devices) a.push_back(d->address.str());
    return join_sentence(a);
}

// Where the pinned device is now, or why it cannot be told, in words.
std::string whereabouts(const DevicePin& pin, const PinSearch& s) {
    if (s.found) {
        const std::string at = s.found->device->address.str();
        switch (s.found->evidence) {
            case PinLocation::Evidence::Serial: {
                const bool same_slot =
                    pin.identity.slot_path && identity_of(*s.found->device).slot_path == pin.identity.slot_path;
                return "the pinned device (same serial) is now at " + at +
                       (!pin.identity.slot_path ? std::string()
                        : same_slot             ? std::string(", at the pinned slot path: the buses were renumbered")
                                                : ", in another slot: the card was moved");
            }
            case PinLocation::Evidence::SlotPath:
                return "the pinned device is now at " + at + " (same slot path: the buses were renumbered)";
            case PinLocation::Evidence::OnlyOne:
                return "the only device of the pinned model on this host is at " + at + " (slot path " +
                       identity_value(identity_of(*s.found->device), IdentityField::SlotPath) +
                       "): the card was moved to another slot";
        }
    }
    if (s.candidates.empty()) return "no device of the pinned model is on this host";
    return std::to_string(s.candidates.size()) + " devices of the pinned model are on this host (" +
           addresses(s.candidates) + ") and neither serial nor slot path tells which one was pinned at " +
           pin.address.str();
}

// What the user can do, from where the pinned device is and whether a device
// is at the pinned address.
std::string what_to_do(const PinSearch& s, bool device_there) {
    std::vector<std::string> ways;
    if (s.found) ways.emplace_back("follow it with hostdev-fix --relocate");
    if (!s.found && !s.candidates.empty()) ways.emplace_back("name the right one in the domain by hand");
    if (device_there) ways.emplace_back("accept the device there with hostdev-fix --repin");
    if (ways.empty()) return "; is the card still in the machine?";
    return "; " + join_sentence(ways, ", or ");
}

}  // namespace

PinSearch locate_pin(const DevicePin& pin, const Host& host) {
    PinSearch s;
    for (const auto& d : host.devices)
        if (may_be(pin, d)) s.candidates.push_back(&d);
    auto only = [&](auto&& pred) -> const PciDevice* {
        const PciDevice* one = nullptr;
        for (const auto* d : s.candidates) {
            if (!pred(*d)) continue;
            if (one) return nullptr;
            one = d;
        }
        return one;
    };
    if (const auto* d = only([&](const PciDevice& x) { return same_serial(pin.identity, identity_of(x)); })) {
        s.found = PinLocation{PinLocation::Evidence::Serial, d};
    } else if (const auto* p = pin.identity.slot_path ? only([&](const PciDevice& x) {
                   return identity_of(x).slot_path == pin.identity.slot_path;
               })
                                                      : nullptr) {
        s.found = PinLocation{PinLocation::Evidence::SlotPath, p};
    } else if (s.candidates.size() == 1) {
        s.found = PinLocation{PinLocation::Evidence::OnlyOne, s.candidates.front()};
    }
    if (s.found) s.candidates.clear();
    return s;
}

std::optional<Problem> pin_problem(const DevicePin& pin, const Host& host) {
    const std::string expects =
        "the domain's pin (line " + std::to_string(pin.line) + ") expects " + describe_identity(pin.identity);
    const PciDevice* d = host.find(pin.address);
    if (!d) {
        const PinSearch s = locate_pin(pin, host);
        return Problem{Severity::Error, pin.address,
                       pin.address.str() + " is not on this host: no such PCI device; " + expects + "; " +
                           whereabouts(pin, s) + what_to_do(s, false)};
    }
    const DeviceIdentity now = identity_of(*d);
    const IdentityComparison c = compare_identity(pin.identity, now);
    if (!c.matches()) {
        std::vector<std::string> differ;
        for (auto f : c.differ)
            differ.push_back(std::string(to_string(f)) + " " + identity_value(pin.identity, f) + " -> " +
                             identity_value(now, f));
        const std::string msg = pin.address.str() + " is not the device the domain was made for: " + expects +
                                "; what is there now is " + with_roles(*d) + "; fields that differ: " + join(differ);
        PinSearch s = locate_pin(pin, host);
        if (s.found && s.found->device == d) s.found.reset();
        return Problem{Severity::Error, pin.address, msg + "; " + whereabouts(pin, s) + what_to_do(s, true)};
    }
    if (!c.not_compared.empty())
        return Problem{Severity::Note, pin.address,
                       pin.address.str() + ": the pinned " + fields_in_words(c.not_compared) +
                           " not compared: this host's source does not show " +
                           (c.not_compared.size() == 1 ? "it" : "them") +
                           " (a copied tree, a snapshot or node devices without it, or config space read "
                           "without root); the other fields match"};
    return std::nullopt;
}

namespace {

bool drifted(const DevicePin& pin, const Host& host) {
    const PciDevice* d = host.find(pin.address);
    return !d || !compare_identity(pin.identity, identity_of(*d)).matches();
}

// The pins after the rewrite, in the domain's order, with `replaced` swapped in.
std::vector<DevicePin> pins_with(const Domain& domain, const std::map<PciAddress, DevicePin>& replaced) {
    std::vector<DevicePin> out;
    for (const auto& p : domain.pins) {
        auto it = replaced.find(p.address);
        out.push_back(it == replaced.end() ? p : it->second);
    }
    return out;
}

bool in_domain(const Domain& domain, const PciAddress& a) {
    return std::any_of(domain.passthrough.begin(), domain.passthrough.end(),
                       [&](const PassthroughDevice& p) { return p.source == a; });
}

// The pin of `d` for a relocation: its identity now, keeping pinned serials
// the host does not show.
DevicePin relocated_pin(const DevicePin& old, const PciDevice& d) {
    DevicePin p = pin_for(d);
    DeviceSerials& s = p.identity.serials;
    const DeviceSerials& o = old.identity.serials;
    if (!s.dsn) s.dsn = o.dsn;
    if (!s.nvme) s.nvme = o.nvme;
    if (!s.mac) s.mac = o.mac;
    return p;
}

}  // namespace

PinRewrite relocate_pins(const Domain& domain, const Host& host) {
    PinRewrite r;
    std::map<PciAddress, DevicePin> replaced;  // by the old address
    std::set<PciAddress> targets;
    for (const auto& pin : domain.pins) {
        if (!drifted(pin, host) || !in_domain(domain, pin.address)) continue;
        PinSearch s = locate_pin(pin, host);
        if (!s.found) {
            r.problems.push_back(Problem{Severity::Error, pin.address,
                                         "cannot relocate " + pin.address.str() + " (" +
                                             describe_identity(pin.identity) + "): " + whereabouts(pin, s)});
            continue;
        }
        const PciDevice& to = *s.found->device;
        const DevicePin* there = domain.pin_of(to.address);
        const bool taken = in_domain(domain, to.address) && (!there || !drifted(*there, host));
        if (taken || !targets.insert(to.address).second) {
            r.problems.push_back(Problem{Severity::Error, pin.address,
                                         "cannot relocate " + pin.address.str() + " to " + to.address.str() +
                                             ": another device of the domain is pinned there"});
            continue;
        }
        replaced[pin.address] = relocated_pin(pin, to);
        r.edits.move_source.push_back({pin.address, to.address});
        r.changes.push_back(Change{Change::Kind::Relocate, to.address,
                                   "move " + pin.address.str() + " to " + to.address.str() + ": " +
                                       whereabouts(pin, s) + "; now " + describe_device(to)});
    }
    if (!r.problems.empty()) return PinRewrite{{}, {}, std::move(r.problems)};  // nothing is written
    if (!replaced.empty()) r.edits.pins = pins_with(domain, replaced);
    return r;
}

PinRewrite repin(const Domain& domain, const Host& host) {
    PinRewrite r;
    std::map<PciAddress, DevicePin> replaced;
    for (const auto& pin : domain.pins) {
        if (!drifted(pin, host)) continue;
        const PciDevice* d = host.find(pin.address);
        if (!d) {
            r.problems.push_back(Problem{Severity::Error, pin.address,
                                         "cannot repin " + pin.address.str() + ": no PCI device is at that address"});
            continue;
        }
        DevicePin now = pin_for(*d);
        const IdentityComparison c = compare_identity(pin.identity, now.identity);
        std::vector<std::string> what;
        for (auto f : c.differ)
            what.push_back(std::string(to_string(f)) + " " + identity_value(pin.identity, f) + " -> " +
                           identity_value(now.identity, f));
        replaced[pin.address] = now;
        r.changes.push_back(Change{Change::Kind::Repin, pin.address,
                                   "repin " + pin.address.str() + " to the device there now, " + describe_device(*d) +
                                       ": " + join(what, ", ")});
    }
    if (!r.problems.empty()) return PinRewrite{{}, {}, std::move(r.problems)};  // nothing is written
    if (!replaced.empty()) r.edits.pins = pins_with(domain, replaced);
    return r;
}

}  // namespace hostdev
