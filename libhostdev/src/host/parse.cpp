#include "hostdev/host/parse.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "hostdev/host/host.hpp"  // the header layouts (kHeaderTypeNormal)

namespace hostdev::parse {
namespace {

std::vector<std::string_view> split_ws(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        f(line);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
}

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string unescape_octal(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        auto octal = [&](std::size_t k) { return field[k] >= '0' && field[k] <= '7'; };
        if (field[i] == '\\' && i + 3 < field.size() && octal(i + 1) && octal(i + 2) && octal(i + 3) &&
            field[i + 1] <= '3') {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

std::uint16_t le16(std::string_view b, std::size_t off) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(b[off]) |
                                      (static_cast<unsigned char>(b[off + 1]) << 8));
}

}  // namespace

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                             text.back() == '\0'))
        text.remove_suffix(1);
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    return text;
}

std::string quote(std::string_view text, std::size_t max) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out = "'";
    for (std::size_t i = 0; i < text.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kDigits[c >> 4];
            out += kDigits[c & 0xf];
        }
    }
    out += text.size() > max ? "'..." : "'";
    return out;
}

std::size_t utf8_char_length(std::string_view s) {
    if (s.empty()) return 0;
    const auto c = static_cast<unsigned char>(s[0]);
    if (c < 0x80) return 1;
    const std::size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || s.size() < len) return 0;
    std::uint32_t cp = c & (0x7fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[k]);
        if ((b & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (b & 0x3fu);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

bool valid_utf8(std::string_view text) {
    while (!text.empty()) {
        const std::size_t n = utf8_char_length(text);
        if (n == 0) return false;
        text.remove_prefix(n);
    }
    return true;
}

Result<std::uint32_t> sysfs_hex(std::string_view text, std::uint32_t max) {
    std::string_view t = trim(text);
    std::string_view digits = t;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits.remove_prefix(2);
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
    if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size())
        return make_error("not a hexadecimal number: " + quote(t));
    if (v > max) return make_error("value out of range: " + quote(t));
    return v;
}

Result<long> sysfs_int(std::string_view text) {
    std::string_view t = trim(text);
    long v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, 10);
    if (t.empty() || ec != std::errc{} || p != t.data() + t.size()) return make_error("not a number: " + quote(t));
    return v;
}

std::optional<std::string> driver_override(std::string_view text) {
    std::string_view t = trim(text);
    if (t.empty() || t == "(null)") return std::nullopt;
    return std::string(t);
}

std::vector<std::string> word_list(std::string_view text) {
    std::vector<std::string> out;
    for (auto w : split_ws(trim(text))) out.emplace_back(w);
    return out;
}

// Offsets of the standard configuration header (PCI Local Bus Specification
// 3.0, §6.1), named as include/uapi/linux/pci_regs.h names them.
namespace cfg {
constexpr std::size_t kVendorId = 0x00;           // PCI_VENDOR_ID
constexpr std::size_t kDeviceId = 0x02;           // PCI_DEVICE_ID
constexpr std::size_t kRevisionId = 0x08;         // PCI_REVISION_ID
constexpr std::size_t kClassProg = 0x09;          // PCI_CLASS_PROG: prog-if, then subclass, class
constexpr std::size_t kHeaderType = 0x0e;         // PCI_HEADER_TYPE
constexpr std::size_t kSubsystemVendorId = 0x2c;  // PCI_SUBSYSTEM_VENDOR_ID (header type 0 only)
constexpr std::size_t kSubsystemId = 0x2e;        // PCI_SUBSYSTEM_ID (header type 0 only)
constexpr std::uint8_t kHeaderTypeMask = 0x7f;    // PCI_HEADER_TYPE_MASK: the layout
constexpr std::uint8_t kHeaderTypeMfd = 0x80;     // PCI_HEADER_TYPE_MFD: a multi-function device
// The bytes read: through the header type, and through the subsystem ids.
constexpr std::size_t kMinBytes = kHeaderType + 2;
constexpr std::size_t kSubsystemBytes = kSubsystemId + 2;
}  // namespace cfg

