// hostdev-gen-domains: writes N libvirt domain definitions for one host (read
// from a snapshot), for the hostdev-fix benchmark (bench/fix.sh). The output is
// deterministic: file K has the same bytes for any N >= K and the same seed.
//
// The domains use the host's endpoint devices as <hostdev> sources and vary in
// every way hostdev-fix must cope with: quote style (single, double, mixed),
// indentation (2 or 4 spaces, tabs), an XML declaration or none, comments,
// CRLF line ends, a byte-order mark, hex or decimal source addresses with or
// without a domain, managed yes/no/absent, <driver>, <rom>, guest addresses and
// boot order, USB hostdevs alongside, <features> absent or with ACPI/APIC,
// Hyper-V enlightenments and <kvm>, and sizes from a few devices to dozens.
//
// What each file is meant to be (column "intent" of the manifest):
//   - invalid: schema-invalid on purpose (1 file in 20): a misspelt element, a
//     bad enum value, a missing <name>, a malformed unit, ... Each defect is one
//     that only libvirt's RelaxNG schema catches; the rest of the file is valid.
//   - blocked (2 files in 20): a device with a host role (root filesystem,
//     default route, host keyboard), an endpoint whose IOMMU group holds a
//     platform function the host needs, or a device absent from the host.
//   - fixable: a group with a member left out (e.g. only the GPU, not its HDMI
//     audio), or an NVIDIA GPU without <kvm><hidden state='on'/>.
//   - ok: complete groups (and hidden KVM for NVIDIA), or no PCI hostdev.
// The intent follows the sibling policy; hostdev-fix decides for itself.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/host/snapshot.hpp"

namespace {

using hostdev::Host;
using hostdev::HostRole;
using hostdev::PciAddress;
using hostdev::PciDevice;

constexpr std::uint16_t kNvidia = 0x10de;
constexpr int kCycle = 20;  // every 20 files: 1 invalid, 2 blocked
constexpr int kInvalidSlot = 7;
constexpr int kBlockedSlotA = 3;
constexpr int kBlockedSlotB = 16;

// splitmix64: small, fast, and the same on every platform.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n); n > 0.
    unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
    bool percent(unsigned p) { return below(100) < p; }
    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[below(static_cast<unsigned>(v.size()))];
    }
    template <class T, std::size_t N>
    const T& pick(const std::array<T, N>& v) {
        return v[below(static_cast<unsigned>(N))];
    }

private:
    std::uint64_t state_;
};

std::string hex(unsigned value, int width) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%0*x", width, value);
    return buf;
}

std::string uuid_from(Rng& rng) {
    const std::uint64_t a = rng.next();
    const std::uint64_t b = rng.next();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                  static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return buf;
}

std::string mac_from(Rng& rng) {
    const std::uint64_t v = rng.next();
    char buf[24];
    std::snprintf(buf, sizeof buf, "52:54:00:%02x:%02x:%02x", static_cast<unsigned>(v & 0xff),
                  static_cast<unsigned>((v >> 8) & 0xff), static_cast<unsigned>((v >> 16) & 0xff));
    return buf;
}

// ---------------------------------------------------------------------------
// What the host offers.

// The endpoints of one IOMMU group that a domain may take, all together.
struct Assignable {
    int group = 0;
    std::vector<const PciDevice*> endpoints;  // by address
    bool nvidia_display = false;
    bool display = false;
};

struct HostOffer {
    std::vector<Assignable> groups;
    std::vector<const PciDevice*> role_holders;   // requesting one is an error
    std::vector<const PciDevice*> group_blocked;  // a group member cannot leave the host
    PciAddress absent;                            // no such device on the host
};

bool is_host_critical_role(HostRole role) { return role != HostRole::BootVga; }

bool holds_critical_role(const PciDevice& d) {
    return std::any_of(d.roles.begin(), d.roles.end(), is_host_critical_role);
}

