#include "hostdev/host/pciids.hpp"

#include <cstdlib>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/text.hpp"

namespace hostdev {
namespace {

// Reads `n` hex digits at the start of s; -1 when they are not all hex.
long hex_prefix(std::string_view s, std::size_t n) {
    if (s.size() < n) return -1;
    long v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        int d = hex_digit(s[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

// Name after the id and its separating spaces.
std::string_view name_after(std::string_view s, std::size_t n) {
    s.remove_prefix(n);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
    return s;
}

}  // namespace

PciIds PciIds::parse(std::string_view text, const std::unordered_set<std::uint16_t>* wanted) {
    PciIds ids;
    enum class Section { None, Vendor, Class } section = Section::None;
    long vendor = -1;
    bool keep_devices = false;
    long cls = -1;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty() || line[0] == '#') continue;

        if (line[0] != '\t') {
            if (line.size() > 2 && line[0] == 'C' && line[1] == ' ') {
                cls = hex_prefix(line.substr(2), 2);
                section = cls < 0 ? Section::None : Section::Class;
                if (cls >= 0) ids.classes_[static_cast<std::uint8_t>(cls)] = std::string(name_after(line, 4));
                continue;
            }
            vendor = hex_prefix(line, 4);
            if (vendor < 0 || (line.size() > 4 && line[4] != ' ')) {
                section = Section::None;  // another list (e.g. "X" device-independent ids)
                continue;
            }
            section = Section::Vendor;
            ids.vendors_[static_cast<std::uint16_t>(vendor)] = std::string(name_after(line, 4));
            keep_devices = !wanted || wanted->count(static_cast<std::uint16_t>(vendor)) != 0;
            continue;
        }
        if (line.size() > 1 && line[1] == '\t') continue;  // subsystem or prog-if: not needed
        std::string_view body = line.substr(1);
        if (section == Section::Vendor && keep_devices) {
            long dev = hex_prefix(body, 4);
            if (dev >= 0)
                ids.devices_[static_cast<std::uint32_t>(vendor << 16 | dev)] = std::string(name_after(body, 4));
        } else if (section == Section::Class) {
            long sub = hex_prefix(body, 2);
            if (sub >= 0) ids.subclasses_[static_cast<std::uint16_t>(cls << 8 | sub)] = std::string(name_after(body, 2));
        }
    }
    return ids;
}

Result<PciIds> PciIds::load(const std::filesystem::path& path, const std::unordered_set<std::uint16_t>* wanted) {
    auto text = fileio::read_file(path, 64u << 20);
    if (!text) {
        return text.error().reworded("cannot read the PCI ID database (install package pci.ids, or set HOSTDEV_PCI_IDS)");
    }
    return parse(*text, wanted);
}

std::filesystem::path PciIds::default_path() {
    if (const char* env = std::getenv("HOSTDEV_PCI_IDS"); env && *env) return env;
    std::filesystem::path configured = HOSTDEV_PCI_IDS_PATH;
    if (fileio::exists(configured)) return configured;
    return "/usr/share/hwdata/pci.ids";
}

std::string_view PciIds::vendor(std::uint16_t v) const {
    auto it = vendors_.find(v);
    return it == vendors_.end() ? std::string_view{} : std::string_view(it->second);
}

std::string_view PciIds::device(std::uint16_t v, std::uint16_t d) const {
    auto it = devices_.find(static_cast<std::uint32_t>(v) << 16 | d);
    return it == devices_.end() ? std::string_view{} : std::string_view(it->second);
}

std::string_view PciIds::class_name(std::uint16_t class_id) const {
    if (auto it = subclasses_.find(class_id); it != subclasses_.end()) return it->second;
    if (auto it = classes_.find(static_cast<std::uint8_t>(class_id >> 8)); it != classes_.end()) return it->second;
    return {};
}

}  // namespace hostdev
