#include "hostdev/host/nodedev.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <pugixml.hpp>

#include "base/xml_scan.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {
namespace {

std::string text_of(const pugi::xml_node& n) { return std::string(parse::trim(n.text().get())); }

// The string value of an element as XPath's string() gives it: all its text,
// untrimmed (libvirt reads "string(./bus[1])" so).
std::string string_value(const pugi::xml_node& n) {
    struct Collect : pugi::xml_tree_walker {
        std::string text;
        bool for_each(pugi::xml_node& node) override {
            if (node.type() == pugi::node_pcdata || node.type() == pugi::node_cdata) text += node.value();
            return true;
        }
    } collect;
    pugi::xml_node copy = n;
    copy.traverse(collect);
    return std::move(collect.text);
}

// A number in element text (<bus>1</bus>) within [0, max], read as libvirt
// reads these elements: decimal, leading white space allowed, nothing after.
Result<unsigned long> number_of(const pugi::xml_node& parent, const char* child, const std::string& where,
                                unsigned long max) {
    pugi::xml_node n = parent.child(child);
    if (!n) return make_error(where + ": <" + child + "> is missing");
    auto v = parse_libvirt_number(string_value(n), child, max, NumberBase::Decimal);
    if (!v) return make_error(where + ": <" + child + ">: " + v.error().message);
    return *v;
}

std::optional<std::string_view> attr(const pugi::xml_node& n, const char* name) {
    pugi::xml_attribute a = n.attribute(name);
    if (!a) return std::nullopt;
    return std::string_view(a.value());
}

Result<PciAddress> address_of(const pugi::xml_node& n, const std::string& where) {
    auto a = PciAddress::from_libvirt(attr(n, "domain"), attr(n, "bus"), attr(n, "slot"), attr(n, "function"));
    if (!a) return make_error(where + ": <address>: " + a.error().message);
    return *a;
}

Status parse_pci(const pugi::xml_node& cap, const std::string& where, NodeDevice& out) {
    PciDevice d;
    // libvirt itself keeps any unsigned int here; no kernel names a bus above
    // 0xff, a slot above 0x1f or a function above 7, so those are refused.
    auto dom = number_of(cap, "domain", where, 0xffffffffUL);
    if (!dom) return dom.error();
    auto bus = number_of(cap, "bus", where, 0xff);
    if (!bus) return bus.error();
    auto slot = number_of(cap, "slot", where, 0x1f);
    if (!slot) return slot.error();
    auto fn = number_of(cap, "function", where, 7);
    if (!fn) return fn.error();
    d.address = PciAddress{static_cast<std::uint32_t>(*dom), static_cast<std::uint8_t>(*bus),
                           static_cast<std::uint8_t>(*slot), static_cast<std::uint8_t>(*fn)};

    if (pugi::xml_node cls = cap.child("class")) {
        auto v = parse::sysfs_hex(text_of(cls), 0xffffff);
        if (!v) return make_error(where + ": <class>: " + v.error().message);
        d.class_code = *v;
        out.class_known = true;
    }
    for (const char* which : {"vendor", "product"}) {
        pugi::xml_node n = cap.child(which);
        if (!n) return make_error(where + ": <" + std::string(which) + "> is missing");
        auto id = parse::sysfs_hex(n.attribute("id").value(), 0xffff);
        if (!id) return make_error(where + ": <" + std::string(which) + " id=...>: " + id.error().message);
        if (std::string_view(which) == "vendor") {
            d.vendor = static_cast<std::uint16_t>(*id);
            d.vendor_name = text_of(n);
        } else {
            d.device = static_cast<std::uint16_t>(*id);
            d.device_name = text_of(n);
        }
    }
    for (pugi::xml_node sub : cap.children("capability")) {
        const std::string_view type = sub.attribute("type").value();
        if (type == "phys_function") {
            if (pugi::xml_node a = sub.child("address")) {
                auto pf = address_of(a, where + ": phys_function");
                if (!pf) return pf.error();
                d.physfn = *pf;
            }
        } else if (type == "virt_functions") {
            for (pugi::xml_node a : sub.children("address")) {
                auto vf = address_of(a, where + ": virt_functions");
                if (!vf) return vf.error();
                d.virtfns.push_back(*vf);
            }
        } else if (type == "pci-bridge") {
            d.header_type = 1;
        } else if (type == "cardbus-bridge") {
            d.header_type = 2;
        }
    }
    if (pugi::xml_node g = cap.child("iommuGroup")) {
        auto n =
            parse_libvirt_number(g.attribute("number").value(), "iommuGroup number", 0x7fffffff, NumberBase::Decimal);
        if (!n) return make_error(where + ": <iommuGroup>: " + n.error().message);
        d.iommu_group = static_cast<int>(*n);
        for (pugi::xml_node a : g.children("address")) {
            auto m = address_of(a, where + ": iommuGroup");
            if (!m) return m.error();
            out.group_members.push_back(*m);
        }
    }
    if (pugi::xml_node numa = cap.child("numa")) {
        if (auto node = attr(numa, "node")) {
            if (auto v = parse::sysfs_int(*node); v && *v >= 0 && *v <= 0xffff) d.numa_node = static_cast<int>(*v);
        }
    }
    d.driver = out.driver;
    out.pci = std::move(d);
    return ok_status();
}

}  // namespace

