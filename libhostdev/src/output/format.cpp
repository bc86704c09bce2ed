#include "hostdev/output/format.hpp"

#include <cstdio>

#include "host/model_json.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

using nlohmann::ordered_json;

std::optional<OutputFormat> output_format_from_string(std::string_view s) {
    if (s == "text") return OutputFormat::Text;
    if (s == "json") return OutputFormat::Json;
    if (s == "dot") return OutputFormat::Dot;
    return std::nullopt;
}

AddressStyle address_style_for(const Host& host) {
    for (const auto& d : host.devices)
        if (d.address.domain != 0) return AddressStyle::Full;
    return AddressStyle::Short;
}

std::string lspci_line(const PciDevice& d, AddressStyle style) {
    char ids[64];
    std::string s = style == AddressStyle::Full ? d.address.str() : d.address.short_str();
    s += ' ';
    s += d.class_name.empty() ? std::string("Class") : d.class_name;
    std::snprintf(ids, sizeof ids, " [%04x]: ", d.class_id());
    s += ids;
    if (!d.vendor_name.empty()) s += d.vendor_name + ' ';
    s += d.device_name.empty() ? std::string("Device") : d.device_name;
    s += " [" + pci_ids(d.vendor, d.device) + "]";
    if (d.revision != 0) {
        std::snprintf(ids, sizeof ids, " (rev %02x)", d.revision);
        s += ids;
    }
    return s;
}