HostOffer survey(const Host& host) {
    HostOffer offer;
    for (const auto& [number, group] : host.groups) {
        std::vector<const PciDevice*> endpoints;
        bool critical = false;
        for (const PciAddress& a : group.members) {
            const PciDevice* d = host.find(a);
            if (d == nullptr) continue;
            if (d->is_bridge()) continue;
            if (d->is_platform_function()) {
                if (d->driver) critical = true;
                continue;
            }
            if (holds_critical_role(*d)) critical = true;
            endpoints.push_back(d);
        }
        if (endpoints.empty()) continue;
        if (!critical) {
            Assignable g;
            g.group = number;
            g.endpoints = endpoints;
            for (const PciDevice* d : endpoints) {
                if (d->is_display()) {
                    g.display = true;
                    if (d->vendor == kNvidia) g.nvidia_display = true;
                }
            }
            offer.groups.push_back(std::move(g));
            continue;
        }
        for (const PciDevice* d : endpoints) {
            (holds_critical_role(*d) ? offer.role_holders : offer.group_blocked).push_back(d);
        }
    }
    // An address on no bus of the host: the highest free bus, slot 0.
    for (int bus = 0xfe; bus > 0; --bus) {
        PciAddress a{0, static_cast<std::uint8_t>(bus), 0, 0};
        bool used = false;
        for (const PciDevice& d : host.devices) used = used || (d.address.domain == 0 && d.address.bus == bus);
        if (!used) {
            offer.absent = a;
            break;
        }
    }
    return offer;
}

// ---------------------------------------------------------------------------
// Writing XML in a given style.

using Attrs = std::vector<std::pair<std::string, std::string>>;

struct Style {
    std::string indent;  // one level: "  ", "    " or "\t"
    char quote = '\'';
    bool mixed = false;  // each attribute picks its quote
    bool crlf = false;
    bool bom = false;
    bool declaration = false;
    bool comments = false;
    bool hex_addresses = true;
    bool source_domain = true;  // <source><address domain=...>
};

class Writer {
public:
    Writer(const Style& style, Rng& rng) : style_(style), rng_(rng) {}

    void declaration() {
        if (style_.bom) out_ += "\xEF\xBB\xBF";
        if (style_.declaration) line("<?xml version=" + q("1.0") + " encoding=" + q("UTF-8") + "?>");
    }
    void open(std::string_view tag, const Attrs& attrs = {}) {
        line("<" + std::string(tag) + attributes(attrs) + ">");
        ++depth_;
    }
    void close(std::string_view tag) {
        --depth_;
        line("</" + std::string(tag) + ">");
    }
    void empty(std::string_view tag, const Attrs& attrs = {}) {
        line("<" + std::string(tag) + attributes(attrs) + "/>");
    }
    void leaf(std::string_view tag, const Attrs& attrs, std::string_view text) {
        line("<" + std::string(tag) + attributes(attrs) + ">" + std::string(text) + "</" + std::string(tag) + ">");
    }
    void leaf(std::string_view tag, std::string_view text) { leaf(tag, {}, text); }
    void comment(std::string_view text) {
        if (style_.comments) line("<!-- " + std::string(text) + " -->");
    }
    // A whole element on one line, e.g. a compact <hostdev>.
    void raw(const std::string& text) { line(text); }
    std::string attributes(const Attrs& attrs) {
        std::string s;
        for (const auto& [name, value] : attrs) s += " " + name + "=" + q(value);
        return s;
    }
    std::string take() { return std::move(out_); }

private:
    std::string q(std::string_view value) {
        char c = style_.quote;
        if (style_.mixed) c = rng_.percent(50) ? '\'' : '"';
        return c + std::string(value) + c;
    }
    void line(const std::string& text) {
        for (int i = 0; i < depth_; ++i) out_ += style_.indent;
        out_ += text;
        out_ += style_.crlf ? "\r\n" : "\n";
    }

    const Style& style_;
    Rng& rng_;
    std::string out_;
    int depth_ = 0;
};

// ---------------------------------------------------------------------------
// One domain.

enum class Intent { Ok, Fixable, Blocked, Invalid };

std::string_view to_string(Intent i) {
    switch (i) {
        case Intent::Ok: return "ok";
        case Intent::Fixable: return "fixable";
        case Intent::Blocked: return "blocked";
        case Intent::Invalid: return "invalid";
    }
    return "?";
}