Result<ConfigHeader> config_header(std::string_view bytes) {
    if (bytes.size() < cfg::kMinBytes)
        return make_error("config space too short (" + std::to_string(bytes.size()) + " bytes, need " +
                          std::to_string(cfg::kMinBytes) + ")");
    auto byte = [&](std::size_t at) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])); };
    ConfigHeader h;
    h.vendor = le16(bytes, cfg::kVendorId);
    h.device = le16(bytes, cfg::kDeviceId);
    h.revision = static_cast<std::uint8_t>(byte(cfg::kRevisionId));
    h.class_code = byte(cfg::kClassProg) | (byte(cfg::kClassProg + 1) << 8U) | (byte(cfg::kClassProg + 2) << 16U);
    const std::uint32_t ht = byte(cfg::kHeaderType);
    h.header_type = static_cast<std::uint8_t>(ht & cfg::kHeaderTypeMask);
    h.multifunction = (ht & cfg::kHeaderTypeMfd) != 0;
    if (h.header_type == kHeaderTypeNormal && bytes.size() >= cfg::kSubsystemBytes) {
        h.subsystem_vendor = le16(bytes, cfg::kSubsystemVendorId);
        h.subsystem_device = le16(bytes, cfg::kSubsystemId);
    }
    return h;
}

namespace ecap {
// PCI Express extended capabilities (PCIe Base Specification §7.6.3), as
// include/uapi/linux/pci_regs.h names them.
constexpr std::size_t kFirst = 0x100;                        // PCI_CFG_SPACE_SIZE: the list starts here
constexpr std::size_t kSpaceSize = 0x1000;                   // PCI_CFG_SPACE_EXP_SIZE
constexpr std::uint32_t kIdDsn = 0x0003;                     // PCI_EXT_CAP_ID_DSN
constexpr std::size_t kDsnLower = 4;                         // the serial's lower dword
constexpr std::size_t kDsnUpper = 8;                         // and its upper dword
constexpr std::size_t kDsnBytes = 12;                        // header and both dwords
constexpr std::size_t kMaxHops = (kSpaceSize - kFirst) / 4;  // 960: no list can be longer
}  // namespace ecap