namespace {

// "driver: nouveau; boot VGA; host role: controller of the root filesystem"
std::string detail_line(const PciDevice& d, const Host& host) {
    std::string s = "driver: " + d.driver.value_or("none");
    if (d.driver_override) s += "; driver_override: " + *d.driver_override;
    switch (d.kind()) {
        case DeviceKind::Bridge: s += "; bridge"; break;
        case DeviceKind::Platform: s += "; platform function"; break;
        case DeviceKind::Endpoint: break;
    }
    if (d.boot_vga.value_or(false)) s += "; boot VGA";
    for (auto r : d.roles)
        if (r != HostRole::BootVga) s += "; host role: " + std::string(describe(r));
    if (d.lacks_reset()) s += "; no reset method";
    if (d.physfn) s += "; SR-IOV VF of " + d.physfn->str();
    if (!d.virtfns.empty()) s += "; SR-IOV PF with " + std::to_string(d.virtfns.size()) + " VFs";
    if (d.mdev_parent) s += "; mdev parent";
    if (d.vgpu_type) s += "; vGPU type " + std::to_string(*d.vgpu_type);
    if (auto v = best_vfio_variant(d, host)) s += "; VFIO variant driver: " + v->module;
    return s;
}

void text_device(std::string& out, const PciDevice& d, AddressStyle style, const Host& host) {
    out += "  " + lspci_line(d, style) + "\n";
    out += "      " + detail_line(d, host) + "\n";
    if (d.is_display() && host.gpu_holders) {
        const auto boot = d.has_role(HostRole::BootVga) ? BootGpu::Yes : BootGpu::No;
        const auto h = holders_of(*host.gpu_holders, d.address, boot, d.vendor == kVendorNvidia);
        if (!h.empty()) out += "      held by the host: " + describe_holders(h) + "\n";
    }
    for (const auto& p : d.problems) out += "      problem: " + p + "\n";
}

std::string dot_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string format_groups_text(const Host& host) {
    std::string out;
    const AddressStyle style = address_style_for(host);
    for (const auto& w : host.warnings) out += "warning: " + w + "\n";
    for (const auto& [n, g] : host.groups) {
        out += "IOMMU group " + std::to_string(n) + ":\n";
        for (const auto& a : g.members)
            if (const PciDevice* d = host.find(a)) text_device(out, *d, style, host);
    }
    auto ungrouped = host.ungrouped();
    if (!ungrouped.empty()) {
        out += "No IOMMU group:\n";
        for (const PciDevice* d : ungrouped) text_device(out, *d, style, host);
    }
    return out;
}

namespace {

// Appends `j` as dump(2) would print it nested `depth` levels deep: every line
// after the first indented by 2*depth more spaces.
void append_nested(std::string& out, const ordered_json& j, int depth) {
    // A name read under a root (a copied tree) need not be UTF-8: such bytes
    // are listed as U+FFFD rather than making the writer throw.
    const std::string text = j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
    const std::string pad(static_cast<std::size_t>(2 * depth), ' ');
    std::size_t start = 0;
    while (true) {
        std::size_t nl = text.find('\n', start);
        out.append(text, start, nl == std::string::npos ? std::string::npos : nl - start + 1);
        if (nl == std::string::npos) break;
        out += pad;
        start = nl + 1;
    }
}

// A list of devices at `depth`, one JSON object at a time, so a host of
// thousands of functions never becomes one document in memory.
template <class It, class Get>
void append_devices(std::string& out, It begin, It end, int depth, const Host& host, Get get) {
    const std::string pad(static_cast<std::size_t>(2 * depth), ' ');
    if (begin == end) {
        out += "[]";
        return;
    }
    out += "[\n";
    for (It it = begin; it != end; ++it) {
        if (it != begin) out += ",\n";
        out += pad + "  ";
        ordered_json j = json_model::device(get(*it));
        const auto variant = best_vfio_variant(get(*it), host);
        j["vfio_variant"] = variant ? ordered_json(variant->module) : ordered_json(nullptr);
        append_nested(out, j, depth + 1);
    }
    out += "\n" + pad + "]";
}

}  // namespace

std::string format_groups_json(const Host& host) {
    // The same bytes as one ordered_json document dumped with indent 2, built
    // a device at a time.
    std::string out = "{\n  \"groups\": ";
    if (host.groups.empty())
        out += "[]";
    else {
        out += "[\n";
        bool first = true;
        for (const auto& [n, g] : host.groups) {
            if (!first) out += ",\n";
            first = false;
            out += "    {\n      \"group\": " + std::to_string(n) + ",\n      \"devices\": ";
            std::vector<const PciDevice*> members;
            for (const auto& a : g.members)
                if (const PciDevice* d = host.find(a)) members.push_back(d);
            append_devices(out, members.begin(), members.end(), 3, host,
                           [](const PciDevice* d) -> const PciDevice& { return *d; });
            out += "\n    }";
        }
        out += "\n  ]";
    }
    out += ",\n  \"ungrouped\": ";
    auto ungrouped = host.ungrouped();
    append_devices(out, ungrouped.begin(), ungrouped.end(), 1, host,
                   [](const PciDevice* d) -> const PciDevice& { return *d; });
    ordered_json tail;
    tail["iommu"] = {{"present", host.iommu_present}, {"units", host.iommu_units}};
    tail["warnings"] = host.warnings;
    std::string rest = tail.dump(2, ' ', false, ordered_json::error_handler_t::replace);  // "{\n  \"iommu\": ...\n}"
    out += ",\n" + rest.substr(2);
    out += "\n";
    return out;
}

std::string format_groups_dot(const Host& host) {
    const AddressStyle style = address_style_for(host);
    std::string out =
        "digraph hostdev {\n"
        "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, label=\"IOMMU groups\\n"
        "grey box = bridge, yellow hexagon = platform function, box = endpoint (blue: display, green: "
        "vfio-pci); red outline = needed by the host\", labelloc=t];\n"
        "  node [fontname=\"Helvetica\", fontsize=9, style=filled];\n"
        "  edge [color=\"#999999\", arrowsize=0.6];\n";
    auto node = [&](const PciDevice& d) {
        std::string label = style == AddressStyle::Full ? d.address.str() : d.address.short_str();
        label += "\\n" + dot_escape(d.class_name.empty() ? "Class" : d.class_name);
        label += "\\n[" + pci_ids(d.vendor, d.device) + "]";
        label += "\\n" + dot_escape(d.driver.value_or("no driver"));
        std::string attrs;
        switch (d.kind()) {
            case DeviceKind::Bridge: attrs = "shape=box3d, fillcolor=\"#d9d9d9\""; break;
            case DeviceKind::Platform: attrs = "shape=hexagon, fillcolor=\"#fff2b3\""; break;
            case DeviceKind::Endpoint:
                if (d.driver && is_vfio_driver(*d.driver, host))
                    attrs = "shape=box, fillcolor=\"#c8f0c8\"";
                else if (d.is_display())
                    attrs = "shape=box, fillcolor=\"#cfe2ff\"";
                else
                    attrs = "shape=box, fillcolor=\"#ffffff\"";
                break;
        }
        if (!d.roles.empty()) attrs += ", color=\"#d62728\", penwidth=2.5";
        return "    \"" + d.address.str() + "\" [label=\"" + label + "\", " + attrs + "];\n";
    };
    for (const auto& [n, g] : host.groups) {
        out += "  subgraph cluster_group_" + std::to_string(n) + " {\n";
        out += "    label=\"group " + std::to_string(n) + "\"; style=rounded; color=\"#5b7db1\";\n";
        for (const auto& a : g.members)
            if (const PciDevice* d = host.find(a)) out += node(*d);
        out += "  }\n";
    }
    auto ungrouped = host.ungrouped();
    if (!ungrouped.empty()) {
        out += "  subgraph cluster_ungrouped {\n    label=\"no IOMMU group\"; style=dashed; color=\"#999999\";\n";
        for (const PciDevice* d : ungrouped) out += node(*d);
        out += "  }\n";
    }
    for (const auto& d : host.devices)
        if (!d.parent_bridges.empty() && host.find(d.parent_bridges.front()))
            out += "  \"" + d.parent_bridges.front().str() + "\" -> \"" + d.address.str() + "\";\n";
    out += "}\n";
    return out;
}

std::string format_groups(const Host& host, OutputFormat format) {
    switch (format) {
        case OutputFormat::Text: return format_groups_text(host);
        case OutputFormat::Json: return format_groups_json(host);
        case OutputFormat::Dot: return format_groups_dot(host);
    }
    return {};
}

}  // namespace hostdev