Result<NodeDevice> parse_nodedev_xml(std::string_view xml, std::string_view source) {
    const std::string where(source);
    if (xml.size() > kMaxNodeDeviceXmlBytes)
        return make_error(where + ": node device XML larger than " + std::to_string(kMaxNodeDeviceXmlBytes) + " bytes");
    // libvirt writes UTF-8; anything else would reach names, messages and JSON.
    if (!parse::valid_utf8(xml)) return make_error(where + ": node device XML is not valid UTF-8");
    if (detail::find_prolog_doctype(xml) != std::string_view::npos)
        return make_error(where + ": DTD/DOCTYPE is not allowed in node device XML");
    pugi::xml_document doc;
    // pugixml expands only the five predefined entities and character
    // references; no DTD is read.
    pugi::xml_parse_result pr = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!pr) return make_error(where + ": not XML: " + pr.description() + " at byte " + std::to_string(pr.offset));
    pugi::xml_node dev = doc.document_element();
    if (std::string_view(dev.name()) != "device")
        return make_error(where + ": not a node device (root element <" + std::string(dev.name()) +
                          ">, expected <device>)");

    NodeDevice out;
    out.name = text_of(dev.child("name"));
    if (out.name.empty()) return make_error(where + ": node device without <name>");
    const std::string at = where == out.name ? where : where + " (" + out.name + ")";
    out.parent = text_of(dev.child("parent"));
    if (pugi::xml_node drv = dev.child("driver").child("name")) {
        std::string name = text_of(drv);
        if (!name.empty()) out.driver = std::move(name);
    }
    pugi::xml_node cap = dev.child("capability");
    out.capability = cap.attribute("type").value();
    if (out.capability == "pci") {
        if (auto st = parse_pci(cap, at, out); !st) return st.error();
    } else if (out.capability == "net") {
        out.interface = text_of(cap.child("interface"));
    } else if (out.capability == "storage") {
        out.block = text_of(cap.child("block"));
    } else if (out.capability == "usb") {
        NodeDevice::UsbClass u;
        auto cls = number_of(cap, "class", at, 0xff);
        auto sub = number_of(cap, "subclass", at, 0xff);
        auto proto = number_of(cap, "protocol", at, 0xff);
        if (!cls) return cls.error();
        if (!sub) return sub.error();
        if (!proto) return proto.error();
        u.cls = static_cast<unsigned>(*cls);
        u.subclass = static_cast<unsigned>(*sub);
        u.protocol = static_cast<unsigned>(*proto);
        out.usb_interface = u;
    }
    return out;
}

std::string cpu_vendor_from_capabilities(std::string_view xml) {
    if (xml.size() > (16U << 20) || detail::find_prolog_doctype(xml) != std::string_view::npos) return {};
    pugi::xml_document doc;
    if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8)) return {};
    const std::string vendor = text_of(doc.child("capabilities").child("host").child("cpu").child("vendor"));
    if (vendor == "Intel") return "GenuineIntel";
    if (vendor == "AMD") return "AuthenticAMD";
    if (vendor == "Hygon") return "HygonGenuine";
    return {};
}

