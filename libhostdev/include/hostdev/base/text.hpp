// Small text helpers every layer uses: joining lists for messages and the
// spellings of PCI ids and class codes. One definition each, so that a
// message or an output format cannot drift from another.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hostdev {

// "a, b, c" (with sep between every two items).
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");
// "a, b and c": a list in a sentence.
std::string join_sentence(const std::vector<std::string>& items, std::string_view last_sep = " and ");

// vendor:device as lspci -n and modprobe's ids= spell it: "10de:13c2".
std::string pci_ids(std::uint16_t vendor, std::uint16_t device);
// A 24-bit class code as sysfs spells it: "0x030000".
std::string pci_class_code(std::uint32_t class_code);
// Lowercase hexadecimal with at least `width` digits and no prefix: hex(0xa1, 2) = "a1".
std::string hex(std::uint32_t value, int width);

// The value of one hexadecimal digit, -1 for anything else.
constexpr int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace hostdev
