#include "hostdev/policy/vfio_driver.hpp"

#include <algorithm>

#include "hostdev/host/parse.hpp"

namespace hostdev {

std::string_view to_string(VariantMode m) {
    switch (m) {
        case VariantMode::Auto: return "auto";
        case VariantMode::Yes: return "yes";
        case VariantMode::No: return "no";
    }
    return "auto";
}

std::optional<VariantMode> variant_mode_from_string(std::string_view text) {
    for (auto m : {VariantMode::Auto, VariantMode::Yes, VariantMode::No})
        if (to_string(m) == text) return m;
    return std::nullopt;
}

namespace {

bool is_vfio_pci(std::string_view driver) { return parse::module_name(driver) == "vfio_pci"; }

}  // namespace

bool is_vfio_driver(std::string_view driver) {
    const std::string m = parse::module_name(driver);
    constexpr std::string_view suffix = "_vfio_pci";
    return m == "vfio_pci" ||
           (m.size() > suffix.size() && m.compare(m.size() - suffix.size(), suffix.size(), suffix) == 0);
}

bool is_vfio_driver(std::string_view driver, const Host& host) {
    if (is_vfio_driver(driver)) return true;
    if (!host.vfio_variant_aliases) return false;
    const std::string m = parse::module_name(driver);
    return std::any_of(host.vfio_variant_aliases->begin(), host.vfio_variant_aliases->end(),
                       [&](const VfioAlias& a) { return parse::module_name(a.module) == m; });
}

std::optional<VfioVariant> best_vfio_variant(const PciDevice& d, const Host& host) {
    if (!d.modalias || !host.vfio_variant_aliases) return std::nullopt;
    // modules.alias spells the driver_override-only table of a VFIO driver
    // "vfio_pci:..." where the device's own modalias reads "pci:...".
    const std::string wanted = "vfio_" + *d.modalias;
    const VfioAlias* best = nullptr;
    std::ptrdiff_t fewest = 0;
    for (const auto& a : *host.vfio_variant_aliases) {
        if (!parse::alias_matches(a.pattern, wanted)) continue;
        const auto stars = std::count(a.pattern.begin(), a.pattern.end(), '*');
        if (best == nullptr || stars < fewest) {
            best = &a;
            fewest = stars;
        }
    }
    if (best == nullptr || is_vfio_pci(best->module)) return std::nullopt;
    return VfioVariant{best->module, best->pattern};
}

namespace {

VfioDriverChoice generic(const PciDevice& d, const std::string& why) {
    return {std::string(kVfioPci), d.address.str() + ": vfio-pci: " + why};
}

// Without <driver model>: the best variant, when the rule in force is libvirt 10's.
VfioDriverChoice automatic(const PciDevice& d, const Host& host, const std::string& whose) {
    if (auto v = best_vfio_variant(d, host))
        return {v->module, d.address.str() + ": " + v->module + ": the VFIO variant driver that modules.alias names" +
                               " for its modalias (alias " + v->pattern + "), as " + whose + " chooses"};
    if (!d.modalias) return generic(d, "its modalias is unknown");
    if (!host.vfio_variant_aliases)
        return generic(d, "the kernel's modules.alias is unknown" +
                              (host.kernel_release ? " (kernel " + *host.kernel_release + ")" : std::string()));
    return generic(d, "no VFIO variant driver of this kernel matches it");
}

std::string old_libvirt(const Host& host) {
    return "libvirt " + host.libvirt_version->str() + " binds vfio-pci (variant drivers from libvirt " +
           kLibvirtVariantsSince.str() + ")";
}

}  // namespace

VfioDriverChoice choose_vfio_driver(const PciDevice& d, const std::optional<std::string>& model, const Host& host,
                                    VariantMode mode) {
    const bool old = host.libvirt_version && *host.libvirt_version < kLibvirtVariantsSince;
    if (model && is_vfio_pci(*model)) return generic(d, "as <driver model='" + *model + "'/> asks");
    if (mode == VariantMode::No)
        return generic(d, "vfio_variant_drivers = no in hostdev.conf" +
                              (model ? "; <driver model='" + *model + "'/> is not followed" : std::string()));
    if (model) {
        // A definition that still holds <driver model> was read by a libvirt
        // that knows it; only a libvirt known to be older ignores it.
        if (mode == VariantMode::Auto && old) return generic(d, old_libvirt(host) + " and ignores <driver model>");
        return {*model, d.address.str() + ": " + *model + ": as <driver model='" + *model + "'/> asks"};
    }
    if (mode == VariantMode::Yes) return automatic(d, host, "vfio_variant_drivers = yes");
    if (!host.libvirt_version)
        return generic(d, "the installed libvirt's version is unknown, and libvirt before " +
                              kLibvirtVariantsSince.str() +
                              " binds vfio-pci (vfio_variant_drivers = yes chooses "
                              "variant drivers anyway)");
    if (old) return generic(d, old_libvirt(host));
    return automatic(d, host, "libvirt " + host.libvirt_version->str());
}

}  // namespace hostdev