std::optional<std::string> device_serial_number(std::string_view config) {
    if (config.size() <= ecap::kFirst) return std::nullopt;
    const std::size_t end = std::min(config.size(), ecap::kSpaceSize);
    auto le32 = [&](std::size_t at) {
        return static_cast<std::uint32_t>(le16(config, at)) | (static_cast<std::uint32_t>(le16(config, at + 2)) << 16);
    };
    std::vector<bool> seen(ecap::kSpaceSize / 4, false);
    std::size_t at = ecap::kFirst;
    for (std::size_t hop = 0; hop < ecap::kMaxHops; ++hop) {
        if (at < ecap::kFirst || at + 4 > end || seen[at / 4]) return std::nullopt;
        seen[at / 4] = true;
        const std::uint32_t header = le32(at);
        if (header == 0 || header == 0xffffffff) return std::nullopt;
        if ((header & 0xffff) == ecap::kIdDsn) {
            if (at + ecap::kDsnBytes > end) return std::nullopt;
            const std::uint32_t lower = le32(at + ecap::kDsnLower), upper = le32(at + ecap::kDsnUpper);
            char text[24];
            std::snprintf(text, sizeof text, "%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", upper >> 24,
                          (upper >> 16) & 0xff, (upper >> 8) & 0xff, upper & 0xff, lower >> 24, (lower >> 16) & 0xff,
                          (lower >> 8) & 0xff, lower & 0xff);
            return std::string(text);
        }
        // PCI_EXT_CAP_NEXT: bits 20-31, the two low bits reserved (the kernel masks them too).
        at = (header >> 20) & 0xffc;
        if (at == 0) return std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::string> nvme_serial(std::string_view text) {
    constexpr std::size_t kMaxSerial = 64;  // the NVMe serial number field is 20 bytes
    std::string_view t = trim(text);
    if (t.empty() || t.size() > kMaxSerial) return std::nullopt;
    for (char c : t)
        if (c < 0x20 || c > 0x7e) return std::nullopt;
    return std::string(t);
}

std::optional<std::string> permanent_mac(std::string_view address, std::string_view addr_assign_type) {
    constexpr long kNetAddrPerm = 0;  // NET_ADDR_PERM, include/uapi/linux/netdevice.h
    auto type = sysfs_int(addr_assign_type);
    if (!type || *type != kNetAddrPerm) return std::nullopt;
    std::string_view a = trim(address);
    constexpr std::size_t kMacText = 17;  // six octets "xx:" and the last "xx"
    if (a.size() != kMacText) return std::nullopt;
    std::string out;
    bool nonzero = false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char c = a[i];
        if (i % 3 == 2) {
            if (c != ':') return std::nullopt;
            out += c;
            continue;
        }
        const bool digit = c >= '0' && c <= '9', lower = c >= 'a' && c <= 'f', upper = c >= 'A' && c <= 'F';
        if (!digit && !lower && !upper) return std::nullopt;
        nonzero = nonzero || c != '0';
        out += upper ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (!nonzero) return std::nullopt;
    return out;
}

std::string link_basename(std::string_view target) {
    while (!target.empty() && target.back() == '/') target.remove_suffix(1);
    auto pos = target.rfind('/');
    return std::string(pos == std::string_view::npos ? target : target.substr(pos + 1));
}

Result<int> iommu_group_link(std::string_view target) {
    std::string base = link_basename(target);
    int v = 0;
    auto [p, ec] = std::from_chars(base.data(), base.data() + base.size(), v, 10);
    if (base.empty() || ec != std::errc{} || p != base.data() + base.size() || v < 0)
        return make_error("iommu_group link does not end in a group number: " + quote(target, 256));
    return v;
}

std::vector<PciAddress> pci_addresses_in_path(std::string_view path) {
    std::vector<PciAddress> out;
    std::size_t i = 0;
    while (i <= path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view comp = path.substr(i, j - i);
        // Exactly DDDD:BB:SS.F (12 characters); avoids "pci0000:00" and "0000:00:1f.6:pcie001".
        if (comp.size() == 12 && comp[4] == ':' && comp[7] == ':' && comp[10] == '.') {
            if (auto a = PciAddress::parse(comp)) out.push_back(*a);
        }
        i = j + 1;
    }
    return out;
}

std::optional<MountEntry> root_mount(std::string_view mountinfo) {
    std::optional<MountEntry> found;
    for_each_line(mountinfo, [&](std::string_view line) {
        // id parent MAJ:MIN root mountpoint options [optional...] - fstype source superoptions
        auto f = split_ws(line);
        if (f.size() < 7 || f[4] != "/") return;
        std::size_t sep = 6;
        while (sep < f.size() && f[sep] != "-") ++sep;
        if (sep >= f.size()) return;  // no " - " separator: not a mountinfo line
        MountEntry e;
        auto mm = f[2];
        auto colon = mm.find(':');
        if (colon == std::string_view::npos) return;
        auto r1 = std::from_chars(mm.data(), mm.data() + colon, e.major);
        auto r2 = std::from_chars(mm.data() + colon + 1, mm.data() + mm.size(), e.minor);
        if (r1.ec != std::errc{} || r1.ptr != mm.data() + colon || r2.ec != std::errc{} ||
            r2.ptr != mm.data() + mm.size())
            return;
        if (sep + 1 < f.size()) e.fstype = unescape_octal(f[sep + 1]);
        if (sep + 2 < f.size()) e.source = unescape_octal(f[sep + 2]);
        found = e;
    });
    return found;
}

std::vector<std::string> default_route_interfaces(std::string_view proc_net_route) {
    std::vector<std::string> out;
    bool header = true;
    for_each_line(proc_net_route, [&](std::string_view line) {
        if (header) {
            header = false;
            return;
        }
        auto f = split_ws(line);
        // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
        if (f.size() < 8) return;
        if (f[1] == "00000000" && f[7] == "00000000") {
            std::string iface(f[0]);
            if (std::find(out.begin(), out.end(), iface) == out.end()) out.push_back(iface);
        }
    });
    return out;
}

std::vector<std::string> default_route_interfaces_v6(std::string_view text) {
    std::vector<std::string> out;
    for_each_line(text, [&](std::string_view line) {
        // dest dest_len src src_len nexthop metric refcnt use flags iface
        auto f = split_ws(line);
        if (f.size() < 10) return;
        if (f[0] == "00000000000000000000000000000000" && f[1] == "00" && f[9] != "lo") {
            // A default route with a gateway (nexthop not ::) or a device route.
            std::string iface(f[9]);
            if (std::find(out.begin(), out.end(), iface) == out.end()) out.push_back(iface);
        }
    });
    return out;
}

std::string cpu_vendor(std::string_view cpuinfo) {
    std::string out;
    for_each_line(cpuinfo, [&](std::string_view line) {
        if (!out.empty() || line.substr(0, 9) != "vendor_id") return;
        auto colon = line.find(':');
        if (colon != std::string_view::npos) out = std::string(trim(line.substr(colon + 1)));
    });
    return out;
}

bool input_is_keyboard(std::string_view capabilities_ev) {
    // Space-separated hex words, most significant first; EV_KEY = bit 1, EV_REP = bit 20.
    auto words = split_ws(trim(capabilities_ev));
    if (words.empty()) return false;
    std::string_view low = words.back();
    unsigned long v = 0;
    auto [p, ec] = std::from_chars(low.data(), low.data() + low.size(), v, 16);
    if (ec != std::errc{} || p != low.data() + low.size()) return false;
    return (v & (1UL << 1)) != 0 && (v & (1UL << 20)) != 0;
}

std::optional<std::string> cmdline_param(std::string_view cmdline, std::string_view name) {
    std::optional<std::string> found;
    for (auto w : split_ws(trim(cmdline))) {
        if (w.substr(0, name.size()) != name) continue;
        if (w.size() == name.size())
            found = std::string();
        else if (w[name.size()] == '=')
            found = std::string(w.substr(name.size() + 1));
    }
    return found;
}

std::optional<bool> interrupt_remapping(std::string_view proc_interrupts) {
    bool chips = false, remapped = false;
    for_each_line(proc_interrupts, [&](std::string_view line) {
        // "  24:   0   0  IR-PCI-MSI 327680-edge  xhci_hcd": label, one count per
        // CPU, then the interrupt chip.
        auto f = split_ws(line);
        if (f.size() < 2 || f[0].back() != ':') return;
        std::size_t i = 1;
        while (i < f.size() && std::all_of(f[i].begin(), f[i].end(), [](char c) { return c >= '0' && c <= '9'; })) ++i;
        if (i >= f.size()) return;
        std::string_view chip = f[i];
        if (chip.substr(0, 3) == "IR-") {
            chips = remapped = true;
        } else if (chip == "IO-APIC" || chip.substr(0, 7) == "PCI-MSI") {
            chips = true;
        }
    });
    if (!chips) return std::nullopt;
    return remapped;
}

std::string module_name(std::string_view name) {
    std::string s(name);
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

std::optional<std::string> module_file_name(std::string_view filename) {
    for (std::string_view ext : {".ko", ".ko.xz", ".ko.zst", ".ko.gz"}) {
        if (filename.size() > ext.size() && filename.substr(filename.size() - ext.size()) == ext)
            return module_name(filename.substr(0, filename.size() - ext.size()));
    }
    return std::nullopt;
}

std::vector<std::string> loaded_modules(std::string_view proc_modules) {
    std::vector<std::string> out;
    for_each_line(proc_modules, [&](std::string_view line) {
        // A module's name is letters, digits, '_' and '-'; any other first word
        // is not a module line.
        auto f = split_ws(line);
        if (f.empty() || !std::all_of(f[0].begin(), f[0].end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                       c == '-';
            }))
            return;
        out.push_back(module_name(f[0]));
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> builtin_modules(std::string_view modules_builtin, std::string_view prefix) {
    std::vector<std::string> out;
    for_each_line(modules_builtin, [&](std::string_view line) {
        line = trim(line);
        if (line.substr(0, prefix.size()) != prefix) return;
        auto slash = line.rfind('/');
        if (auto m = module_file_name(slash == std::string_view::npos ? line : line.substr(slash + 1)))
            out.push_back(*m);
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> firmware_framebuffers(std::string_view proc_fb) {
    std::vector<std::string> out;
    for_each_line(proc_fb, [&](std::string_view line) {
        line = trim(line);
        auto sp = line.find(' ');
        if (sp == std::string_view::npos) return;
        std::string_view id = trim(line.substr(sp + 1));
        while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
        const char* fb = nullptr;
        if (id == "EFI VGA")
            fb = "efifb";
        else if (id == "VESA VGA")
            fb = "vesafb";
        else if (id == "simple" || id == "simplefb")
            fb = "simplefb";
        else if (id == "simpledrmdrmfb" || id == "simpledrm")
            fb = "simpledrm";
        else if (id == "efidrmdrmfb")
            fb = "efidrm";
        else if (id == "vesadrmdrmfb")
            fb = "vesadrm";
        if (fb) out.emplace_back(fb);
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<std::string> framebuffer_of_platform_driver(std::string_view driver) {
    if (driver == "efi-framebuffer") return "efifb";
    if (driver == "vesa-framebuffer") return "vesafb";
    if (driver == "simple-framebuffer") return "simplefb";
    if (driver == "simpledrm") return "simpledrm";
    return std::nullopt;
}

std::optional<std::pair<int, int>> kernel_version(std::string_view release) {
    // Digits first: from_chars would take "-1.2" as a negative major.
    auto number = [](const char* p, const char* end, int& out) -> const char* {
        if (p == end || *p < '0' || *p > '9') return nullptr;
        auto r = std::from_chars(p, end, out);
        return r.ec == std::errc{} ? r.ptr : nullptr;
    };
    int major = 0, minor = 0;
    const char* end = release.data() + release.size();
    const char* p = number(release.data(), end, major);
    if (!p || p == end || *p != '.') return std::nullopt;
    if (!number(p + 1, end, minor)) return std::nullopt;
    return std::pair{major, minor};
}

namespace {

bool module_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool printable_word(std::string_view w) {
    return std::all_of(w.begin(), w.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
    });
}

// A decimal number at the start of `text`, digits only; advances `text`.
std::optional<unsigned> leading_number(std::string_view& text) {
    if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
    unsigned v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc{}) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(r.ptr - text.data()));
    return v;
}

// "A.B.C" exactly (trailing text refused).
std::optional<Version3> dotted3(std::string_view text) {
    Version3 v;
    auto a = leading_number(text);
    if (!a || text.empty() || text[0] != '.') return std::nullopt;
    text.remove_prefix(1);
    auto b = leading_number(text);
    if (!b || text.empty() || text[0] != '.') return std::nullopt;
    text.remove_prefix(1);
    auto c = leading_number(text);
    if (!c || !text.empty()) return std::nullopt;
    v.major = *a;
    v.minor = *b;
    v.micro = *c;
    return v;
}

// One [...] set at the start of `p` (after the '['), matched against c; npos
// when the set is not closed (then '[' is an ordinary byte, as in fnmatch).
std::size_t match_set(std::string_view p, char c, bool& matched) {
    std::size_t i = 0;
    const bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
    if (negate) ++i;
    bool any = false;
    for (bool first = true; i < p.size() && (first || p[i] != ']'); first = false) {
        if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
            any = any || (c >= p[i] && c <= p[i + 2]);
            i += 3;
        } else {
            any = any || c == p[i];
            ++i;
        }
    }
    if (i >= p.size()) return std::string_view::npos;
    matched = any != negate;
    return i + 1;
}

}  // namespace

ModulesAlias vfio_pci_aliases(std::string_view text) {
    ModulesAlias out;
    int lineno = 0;
    for_each_line(text, [&](std::string_view line) {
        ++lineno;
        // Most of the file's thousands of lines are other aliases: skipped unsplit.
        if (line.find("vfio_pci:") == std::string_view::npos) return;
        auto words = split_ws(line);
        if (words.size() < 2 || words[0] != "alias" || words[1].rfind("vfio_pci:", 0) != 0) return;
        const auto bad = [&](const std::string& what) {
            out.skipped.push_back("line " + std::to_string(lineno) + ": " + what + ": " + quote(line));
        };
        if (words.size() != 3) return bad("expected `alias vfio_pci:PATTERN MODULE`");
        if (!printable_word(words[1])) return bad("the pattern has bytes no modalias holds");
        if (!std::all_of(words[2].begin(), words[2].end(), module_name_char) || words[2].size() > 64)
            return bad("not a module name");
        out.vfio_pci.push_back({std::string(words[1]), module_name(words[2])});
    });
    return out;
}

bool alias_matches(std::string_view p, std::string_view t) {
    // Iterative glob with one backtrack point (the last '*'), linear enough
    // for the short modalias strings.
    std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
    while (ti < t.size()) {
        bool step = false;
        std::size_t next = pi + 1;
        if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = ti;
            continue;
        }
        if (pi < p.size() && p[pi] == '[') {
            bool m = false;
            const std::size_t len = match_set(p.substr(pi + 1), t[ti], m);
            if (len != std::string_view::npos) {
                step = m;
                next = pi + 1 + len;
            } else {
                step = t[ti] == '[';
            }
        } else if (pi < p.size()) {
            step = p[pi] == '?' || p[pi] == t[ti];
        }
        if (step) {
            pi = next;
            ++ti;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}

std::optional<Version3> libvirt_soname_version(std::string_view name) {
    constexpr std::string_view prefix = "libvirt.so.0.";
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    name.remove_prefix(prefix.size());
    auto packed = leading_number(name);
    if (!packed || name.size() < 2 || name[0] != '.') return std::nullopt;
    name.remove_prefix(1);
    auto micro = leading_number(name);
    if (!micro || !name.empty()) return std::nullopt;
    return Version3{*packed / 1000, *packed % 1000, *micro};
}

std::optional<Version3> version3(std::string_view text) { return dotted3(text); }

std::optional<Version3> pkgconfig_version(std::string_view text) {
    std::optional<Version3> v;
    for_each_line(text, [&](std::string_view line) {
        constexpr std::string_view key = "Version:";
        if (v || line.rfind(key, 0) != 0) return;
        line.remove_prefix(key.size());
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        v = dotted3(trim(line));
    });
    return v;
}

// ---- What holds a GPU ----

Result<bool> vtcon_bind(std::string_view text) {
    const std::string_view t = trim(text);
    if (t == "1") return true;
    if (t == "0") return false;
    return make_error("expected 0 or 1, found " + quote(t));
}

std::optional<int> name_index(std::string_view prefix, std::string_view name) {
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view digits = name.substr(prefix.size());
    if (digits.size() > 9) return std::nullopt;
    int n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n;
}

bool is_drm_node_name(std::string_view name) {
    return name_index("card", name).has_value() || name_index("renderD", name).has_value();
}

bool is_firmware_framebuffer_device(std::string_view name) {
    for (std::string_view p : {"efi-framebuffer.", "vesa-framebuffer.", "simple-framebuffer."})
        if (name_index(p, name)) return true;
    return false;
}

std::optional<std::string> gpu_node_of_fd_link(std::string_view target) {
    constexpr std::string_view kDri = "/dev/dri/";
    if (target.substr(0, kDri.size()) == kDri && is_drm_node_name(target.substr(kDri.size())))
        return std::string(target);
    constexpr std::string_view kNvidia = "/dev/nvidia";
    if (target.substr(0, kNvidia.size()) != kNvidia) return std::nullopt;
    const std::string_view rest = target.substr(kNvidia.size());
    // nvidia0..N, nvidiactl, nvidia-modeset, nvidia-uvm, nvidia-caps/nvidia-capN; never " (deleted)".
    if (rest.find(' ') != std::string_view::npos || rest.find("..") != std::string_view::npos) return std::nullopt;
    if (rest.empty() || rest == "ctl" || rest[0] == '-' || name_index("", rest)) return std::string(target);
    return std::nullopt;
}

bool valid_unit_name(std::string_view unit) {
    constexpr std::string_view kSuffix = ".service";
    if (unit.size() <= kSuffix.size() || unit.size() > 255) return false;
    if (unit.substr(unit.size() - kSuffix.size()) != kSuffix) return false;
    return std::all_of(unit.begin(), unit.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view(":-_.\\@").find(c) != std::string_view::npos;
    });
}

Result<std::string> unit_of_link(std::string_view target) {
    std::string unit = link_basename(trim(target));
    if (!valid_unit_name(unit)) return make_error("not a service unit: " + quote(target));
    return unit;
}

std::optional<std::string> service_of_cgroup(std::string_view text) {
    std::optional<std::string> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        std::string_view path;
        if (line.substr(0, 3) == "0::")
            path = line.substr(3);
        else if (const std::size_t at = line.find(":name=systemd:"); at != std::string_view::npos)
            path = line.substr(at + 14);
        else
            continue;
        std::optional<std::string> found;
        while (!path.empty()) {
            const std::size_t slash = path.find('/');
            const std::string_view part = path.substr(0, slash);
            path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
            if (valid_unit_name(part)) found = std::string(part);
        }
        if (found) out = found;
        if (out && line.substr(0, 3) == "0::") break;  // the unified hierarchy decides
    }
    return out;
}

std::string process_comm(std::string_view text) {
    std::string out(trim(text).substr(0, 64));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return out;
}

std::optional<std::uint64_t> process_start_time(std::string_view stat) {
    const auto close = stat.rfind(')');
    if (close == std::string_view::npos || stat.find('(') > close) return std::nullopt;
    // Fields 3 (state) .. 22 (starttime) follow the name: starttime is the 20th.
    const auto fields = split_ws(trim(stat.substr(close + 1)));
    if (fields.size() < 20) return std::nullopt;
    const std::string_view word = fields[19];
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
    if (ec != std::errc{} || ptr != word.data() + word.size()) return std::nullopt;
    return v;
}

}  // namespace hostdev::parse
