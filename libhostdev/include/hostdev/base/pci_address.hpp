// PCI addresses in every spelling hostdev meets: sysfs names (DDDD:BB:SS.F),
// lspci's short form (BB:SS.F), libvirt <address> attributes (hex or decimal,
// domain optional) and libvirt node-device names (pci_DDDD_BB_SS_F).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hostdev/base/result.hpp"

namespace hostdev {

struct PciAddress {
    std::uint16_t domain = 0;
    std::uint8_t bus = 0;
    std::uint8_t slot = 0;      // 0..0x1f
    std::uint8_t function = 0;  // 0..7

    // "0000:01:00.0" or "01:00.0" (domain 0), hex digits in either case.
    static Result<PciAddress> parse(std::string_view text);
    // libvirt <address domain= bus= slot= function=/>: each value "0x.." or decimal;
    // an absent (nullopt) domain means 0; bus, slot and function are required.
    static Result<PciAddress> from_libvirt(std::optional<std::string_view> domain,
                                           std::optional<std::string_view> bus,
                                           std::optional<std::string_view> slot,
                                           std::optional<std::string_view> function);
    // "pci_0000_01_00_0"
    static Result<PciAddress> from_nodedev_name(std::string_view name);

    // Canonical, lowercase: "0000:01:00.0".
    [[nodiscard]] std::string str() const;
    // lspci's short form: "01:00.0".
    [[nodiscard]] std::string short_str() const;
    // libvirt node-device name: "pci_0000_01_00_0".
    [[nodiscard]] std::string nodedev_name() const;

    // Same physical slot (domain, bus, slot), any function.
    [[nodiscard]] bool same_slot(const PciAddress& other) const {
        return domain == other.domain && bus == other.bus && slot == other.slot;
    }

    auto operator<=>(const PciAddress&) const = default;
};

// Parses one libvirt-style number: "0x1f", "0X1F" or decimal "31". No sign, no
// spaces; fails above max with a message naming what and the limit.
Result<unsigned long> parse_libvirt_number(std::string_view text, std::string_view what,
                                           unsigned long max);

}  // namespace hostdev

template <>
struct std::hash<hostdev::PciAddress> {
    std::size_t operator()(const hostdev::PciAddress& a) const noexcept {
        return (std::size_t{a.domain} << 16) | (std::size_t{a.bus} << 8) |
               (std::size_t{a.slot} << 3) | a.function;
    }
};