// Schema-invalid on purpose; each one is caught by the RelaxNG schema only.
enum class Defect {
    None,
    MisspeltElement,  // <memballon> for <memballoon>
    DomainTypeCase,   // <domain type='KVM'>
    OnRebootValue,    // <on_reboot>reboot</on_reboot>
    HiddenStateYes,   // <hidden state='yes'/>
    MissingName,      // no <name>
    VcpuPlacement,    // <vcpu placement='pinned'>
    MemoryUnit,       // unit='gigabytes'
    DiskBus,          // <target bus='virtio-blk'/>
    CpuMode,          // <cpu mode='host-passthru'>
    UnknownFeature,   // <features><iommu-groups/>
};
constexpr std::array<Defect, 10> kDefects = {
    Defect::MisspeltElement, Defect::DomainTypeCase, Defect::OnRebootValue, Defect::HiddenStateYes,
    Defect::MissingName,     Defect::VcpuPlacement,  Defect::MemoryUnit,    Defect::DiskBus,
    Defect::CpuMode,         Defect::UnknownFeature,
};

std::string_view to_string(Defect d) {
    switch (d) {
        case Defect::None: return "";
        case Defect::MisspeltElement: return "misspelt-element";
        case Defect::DomainTypeCase: return "domain-type-case";
        case Defect::OnRebootValue: return "on_reboot-value";
        case Defect::HiddenStateYes: return "hidden-state-yes";
        case Defect::MissingName: return "missing-name";
        case Defect::VcpuPlacement: return "vcpu-placement";
        case Defect::MemoryUnit: return "memory-unit";
        case Defect::DiskBus: return "disk-bus";
        case Defect::CpuMode: return "cpu-mode";
        case Defect::UnknownFeature: return "unknown-feature";
    }
    return "?";
}

struct Hostdev {
    PciAddress source;
    std::optional<std::string> managed;  // "yes", "no", or absent
    bool driver_vfio = false;
    bool rom = false;
    std::optional<PciAddress> guest;
    bool multifunction = false;
    std::optional<unsigned> boot_order;
    bool compact = false;  // the whole element on one line
    std::string comment;
};

struct Plan {
    Intent intent = Intent::Ok;
    Defect defect = Defect::None;
    std::string shape;  // words for the manifest
    std::vector<Hostdev> hostdevs;
    bool need_hidden = false;  // NVIDIA display assigned
    bool usb_hostdev = false;
};

class DomainGen {
public:
    DomainGen(const HostOffer& offer, std::uint64_t seed, int index)
        : offer_(offer), rng_(seed ^ (0x5851f42d4c957f2dULL * static_cast<std::uint64_t>(index + 1))), index_(index) {}

    // Returns the document; fills plan().
    std::string run() {
        choose_plan();
        choose_style();
        return write();
    }
    const Plan& plan() const { return plan_; }

private:
    // -- what the domain asks of the host --------------------------------

    void choose_plan() {
        const int slot = index_ % kCycle;
        if (slot == kBlockedSlotA || slot == kBlockedSlotB) {
            plan_blocked();
            return;
        }
        plan_regular();
        if (slot == kInvalidSlot) {
            plan_.defect = kDefects[static_cast<std::size_t>(index_ / kCycle) % kDefects.size()];
            plan_.intent = Intent::Invalid;
            plan_.shape += " +" + std::string(to_string(plan_.defect));
        }
    }

    std::string managed_value() {
        const unsigned r = rng_.below(10);
        return r < 7 ? "yes" : r < 9 ? "no" : "";
    }

    // Adds the given endpoints of one group; guest addresses per host slot.
    void add_group(const std::vector<const PciDevice*>& devices, const std::string& managed, bool guest,
                   const std::string& comment) {
        std::map<std::tuple<int, int, int>, std::vector<const PciDevice*>> by_slot;
        for (const PciDevice* d : devices) by_slot[{d->address.domain, d->address.bus, d->address.slot}].push_back(d);
        const bool vfio = rng_.percent(25);
        bool first = true;
        for (const auto& [key, funcs] : by_slot) {
            const auto guest_bus = static_cast<std::uint8_t>(next_guest_bus_++);
            for (const PciDevice* d : funcs) {
                Hostdev h;
                h.source = d->address;
                if (!managed.empty()) h.managed = managed;
                h.driver_vfio = vfio;
                h.rom = d->is_display() && rng_.percent(30);
                if (guest) {
                    h.guest = PciAddress{0, guest_bus, 0, d->address.function};
                    h.multifunction = funcs.size() > 1 && d->address.function == funcs.front()->address.function;
                }
                if (first) h.comment = comment;
                first = false;
                plan_.hostdevs.push_back(std::move(h));
            }
        }
    }

