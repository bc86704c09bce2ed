#include "hostdev/base/pci_address.hpp"

#include <array>
#include <cstdio>

#include "hostdev/base/text.hpp"

namespace hostdev {
namespace {

// Parses exactly `text` as hex; fails on empty, non-hex or overflow of max.
bool parse_hex_field(std::string_view text, unsigned long max, unsigned long& out) {
    if (text.empty() || text.size() > 8) return false;
    unsigned long v = 0;
    for (char c : text) {
        int d = hex_digit(c);
        if (d < 0) return false;
        v = v * 16 + static_cast<unsigned long>(d);
    }
    if (v > max) return false;
    out = v;
    return true;
}

Error bad_address(std::string_view text, std::string_view why) {
    return make_error("invalid PCI address '" + std::string(text) + "': " + std::string(why) +
                      " (expected DDDD:BB:SS.F or BB:SS.F, e.g. 0000:01:00.0)");
}

Result<PciAddress> check_and_build(std::string_view text, unsigned long dom, unsigned long bus, unsigned long slot,
                                   unsigned long fn) {
    if (dom > 0xffffffffUL) return bad_address(text, "domain is above 0xffffffff");
    if (bus > 0xff) return bad_address(text, "bus is above 0xff");
    if (slot > 0x1f) return bad_address(text, "slot is above 0x1f");
    if (fn > 7) return bad_address(text, "function is above 7");
    return PciAddress{static_cast<std::uint32_t>(dom), static_cast<std::uint8_t>(bus), static_cast<std::uint8_t>(slot),
                      static_cast<std::uint8_t>(fn)};
}

// The white space C's isspace() knows in the "C" locale, which strtoul skips.
constexpr bool is_c_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// The value of one digit in base 8, 10 or 16, -1 when it is not one.
int digit_in(char c, unsigned base) {
    int d = hex_digit(c);
    return d >= 0 && static_cast<unsigned>(d) < base ? d : -1;
}

}  // namespace

Result<PciAddress> PciAddress::parse(std::string_view text) {
    // Split into up to four fields on ':' ':' '.'.
    std::string_view rest = text;
    std::array<std::string_view, 3> colon_parts{};
    std::size_t n = 0;
    while (true) {
        auto pos = rest.find(':');
        if (pos == std::string_view::npos) break;
        if (n == 2) return bad_address(text, "too many ':'");
        colon_parts[n++] = rest.substr(0, pos);
        rest = rest.substr(pos + 1);
    }
    if (n == 0) return bad_address(text, "no ':'");
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) return bad_address(text, "no '.' before the function");
    std::string_view slot_s = rest.substr(0, dot);
    std::string_view fn_s = rest.substr(dot + 1);
    std::string_view dom_s = n == 2 ? colon_parts[0] : std::string_view{};
    std::string_view bus_s = n == 2 ? colon_parts[1] : colon_parts[0];

    unsigned long dom = 0, bus = 0, slot = 0, fn = 0;
    if (n == 2 && !parse_hex_field(dom_s, 0xffffffff, dom)) return bad_address(text, "bad domain");
    if (!parse_hex_field(bus_s, 0xffffffff, bus)) return bad_address(text, "bad bus");
    if (!parse_hex_field(slot_s, 0xffffffff, slot)) return bad_address(text, "bad slot");
    if (!parse_hex_field(fn_s, 0xffffffff, fn)) return bad_address(text, "bad function");
    return check_and_build(text, dom, bus, slot, fn);
}

