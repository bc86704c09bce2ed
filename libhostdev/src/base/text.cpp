#include "hostdev/base/text.hpp"

#include <cstdio>

namespace hostdev {

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) s += sep;
        s += items[i];
    }
    return s;
}

std::string join_sentence(const std::vector<std::string>& items, std::string_view last_sep) {
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) s += i + 1 == items.size() ? last_sep : std::string_view(", ");
        s += items[i];
    }
    return s;
}

std::string pci_ids(std::uint16_t vendor, std::uint16_t device) { return hex(vendor, 4) + ":" + hex(device, 4); }

std::string pci_class_code(std::uint32_t class_code) { return "0x" + hex(class_code, 6); }

std::string hex(std::uint32_t value, int width) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*x", width, value);
    return buf;
}

}  // namespace hostdev