    void plan_regular() {
        plan_.usb_hostdev = rng_.percent(20);
        if (offer_.groups.empty() || rng_.percent(12)) {
            plan_.intent = Intent::Ok;
            plan_.shape = plan_.usb_hostdev ? "no PCI hostdev, a USB hostdev" : "no PCI hostdev";
            return;
        }
        // Display groups are what people pass through most.
        std::vector<const Assignable*> weighted;
        for (const Assignable& g : offer_.groups) {
            weighted.push_back(&g);
            if (g.display) {
                weighted.push_back(&g);
                weighted.push_back(&g);
            }
        }
        const int count = rng_.percent(20) ? 2 : 1;
        std::set<int> taken;
        const bool guest = rng_.percent(60);
        const std::string managed = managed_value();
        bool partial_any = false;
        bool nvidia = false;
        for (int k = 0; k < count; ++k) {
            const Assignable* g = weighted[rng_.below(static_cast<unsigned>(weighted.size()))];
            if (!taken.insert(g->group).second) continue;
            const bool partial = g->endpoints.size() > 1 && rng_.percent(45);
            std::vector<const PciDevice*> devices = g->endpoints;
            if (partial) devices.resize(1);
            partial_any = partial_any || partial;
            nvidia = nvidia || g->nvidia_display;
            add_group(devices, managed, guest,
                      g->display ? "the GPU for the guest" : "passthrough of group " + std::to_string(g->group));
            if (!plan_.shape.empty()) plan_.shape += ", ";
            plan_.shape += "group " + std::to_string(g->group) + (partial ? " partial" : " complete");
        }
        plan_.need_hidden = nvidia;
        hidden_on_ = nvidia && !partial_any ? rng_.percent(75) : (nvidia && rng_.percent(30));
        if (nvidia) plan_.shape += hidden_on_ ? ", kvm hidden" : ", kvm not hidden";
        plan_.intent = (partial_any || (nvidia && !hidden_on_)) ? Intent::Fixable : Intent::Ok;
        if (rng_.percent(15) && !plan_.hostdevs.empty()) plan_.hostdevs.front().boot_order = 2;
        if (rng_.percent(10)) {
            for (auto& h : plan_.hostdevs) h.compact = true;
        }
    }

    void plan_blocked() {
        plan_.intent = Intent::Blocked;
        std::vector<int> kinds;
        if (!offer_.role_holders.empty()) kinds.push_back(0);
        if (!offer_.group_blocked.empty()) kinds.push_back(1);
        kinds.push_back(2);
        const int kind = kinds[static_cast<std::size_t>(index_ / kCycle) % kinds.size()];
        const std::string managed = managed_value();
        const bool guest = rng_.percent(50);
        if (kind == 0) {
            const PciDevice* d = rng_.pick(offer_.role_holders);
            add_group({d}, managed, guest, "host device for the guest");
            plan_.shape = "requests " + d->address.str() + " (host role)";
        } else if (kind == 1) {
            const PciDevice* d = rng_.pick(offer_.group_blocked);
            add_group({d}, managed, guest, "on-board device for the guest");
            plan_.shape = "requests " + d->address.str() + " (group member the host needs)";
        } else {
            Hostdev h;
            h.source = offer_.absent;
            if (!managed.empty()) h.managed = managed;
            h.comment = "the card from the old host";
            plan_.hostdevs.push_back(h);
            plan_.shape = "requests " + offer_.absent.str() + " (absent)";
        }
        // Sometimes alongside a group that would be fine on its own.
        if (!offer_.groups.empty() && rng_.percent(40)) {
            const Assignable& g = rng_.pick(offer_.groups);
            add_group(g.endpoints, managed, guest, "and a complete group");
            plan_.shape += ", group " + std::to_string(g.group) + " complete";
            if (g.nvidia_display) {
                plan_.need_hidden = true;
                hidden_on_ = true;
            }
        }
    }

    // -- how it is written -----------------------------------------------

    void choose_style() {
        const unsigned indent = rng_.below(10);
        style_.indent = indent < 6 ? "  " : indent < 8 ? "    " : "\t";
        const unsigned quote = rng_.below(10);
        style_.quote = quote < 6 ? '\'' : '"';
        style_.mixed = quote == 9;
        style_.crlf = rng_.percent(4);
        style_.bom = rng_.percent(2);
        style_.declaration = style_.bom || rng_.percent(30);
        style_.comments = rng_.percent(40);
        style_.hex_addresses = rng_.percent(80);
        style_.source_domain = rng_.percent(85);
    }

