// PCI addresses in every spelling hostdev meets: sysfs names (DDDD:BB:SS.F,
// with more than four domain digits behind Intel VMD: 10000:01:00.0), lspci's
// short form (BB:SS.F), libvirt <address> attributes (read exactly as libvirt
// reads them: hex, octal or decimal, every field optional) and libvirt
// node-device names (pci_DDDD_BB_SS_F).
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
    std::uint32_t domain = 0;  // 0..0xffffffff: Linux and libvirt allow more than 16 bits
    std::uint8_t bus = 0;
    std::uint8_t slot = 0;      // 0..0x1f
    std::uint8_t function = 0;  // 0..7

    // "0000:01:00.0", "10000:01:00.0" or "01:00.0" (domain 0), hex digits in either case.
    static Result<PciAddress> parse(std::string_view text);
    // libvirt <address domain= bus= slot= function=/>, each value read as
    // libvirt reads it (parse_libvirt_number, base 0); an absent (nullopt)
    // field means 0, as in libvirt.
    static Result<PciAddress> from_libvirt(std::optional<std::string_view> domain, std::optional<std::string_view> bus,
                                           std::optional<std::string_view> slot,
                                           std::optional<std::string_view> function);
    // "pci_0000_01_00_0"
    static Result<PciAddress> from_nodedev_name(std::string_view name);

    // Canonical, lowercase, as sysfs names it: "0000:01:00.0", "10000:01:00.0".
    [[nodiscard]] std::string str() const;
    // lspci's short form: "01:00.0".
    [[nodiscard]] std::string short_str() const;
    // libvirt node-device name: "pci_0000_01_00_0", "pci_10000_01_00_0".
    [[nodiscard]] std::string nodedev_name() const;

    // Same physical slot (domain, bus, slot), any function.
    [[nodiscard]] bool same_slot(const PciAddress& other) const {
        return domain == other.domain && bus == other.bus && slot == other.slot;
    }

    auto operator<=>(const PciAddress&) const = default;
};

// How libvirt reads a number it stores as unsigned int (virStrToLong_uip):
// leading white space (space, tab, newline, carriage return, vertical tab,
// form feed) is skipped, then one optional '+'; a '-' is refused; then digits
// of the base, up to the end of the text (nothing may follow, not even a
// space), at most 0xffffffff. Base Auto is strtoul's base 0: "0x"/"0X" hex,
// a leading "0" octal ("010" is 8, "08" is refused), otherwise decimal.
// libvirt reads every <address> attribute with base Auto, and the <domain>,
// <bus>, <slot>, <function> elements of node-device XML and <boot order=>
// with base Decimal ("010" is 10, "0x10" is refused).
enum class NumberBase { Auto, Decimal };
Result<std::uint32_t> parse_libvirt_uint(std::string_view text, NumberBase base);

// parse_libvirt_uint with a limit, and an error that names what and the
// limit: "bus='0x100' is out of range (... at most 0xff)".
Result<unsigned long> parse_libvirt_number(std::string_view text, std::string_view what, unsigned long max,
                                           NumberBase base = NumberBase::Auto);

}  // namespace hostdev

template <>
struct std::hash<hostdev::PciAddress> {
    std::size_t operator()(const hostdev::PciAddress& a) const noexcept {
        // bus, slot and function fill the low 16 bits; the domain the bits above
        // (all of it where size_t has 64 bits, so no two addresses collide).
        const std::size_t low = (std::size_t{a.bus} << 8) | (std::size_t{a.slot} << 3) | a.function;
        if constexpr (sizeof(std::size_t) >= 8) return (std::size_t{a.domain} << 16) | low;
        return (std::size_t{a.domain} * 0x9e3779b9U) ^ low;
    }
};
