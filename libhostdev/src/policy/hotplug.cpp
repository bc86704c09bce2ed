#include "hostdev/policy/hotplug.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "hostdev/base/text.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/policy/libvirt_checks.hpp"
#include "hostdev/policy/policy.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

Result<Affected> resolve_affected(const AffectFlags& flags, bool active, bool persistent, std::string_view domain) {
    const std::string d = "domain '" + std::string(domain) + "'";
    if (flags.current && (flags.live || flags.config))
        return make_error(
            "--current excludes --live and --config (as in virsh): give --current alone, or --live "
            "and/or --config");
    Affected a;
    if (!flags.live && !flags.config) {
        // --current, given or not: what libvirt's VIR_DOMAIN_AFFECT_CURRENT means.
        if (active)
            a.live = true;
        else
            a.config = true;
        return a;
    }
    a.live = flags.live;
    a.config = flags.config;
    if (a.live && !active)
        return make_error(d +
                          " is not running: --live changes a running guest (--config changes its persistent "
                          "definition)");
    if (a.config && !persistent)
        return make_error(d +
                          " is transient: it has no persistent definition for --config to change (--live "
                          "changes the running guest)");
    return a;
}

Result<PciAddress> parse_device_argument(std::string_view text) {
    if (text.rfind("pci_", 0) == 0) return PciAddress::from_nodedev_name(text);
    auto a = PciAddress::parse(text);
    if (a) return a;
    return a.error().reworded(a.error().message + "; or a node device name such as pci_0000_01_00_0");
}

std::string_view to_string(Definition d) { return d == Definition::Live ? "live" : "config"; }

std::string_view to_string(HotplugCall::Kind k) {
    switch (k) {
        case HotplugCall::Kind::DetachNode: return "virNodeDeviceDetachFlags";
        case HotplugCall::Kind::ReattachNode: return "virNodeDeviceReAttach";
        case HotplugCall::Kind::AttachDevice: return "virDomainAttachDeviceFlags";
        case HotplugCall::Kind::DetachDevice: return "virDomainDetachDeviceFlags";
    }
    return "virNodeDeviceDetachFlags";
}

namespace {

// An element on one line: the white space between tags that holds a line
// break (indentation) goes.
std::string one_line(std::string_view xml) {
    std::string out;
    out.reserve(xml.size());
    for (std::size_t i = 0; i < xml.size();) {
        const char c = xml[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            std::size_t j = i;
            bool newline = false;
            while (j < xml.size() && (xml[j] == ' ' || xml[j] == '\t' || xml[j] == '\n' || xml[j] == '\r')) {
                newline = newline || xml[j] == '\n';
                ++j;
            }
            const bool between_tags = !out.empty() && out.back() == '>' && j < xml.size() && xml[j] == '<';
            if (!(newline && between_tags)) out.append(xml.substr(i, j - i));
            i = j;
            continue;
        }
        out.push_back(c);
        ++i;
    }
    return out;
}

std::string address_attributes(const PciAddress& a) {
    return "domain='0x" + hex(a.domain, 4) + "' bus='0x" + hex(a.bus, 2) + "' slot='0x" + hex(a.slot, 2) +
           "' function='0x" + hex(a.function, 1) + "'";
}

}  // namespace

std::string HotplugCall::line() const {
    std::string s(to_string(kind));
    switch (kind) {
        case Kind::DetachNode: return s + " " + node_device + " vfio";
        case Kind::ReattachNode: return s + " " + node_device;
        case Kind::AttachDevice:
        case Kind::DetachDevice: break;
    }
    return s + " " + domain + " " + one_line(xml) + " " + std::string(to_string(definition));
}

std::string hostdev_xml(const HostdevElement& e) {
    std::string s = std::string("<hostdev mode='subsystem' type='pci' managed='") + (e.managed ? "yes" : "no") +
                    "'><source><address " + address_attributes(e.source) + "/></source>";
    if (e.guest)
        s += "<address type='pci' " + address_attributes(*e.guest) + (e.multifunction ? " multifunction='on'" : "") +
             "/>";
    return s + "</hostdev>";
}

bool HotplugPlan::blocked() const {
    return std::any_of(problems.begin(), problems.end(),
                       [](const Problem& p) { return p.severity == Severity::Error; });
}