    std::string write() {
        Writer w(style_, rng_);
        const Defect defect = plan_.defect;
        const std::string flavour =
            rng_.pick(std::array<std::string, 6>{"win10", "win11", "debian", "fedora", "nas", "ci"});
        char num[16];
        std::snprintf(num, sizeof num, "%04d", index_ + 1);
        const std::string name = "bench-" + std::string(num) + "-" + flavour;
        const bool windows = flavour.rfind("win", 0) == 0;
        const bool efi = windows || rng_.percent(60);
        const bool q35 = rng_.percent(85) || !plan_.hostdevs.empty();
        // Size: most domains are modest; some are large.
        const bool large = rng_.percent(10);
        const unsigned disks = large ? 8 + rng_.below(17) : 1 + rng_.below(3);
        const unsigned nics = large ? 2 + rng_.below(6) : rng_.below(3);
        const unsigned root_ports = q35 ? (large ? 16 + rng_.below(16) : 2 + rng_.below(6)) : 0;

        w.declaration();
        if (rng_.percent(25) && style_.comments) {
            w.comment("Generated for the hostdev-fix benchmark: domain " + std::string(num));
        }
        w.open("domain", {{"type", defect == Defect::DomainTypeCase ? "KVM" : "kvm"}});
        if (defect != Defect::MissingName) w.leaf("name", name);
        w.leaf("uuid", uuid_from(rng_));
        if (rng_.percent(20)) w.leaf("title", "Benchmark guest " + std::string(num));
        const unsigned gib = windows ? 8U << rng_.below(3) : 1U << rng_.below(4);
        const std::string unit = defect == Defect::MemoryUnit ? "gigabytes" : "GiB";
        if (rng_.percent(50)) {
            w.leaf("memory", {{"unit", unit}}, std::to_string(gib));
            w.leaf("currentMemory", {{"unit", unit}}, std::to_string(gib));
        } else if (defect == Defect::MemoryUnit) {
            w.leaf("memory", {{"unit", unit}}, std::to_string(gib));
        } else {
            w.leaf("memory", {{"unit", "KiB"}}, std::to_string(gib * 1024U * 1024U));
        }
        const std::string vcpus = std::to_string(1U << rng_.below(4));
        if (defect == Defect::VcpuPlacement) {
            w.leaf("vcpu", {{"placement", "pinned"}}, vcpus);
        } else if (rng_.percent(60)) {
            w.leaf("vcpu", {{"placement", "static"}}, vcpus);
        } else {
            w.leaf("vcpu", vcpus);
        }

        // <os>
        const std::string machine =
            q35 ? rng_.pick(std::array<std::string, 3>{"q35", "pc-q35-7.2", "pc-q35-8.0"}) : "pc-i440fx-7.2";
        const bool firmware_attr = efi && rng_.percent(40);
        w.open("os", firmware_attr ? Attrs{{"firmware", "efi"}} : Attrs{});
        w.leaf("type", {{"arch", "x86_64"}, {"machine", machine}}, "hvm");
        if (efi && !firmware_attr) {
            w.leaf("loader", {{"readonly", "yes"}, {"type", "pflash"}},
                   windows ? "/usr/share/OVMF/OVMF_CODE_4M.ms.fd" : "/usr/share/OVMF/OVMF_CODE_4M.fd");
            w.leaf("nvram", "/var/lib/libvirt/qemu/nvram/" + name + "_VARS.fd");
        }
        const bool hostdev_boots = std::any_of(plan_.hostdevs.begin(), plan_.hostdevs.end(),
                                               [](const Hostdev& h) { return h.boot_order.has_value(); });
        if (!hostdev_boots && rng_.percent(50)) w.empty("boot", {{"dev", "hd"}});
        w.close("os");

        write_features(w, windows);

        // <cpu>
        if (defect == Defect::CpuMode || rng_.percent(70)) {
            Attrs a{{"mode", defect == Defect::CpuMode ? "host-passthru" : "host-passthrough"}, {"check", "none"}};
            if (rng_.percent(50)) a.emplace_back("migratable", "on");
            if (rng_.percent(60)) {
                w.open("cpu", a);
                w.empty("topology", {{"sockets", "1"}, {"dies", "1"}, {"cores", vcpus}, {"threads", "1"}});
                w.close("cpu");
            } else {
                w.empty("cpu", a);
            }
        }
        // <clock>
        if (windows) {
            w.open("clock", {{"offset", "localtime"}});
            w.empty("timer", {{"name", "rtc"}, {"tickpolicy", "catchup"}});
            w.empty("timer", {{"name", "hypervclock"}, {"present", "yes"}});
            w.close("clock");
        } else {
            w.empty("clock", {{"offset", "utc"}});
        }
        w.leaf("on_poweroff", "destroy");
        w.leaf("on_reboot", defect == Defect::OnRebootValue ? "reboot" : "restart");
        w.leaf("on_crash", "destroy");

        write_devices(w, name, disks, nics, root_ports, q35);
        w.close("domain");
        if (style_.comments && rng_.percent(15)) w.comment("end of " + name);
        return w.take();
    }

