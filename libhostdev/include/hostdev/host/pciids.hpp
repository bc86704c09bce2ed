// Names of vendors, devices and classes from the pci.ids database (package
// pci.ids on Debian). The parser takes the file's text; a caller that knows
// which vendors it needs passes them, and only those are kept. The database
// only gives names, so a line that is not what pci.ids holds is skipped and
// counted, never fatal: the first such line is named (file and line number)
// for a warning. Names are kept as valid UTF-8 without control characters,
// at most kMaxNameBytes long, whatever the file holds.
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
    // `source` names the file in problems ("pci.ids:17: ...").
    static PciIds parse(std::string_view text, const std::unordered_set<std::uint16_t>* wanted = nullptr,
                        std::string_view source = "pci.ids");
    // Fails when the file cannot be read or is larger than kMaxFileBytes.
    static Result<PciIds> load(const std::filesystem::path& path,
                               const std::unordered_set<std::uint16_t>* wanted = nullptr);
    // $HOSTDEV_PCI_IDS, else the build's configured path, else /usr/share/hwdata/pci.ids.
    static std::filesystem::path default_path();

    // Empty string_view when unknown.
    [[nodiscard]] std::string_view vendor(std::uint16_t vendor) const;
    [[nodiscard]] std::string_view device(std::uint16_t vendor, std::uint16_t device) const;
    // The subclass name for a 16-bit class id (0x0300), else the class name.
    [[nodiscard]] std::string_view class_name(std::uint16_t class_id) const;

    // Lines skipped because they are not pci.ids lines, and the first of them
    // in words with what to do ("" when none was).
    [[nodiscard]] std::size_t skipped_lines() const { return skipped_; }
    [[nodiscard]] const std::string& first_problem() const { return first_problem_; }

    static constexpr std::size_t kMaxFileBytes = 64u << 20;  // Debian's is under 2 MiB
    static constexpr std::size_t kMaxNameBytes = 256;        // its longest name is under 200

private:
    std::size_t skipped_ = 0;
    std::string first_problem_;
    void skip(std::string_view source, std::size_t line_no, std::string_view line, std::string_view why);
    std::unordered_map<std::uint16_t, std::string> vendors_;
    std::unordered_map<std::uint32_t, std::string> devices_;
    std::unordered_map<std::uint16_t, std::string> subclasses_;  // key 0xccss
    std::unordered_map<std::uint8_t, std::string> classes_;      // key 0xcc
};

}  // namespace hostdev