namespace {

using Doc = std::optional<DomainDocument>;

Result<Doc> parse_definition(const std::optional<std::string>& xml, const std::string& name, Definition which) {
    if (!xml) return Doc();
    auto doc = DomainDocument::parse(
        *xml, "domain '" + name + "' (" + (which == Definition::Live ? "live" : "persistent") + " definition)");
    if (!doc) return doc.error();
    return Doc(std::move(*doc));
}

struct Definitions {
    Doc live, config;
};

// The definitions a request needs: the live one whenever the domain runs
// (what the guest holds now), the persistent one when it is changed.
Result<Definitions> read_definitions(const HotplugRequest& r) {
    const std::string& name = r.domain.name;
    if (r.affected.live && !r.domain.live_xml)
        return make_error("domain '" + name + "': its live definition was not given (is it running?)");
    if (r.affected.config && !r.domain.config_xml)
        return make_error("domain '" + name + "': its persistent definition was not given (is it transient?)");
    // The documents keep views into the request's text: pass the request's
    // own strings (or an empty one that outlives them), never a copy.
    static const std::optional<std::string> kNone;
    const std::optional<std::string>& live_xml = r.domain.active ? r.domain.live_xml : kNone;
    const std::optional<std::string>& config_xml = r.affected.config ? r.domain.config_xml : kNone;
    Definitions d;
    auto live = parse_definition(live_xml, name, Definition::Live);
    if (!live) return live.error();
    d.live = std::move(*live);
    auto config = parse_definition(config_xml, name, Definition::Config);
    if (!config) return config.error();
    d.config = std::move(*config);
    return d;
}

std::optional<std::size_t> index_of(const Doc& doc, const PciAddress& a) {
    if (!doc) return std::nullopt;
    const auto& p = doc->domain().passthrough;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i].source == a) return i;
    return std::nullopt;
}

std::vector<PciAddress> without_repeats(const std::vector<PciAddress>& in) {
    std::vector<PciAddress> out;
    for (const auto& a : in)
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    return out;
}

bool on_vfio(const Host& host, const PciAddress& a) {
    const PciDevice* d = host.find(a);
    return d && d->driver && is_vfio_driver(*d->driver, host);
}

std::string named(const Host& host, const PciAddress& a) {
    const PciDevice* d = host.find(a);
    return d ? describe_device(*d) : a.str();
}

std::string addresses(const std::vector<PciAddress>& list) {
    std::vector<std::string> s;
    for (const auto& a : list) s.push_back(a.str());
    return join_sentence(s);
}

HotplugCall node_call(HotplugCall::Kind kind, const PciAddress& a) {
    HotplugCall c;
    c.kind = kind;
    c.device = a;
    c.node_device = a.nodedev_name();
    return c;
}

HotplugCall device_call(HotplugCall::Kind kind, const PciAddress& a, const std::string& domain, std::string xml,
                        Definition definition) {
    HotplugCall c;
    c.kind = kind;
    c.device = a;
    c.domain = domain;
    c.xml = std::move(xml);
    c.definition = definition;
    return c;
}

// The order of the calls that plug devices in: host slot by host slot, the
// function that is (or becomes) function 0 of its guest slot last, as QEMU
// needs for a multifunction hot-add. `zero` says which that is.
template <typename IsZero>
std::vector<PciAddress> plug_order(std::vector<PciAddress> list, IsZero zero) {
    std::stable_sort(list.begin(), list.end(), [&](const PciAddress& a, const PciAddress& b) {
        return std::make_tuple(a.domain, a.bus, a.slot, zero(a), a.function) <
               std::make_tuple(b.domain, b.bus, b.slot, zero(b), b.function);
    });
    return list;
}

// Where in the guest a device of the persistent definition goes.
struct Placement {
    PciAddress guest;
    bool multifunction = false;
};

