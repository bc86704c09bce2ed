#include "hostdev/host/pciids.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"

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

// The name after an id of `n` characters: at least one space or tab, then a
// name; nullopt when either is missing.
std::optional<std::string_view> name_after(std::string_view s, std::size_t n) {
    s.remove_prefix(n);
    if (s.empty() || (s.front() != ' ' && s.front() != '\t')) return std::nullopt;
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (s.empty()) return std::nullopt;
    return s;
}

// Length of the UTF-8 character at the start of s when it is not a control
// character (C0, DEL or C1), else 0.
std::size_t utf8_char(std::string_view s) {
    const std::size_t n = parse::utf8_char_length(s);
    const auto c = static_cast<unsigned char>(s[0]);
    if (n == 1 && (c < 0x20 || c == 0x7f)) return 0;
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0) return 0;  // U+0080..U+009F
    return n;
}

// A name as hostdev shows it: valid UTF-8 (anything else becomes '?'), no
// control characters, at most kMaxNameBytes (cut at a character).
std::string clean_name(std::string_view s) {
    // Nearly every name is printable ASCII: taken as it is.
    if (s.size() <= PciIds::kMaxNameBytes &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
        return std::string(s);
    std::string out;
    while (!s.empty()) {
        const std::size_t n = utf8_char(s);
        if (out.size() + std::max<std::size_t>(n, 1) > PciIds::kMaxNameBytes) break;
        if (n == 0)
            out += '?';
        else
            out.append(s.substr(0, n));
        s.remove_prefix(std::max<std::size_t>(n, 1));
    }
    return out;
}

}  // namespace

void PciIds::skip(std::string_view source, std::size_t line_no, std::string_view line, std::string_view why) {
    if (skipped_++ == 0)
        first_problem_ = std::string(source) + ":" + std::to_string(line_no) + ": " + std::string(why) + ", got " +
                         parse::quote(line) +
                         "; the line is skipped (reinstall package pci.ids, or set HOSTDEV_PCI_IDS)";
}

PciIds PciIds::parse(std::string_view text, const std::unordered_set<std::uint16_t>* wanted, std::string_view source) {
    PciIds ids;
    enum class Section { None, Vendor, Class } section = Section::None;
    long vendor = -1, cls = -1;
    bool keep_devices = false;
    std::size_t pos = 0, line_no = 0;
    auto top_level = [&](std::string_view line) {
        const bool is_class = line.size() > 1 && line[0] == 'C' && line[1] == ' ';
        std::string_view id = is_class ? line.substr(2) : line;
        const std::size_t digits = is_class ? 2 : 4;
        const long n = hex_prefix(id, digits);
        const auto name = n < 0 ? std::nullopt : name_after(id, digits);
        section = Section::None;  // until the line is good: its children are skipped with it
        if (!name) {
            ids.skip(source, line_no, line,
                     is_class ? "expected 'C', a 2-digit hex class and a name"
                              : "expected a 4-digit hex vendor id and a name");
        } else if (is_class) {
            section = Section::Class, cls = n;
            ids.classes_.emplace(static_cast<std::uint8_t>(n), clean_name(*name));
        } else {
            section = Section::Vendor, vendor = n;
            ids.vendors_.emplace(static_cast<std::uint16_t>(n), clean_name(*name));
            keep_devices = !wanted || wanted->count(static_cast<std::uint16_t>(n)) != 0;
        }
    };
    auto child = [&](std::string_view body) {
        const std::size_t digits = section == Section::Class ? 2 : 4;
        const long n = hex_prefix(body, digits);
        const auto name = n < 0 ? std::nullopt : name_after(body, digits);
        if (!name) {
            ids.skip(source, line_no, body,
                     digits == 2 ? "expected a 2-digit hex subclass and a name"
                                 : "expected a 4-digit hex device id and a name");
        } else if (section == Section::Class) {
            ids.subclasses_.emplace(static_cast<std::uint16_t>(cls << 8 | n), clean_name(*name));
        } else {
            ids.devices_.emplace(static_cast<std::uint32_t>(vendor << 16 | n), clean_name(*name));
        }
    };
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        if (line[0] != '\t')
            top_level(line);
        else if (line.size() > 1 && line[1] == '\t')
            continue;  // subsystem or prog-if: not needed
        else if (section == Section::Class || (section == Section::Vendor && keep_devices))
            child(line.substr(1));
    }
    return ids;
}

Result<PciIds> PciIds::load(const std::filesystem::path& path, const std::unordered_set<std::uint16_t>* wanted) {
    // One byte more than the limit tells a file at the limit from a larger one.
    auto text = fileio::read_file(path, kMaxFileBytes + 1);
    if (!text) {
        return text.error().reworded(
            "cannot read the PCI ID database (install package pci.ids, or set HOSTDEV_PCI_IDS)");
    }
    if (text->size() > kMaxFileBytes)
        return make_error(
            "the PCI ID database is larger than 64 MiB, so it is not one (reinstall package pci.ids, "
            "or set HOSTDEV_PCI_IDS)",
            path.string(), EFBIG);
    return parse(*text, wanted, path.string());
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