    void write_features(Writer& w, bool windows) {
        const bool hidden = plan_.need_hidden && hidden_on_;
        const Defect defect = plan_.defect;
        const bool force = hidden || defect == Defect::HiddenStateYes || defect == Defect::UnknownFeature;
        if (!force && rng_.percent(20)) return;
        w.open("features");
        w.empty("acpi");
        w.empty("apic");
        if (windows || rng_.percent(15)) {
            w.open("hyperv", {{"mode", "custom"}});
            w.empty("relaxed", {{"state", "on"}});
            w.empty("vapic", {{"state", "on"}});
            w.empty("spinlocks", {{"state", "on"}, {"retries", "8191"}});
            if (rng_.percent(50)) w.empty("vpindex", {{"state", "on"}});
            if (rng_.percent(50)) w.empty("synic", {{"state", "on"}});
            if (plan_.need_hidden || rng_.percent(30))
                w.empty("vendor_id", {{"state", "on"}, {"value", "0123456789ab"}});
            w.close("hyperv");
        }
        if (hidden || defect == Defect::HiddenStateYes) {
            w.open("kvm");
            w.empty("hidden", {{"state", defect == Defect::HiddenStateYes ? "yes" : "on"}});
            w.close("kvm");
        } else if (rng_.percent(10)) {
            w.open("kvm");
            w.empty("hint-dedicated", {{"state", "on"}});
            w.close("kvm");
        }
        if (windows && rng_.percent(60)) w.empty("vmport", {{"state", "off"}});
        if (defect == Defect::UnknownFeature) w.empty("iommu-groups");
        w.close("features");
    }

    void write_hostdev(Writer& w, const Hostdev& h) {
        if (!h.comment.empty()) w.comment(h.comment);
        Attrs head{{"mode", "subsystem"}, {"type", "pci"}};
        if (h.managed) head.emplace_back("managed", *h.managed);
        Attrs src;
        const PciAddress& a = h.source;
        if (style_.hex_addresses) {
            if (style_.source_domain) src.emplace_back("domain", hex(a.domain, 4));
            src.emplace_back("bus", hex(a.bus, 2));
            src.emplace_back("slot", hex(a.slot, 2));
            src.emplace_back("function", hex(a.function, 1));
        } else {
            if (style_.source_domain) src.emplace_back("domain", std::to_string(a.domain));
            src.emplace_back("bus", std::to_string(a.bus));
            src.emplace_back("slot", std::to_string(a.slot));
            src.emplace_back("function", std::to_string(a.function));
        }
        Attrs guest;
        if (h.guest) {
            guest = {{"type", "pci"},
                     {"domain", "0x0000"},
                     {"bus", hex(h.guest->bus, 2)},
                     {"slot", hex(h.guest->slot, 2)},
                     {"function", hex(h.guest->function, 1)}};
            if (h.multifunction) guest.emplace_back("multifunction", "on");
        }
        if (h.compact) {
            std::string s = "<hostdev" + w.attributes(head) + ">";
            if (h.driver_vfio) s += "<driver" + w.attributes({{"name", "vfio"}}) + "/>";
            s += "<source><address" + w.attributes(src) + "/></source>";
            if (h.rom) s += "<rom" + w.attributes({{"bar", "on"}}) + "/>";
            if (h.boot_order) s += "<boot" + w.attributes({{"order", std::to_string(*h.boot_order)}}) + "/>";
            if (h.guest) s += "<address" + w.attributes(guest) + "/>";
            w.raw(s + "</hostdev>");
            return;
        }
        w.open("hostdev", head);
        if (h.driver_vfio) w.empty("driver", {{"name", "vfio"}});
        w.open("source");
        w.empty("address", src);
        w.close("source");
        if (h.rom) w.empty("rom", {{"bar", "on"}});
        if (h.boot_order) w.empty("boot", {{"order", std::to_string(*h.boot_order)}});
        if (h.guest) w.empty("address", guest);
        w.close("hostdev");
    }