// A free guest slot of the persistent definition (function 0), not in
// `taken`: a pcie-root-port or pcie-switch-downstream-port with nothing on
// its bus, else a free slot of a pci-root (from slot 2: libvirt keeps slot 1
// of i440fx for the PIIX3), pci-bridge or pcie-to-pci-bridge bus (from slot
// 1). nullopt when there is none.
std::optional<PciAddress> free_guest_slot(const Domain& d, const std::set<PciAddress>& taken) {
    std::set<std::pair<unsigned, unsigned>> used;  // (bus, slot) of guest PCI domain 0
    std::set<unsigned> used_buses;
    auto use = [&](const PciAddress& a) {
        if (a.domain != 0) return;
        used.insert({a.bus, a.slot});
        used_buses.insert(a.bus);
    };
    for (const auto& g : d.guest_pci_addresses) use(g.address);
    for (const auto& t : taken) use(t);
    std::vector<PciController> ctrls = d.pci_controllers;
    std::stable_sort(ctrls.begin(), ctrls.end(),
                     [](const PciController& a, const PciController& b) { return a.index < b.index; });
    for (const auto& c : ctrls) {
        if (c.index > 0xff) continue;
        if ((c.model == "pcie-root-port" || c.model == "pcie-switch-downstream-port") && !used_buses.count(c.index))
            return PciAddress{0, static_cast<std::uint8_t>(c.index), 0, 0};
    }
    for (const auto& c : ctrls) {
        if (c.index > 0xff) continue;
        unsigned first = 0;
        if (c.model == "pci-root")
            first = 2;
        else if (c.model == "pci-bridge" || c.model == "pcie-to-pci-bridge")
            first = 1;
        else
            continue;
        for (unsigned slot = first; slot <= 0x1f; ++slot)
            if (!used.count({c.index, slot}))
                return PciAddress{0, static_cast<std::uint8_t>(c.index), static_cast<std::uint8_t>(slot), 0};
    }
    return std::nullopt;
}

// The guest addresses of the devices new to the persistent definition: the
// functions of one host slot (two or more, none of that host slot in the
// definition yet) share a free guest slot; the others are left to libvirt.
std::map<PciAddress, Placement> config_layout(const Domain& config, const std::vector<PciAddress>& fresh,
                                              const std::string& domain, std::vector<Problem>& problems) {
    std::map<PciAddress, std::vector<PciAddress>> slots;  // host slot (function 0) -> its new functions
    for (const auto& a : fresh) {
        PciAddress s = a;
        s.function = 0;
        slots[s].push_back(a);
    }
    std::map<PciAddress, Placement> out;
    std::set<PciAddress> taken;
    for (auto& [host_slot, functions] : slots) {
        if (functions.size() < 2) continue;
        const PciAddress slot = host_slot;  // a lambda cannot capture a structured binding (C++20 in clang 14)
        const std::string slot_s = slot.str().substr(0, slot.str().size() - 2);
        const bool in_definition = std::any_of(config.passthrough.begin(), config.passthrough.end(),
                                               [&](const PassthroughDevice& p) { return p.source.same_slot(slot); });
        if (in_definition) {
            problems.push_back(Problem{Severity::Note, functions.front(),
                                       "the persistent definition of '" + domain + "' already has a function of " +
                                           slot_s + ": guest addresses of " + addresses(functions) +
                                           " left for libvirt to assign"});
            continue;
        }
        auto guest = free_guest_slot(config, taken);
        if (!guest) {
            problems.push_back(Problem{Severity::Note, functions.front(),
                                       "no free guest slot in the persistent definition of '" + domain +
                                           "' (a pcie-root-port, or a slot of "
                                           "a pci-root or pci-bridge bus) for the functions of " +
                                           slot_s + ": libvirt gives each of " + addresses(functions) +
                                           " a guest slot of its own"});
            continue;
        }
        std::sort(functions.begin(), functions.end());
        const bool has_zero = functions.front().function == 0;
        std::uint8_t next = 0;
        for (const auto& f : functions) {
            PciAddress g = *guest;
            g.function = has_zero ? f.function : next++;
            out[f] = Placement{g, g.function == 0};
            taken.insert(g);
        }
        const std::string guest_s = guest->str().substr(0, guest->str().size() - 2);
        problems.push_back(Problem{Severity::Note, functions.front(),
                                   addresses(functions) + " share guest slot " + guest_s +
                                       " in the persistent definition of '" + domain +
                                       "' (multifunction='on' on its function 0, attached last)"});
    }
    return out;
}