std::string_view to_string(HostUse::Kind kind) {
    switch (kind) {
        case HostUse::Kind::NetworkInterface: return "network-interface";
        case HostUse::Kind::Disk: return "disk";
        case HostUse::Kind::Keyboard: return "keyboard";
    }
    return "network-interface";
}

namespace {

// USB interface class HID (3), subclass boot interface (1), protocol keyboard (1).
bool is_boot_keyboard(const NodeDevice::UsbClass& u) { return u.cls == 3 && u.subclass == 1 && u.protocol == 1; }

// Parent chains are followed at most this far (libvirt's are a few levels;
// the bound also stops a loop in a hostile answer).
constexpr int kMaxParentDepth = 64;

class Builder {
public:
    Builder(const std::vector<Result<NodeDevice>>& devices, std::string_view cpu_vendor) {
        out_.host.cpu_vendor = std::string(cpu_vendor);
        for (const auto& r : devices) {
            if (!r) {
                out_.host.warnings.push_back("node device ignored: " + r.error().describe());
                continue;
            }
            if (!by_name_.emplace(r->name, &*r).second)
                out_.host.warnings.push_back("node device " + r->name + " is listed twice; the first is used");
        }
    }

    LibvirtHost build() {
        Host& h = out_.host;
        std::set<PciAddress> seen;
        for (const auto& [name, nd] : by_name_) {
            if (!nd->pci) continue;
            if (!seen.insert(nd->pci->address).second) {
                h.warnings.push_back("node device " + name + " describes " + nd->pci->address.str() +
                                     " again; ignored");
                continue;
            }
            PciDevice d = *nd->pci;
            // Node devices show no subsystem ids, revision or serials: unknown,
            // never compared with a pin (a pin made on the host has them).
            d.unread_identity = {IdentityField::Subsystem, IdentityField::Revision, IdentityField::Serial};
            if (!nd->class_known) {
                d.unread_identity.push_back(IdentityField::Class);
                d.problems.push_back(
                    "libvirt does not show this device's class (older libvirt): its kind is unknown "
                    "and it is treated as an endpoint");
            }
            d.parent_bridges = pci_ancestors(nd->parent);
            h.devices.push_back(std::move(d));
        }
        std::sort(h.devices.begin(), h.devices.end(),
                  [](const PciDevice& a, const PciDevice& b) { return a.address < b.address; });
        link_sriov();
        adopt_group_members();
        record_uses();
        h.iommu_present = std::any_of(h.devices.begin(), h.devices.end(),
                                      [](const PciDevice& d) { return d.iommu_group.has_value(); });
        h.normalize();
        h.warnings.push_back(
            "read through libvirt: the devices of the root filesystem, the default route and the boot display are "
            "not visible this way and so not protected; network interfaces and disks below a device are warnings "
            "(the full policy: hostdev snapshot on the host, then hostdev-fix --host)");
        if (!h.iommu_present && !h.devices.empty()) h.warnings.push_back(no_iommu_advice(h));
        return std::move(out_);
    }

private:
    PciDevice* find(const PciAddress& a) { return out_.host.find(a); }

    // The PCI functions on the way up from a parent name, nearest first.
    std::vector<PciAddress> pci_ancestors(const std::string& parent) const {
        std::vector<PciAddress> out;
        std::string p = parent;
        for (int depth = 0; depth < kMaxParentDepth && !p.empty(); ++depth) {
            auto it = by_name_.find(p);
            if (it == by_name_.end()) break;
            if (it->second->pci) out.push_back(it->second->pci->address);
            p = it->second->parent;
        }
        return out;
    }

    // Is the node device `name` the PCI function `a`?
    bool is_pci_node(const std::string& name, const PciAddress& a) const {
        auto it = by_name_.find(name);
        return it != by_name_.end() && it->second->pci && it->second->pci->address == a;
    }

    // The nearest PCI function above a node device, with the chain's node names.
    std::optional<PciAddress> pci_owner(const NodeDevice& nd) const {
        auto up = pci_ancestors(nd.parent);
        if (up.empty()) return std::nullopt;
        return up.front();
    }

