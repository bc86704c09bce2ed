// Names of vendors, devices and classes from the pci.ids database (package
// pci.ids on Debian). The parser takes the file's text; a caller that knows
// which vendors it needs passes them, and only those are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "hostdev/base/result.hpp"

namespace hostdev {

class PciIds {
public:
    // Parses pci.ids text. With `wanted` set, device names are kept only for
    // those vendors (vendor and class names are always kept: they are few).
    static PciIds parse(std::string_view text, const std::unordered_set<std::uint16_t>* wanted = nullptr);
    static Result<PciIds> load(const std::filesystem::path& path,
                               const std::unordered_set<std::uint16_t>* wanted = nullptr);
    // $HOSTDEV_PCI_IDS, else the build's configured path, else /usr/share/hwdata/pci.ids.
    static std::filesystem::path default_path();

    // Empty string_view when unknown.
    [[nodiscard]] std::string_view vendor(std::uint16_t vendor) const;
    [[nodiscard]] std::string_view device(std::uint16_t vendor, std::uint16_t device) const;
    // The subclass name for a 16-bit class id (0x0300), else the class name.
    [[nodiscard]] std::string_view class_name(std::uint16_t class_id) const;

private:
    std::unordered_map<std::uint16_t, std::string> vendors_;
    std::unordered_map<std::uint32_t, std::string> devices_;
    std::unordered_map<std::uint16_t, std::string> subclasses_;  // key 0xccss
    std::unordered_map<std::uint8_t, std::string> classes_;      // key 0xcc
};

}  // namespace hostdev