// The IOMMU groups of a domain's devices on this host, for the checks across
// domains (policy/libvirt_checks.hpp).
DomainAssignment assignment_from(std::string name, bool autostart, const Domain& d, const Host& host) {
    DomainAssignment a;
    a.name = std::move(name);
    a.autostart = autostart;
    for (const auto& p : d.passthrough) {
        const PciDevice* dev = host.find(p.source);
        if (dev && dev->iommu_group) {
            if (std::find(a.groups.begin(), a.groups.end(), *dev->iommu_group) == a.groups.end())
                a.groups.push_back(*dev->iommu_group);
        } else {
            a.ungrouped.push_back(p.source);
        }
    }
    return a;
}

// Whether a device is a member of the groups (or one of the devices without a group).
struct Groups {
    std::set<int> numbers;
    std::set<PciAddress> loose;
    [[nodiscard]] bool touch(const Host& host, const PciAddress& a) const {
        if (loose.count(a)) return true;
        const PciDevice* d = host.find(a);
        return d && d->iommu_group && numbers.count(*d->iommu_group);
    }
};

// The members of the groups that other running domains hold (their live
// definitions have them), with the domain that holds each. A live
// definition that cannot be read is a warning.
std::map<PciAddress, std::string> held_by_others(const HotplugRequest& r, const Groups& groups, const Host& host,
                                                 const std::vector<HotplugDomain>& others,
                                                 std::vector<Problem>& problems) {
    std::map<PciAddress, std::string> held;
    for (const auto& o : others) {
        if (o.name == r.domain.name || !o.active || !o.live_xml) continue;
        auto d = parse_domain_xml(*o.live_xml, "domain '" + o.name + "' (live definition)");
        if (!d) {
            problems.push_back(
                Problem{Severity::Warning, std::nullopt,
                        "cannot tell what running domain '" + o.name + "' holds: " + d.error().describe()});
            continue;
        }
        for (const auto& p : d->passthrough)
            if (groups.touch(host, p.source)) held.emplace(p.source, o.name);
    }
    return held;
}

// The definitions of the other domains (not those holding a member now),
// judged as check judges them (cross_domain_problems): sharing a group is a
// warning, an error when both start automatically.
std::vector<Problem> definition_problems(const HotplugRequest& r, const std::vector<int>& groups, const Host& host,
                                         const std::vector<HotplugDomain>& others,
                                         const std::map<PciAddress, std::string>& held) {
    std::vector<DomainAssignment> defined;
    DomainAssignment self;
    self.name = r.domain.name;
    self.autostart = r.affected.config && r.domain.autostart;
    self.groups = groups;
    defined.push_back(self);
    for (const auto& o : others) {
        if (o.name == r.domain.name || !o.config_xml) continue;
        if (std::any_of(held.begin(), held.end(), [&](const auto& h) { return h.second == o.name; })) continue;
        auto d = parse_domain_xml(*o.config_xml, "domain '" + o.name + "'");
        if (d) defined.push_back(assignment_from(o.name, o.autostart, *d, host));
    }
    return cross_domain_problems(defined)[0];
}

}  // namespace