    void write_devices(Writer& w, const std::string& name, unsigned disks, unsigned nics, unsigned root_ports,
                       bool q35) {
        const Defect defect = plan_.defect;
        w.open("devices");
        w.leaf("emulator", "/usr/bin/qemu-system-x86_64");
        const bool sata = rng_.percent(40);
        for (unsigned i = 0; i < disks; ++i) {
            w.comment(i == 0 ? "system disk" : "data disk " + std::to_string(i));
            w.open("disk", {{"type", "file"}, {"device", "disk"}});
            Attrs drv{{"name", "qemu"}, {"type", i == 0 ? "qcow2" : "raw"}};
            if (rng_.percent(40)) drv.emplace_back("discard", "unmap");
            if (rng_.percent(20)) drv.emplace_back("cache", "none");
            w.empty("driver", drv);
            w.empty("source", {{"file", "/var/lib/libvirt/images/" + name + "-" + std::to_string(i) +
                                            (i == 0 ? ".qcow2" : ".img")}});
            const std::string dev = std::string(sata ? "sd" : "vd") + static_cast<char>('a' + i);
            const std::string bus = defect == Defect::DiskBus && i == 0 ? "virtio-blk" : sata ? "sata" : "virtio";
            w.empty("target", {{"dev", dev}, {"bus", bus}});
            w.close("disk");
        }
        if (rng_.percent(30)) {
            w.open("disk", {{"type", "file"}, {"device", "cdrom"}});
            w.empty("driver", {{"name", "qemu"}, {"type", "raw"}});
            w.empty("target", {{"dev", "sdz"}, {"bus", "sata"}});
            w.empty("readonly");
            w.close("disk");
        }
        if (q35) {
            w.empty("controller", {{"type", "pci"}, {"index", "0"}, {"model", "pcie-root"}});
            for (unsigned i = 1; i <= root_ports; ++i) {
                w.empty("controller", {{"type", "pci"}, {"index", std::to_string(i)}, {"model", "pcie-root-port"}});
            }
        } else {
            w.empty("controller", {{"type", "pci"}, {"index", "0"}, {"model", "pci-root"}});
        }
        w.empty("controller", {{"type", "usb"}, {"index", "0"}, {"model", "qemu-xhci"}});
        if (sata) w.empty("controller", {{"type", "sata"}, {"index", "0"}});
        for (unsigned i = 0; i < nics; ++i) {
            const bool bridge = rng_.percent(40);
            w.open("interface", {{"type", bridge ? "bridge" : "network"}});
            w.empty("mac", {{"address", mac_from(rng_)}});
            w.empty("source", {{bridge ? "bridge" : "network", bridge ? "br0" : "default"}});
            w.empty("model", {{"type", rng_.percent(80) ? "virtio" : "e1000e"}});
            w.close("interface");
        }
        if (rng_.percent(50)) {
            w.open("serial", {{"type", "pty"}});
            w.empty("target", {{"port", "0"}});
            w.close("serial");
            w.open("console", {{"type", "pty"}});
            w.empty("target", {{"type", "serial"}, {"port", "0"}});
            w.close("console");
        }
        w.empty("input", {{"type", "tablet"}, {"bus", "usb"}});
        if (rng_.percent(40)) w.empty("input", {{"type", "keyboard"}, {"bus", "virtio"}});

        // The hostdevs: the GPU-only guests have no emulated display.
        const bool gpu_only = !plan_.hostdevs.empty() && rng_.percent(40);
        if (!gpu_only) {
            if (rng_.percent(50)) {
                w.empty("graphics", {{"type", "vnc"}, {"port", "-1"}, {"autoport", "yes"}});
            } else {
                w.open("graphics", {{"type", "spice"}, {"autoport", "yes"}});
                w.empty("listen", {{"type", "address"}});
                w.close("graphics");
            }
            w.open("video");
            w.empty("model", {{"type", rng_.percent(60) ? "virtio" : "qxl"}, {"heads", "1"}, {"primary", "yes"}});
            w.close("video");
        } else {
            w.open("video");
            w.empty("model", {{"type", "none"}});
            w.close("video");
        }
        for (const Hostdev& h : plan_.hostdevs) write_hostdev(w, h);
        if (plan_.usb_hostdev) {
            w.comment("the USB receiver");
            w.open("hostdev", {{"mode", "subsystem"}, {"type", "usb"}, {"managed", "yes"}});
            w.open("source");
            w.empty("vendor", {{"id", "0x046d"}});
            w.empty("product", {{"id", "0xc52b"}});
            w.close("source");
            w.close("hostdev");
        }
        if (rng_.percent(30)) w.empty("sound", {{"model", "ich9"}});
        if (rng_.percent(25)) {
            w.open("tpm", {{"model", "tpm-crb"}});
            w.empty("backend", {{"type", "emulator"}, {"version", "2.0"}});
            w.close("tpm");
        }
        if (rng_.percent(40)) {
            w.open("rng", {{"model", "virtio"}});
            w.empty("backend", {{"model", "random"}});
            w.close("rng");
        }
        w.empty(defect == Defect::MisspeltElement ? "memballon" : "memballoon",
                {{"model", gpu_only ? "none" : "virtio"}});
        w.close("devices");
    }