Result<std::uint32_t> parse_libvirt_uint(std::string_view text, NumberBase base) {
    auto refuse = [](std::string_view why) { return make_error(std::string(why)); };
    std::size_t i = 0;
    while (i < text.size() && is_c_space(text[i])) ++i;
    if (i < text.size() && text[i] == '-') return refuse("is negative");
    if (i < text.size() && text[i] == '+') ++i;
    unsigned radix = 10;
    if (base == NumberBase::Auto && i < text.size() && text[i] == '0') {
        // "0x" counts as a prefix only when a hex digit follows; otherwise
        // strtoul reads the "0" alone and the rest is left over.
        if (i + 2 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && hex_digit(text[i + 2]) >= 0) {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    const std::size_t first = i;
    std::uint64_t v = 0;
    for (; i < text.size(); ++i) {
        int d = digit_in(text[i], radix);
        if (d < 0) break;
        v = v * radix + static_cast<unsigned>(d);
        if (v > 0xffffffffULL) return refuse("is out of range");
    }
    if (i == first) return refuse("is not a number");
    if (i != text.size())
        return refuse(radix == 8 && digit_in(text[i], 10) >= 0 ? "is not a number (a leading 0 makes it octal)"
                                                               : "is not a number");
    return static_cast<std::uint32_t>(v);
}

Result<unsigned long> parse_libvirt_number(std::string_view text, std::string_view what, unsigned long max,
                                           NumberBase base) {
    auto fail = [&](std::string_view why) {
        const bool any_base = base == NumberBase::Auto;
        char maxbuf[32];
        std::snprintf(maxbuf, sizeof maxbuf, any_base ? "0x%lx" : "%lu", max);
        const char* spelling = any_base ? "0x-prefixed hex, 0-prefixed octal or decimal" : "a decimal number";
        return make_error(std::string(what) + "='" + std::string(text) + "' " + std::string(why) + " (expected " +
                          spelling + ", at most " + maxbuf + ")");
    };
    auto v = parse_libvirt_uint(text, base);
    if (!v) return fail(v.error().message);
    if (*v > max) return fail("is out of range");
    return static_cast<unsigned long>(*v);
}

Result<PciAddress> PciAddress::from_libvirt(std::optional<std::string_view> domain, std::optional<std::string_view> bus,
                                            std::optional<std::string_view> slot,
                                            std::optional<std::string_view> function) {
    // libvirt reads each attribute as an unsigned int, then checks the
    // ranges of bus, slot and function; the domain may use all 32 bits.
    struct Field {
        const std::optional<std::string_view>& text;
        const char* name;
        unsigned long max;
    };
    const Field fields[] = {
        {domain, "domain", 0xffffffffUL}, {bus, "bus", 0xff}, {slot, "slot", 0x1f}, {function, "function", 7}};
    unsigned long v[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < 4; ++i) {
        if (!fields[i].text) continue;
        auto r = parse_libvirt_number(*fields[i].text, fields[i].name, fields[i].max);
        if (!r) return r.error();
        v[i] = *r;
    }
    return PciAddress{static_cast<std::uint32_t>(v[0]), static_cast<std::uint8_t>(v[1]),
                      static_cast<std::uint8_t>(v[2]), static_cast<std::uint8_t>(v[3])};
}

Result<PciAddress> PciAddress::from_nodedev_name(std::string_view name) {
    auto fail = [&] {
        return make_error("invalid node-device name '" + std::string(name) +
                          "' (expected pci_DDDD_BB_SS_F, e.g. pci_0000_01_00_0)");
    };
    if (name.substr(0, 4) != "pci_") return fail();
    std::string_view rest = name.substr(4);
    std::array<std::string_view, 4> f{};
    for (std::size_t i = 0; i < 4; ++i) {
        auto pos = rest.find('_');
        if (i < 3) {
            if (pos == std::string_view::npos) return fail();
            f[i] = rest.substr(0, pos);
            rest = rest.substr(pos + 1);
        } else {
            if (pos != std::string_view::npos) return fail();
            f[i] = rest;
        }
    }
    unsigned long dom = 0, bus = 0, slot = 0, fn = 0;
    if (!parse_hex_field(f[0], 0xffffffff, dom) || !parse_hex_field(f[1], 0xffffffff, bus) ||
        !parse_hex_field(f[2], 0xffffffff, slot) || !parse_hex_field(f[3], 0xffffffff, fn))
        return fail();
    auto r = check_and_build(name, dom, bus, slot, fn);
    if (!r)
        return make_error("invalid node-device name '" + std::string(name) +
                          "': " + r.error().message.substr(r.error().message.find(": ") + 2));
    return r;
}

std::string PciAddress::str() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, slot, function);
    return buf;
}

std::string PciAddress::short_str() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02x:%02x.%x", bus, slot, function);
    return buf;
}

std::string PciAddress::nodedev_name() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "pci_%04x_%02x_%02x_%x", domain, bus, slot, function);
    return buf;
}

}  // namespace hostdev