Result<HotplugPlan> plan_attach(const HotplugRequest& r, const LibvirtHost& lh,
                                const std::vector<HotplugDomain>& others) {
    const Host& host = lh.host;
    auto defs = read_definitions(r);
    if (!defs) return defs.error();
    const std::string& name = r.domain.name;
    const std::vector<PciAddress> devices = without_repeats(r.devices);
    if (devices.empty()) return make_error("no device given");

    // The sibling policy, as the planner applies it to a domain that asks for
    // exactly these devices (with the pins of the domain's definition).
    Domain asked;
    asked.name = name;
    for (const auto& a : devices) {
        PassthroughDevice p;
        p.source = a;
        p.line = static_cast<int>(asked.passthrough.size()) + 1;  // the planner keeps this order
        asked.passthrough.push_back(p);
    }
    if (defs->config)
        asked.pins = defs->config->domain().pins;
    else if (defs->live)
        asked.pins = defs->live->domain().pins;
    PlanOptions options;
    options.hide_kvm = PlanOptions::HideKvm::Never;
    options.pins = PlanOptions::Pins::Never;
    options.whole_slot = r.whole_slot;
    const Plan plan = plan_domain(asked, host, options);

    HotplugPlan out;
    out.problems = plan.problems;
    for (auto& p : host_use_problems(plan, lh)) out.problems.push_back(std::move(p));
    for (const auto& g : plan.groups) {
        out.groups.push_back(g.group);
        std::vector<std::string> going, staying;
        for (const auto& m : g.members) {
            if (m.verdict == Verdict::Covered || m.verdict == Verdict::Injected) {
                out.endpoints.push_back(m.address);
                going.push_back(m.address.str() + (m.requested ? " (asked for)" : " (endpoint of the group)"));
            } else if (m.verdict == Verdict::StaysOnHost) {
                staying.push_back(m.address.str() + " stays on the host (" + m.reason + ")");
            }
        }
        std::string words = "IOMMU group " + std::to_string(g.group) + ": " + join_sentence(going) +
                            (going.size() == 1 ? " goes" : " go") + " to '" + name + "'";
        if (!staying.empty()) words += "; " + join(staying, "; ");
        out.problems.push_back(Problem{Severity::Note, g.requested.front(), words});
    }
    const Groups groups{{out.groups.begin(), out.groups.end()}, {}};
    const auto held = held_by_others(r, groups, host, others, out.problems);
    for (const auto& [a, holder] : held) {
        const PciDevice* dev = host.find(a);
        const std::string where =
            dev && dev->iommu_group ? " (IOMMU group " + std::to_string(*dev->iommu_group) + ")" : std::string();
        out.problems.push_back(Problem{Severity::Error, a,
                                       named(host, a) + where + " is held by running domain '" + holder +
                                           "': a device goes to one running guest at a time (virt-hostdev detach " +
                                           holder + " " + a.str() + " takes it from there)"});
    }
    for (auto& p : definition_problems(r, out.groups, host, others, held)) out.problems.push_back(std::move(p));
    if (out.blocked()) return out;

    auto fresh_in = [&](const Doc& doc, Definition which) {
        std::vector<PciAddress> fresh;
        for (const auto& a : out.endpoints) {
            if (index_of(doc, a))
                out.problems.push_back(Problem{Severity::Note, a,
                                               a.str() + " is attached to '" + name + "' already (" +
                                                   std::string(to_string(which)) + "): not attached twice"});
            else
                fresh.push_back(a);
        }
        return fresh;
    };
    const std::vector<PciAddress> live_fresh =
        r.affected.live ? fresh_in(defs->live, Definition::Live) : std::vector<PciAddress>();
    const std::vector<PciAddress> config_fresh =
        r.affected.config ? fresh_in(defs->config, Definition::Config) : std::vector<PciAddress>();
    auto attached_here = [](const std::vector<PciAddress>& list, const PciAddress& a) {
        return std::find(list.begin(), list.end(), a) != list.end();
    };
    // 1. Off the host's drivers: each endpoint that is attached somewhere
    // below and is not on a VFIO driver yet (one the running guest has is).
    for (const auto& a : out.endpoints) {
        if (!attached_here(live_fresh, a) && !attached_here(config_fresh, a)) continue;
        if (index_of(defs->live, a)) {
            out.problems.push_back(
                Problem{Severity::Note, a,
                        a.str() + " is with running '" + name + "' already: not detached from the host again"});
            continue;
        }
        if (on_vfio(host, a)) {
            out.problems.push_back(Problem{Severity::Note, a,
                                           a.str() + " is on " + *host.find(a)->driver +
                                               " already: not detached from the host (nor returned to it should "
                                               "the attach fail)"});
            continue;
        }
        out.steps.push_back(
            {node_call(HotplugCall::Kind::DetachNode, a), node_call(HotplugCall::Kind::ReattachNode, a)});
    }
    auto attach = [&](const PciAddress& a, const std::string& xml, Definition which) {
        out.steps.push_back({device_call(HotplugCall::Kind::AttachDevice, a, name, xml, which),
                             device_call(HotplugCall::Kind::DetachDevice, a, name, xml, which)});
    };
    // 2. The live definition: libvirt chooses a guest slot for each.
    if (r.affected.live) {
        std::map<PciAddress, std::vector<PciAddress>> slots;
        for (const auto& a : live_fresh) slots[PciAddress{a.domain, a.bus, a.slot, 0}].push_back(a);
        for (const auto& [slot, functions] : slots)
            if (functions.size() > 1)
                out.problems.push_back(Problem{
                    Severity::Note, functions.front(),
                    addresses(functions) +
                        " share a host slot: libvirt hot-plugs only function 0 of a guest slot (\"Only PCI device "
                        "addresses with function=0 are supported\"), so each gets a guest slot of its own in the "
                        "running guest, chosen by libvirt; function 0 is attached last"});
        for (const auto& a : plug_order(live_fresh, [](const PciAddress& x) { return x.function == 0; }))
            attach(a, hostdev_xml({a, false, std::nullopt, false}), Definition::Live);
    }
    // 3. The persistent definition: the functions of a host slot share a guest slot where one is free.
    if (r.affected.config) {
        const auto layout = config_layout(defs->config->domain(), config_fresh, name, out.problems);
        auto zero = [&](const PciAddress& x) {
            auto it = layout.find(x);
            return it != layout.end() ? it->second.guest.function == 0 : x.function == 0;
        };
        for (const auto& a : plug_order(config_fresh, zero)) {
            auto it = layout.find(a);
            HostdevElement e{a, false, std::nullopt, false};
            if (it != layout.end()) {
                e.guest = it->second.guest;
                e.multifunction = it->second.multifunction;
            }
            attach(a, hostdev_xml(e), Definition::Config);
        }
    }
    if (out.steps.empty())
        out.problems.push_back(Problem{Severity::Note, std::nullopt,
                                       "nothing to do: every endpoint of " +
                                           std::string(out.groups.size() == 1 ? "the group" : "the groups") +
                                           " is attached to '" + name + "' already"});
    return out;
}