    const HostOffer& offer_;
    Rng rng_;
    int index_;
    Plan plan_;
    Style style_;
    bool hidden_on_ = false;
    int next_guest_bus_ = 0x06;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Writes N libvirt domain definitions of varied shapes for the host of a snapshot (its endpoint "
        "devices as <hostdev> sources): 1 in 20 schema-invalid on purpose, 2 in 20 blocked, the rest "
        "complete (ok) or with a group member or hidden KVM missing (fixable). Deterministic."};
    int count = 400;
    std::string snapshot;
    std::string outdir;
    std::string manifest;
    std::uint64_t seed = 1;
    app.add_option("--count,-n", count, "number of domain files")->check(CLI::Range(1, 1000000))->capture_default_str();
    app.add_option("--host", snapshot, "host snapshot (hostdev snapshot)")->required()->check(CLI::ExistingFile);
    app.add_option("-o,--output", outdir, "directory for the files (created if missing)")->required();
    app.add_option("--seed", seed, "seed of the generator")->capture_default_str();
    app.add_option("--manifest", manifest,
                   "also write FILE: one line per domain file, tab-separated: file, intent "
                   "(ok|fixable|blocked|invalid), schema (valid|invalid), shape");
    CLI11_PARSE(app, argc, argv);

    auto host = hostdev::load_snapshot(snapshot);
    if (!host) {
        std::cerr << "hostdev-gen-domains: " << host.error().describe() << "\n";
        return 1;
    }
    const HostOffer offer = survey(*host);

    std::error_code ec;
    std::filesystem::create_directories(outdir, ec);
    if (ec) {
        std::cerr << "hostdev-gen-domains: cannot create " << outdir << ": " << ec.message() << "\n";
        return 1;
    }
    std::string lines;
    std::map<Intent, int> tally;
    const int width = std::max(4, static_cast<int>(std::to_string(count).size()));
    for (int i = 0; i < count; ++i) {
        DomainGen gen(offer, seed, i);
        const std::string xml = gen.run();
        std::string number = std::to_string(i + 1);
        number.insert(0, static_cast<std::size_t>(width) - std::min(number.size(), static_cast<std::size_t>(width)),
                      '0');
        const std::string name = "dom-" + number + ".xml";
        const std::filesystem::path path = std::filesystem::path(outdir) / name;
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << xml;
        out.close();
        if (!out) {
            std::cerr << "hostdev-gen-domains: cannot write " << path.string() << "\n";
            return 1;
        }
        const Plan& p = gen.plan();
        ++tally[p.intent];
        lines += path.string() + "\t" + std::string(to_string(p.intent)) + "\t" +
                 (p.defect == Defect::None ? "valid" : "invalid") + "\t" + p.shape + "\n";
    }
    if (!manifest.empty()) {
        std::ofstream out(manifest, std::ios::binary | std::ios::trunc);
        out << lines;
        out.close();
        if (!out) {
            std::cerr << "hostdev-gen-domains: cannot write " << manifest << "\n";
            return 1;
        }
    }
    std::cout << "wrote " << count << " domain files to " << outdir << ": intended ok " << tally[Intent::Ok]
              << ", fixable " << tally[Intent::Fixable] << ", blocked " << tally[Intent::Blocked] << ", schema-invalid "
              << tally[Intent::Invalid] << "\n";
    return 0;
}