    void link_sriov() {
        for (auto& d : out_.host.devices) {
            if (!d.physfn) continue;
            if (PciDevice* pf = find(*d.physfn)) {
                if (std::find(pf->virtfns.begin(), pf->virtfns.end(), d.address) == pf->virtfns.end())
                    pf->virtfns.push_back(d.address);
            }
        }
        for (auto& d : out_.host.devices) {
            for (const auto& vf : d.virtfns) {
                PciDevice* v = find(vf);
                if (v && !v->physfn) v->physfn = d.address;
            }
        }
    }

    // Members that libvirt lists in a group: every one becomes a device of
    // that group, as the kernel's group directory would make it.
    void adopt_group_members() {
        std::vector<PciDevice> orphans;
        for (const auto& [name, nd] : by_name_) {
            if (!nd->pci || !nd->pci->iommu_group) continue;
            const int group = *nd->pci->iommu_group;
            const std::string g = "IOMMU group " + std::to_string(group);
            for (const auto& m : nd->group_members) {
                if (PciDevice* d = find(m)) {
                    if (d->iommu_group != group) {
                        std::string msg = "libvirt lists it in " + g + " (node device " + name +
                                          ") but its own node device " +
                                          (d->iommu_group ? "says IOMMU group " + std::to_string(*d->iommu_group)
                                                          : std::string("shows no IOMMU group"));
                        if (std::find(d->problems.begin(), d->problems.end(), msg) == d->problems.end())
                            d->problems.push_back(std::move(msg));
                    }
                    continue;
                }
                auto known =
                    std::find_if(orphans.begin(), orphans.end(), [&](const PciDevice& o) { return o.address == m; });
                if (known != orphans.end()) continue;
                PciDevice o;
                o.address = m;
                o.iommu_group = group;
                o.problems.push_back("listed in " + g + " by node device " + name +
                                     " but libvirt shows no node device for it");
                orphans.push_back(std::move(o));
            }
        }
        for (auto& o : orphans) out_.host.devices.push_back(std::move(o));
        std::sort(out_.host.devices.begin(), out_.host.devices.end(),
                  [](const PciDevice& a, const PciDevice& b) { return a.address < b.address; });
    }

    void record_uses() {
        for (const auto& [name, nd] : by_name_) {
            if (nd->pci) continue;
            std::optional<HostUse> use;
            if (nd->capability == "net") {
                use = HostUse{HostUse::Kind::NetworkInterface, nd->interface.empty() ? name : nd->interface};
            } else if (nd->capability == "storage") {
                use = HostUse{HostUse::Kind::Disk, nd->block.empty() ? name : nd->block};
            } else if (nd->usb_interface && is_boot_keyboard(*nd->usb_interface)) {
                use = HostUse{HostUse::Kind::Keyboard, nd->parent.empty() ? name : nd->parent};
            }
            if (!use) continue;
            auto owner = pci_owner(*nd);
            if (!owner) continue;
            PciDevice* d = find(*owner);
            if (!d) continue;
            if (use->kind == HostUse::Kind::Keyboard) d->roles.push_back(HostRole::HostKeyboard);
            // A network interface directly below the function is one of its netdevs (a hostdev network's pf dev).
            if (use->kind == HostUse::Kind::NetworkInterface && !nd->interface.empty() &&
                is_pci_node(nd->parent, d->address) &&
                std::find(d->netdevs.begin(), d->netdevs.end(), nd->interface) == d->netdevs.end()) {
                d->netdevs.push_back(nd->interface);
                std::sort(d->netdevs.begin(), d->netdevs.end());
            }
            auto& uses = out_.uses[*owner];
            const bool dup = std::any_of(uses.begin(), uses.end(),
                                         [&](const HostUse& u) { return u.kind == use->kind && u.name == use->name; });
            if (!dup) uses.push_back(std::move(*use));
        }
        for (auto& [a, uses] : out_.uses)
            std::sort(uses.begin(), uses.end(), [](const HostUse& x, const HostUse& y) {
                return std::tie(x.kind, x.name) < std::tie(y.kind, y.name);
            });
    }

    LibvirtHost out_;
    std::map<std::string, const NodeDevice*> by_name_;
};

}  // namespace

LibvirtHost host_from_node_devices(const std::vector<Result<NodeDevice>>& devices, std::string_view cpu_vendor) {
    return Builder(devices, cpu_vendor).build();
}

}  // namespace hostdev