Result<HotplugPlan> plan_detach(const HotplugRequest& r, const LibvirtHost& lh,
                                const std::vector<HotplugDomain>& others) {
    const Host& host = lh.host;
    auto defs = read_definitions(r);
    if (!defs) return defs.error();
    const std::string& name = r.domain.name;
    const std::vector<PciAddress> devices = without_repeats(r.devices);
    if (devices.empty()) return make_error("no device given");

    HotplugPlan out;
    std::vector<PciAddress> ungrouped;
    std::vector<PciAddress> members;  // of every group, in order
    for (const auto& a : devices) {
        const PciDevice* d = host.find(a);
        if (!d) {
            out.problems.push_back(
                Problem{Severity::Error, a,
                        a.str() + " is not on this host: no such PCI device (check the address: virt-hostdev groups)"});
            continue;
        }
        if (!d->iommu_group) {
            // No group known: the device alone.
            ungrouped.push_back(a);
            if (std::find(members.begin(), members.end(), a) == members.end()) members.push_back(a);
            continue;
        }
        if (std::find(out.groups.begin(), out.groups.end(), *d->iommu_group) != out.groups.end()) continue;
        out.groups.push_back(*d->iommu_group);
        auto g = host.groups.find(*d->iommu_group);
        if (g == host.groups.end()) continue;
        for (const auto& m : g->second.members)
            if (std::find(members.begin(), members.end(), m) == members.end()) members.push_back(m);
    }
    const Groups groups{{out.groups.begin(), out.groups.end()}, {ungrouped.begin(), ungrouped.end()}};
    const auto held_elsewhere = held_by_others(r, groups, host, others, out.problems);
    const Doc& live = defs->live;
    std::vector<PciAddress> unplug_live, unplug_config;
    for (const auto& m : members) {
        const auto in_live = r.affected.live ? index_of(defs->live, m) : std::nullopt;
        const auto in_config = r.affected.config ? index_of(defs->config, m) : std::nullopt;
        const PciDevice* d = host.find(m);
        const bool endpoint = !d || departure_of(*d).kind == Departure::Kind::Goes;
        if (in_live || in_config || (endpoint && on_vfio(host, m))) out.endpoints.push_back(m);
        for (auto [idx, doc, which] : {std::tuple(in_live, &defs->live, Definition::Live),
                                       std::tuple(in_config, &defs->config, Definition::Config)}) {
            if (!idx) continue;
            const PassthroughDevice& p = (*doc)->domain().passthrough[*idx];
            if (p.element == PassthroughDevice::Element::Interface) {
                out.problems.push_back(Problem{
                    Severity::Error, m,
                    m.str() + " is an <interface type='hostdev'> of '" + name + "' (" + std::string(to_string(which)) +
                        " definition, line " + std::to_string(p.line) +
                        "): virt-hostdev detach unplugs <hostdev> elements; unplug it with virsh detach-interface"});
                continue;
            }
            (which == Definition::Live ? unplug_live : unplug_config).push_back(m);
        }
    }
    // What libvirt cannot unplug from a running guest.
    for (const auto& m : unplug_live) {
        const Domain& d = live->domain();
        const PassthroughDevice& p = d.passthrough[*index_of(live, m)];
        if (!p.guest_address || libvirt_chooses(*p.guest_address)) continue;
        const PciAddress& g = *p.guest_address;
        std::vector<std::string> sharing;
        for (const auto& other : d.guest_pci_addresses)
            if (other.address.same_slot(g) && other.address != g)
                sharing.push_back("<" + other.element + "> at " + other.address.str());
        const std::string slot_s = g.str().substr(0, g.str().size() - 2);
        if (!sharing.empty())
            out.problems.push_back(Problem{
                Severity::Error, m,
                m.str() + " is at guest address " + g.str() + ", a function of multifunction guest slot " + slot_s +
                    " (with " + join_sentence(sharing) +
                    "): libvirt cannot hot-unplug it (\"cannot hot unplug ... device with multifunction PCI guest "
                    "address\"); shut '" +
                    name + "' down and detach with --config"});
        for (const auto& c : d.pci_controllers)
            if (c.index == g.bus && !c.hotplug)
                out.problems.push_back(Problem{Severity::Error, m,
                                               m.str() + " is on guest bus " + std::to_string(c.index) +
                                                   ", whose <controller> (line " + std::to_string(c.line) +
                                                   ") has hotplug='off': libvirt cannot hot-unplug it; shut '" + name +
                                                   "' down and detach with --config"});
    }
    if (out.blocked()) return out;

    auto unplug = [&](const std::vector<PciAddress>& list, const Doc& doc, Definition which) {
        for (const auto& m : plug_order(list, [](const PciAddress& x) { return x.function != 0; })) {
            const std::size_t i = *index_of(doc, m);
            const PassthroughDevice& p = doc->domain().passthrough[i];
            out.steps.push_back(
                {device_call(HotplugCall::Kind::DetachDevice, m, name, hostdev_xml({m, p.managed, std::nullopt, false}),
                             which),
                 device_call(HotplugCall::Kind::AttachDevice, m, name, std::string(doc->element_text(i)), which)});
        }
    };
    unplug(unplug_live, defs->live, Definition::Live);
    unplug(unplug_config, defs->config, Definition::Config);
    // Back to the host: what the domain had, and what sits on a VFIO driver,
    // unless a running guest still holds it.
    for (const auto& m : out.endpoints) {
        if (defs->live && index_of(defs->live, m) && !r.affected.live) {
            out.problems.push_back(Problem{Severity::Note, m,
                                           m.str() + " stays with running '" + name +
                                               "' (its live definition is not changed: --live unplugs it)"});
            continue;
        }
        if (auto h = held_elsewhere.find(m); h != held_elsewhere.end()) {
            out.problems.push_back(
                Problem{Severity::Note, m, m.str() + " is held by running domain '" + h->second + "': left as it is"});
            continue;
        }
        out.steps.push_back(
            {node_call(HotplugCall::Kind::ReattachNode, m), node_call(HotplugCall::Kind::DetachNode, m)});
    }
    const std::string the_groups = out.groups.size() == 1 ? "the group" : "the groups";
    if (out.steps.empty() && out.endpoints.empty())
        out.problems.push_back(
            Problem{Severity::Note, std::nullopt,
                    "nothing to do: '" + name + "' has no endpoint of " + the_groups + " in the " +
                        (r.affected.live ? (r.affected.config ? "live or persistent" : "live") : "persistent") +
                        " definition, and none is on a VFIO driver"});
    else if (out.steps.empty())
        out.problems.push_back(Problem{
            Severity::Note, std::nullopt,
            "nothing to do: running '" + name + "' keeps what it has of " + the_groups + " (--live unplugs it)"});
    return out;
}

}  // namespace hostdev
