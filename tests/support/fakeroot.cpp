#include "fakeroot.hpp"

#include <cstdio>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "hostdev/host/parse.hpp"

namespace hostdev::testing {
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

// At least `digits` digits, more when the value needs them (as printf's %0Nx:
// a PCI domain above 0xffff is "10000").
std::string hex(unsigned value, int digits) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    do {
        s.insert(s.begin(), kDigits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    if (s.size() < static_cast<std::size_t>(digits)) s.insert(0, static_cast<std::size_t>(digits) - s.size(), '0');
    return s;
}

std::string upper_hex(unsigned value, int digits) {
    std::string s = hex(value, digits);
    for (char& c : s) {
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    }
    return s;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// 1..max_digits hex digits, with an optional 0x prefix.
std::optional<std::uint32_t> parse_hex(std::string_view text, std::size_t max_digits) {
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
    if (text.empty() || text.size() > max_digits) return std::nullopt;
    std::uint32_t v = 0;
    for (char c : text) {
        int d = hex_digit(c);
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return v;
}

// Decimal integer in [min, max], optional leading '-'.
std::optional<int> parse_int(std::string_view text, int min, int max) {
    bool negative = false;
    if (!text.empty() && text[0] == '-') {
        negative = true;
        text.remove_prefix(1);
    }
    if (text.empty() || text.size() > 9) return std::nullopt;
    long v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (negative) v = -v;
    if (v < min || v > max) return std::nullopt;
    return static_cast<int>(v);
}

// "VVVV:DDDD"
std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_id_pair(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto a = parse_hex(text.substr(0, colon), 4);
    auto b = parse_hex(text.substr(colon + 1), 4);
    if (!a || !b) return std::nullopt;
    return std::pair{static_cast<std::uint16_t>(*a), static_cast<std::uint16_t>(*b)};
}

// A name usable as one path component in sysfs (driver, interface, IOMMU unit).
bool valid_name(std::string_view name) {
    if (name.empty() || name == "." || name == ".." || name.size() > 255) return false;
    return std::none_of(name.begin(), name.end(),
                        [](char c) { return c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\0'; });
}

std::vector<std::string> split_commas(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        auto pos = text.find(',', start);
        out.emplace_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

bool is_known_role(std::string_view role) { return role == "root-fs" || role == "default-route" || role == "keyboard"; }

std::string where(const FakeDevice& dev) {
    if (dev.line > 0) return "line " + std::to_string(dev.line);
    return "device " + dev.address.str();
}

// ---------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------

struct Token {
    std::string text;  // quotes removed
    std::string raw;   // as written, for messages
};

Result<std::vector<Token>> tokenize(std::string_view line, int lineno) {
    std::vector<Token> tokens;
    std::size_t i = 0;
    while (i < line.size()) {
        char c = line[i];
        if (c == ' ' || c == '\t' || c == '\r') {
            ++i;
            continue;
        }
        if (c == '#') break;
        Token tok;
        std::size_t start = i;
        bool in_quotes = false;
        while (i < line.size()) {
            c = line[i];
            if (in_quotes) {
                if (c == '"') {
                    in_quotes = false;
                } else {
                    tok.text += c;
                }
            } else if (c == '"') {
                in_quotes = true;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '#') {
                break;
            } else {
                tok.text += c;
            }
            ++i;
        }
        tok.raw = std::string(line.substr(start, i - start));
        if (in_quotes) {
            return make_error("line " + std::to_string(lineno) + ": unterminated quote in '" + tok.raw + "'");
        }
        tokens.push_back(std::move(tok));
    }
    return tokens;
}

Error line_error(int lineno, const std::string& what) {
    return make_error("line " + std::to_string(lineno) + ": " + what);
}

Error bad_value(int lineno, const Token& tok, std::string_view expected) {
    return line_error(lineno, "bad value in '" + tok.raw + "': expected " + std::string(expected));
}

// Splits KEY=VALUE; fails when there is no '=' or no value.
Result<std::pair<std::string, std::string>> key_value(int lineno, const Token& tok) {
    auto eq = tok.text.find('=');
    if (eq == std::string::npos || eq == 0) {
        return line_error(lineno, "expected KEY=VALUE, got '" + tok.raw + "'");
    }
    std::string key = tok.text.substr(0, eq);
    std::string value = tok.text.substr(eq + 1);
    return std::pair{std::move(key), std::move(value)};
}

// The display keys of a host line (fb, fbcon, display_manager, active); nullopt
// when `key` is none of them.
std::optional<Status> parse_display_key(const std::string& key, const std::string& value, const Token& tok, int lineno,
                                        FakeHostSpec& spec) {
    if (key == "fb") {
        spec.framebuffers.emplace();
        if (value == "none") return ok_status();
        for (auto& f : split_commas(value)) {
            if (!valid_name(f) || f == "none")
                return Status(bad_value(lineno, tok, "none or a comma list such as efifb,simpledrm"));
            spec.framebuffers->push_back(std::move(f));
        }
    } else if (key == "fbcon") {
        if (value != "yes" && value != "no") return Status(bad_value(lineno, tok, "yes or no"));
        spec.fbcon = value == "yes";
    } else if (key == "display_manager") {
        if (!valid_name(value) || value.find('/') != std::string::npos)
            return Status(bad_value(lineno, tok, "none or a unit name without .service, such as gdm3"));
        spec.display_manager = value;
    } else if (key == "active") {
        if (value != "yes" && value != "no") return Status(bad_value(lineno, tok, "yes or no"));
        spec.display_manager_active = value == "yes";
    } else {
        return std::nullopt;
    }
    return ok_status();
}

Status parse_host_line(const std::vector<Token>& tokens, int lineno, FakeHostSpec& spec, std::set<std::string>& seen) {
    if (tokens.size() < 2) return line_error(lineno, "'host' needs at least one KEY=VALUE");
    for (std::size_t i = 1; i < tokens.size(); ++i) {
        const Token& tok = tokens[i];
        auto kv = key_value(lineno, tok);
        if (!kv) return kv.error();
        const auto& [key, value] = *kv;
        if (!seen.insert(key).second) {
            return line_error(lineno, "host key '" + key + "' given twice, again in '" + tok.raw + "'");
        }
        if (key == "cpu") {
            if (!valid_name(value)) return bad_value(lineno, tok, "a CPU vendor id such as GenuineIntel");
            spec.cpu_vendor = value;
        } else if (key == "cmdline") {
            if (value.find('\n') != std::string::npos) return bad_value(lineno, tok, "one line");
            spec.cmdline = value;
        } else if (key == "iommu") {
            spec.iommu_units.clear();
            if (value == "none") continue;
            for (auto& unit : split_commas(value)) {
                if (!valid_name(unit)) return bad_value(lineno, tok, "none or a comma list of unit names");
                spec.iommu_units.push_back(std::move(unit));
            }
        } else if (key == "reset_method") {
            if (value == "yes") {
                spec.reset_method_files = true;
            } else if (value == "no") {
                spec.reset_method_files = false;
            } else {
                return bad_value(lineno, tok, "yes or no");
            }
        } else if (key == "release") {
            if (!valid_name(value)) return bad_value(lineno, tok, "a kernel release such as 6.1.0-18-amd64");
            spec.kernel_release = value;
        } else if (key == "irq_remap") {
            if (value != "yes" && value != "no") return bad_value(lineno, tok, "yes or no");
            spec.irq_remap = value == "yes";
        } else if (key == "modules") {
            spec.modules.clear();
            if (value == "none") continue;
            for (auto& m : split_commas(value)) {
                if (!valid_name(m) || m == "none")
                    return bad_value(lineno, tok, "none or a comma list of module names");
                spec.modules.push_back(std::move(m));
            }
        } else if (key == "vfio_modules") {
            if (value != "available" && value != "builtin" && value != "missing")
                return bad_value(lineno, tok, "available, builtin or missing");
            spec.vfio_modules = value;
        } else if (auto st = parse_display_key(key, value, tok, lineno, spec)) {
            if (!*st) return st->error();
        } else if (key == "hook") {
            if (value != "installed" && value != "legacy" && value != "missing")
                return bad_value(lineno, tok, "installed, legacy or missing");
            spec.hook = value;
        } else if (key == "initramfs") {
            if (value != "initramfs-tools" && value != "dracut" && value != "mkinitcpio" && value != "none")
                return bad_value(lineno, tok, "initramfs-tools, dracut, mkinitcpio or none");
            spec.initramfs = value;
        } else if (key == "bootloader") {
            if (value != "grub" && value != "systemd-boot" && value != "none")
                return bad_value(lineno, tok, "grub, systemd-boot or none");
            spec.bootloader = value;
        } else if (key == "libvirt") {
            unsigned a = 0, b = 0, c = 0;
            char end = 0;
            if (std::sscanf(value.c_str(), "%u.%u.%u%c", &a, &b, &c, &end) != 3 || b > 999)
                return bad_value(lineno, tok, "a libvirt version such as 9.0.0");
            spec.libvirt = value;
        } else {
            return line_error(lineno, "unknown host key '" + key + "' in '" + tok.raw +
                                          "' (known: cpu, cmdline, iommu, reset_method, release, irq_remap, "
                                          "modules, vfio_modules, fb, fbcon, display_manager, active, hook, initramfs, "
                                          "bootloader, libvirt)");
        }
    }
    return ok_status();
}

// "00-1b-21-ff-ff-a1-b2-c3" -> 0x001b21ffffa1b2c3.
std::optional<std::uint64_t> parse_dsn(std::string_view text) {
    if (text.size() != 23) return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < text.size(); i += 3) {
        if (i + 2 < text.size() && text[i + 2] != '-') return std::nullopt;
        auto byte = parse_hex(text.substr(i, 2), 2);
        if (!byte || hex_digit(text[i]) < 0 || hex_digit(text[i + 1]) < 0) return std::nullopt;
        v = v << 8 | *byte;
    }
    return v;
}

// Six octets of two hex digits separated by colons.
bool valid_mac(std::string_view text) {
    if (text.size() != 17) return false;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (i % 3 == 2 ? text[i] != ':' : hex_digit(text[i]) < 0) return false;
    return true;
}

// The serial-number keys of a dev line (dsn, nvme_serial, mac, mac_type);
// nullopt when `key` is none of them.
std::optional<Status> parse_serial_key(const std::string& key, const std::string& value, const Token& tok, int lineno,
                                       FakeDevice& dev) {
    if (key == "dsn") {
        auto v = parse_dsn(value);
        if (!v) return bad_value(lineno, tok, "a serial number such as 00-1b-21-ff-ff-a1-b2-c3");
        dev.dsn = *v;
    } else if (key == "nvme_serial") {
        if (value.empty() || value.size() > 20 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }))
            return bad_value(lineno, tok, "at most 20 printable characters");
        dev.nvme_serial = value;
    } else if (key == "mac") {
        if (!valid_mac(value)) return bad_value(lineno, tok, "a MAC address such as 00:1b:21:a1:b2:c3");
        dev.mac = value;
    } else if (key == "mac_type") {
        auto n = parse_int(value, 0, 3);
        if (!n) return bad_value(lineno, tok, "an addr_assign_type 0 to 3");
        dev.mac_type = *n;
    } else {
        return std::nullopt;
    }
    return ok_status();
}

Result<FakeDevice> parse_dev_line(const std::vector<Token>& tokens, int lineno) {
    if (tokens.size() < 4) {
        return line_error(lineno, "'dev' needs ADDR VVVV:DDDD CLASS [KEY=VALUE...]");
    }
    FakeDevice dev;
    dev.line = lineno;

    auto addr = PciAddress::parse(tokens[1].text);
    if (!addr) return line_error(lineno, "bad address '" + tokens[1].raw + "': " + addr.error().message);
    dev.address = *addr;

    auto ids = parse_id_pair(tokens[2].text);
    if (!ids) return bad_value(lineno, tokens[2], "vendor:device ids as VVVV:DDDD in hex");
    dev.vendor = ids->first;
    dev.device = ids->second;

    auto cls = parse_hex(tokens[3].text, 6);
    if (!cls) return bad_value(lineno, tokens[3], "a 24-bit class code such as 0x030000");
    dev.class_code = *cls;

    bool have_reset = false;
    std::set<std::string> seen;
    for (std::size_t i = 4; i < tokens.size(); ++i) {
        const Token& tok = tokens[i];
        auto kv = key_value(lineno, tok);
        if (!kv) return kv.error();
        const auto& [key, value] = *kv;
        if (key != "role" && !seen.insert(key).second) {
            return line_error(lineno, "key '" + key + "' given twice, again in '" + tok.raw + "'");
        }
        if (key == "group") {
            auto n = parse_int(value, 0, 1 << 24);
            if (!n) return bad_value(lineno, tok, "a group number >= 0");
            dev.group = *n;
        } else if (key == "driver") {
            if (!valid_name(value)) return bad_value(lineno, tok, "a driver name");
            dev.driver = value;
        } else if (key == "override") {
            if (!valid_name(value)) return bad_value(lineno, tok, "a driver name");
            dev.driver_override = value;
        } else if (key == "rev") {
            auto v = parse_hex(value, 2);
            if (!v) return bad_value(lineno, tok, "a revision as 1-2 hex digits");
            dev.revision = static_cast<std::uint8_t>(*v);
        } else if (key == "subsys") {
            auto p = parse_id_pair(value);
            if (!p) return bad_value(lineno, tok, "subsystem ids as VVVV:DDDD in hex");
            dev.subsystem_vendor = p->first;
            dev.subsystem_device = p->second;
        } else if (key == "header") {
            auto n = parse_int(value, 0, 2);
            if (!n) return bad_value(lineno, tok, "0, 1 or 2");
            dev.header_type = static_cast<std::uint8_t>(*n);
        } else if (key == "bus") {
            auto v = parse_hex(value, 2);
            if (!v) return bad_value(lineno, tok, "a bus number as 1-2 hex digits");
            dev.secondary_bus = static_cast<std::uint8_t>(*v);
        } else if (key == "boot_vga") {
            if (value == "0") {
                dev.boot_vga = false;
            } else if (value == "1") {
                dev.boot_vga = true;
            } else {
                return bad_value(lineno, tok, "0 or 1");
            }
        } else if (key == "reset") {
            have_reset = true;
            std::vector<std::string> methods;
            if (value != "none") {
                for (auto& m : split_commas(value)) {
                    if (!valid_name(m) || m == "none") {
                        return bad_value(lineno, tok, "none or a comma list of methods such as flr,bus");
                    }
                    methods.push_back(std::move(m));
                }
            }
            dev.reset_methods = std::move(methods);
        } else if (key == "numa") {
            auto n = parse_int(value, -1, 1023);
            if (!n) return bad_value(lineno, tok, "a NUMA node number or -1");
            dev.numa_node = *n;
        } else if (key == "physfn") {
            auto pf = PciAddress::parse(value);
            if (!pf) return line_error(lineno, "bad address in '" + tok.raw + "': " + pf.error().message);
            dev.physfn = *pf;
        } else if (key == "role") {
            for (auto& role : split_commas(value)) {
                if (!is_known_role(role)) {
                    return bad_value(lineno, tok, "roles root-fs, default-route or keyboard");
                }
                if (!dev.has_role(role)) dev.roles.push_back(std::move(role));
            }
        } else if (key == "modalias") {
            if (value != "none" && (!valid_name(value) || value.size() > 200))
                return bad_value(lineno, tok, "none or a modalias such as pci:v000015B3d0000101E...");
            dev.modalias = value;
        } else if (key == "mdev") {
            if (value != "yes" && value != "no") return bad_value(lineno, tok, "yes or no");
            dev.mdev_parent = value == "yes";
        } else if (key == "vgpu") {
            auto n = parse_int(value, 0, 1 << 20);
            if (!n) return bad_value(lineno, tok, "a vGPU type number (0: none set)");
            dev.vgpu_type = *n;
        } else if (auto serial = parse_serial_key(key, value, tok, lineno, dev)) {
            if (!*serial) return serial->error();
        } else if (key == "drm") {
            for (auto& n : split_commas(value)) {
                const bool card = n.rfind("card", 0) == 0 && n.size() > 4 && parse_int(n.substr(4), 0, 1 << 20);
                const bool render = n.rfind("renderD", 0) == 0 && n.size() > 7 && parse_int(n.substr(7), 0, 1 << 20);
                if (!card && !render) return bad_value(lineno, tok, "DRM nodes such as card0,renderD128");
                dev.drm_nodes.push_back(std::move(n));
            }
        } else if (key == "net") {
            if (!valid_name(value) || value.size() > 15) {
                return bad_value(lineno, tok, "an interface name of at most 15 characters");
            }
            dev.netdev = value;
        } else {
            return line_error(lineno, "unknown key '" + key + "' in '" + tok.raw +
                                          "' (known: group, driver, override, rev, subsys, header, "
                                          "bus, boot_vga, reset, numa, physfn, role, net, modalias, mdev, vgpu, dsn, "
                                          "nvme_serial, mac, mac_type, drm)");
        }
    }
    if (dev.mac_type && !dev.mac) return line_error(lineno, "mac_type= needs mac=");
    if (!have_reset) dev.reset_methods = std::vector<std::string>{"flr", "bus"};
    return dev;
}

// proc PID COMM [unit=NAME.service] PATH...
Result<FakeProcess> parse_proc_line(const std::vector<Token>& tokens, int lineno) {
    if (tokens.size() < 3) return line_error(lineno, "'proc' needs PID COMM [PATH...]");
    FakeProcess p;
    p.line = lineno;
    auto pid = parse_int(tokens[1].text, 1, 1 << 22);
    if (!pid) return bad_value(lineno, tokens[1], "a process id from 1 to 4194304");
    p.pid = *pid;
    p.comm = tokens[2].text;
    if (p.comm.empty() || p.comm.size() > 15 || p.comm.find('\n') != std::string::npos)
        return bad_value(lineno, tokens[2], "a command name of 1 to 15 characters");
    for (std::size_t i = 3; i < tokens.size(); ++i) {
        if (tokens[i].text.rfind("unit=", 0) == 0) {
            const std::string unit = tokens[i].text.substr(5);
            if (p.unit) return line_error(lineno, "unit= given twice in '" + tokens[i].raw + "'");
            if (!hostdev::parse::valid_unit_name(unit))
                return bad_value(lineno, tokens[i], "a service unit such as gdm3.service");
            p.unit = unit;
            continue;
        }
        if (tokens[i].text.empty() || tokens[i].text.size() > 200)
            return bad_value(lineno, tokens[i], "the text of an fd link, such as /dev/dri/card0");
        p.fds.push_back(tokens[i].text);
    }
    return p;
}

// Gives every default-route device without an interface name one: eth0, eth1, ...
// (a device with mac= too: the address needs an interface).
void assign_default_netdevs(FakeHostSpec& spec) {
    std::set<std::string> used;
    for (const auto& d : spec.devices) {
        if (!d.netdev.empty()) used.insert(d.netdev);
    }
    // In address order, so that the order of spec lines does not matter.
    std::vector<FakeDevice*> order;
    for (auto& d : spec.devices) order.push_back(&d);
    std::stable_sort(order.begin(), order.end(),
                     [](const FakeDevice* a, const FakeDevice* b) { return a->address < b->address; });
    int next = 0;
    for (FakeDevice* dp : order) {
        FakeDevice& d = *dp;
        if (!d.netdev.empty() || (!d.has_role("default-route") && !d.mac)) continue;
        std::string name;
        do {
            name = "eth" + std::to_string(next++);
        } while (used.count(name) != 0);
        used.insert(name);
        d.netdev = name;
    }
}

// ---------------------------------------------------------------------------
// Layout: where each device lives
// ---------------------------------------------------------------------------

struct Layout {
    std::map<PciAddress, std::size_t> index;         // address -> device index
    std::vector<std::optional<std::size_t>> parent;  // bridge above each device
    std::vector<fs::path> dir;                       // relative to the root
    std::vector<std::uint8_t> subordinate;           // bridges: highest bus below
    std::vector<bool> multifunction;                 // another function in the slot
    std::vector<int> nvme_index;                     // nvme_serial=: N of nvme/nvmeN
};

std::uint64_t bus_key(std::uint32_t domain, std::uint8_t bus) { return (std::uint64_t{domain} << 8) | bus; }

// NVMe controller numbers: 0 for the root-fs controller (its disk is nvme0n1),
// then the devices with nvme_serial= in order; -1 for the others.
std::vector<int> nvme_indexes(const std::vector<FakeDevice>& devs) {
    std::vector<int> out(devs.size(), -1);
    int next = 0;
    for (std::size_t i = 0; i < devs.size(); ++i)
        if (devs[i].has_role("root-fs") && (devs[i].class_code >> 8) == 0x0108) out[i] = next++;
    for (std::size_t i = 0; i < devs.size(); ++i)
        if (devs[i].nvme_serial && out[i] < 0) out[i] = next++;
    return out;
}

// Builds the layout and checks everything that could make it inconsistent.
Result<Layout> plan(const FakeHostSpec& spec) {
    const auto& devs = spec.devices;
    Layout L;
    L.parent.resize(devs.size());
    L.dir.resize(devs.size());
    L.subordinate.resize(devs.size(), 0);

    std::map<std::uint64_t, std::size_t> bridge_of_bus;
    std::set<std::string> netdevs;
    const FakeDevice* root_fs = nullptr;
    for (std::size_t i = 0; i < devs.size(); ++i) {
        const FakeDevice& d = devs[i];
        auto [it, inserted] = L.index.emplace(d.address, i);
        if (!inserted) {
            return make_error(
                where(d) + ": device " + d.address.str() + " already defined" +
                (devs[it->second].line > 0 ? " on line " + std::to_string(devs[it->second].line) : std::string()));
        }
        if (d.header_type && *d.header_type > 2) {
            return make_error(where(d) + ": header type must be 0, 1 or 2");
        }
        if (d.secondary_bus) {
            if (d.effective_header_type() == 0) {
                return make_error(where(d) + ": bus=" + hex(*d.secondary_bus, 2) + " on " + d.address.short_str() +
                                  ", which is not a bridge (class 0x0604xx/0x0609xx/0x0607xx or header=1/2)");
            }
            auto [bit, binserted] = bridge_of_bus.emplace(bus_key(d.address.domain, *d.secondary_bus), i);
            if (!binserted) {
                return make_error(where(d) + ": secondary bus " + hex(*d.secondary_bus, 2) +
                                  " already belongs to bridge " + devs[bit->second].address.str());
            }
        }
        if (d.group && *d.group < 0) return make_error(where(d) + ": negative group number");
        for (const auto& role : d.roles) {
            if (!is_known_role(role)) return make_error(where(d) + ": unknown role '" + role + "'");
        }
        if (d.has_role("root-fs")) {
            if (root_fs != nullptr) {
                return make_error(where(d) + ": role root-fs already given to " + root_fs->address.str());
            }
            root_fs = &d;
        }
        if (!d.netdev.empty()) {
            if (!valid_name(d.netdev)) return make_error(where(d) + ": bad interface name '" + d.netdev + "'");
            if (!netdevs.insert(d.netdev).second) {
                return make_error(where(d) + ": interface name '" + d.netdev + "' used twice");
            }
        }
        if (d.driver && !valid_name(*d.driver)) return make_error(where(d) + ": bad driver name");
        if (d.driver_override && !valid_name(*d.driver_override)) {
            return make_error(where(d) + ": bad driver_override name");
        }
    }
    for (const auto& unit : spec.iommu_units) {
        if (!valid_name(unit)) return make_error("bad IOMMU unit name '" + unit + "'");
    }
    if (!spec.aliases.empty() && !spec.kernel_release)
        return make_error("alias lines need host release=REL (modules.alias lives in lib/modules/REL)");
    if (spec.vfio_modules && !spec.kernel_release) {
        return make_error("host vfio_modules=" + *spec.vfio_modules +
                          " needs release=REL (the modules live in lib/modules/REL)");
    }
    if (spec.kernel_release && !valid_name(*spec.kernel_release)) return make_error("bad kernel release");

    for (std::size_t i = 0; i < devs.size(); ++i) {
        const FakeDevice& d = devs[i];
        auto it = bridge_of_bus.find(bus_key(d.address.domain, d.address.bus));
        if (it != bridge_of_bus.end()) L.parent[i] = it->second;
        if (d.physfn) {
            auto pf = L.index.find(*d.physfn);
            if (pf == L.index.end()) {
                return make_error(where(d) + ": physfn " + d.physfn->str() + " is not in the spec");
            }
            if (pf->second == i) return make_error(where(d) + ": physfn names the device itself");
            if (devs[pf->second].physfn) {
                return make_error(where(d) + ": physfn " + d.physfn->str() + " is itself a virtual function");
            }
        }
    }

    // Directories, walking up to a root bus; a walk longer than the number of
    // devices means the bridges form a loop.
    for (std::size_t i = 0; i < devs.size(); ++i) {
        std::vector<std::size_t> chain{i};
        std::size_t cur = i;
        while (L.parent[cur]) {
            cur = *L.parent[cur];
            if (chain.size() > devs.size() || cur == i) {
                return make_error(where(devs[i]) + ": bridges above " + devs[i].address.str() +
                                  " form a loop (a bridge's bus= leads back to itself)");
            }
            chain.push_back(cur);
        }
        const PciAddress& top = devs[chain.back()].address;
        fs::path p = fs::path("sys") / "devices" / ("pci" + hex(top.domain, 4) + ":" + hex(top.bus, 2));
        for (auto c = chain.rbegin(); c != chain.rend(); ++c) p /= devs[*c].address.str();
        L.dir[i] = std::move(p);
    }

    // Slots with more than one function.
    std::map<PciAddress, int> functions_in_slot;
    for (const auto& d : devs) ++functions_in_slot[PciAddress{d.address.domain, d.address.bus, d.address.slot, 0}];
    L.multifunction.resize(devs.size());
    for (std::size_t i = 0; i < devs.size(); ++i) {
        const PciAddress& a = devs[i].address;
        L.multifunction[i] = functions_in_slot[PciAddress{a.domain, a.bus, a.slot, 0}] > 1;
    }

    L.nvme_index = nvme_indexes(devs);
    // Subordinate bus numbers: the highest secondary bus anywhere below a bridge.
    for (std::size_t i = 0; i < devs.size(); ++i) {
        if (devs[i].secondary_bus) L.subordinate[i] = *devs[i].secondary_bus;
    }
    for (std::size_t i = 0; i < devs.size(); ++i) {
        if (!devs[i].secondary_bus) continue;
        for (auto p = L.parent[i]; p; p = L.parent[*p]) {
            L.subordinate[*p] = std::max(L.subordinate[*p], *devs[i].secondary_bus);
        }
    }
    return L;
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

class Writer {
public:
    explicit Writer(fs::path root) : root_(std::move(root)) {}

    Status dir(const fs::path& rel) {
        std::error_code ec;
        fs::create_directories(root_ / rel, ec);
        if (ec) return make_error("cannot create directory", (root_ / rel).string(), ec.value());
        return ok_status();
    }

    Status file(const fs::path& rel, std::string_view content) {
        fs::path p = root_ / rel;
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            return make_error("cannot create file (the root must not hold it already)", p.string(), errno);
        }
        std::size_t done = 0;
        while (done < content.size()) {
            ssize_t n = ::write(fd, content.data() + done, content.size() - done);
            if (n < 0) {
                if (errno == EINTR) continue;
                int err = errno;
                ::close(fd);
                return make_error("cannot write file", p.string(), err);
            }
            done += static_cast<std::size_t>(n);
        }
        if (::close(fd) != 0) return make_error("cannot close file", p.string(), errno);
        return ok_status();
    }

    // A file with the executable bits set (hooks).
    Status exec_file(const fs::path& rel, std::string_view content) {
        auto st = file(rel, content);
        if (!st) return st;
        if (::chmod((root_ / rel).c_str(), 0755) != 0) return make_error("cannot chmod", (root_ / rel).string(), errno);
        return ok_status();
    }

    // A relative symbolic link at `link` to `target` (both relative to the
    // root), spelled the way sysfs spells it: up to the closest directory
    // that holds the target's parent, then down.
    Status link(const fs::path& link, const fs::path& target) {
        fs::path up = target.parent_path().lexically_relative(link.parent_path());
        fs::path value = (up.empty() || up == ".") ? target.filename() : up / target.filename();
        fs::path p = root_ / link;
        if (::symlink(value.c_str(), p.c_str()) != 0) {
            return make_error("cannot create symbolic link to " + value.string(), p.string(), errno);
        }
        return ok_status();
    }

    // A symbolic link with exactly this text (it may dangle: /dev/dri/card0 in proc/PID/fd).
    Status raw_link(const fs::path& link, const std::string& text) {
        fs::path p = root_ / link;
        if (::symlink(text.c_str(), p.c_str()) != 0)
            return make_error("cannot create symbolic link to " + text, p.string(), errno);
        return ok_status();
    }

private:
    fs::path root_;
};

#define FAKEROOT_TRY(expr)                    \
    do {                                      \
        auto status_ = (expr);                \
        if (!status_) return status_.error(); \
    } while (0)

// PCI Express capability (PCIe Base Specification §7.5.3) and the Device
// Serial Number extended capability (§7.9.3), as include/uapi/linux/pci_regs.h names them.
constexpr std::size_t kExpressCap = 0x40;          // where the fake root puts it
constexpr unsigned kCapIdExp = 0x10;               // PCI_CAP_ID_EXP
constexpr unsigned kExpTypeEndpoint = 0x0;         // PCI_EXP_TYPE_ENDPOINT
constexpr unsigned kExpTypeRootPort = 0x4;         // PCI_EXP_TYPE_ROOT_PORT
constexpr unsigned kExpTypeDownstream = 0x6;       // PCI_EXP_TYPE_DOWNSTREAM
constexpr unsigned kStatusCapList = 0x10;          // PCI_STATUS_CAP_LIST
constexpr std::size_t kExtCapDsnAt = 0x100;        // PCI_CFG_SPACE_SIZE: the first extended capability
constexpr unsigned kExtCapIdDsn = 0x0003;          // PCI_EXT_CAP_ID_DSN
constexpr std::size_t kConfigSpaceExpSize = 4096;  // PCI_CFG_SPACE_EXP_SIZE

std::string config_space(const FakeDevice& d, const Layout& L, std::size_t index) {
    std::string cfg(d.dsn ? kConfigSpaceExpSize : 256, '\0');
    auto put8 = [&](std::size_t off, unsigned v) { cfg[off] = static_cast<char>(v & 0xff); };
    auto put16 = [&](std::size_t off, unsigned v) {
        put8(off, v);
        put8(off + 1, v >> 8);
    };
    put16(0x00, d.vendor);
    put16(0x02, d.device);
    put8(0x08, d.revision);
    put8(0x09, d.class_code);
    put8(0x0a, d.class_code >> 8);
    put8(0x0b, d.class_code >> 16);
    const bool multifunction = L.multifunction[index];
    std::uint8_t header = d.effective_header_type();
    put8(0x0e, header | (multifunction ? 0x80u : 0u));
    if (header == 0) {
        put16(0x2c, d.subsystem_vendor);
        put16(0x2e, d.subsystem_device);
    } else {
        put8(0x18, d.address.bus);
        put8(0x19, d.secondary_bus.value_or(0));
        put8(0x1a, L.subordinate[index]);
        if (header == 2) {
            put16(0x40, d.subsystem_vendor);
            put16(0x42, d.subsystem_device);
        }
    }
    if (d.dsn) {
        put16(0x06, kStatusCapList);
        put8(header == 2 ? 0x14 : 0x34, kExpressCap);  // PCI_CB_CAPABILITY_LIST, PCI_CAPABILITY_LIST
        const unsigned type = header == 0 ? kExpTypeEndpoint : L.parent[index] ? kExpTypeDownstream : kExpTypeRootPort;
        put8(kExpressCap, kCapIdExp);
        put8(kExpressCap + 1, 0);                   // the last capability
        put16(kExpressCap + 2, 0x2 | (type << 4));  // PCI_EXP_FLAGS: version 2, device/port type
        const auto put32 = [&](std::size_t off, std::uint32_t v) {
            put16(off, v);
            put16(off + 2, v >> 16);
        };
        put32(kExtCapDsnAt, kExtCapIdDsn | (1u << 16));  // version 1, no next capability
        put32(kExtCapDsnAt + 4, static_cast<std::uint32_t>(*d.dsn));
        put32(kExtCapDsnAt + 8, static_cast<std::uint32_t>(*d.dsn >> 32));
    }
    return cfg;
}

std::string cpuinfo(const std::string& vendor) {
    std::string model = "Generic x86-64 processor";
    std::string family = "6";
    std::string model_no = "94";
    std::string virt;
    if (vendor == "GenuineIntel") {
        model = "Intel(R) Core(TM) i7-6700K CPU @ 4.00GHz";
        virt = " vmx";
    } else if (vendor == "AuthenticAMD") {
        model = "AMD Ryzen 7 3700X 8-Core Processor";
        family = "23";
        model_no = "113";
        virt = " svm";
    }
    std::string out;
    for (int cpu = 0; cpu < 2; ++cpu) {
        out += "processor\t: " + std::to_string(cpu) + "\n";
        out += "vendor_id\t: " + vendor + "\n";
        out += "cpu family\t: " + family + "\n";
        out += "model\t\t: " + model_no + "\n";
        out += "model name\t: " + model + "\n";
        out +=
            "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
            "clflush mmx fxsr sse sse2 ht syscall nx lm" +
            virt + " sse4_1 sse4_2 popcnt aes avx\n";
        out += "\n";
    }
    return out;
}

// One /proc/net/route line, padded to 127 characters as the kernel does.
std::string route_line(std::string text) {
    if (text.size() < 127) text.append(127 - text.size(), ' ');
    return text + "\n";
}

Status write_device(Writer& w, const FakeHostSpec& spec, const FakeDevice& d, const Layout& L, std::size_t i) {
    const fs::path& dir = L.dir[i];
    FAKEROOT_TRY(w.dir(dir));
    FAKEROOT_TRY(w.file(dir / "vendor", "0x" + hex(d.vendor, 4) + "\n"));
    FAKEROOT_TRY(w.file(dir / "device", "0x" + hex(d.device, 4) + "\n"));
    FAKEROOT_TRY(w.file(dir / "subsystem_vendor", "0x" + hex(d.subsystem_vendor, 4) + "\n"));
    FAKEROOT_TRY(w.file(dir / "subsystem_device", "0x" + hex(d.subsystem_device, 4) + "\n"));
    FAKEROOT_TRY(w.file(dir / "class", "0x" + hex(d.class_code, 6) + "\n"));
    FAKEROOT_TRY(w.file(dir / "revision", "0x" + hex(d.revision, 2) + "\n"));
    FAKEROOT_TRY(w.file(dir / "config", config_space(d, L, i)));
    FAKEROOT_TRY(
        w.file(dir / "driver_override", d.driver_override ? *d.driver_override + "\n" : std::string("(null)\n")));
    FAKEROOT_TRY(w.file(dir / "numa_node", std::to_string(d.numa_node.value_or(-1)) + "\n"));
    if (spec.reset_method_files && d.reset_methods && !d.reset_methods->empty()) {
        std::string text;
        for (const auto& m : *d.reset_methods) text += (text.empty() ? "" : " ") + m;
        FAKEROOT_TRY(w.file(dir / "reset_method", text + "\n"));
    }
    if (auto vga = d.effective_boot_vga()) {
        FAKEROOT_TRY(w.file(dir / "boot_vga", *vga ? "1\n" : "0\n"));
    }
    FAKEROOT_TRY(w.file(dir / "irq", "0\n"));
    FAKEROOT_TRY(w.file(dir / "resource", ""));
    FAKEROOT_TRY(w.file(dir / "enable", "1\n"));
    if (d.modalias.value_or("") != "none") FAKEROOT_TRY(w.file(dir / "modalias", d.effective_modalias() + "\n"));
    if (d.mdev_parent) {
        // One type, as a parent driver registers them (an NVIDIA-style name).
        const fs::path type = dir / "mdev_supported_types" / "nvidia-63";
        FAKEROOT_TRY(w.dir(type / "devices"));
        FAKEROOT_TRY(w.file(type / "name", "GRID P40-1Q\n"));
        FAKEROOT_TRY(w.file(type / "available_instances", "24\n"));
        FAKEROOT_TRY(w.file(type / "device_api", "vfio-pci\n"));
        FAKEROOT_TRY(w.file(type / "create", ""));
    }
    if (d.vgpu_type) {
        FAKEROOT_TRY(w.dir(dir / "nvidia"));
        FAKEROOT_TRY(w.file(dir / "nvidia" / "current_vgpu_type", std::to_string(*d.vgpu_type) + "\n"));
        FAKEROOT_TRY(w.file(dir / "nvidia" / "creatable_vgpu_types", "ID    : vGPU Name\n557   : NVIDIA L4-1Q\n"));
    }

    if (d.nvme_serial) {
        const std::string ctrl = "nvme" + std::to_string(L.nvme_index[i]);
        std::string text = *d.nvme_serial;
        text.resize(std::max<std::size_t>(text.size(), 20), ' ');
        FAKEROOT_TRY(w.dir(dir / "nvme" / ctrl));
        FAKEROOT_TRY(w.file(dir / "nvme" / ctrl / "serial", text + "\n"));
        FAKEROOT_TRY(w.dir(fs::path("sys") / "class" / "nvme"));
        FAKEROOT_TRY(w.link(fs::path("sys") / "class" / "nvme" / ctrl, dir / "nvme" / ctrl));
    }

    const fs::path bus_link = fs::path("sys") / "bus" / "pci" / "devices" / d.address.str();
    FAKEROOT_TRY(w.link(bus_link, dir));
    if (d.driver) {
        const fs::path drv = fs::path("sys") / "bus" / "pci" / "drivers" / *d.driver;
        FAKEROOT_TRY(w.link(dir / "driver", drv));
        FAKEROOT_TRY(w.link(drv / d.address.str(), dir));
    }
    if (d.group) {
        const fs::path grp = fs::path("sys") / "kernel" / "iommu_groups" / std::to_string(*d.group);
        FAKEROOT_TRY(w.link(dir / "iommu_group", grp));
        FAKEROOT_TRY(w.link(grp / "devices" / d.address.str(), dir));
    }
    return ok_status();
}

Status write_driver_dir(Writer& w, const std::string& name) {
    const fs::path drv = fs::path("sys") / "bus" / "pci" / "drivers" / name;
    FAKEROOT_TRY(w.dir(drv));
    for (const char* f : {"bind", "unbind", "new_id", "remove_id"}) FAKEROOT_TRY(w.file(drv / f, ""));
    return ok_status();
}

struct InputCounter {
    int next_input = 5;
    int next_hid = 1;
};

Status write_input(Writer& w, const fs::path& dir, const std::string& name, const std::string& ev) {
    FAKEROOT_TRY(w.dir(dir / "capabilities"));
    FAKEROOT_TRY(w.file(dir / "name", name + "\n"));
    FAKEROOT_TRY(w.file(dir / "capabilities" / "ev", ev + "\n"));
    FAKEROOT_TRY(w.link(fs::path("sys") / "class" / "input" / dir.filename(), dir));
    return ok_status();
}

// A USB HID device on port `port` of root hub `usb` below the PCI function dir.
Status write_usb_hid(Writer& w, const fs::path& pci_dir, int usb, int port, const std::string& ids,
                     const std::string& name, const std::string& ev, InputCounter& n) {
    const std::string usb_s = std::to_string(usb);
    const std::string dev = usb_s + "-" + std::to_string(port);
    const std::string hid = "0003:" + ids + "." + upper_hex(static_cast<unsigned>(n.next_hid++), 4);
    const fs::path input =
        pci_dir / ("usb" + usb_s) / dev / (dev + ":1.0") / hid / "input" / ("input" + std::to_string(n.next_input++));
    return write_input(w, input, name, ev);
}

// DEVDIR/net/IF with its device link (and address with mac=), and sys/class/net/IF.
Status write_netdev(Writer& w, const FakeDevice& d, const fs::path& dev_dir) {
    const fs::path net = dev_dir / "net" / d.netdev;
    FAKEROOT_TRY(w.dir(net));
    FAKEROOT_TRY(w.link(net / "device", dev_dir));
    FAKEROOT_TRY(w.file(net / "operstate", "up\n"));
    if (d.mac) {
        FAKEROOT_TRY(w.file(net / "address", *d.mac + "\n"));
        FAKEROOT_TRY(w.file(net / "addr_assign_type", std::to_string(d.mac_type.value_or(0)) + "\n"));
    }
    return w.link(fs::path("sys") / "class" / "net" / d.netdev, net);
}

Status write_roles(Writer& w, const FakeHostSpec& spec, const Layout& L) {
    const auto& devs = spec.devices;
    const fs::path sys = "sys";
    const fs::path proc = "proc";

    // Root filesystem.
    std::string mountinfo;
    std::string root_id = "21";
    bool have_root = false;
    for (std::size_t i = 0; i < devs.size(); ++i) {
        const FakeDevice& d = devs[i];
        if (!d.has_role("root-fs")) continue;
        const bool nvme = (d.class_code >> 8) == 0x0108;
        const std::string disk = nvme ? "nvme0n1" : "sda";
        const std::string part = nvme ? "nvme0n1p2" : "sda2";
        const std::string major = nvme ? "259" : "8";
        const fs::path disk_dir = nvme ? L.dir[i] / "nvme" / "nvme0" / disk
                                       : L.dir[i] / "ata1" / "host0" / "target0:0:0" / "0:0:0:0" / "block" / disk;
        const fs::path part_dir = disk_dir / part;
        FAKEROOT_TRY(w.dir(part_dir));
        FAKEROOT_TRY(w.file(disk_dir / "dev", major + ":0\n"));
        FAKEROOT_TRY(w.file(part_dir / "dev", major + ":2\n"));
        FAKEROOT_TRY(w.file(part_dir / "partition", "2\n"));
        FAKEROOT_TRY(w.link(sys / "dev" / "block" / (major + ":0"), disk_dir));
        FAKEROOT_TRY(w.link(sys / "dev" / "block" / (major + ":2"), part_dir));
        FAKEROOT_TRY(w.link(sys / "class" / "block" / disk, disk_dir));
        FAKEROOT_TRY(w.link(sys / "class" / "block" / part, part_dir));
        root_id = "23";
        mountinfo += "23 1 " + major + ":2 / / rw,relatime shared:1 - ext4 /dev/" + part + " rw,errors=remount-ro\n";
        have_root = true;
    }
    if (!have_root) mountinfo += "21 1 0:19 / / rw,relatime shared:1 - overlay overlay rw\n";
    mountinfo += "25 " + root_id + " 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,mode=755\n";
    FAKEROOT_TRY(w.file(proc / "self" / "mountinfo", mountinfo));

    // Network interfaces and routes.
    std::string route =
        route_line("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT");
    int route_no = 0;
    for (std::size_t i = 0; i < devs.size(); ++i) {
        const FakeDevice& d = devs[i];
        if (d.netdev.empty()) continue;
        FAKEROOT_TRY(write_netdev(w, d, L.dir[i]));
        if (d.has_role("default-route")) {
            const std::string subnet = hex(static_cast<unsigned>(2 + route_no) & 0xff, 2);
            const std::string metric = std::to_string(100 + route_no);
            route += route_line(d.netdev + "\t00000000\t01" + subnet + "A8C0\t0003\t0\t0\t" + metric +
                                "\t00000000\t0\t0\t0");
            route += route_line(d.netdev + "\t00" + subnet + "A8C0\t00000000\t0001\t0\t0\t" + metric +
                                "\t00FFFFFF\t0\t0\t0");
            ++route_no;
        }
    }
    FAKEROOT_TRY(w.file(proc / "net" / "route", route));
    FAKEROOT_TRY(w.file(proc / "net" / "ipv6_route", ""));

    // Keyboards, then one mouse and a power button so that not every input is one.
    InputCounter inputs;
    int usb = 0;
    std::optional<std::size_t> first_keyboard;
    for (std::size_t i = 0; i < devs.size(); ++i) {
        if (!devs[i].has_role("keyboard")) continue;
        if (!first_keyboard) first_keyboard = i;
        FAKEROOT_TRY(write_usb_hid(w, L.dir[i], ++usb, 2, "046D:C31C", "Logitech USB Keyboard", "120013", inputs));
    }
    if (first_keyboard) {
        FAKEROOT_TRY(
            write_usb_hid(w, L.dir[*first_keyboard], 1, 3, "046D:C077", "Logitech USB Optical Mouse", "17", inputs));
        const fs::path button = sys / "devices" / "LNXSYSTM:00" / "LNXSYBUS:00" / "PNP0C0C:00" / "input" / "input0";
        FAKEROOT_TRY(write_input(w, button, "Power Button", "3"));
    }
    return ok_status();
}

// ---------------------------------------------------------------------------
// Readiness facts: kernel, modules, framebuffers, libvirt hook, boot setup
// ---------------------------------------------------------------------------

// One line per module as the kernel prints /proc/modules, in the order given
// (the kernel prints the newest first). A module's users are the listed
// modules that use it, in list order (newest first, as the kernel links them).
std::string proc_modules(const std::vector<std::string>& modules) {
    std::string out;
    for (const auto& m : modules) {
        const FakeModule info = fake_module(m);
        std::vector<std::string> users;
        for (const auto& other : modules) {
            const auto uses = fake_module(other).uses;
            if (other != m && std::find(uses.begin(), uses.end(), m) != uses.end()) users.push_back(other);
        }
        out += proc_modules_line(m, info.size, static_cast<int>(users.size()) + info.desktop_refs, users);
    }
    return out;
}

}  // namespace

FakeModule fake_module(std::string_view name) {
    // Sizes as the 535 driver's modules report them; references a desktop holds
    // besides the modules' own (Xorg and the compositor on card0, nvidia-modeset
    // and the device nodes).
    if (name == "nvidia_drm") return {std::string(name), 77824, {"nvidia_modeset"}, 4};
    if (name == "nvidia_modeset") return {std::string(name), 1314816, {"nvidia"}, 7};
    if (name == "nvidia_uvm") return {std::string(name), 1540096, {"nvidia"}, 0};
    if (name == "nvidia") return {std::string(name), 56147968, {}, 458};
    return {std::string(name), 16384, {}, 0};
}

std::string proc_modules_line(std::string_view name, std::uint64_t size, int refcount,
                              const std::vector<std::string>& users) {
    // kernel/module/procfs.c: m_show and print_unload_info.
    std::string out = std::string(name) + " " + std::to_string(size) + " " + std::to_string(refcount) + " ";
    if (users.empty()) out += "-";
    for (const auto& u : users) out += u + ",";
    return out + " Live 0x0000000000000000\n";
}

namespace {

// /proc/interrupts on two CPUs; remapped chips carry the "IR-" prefix.
std::string proc_interrupts(bool remapped) {
    const std::string ir = remapped ? "IR-" : "";
    auto line = [](const std::string& label, const std::string& chip, const std::string& rest) {
        std::string l = label;
        if (l.size() < 4) l.insert(0, 4 - l.size(), ' ');
        return l + "          0          0  " + chip + " " + rest + "\n";
    };
    std::string out = "           CPU0       CPU1       \n";
    out += line("0:", ir + "IO-APIC", "   2-edge      timer");
    out += line("8:", ir + "IO-APIC", "   8-edge      rtc0");
    out += line("9:", ir + "IO-APIC", "   9-fasteoi   acpi");
    out += line("24:", "DMAR-MSI", "   0-edge      dmar0");
    out += line("25:", ir + "PCI-MSI", "327680-edge      xhci_hcd");
    out += line("26:", ir + "PCI-MSI", "376832-edge      ahci[0000:00:17.0]");
    out += "NMI:          0          0   Non-maskable interrupts\n";
    out += "LOC:       1234       1187   Local timer interrupts\n";
    out += "ERR:          0\n";
    return out;
}

struct FramebufferInfo {
    const char* name;     // as in the spec
    const char* proc_fb;  // /proc/fb id, and sys/class/graphics/fbN/name
    const char* device;   // the platform device it drives
    const char* driver;   // the platform driver bound to that device
};

constexpr FramebufferInfo kFramebuffers[] = {
    {"efifb", "EFI VGA", "efi-framebuffer.0", "efi-framebuffer"},
    {"vesafb", "VESA VGA", "vesa-framebuffer.0", "vesa-framebuffer"},
    {"simplefb", "simple", "simple-framebuffer.0", "simple-framebuffer"},
    {"simpledrm", "simpledrmdrmfb", "simple-framebuffer.0", "simpledrm"},
};

const FramebufferInfo* framebuffer_info(const std::string& name) {
    for (const auto& k : kFramebuffers)
        if (name == k.name) return &k;
    return nullptr;
}

// /proc/fb, and the firmware framebuffers' platform devices
// (sys/devices/platform/DEV, sys/bus/platform/devices/DEV) bound to their
// drivers (sys/bus/platform/drivers/DRV/DEV); the first to claim a device binds it.
Status write_framebuffers(Writer& w, const std::vector<std::string>& fbs) {
    const fs::path platform = fs::path("sys") / "bus" / "platform";
    FAKEROOT_TRY(w.dir(platform / "drivers"));
    FAKEROOT_TRY(w.dir(platform / "devices"));
    std::string proc_fb;
    std::map<std::string, std::string> bound;  // device -> driver
    int n = 0;
    for (const auto& f : fbs) {
        const FramebufferInfo* info = framebuffer_info(f);
        proc_fb += std::to_string(n++) + " " + (info ? std::string(info->proc_fb) : f + "drmfb") + "\n";
        if (info) bound.emplace(info->device, info->driver);
    }
    std::set<std::string> drivers;
    for (const auto& [dev_name, drv] : bound) {
        const fs::path dev = fs::path("sys") / "devices" / "platform" / dev_name;
        FAKEROOT_TRY(w.dir(dev));
        if (drivers.insert(drv).second) {
            FAKEROOT_TRY(w.dir(platform / "drivers" / drv));
            FAKEROOT_TRY(w.file(platform / "drivers" / drv / "bind", ""));
            FAKEROOT_TRY(w.file(platform / "drivers" / drv / "unbind", ""));
        }
        FAKEROOT_TRY(w.link(platform / "drivers" / drv / dev_name, dev));
        FAKEROOT_TRY(w.link(dev / "driver", platform / "drivers" / drv));
        FAKEROOT_TRY(w.link(platform / "devices" / dev_name, dev));
    }
    return w.file(fs::path("proc") / "fb", proc_fb);
}

// sys/class/graphics/fbN for each fb= entry, N in order: its name, and its
// device link to the firmware framebuffer's platform device, or for a GPU
// driver's own framebuffer to the first device bound to that driver.
Status write_graphics(Writer& w, const FakeHostSpec& spec, const Layout& L) {
    const fs::path dir = fs::path("sys") / "class" / "graphics";
    FAKEROOT_TRY(w.dir(dir));
    for (std::size_t n = 0; n < spec.framebuffers->size(); ++n) {
        const std::string& f = (*spec.framebuffers)[n];
        const fs::path fb = dir / ("fb" + std::to_string(n));
        const FramebufferInfo* info = framebuffer_info(f);
        FAKEROOT_TRY(w.dir(fb));
        FAKEROOT_TRY(w.file(fb / "name", (info ? std::string(info->proc_fb) : f + "drmfb") + "\n"));
        if (info) {
            FAKEROOT_TRY(w.link(fb / "device", fs::path("sys") / "devices" / "platform" / info->device));
            continue;
        }
        for (std::size_t i = 0; i < spec.devices.size(); ++i) {
            if (spec.devices[i].driver != f) continue;
            FAKEROOT_TRY(w.link(fb / "device", L.dir[i]));
            break;
        }
    }
    return ok_status();
}

Status write_kernel_modules(Writer& w, const std::string& release, const std::string& kind) {
    const fs::path mods = fs::path("lib") / "modules" / release;
    const fs::path vfio = mods / "kernel" / "drivers" / "vfio";
    const std::vector<fs::path> vfio_files = {vfio / "vfio.ko", vfio / "vfio_iommu_type1.ko",
                                              vfio / "pci" / "vfio-pci.ko", vfio / "pci" / "vfio-pci-core.ko"};
    std::string builtin = "kernel/drivers/pci/pcieport.ko\nkernel/drivers/usb/host/xhci-hcd.ko\n";
    const fs::path e1000e = mods / "kernel" / "drivers" / "net" / "ethernet" / "intel" / "e1000e";
    FAKEROOT_TRY(w.dir(e1000e));
    FAKEROOT_TRY(w.file(e1000e / "e1000e.ko", ""));
    if (kind == "available") {
        FAKEROOT_TRY(w.dir(vfio / "pci"));
        for (const auto& f : vfio_files) FAKEROOT_TRY(w.file(f, ""));
    } else if (kind == "builtin") {
        for (const auto& f : vfio_files) builtin += f.lexically_relative(mods).string() + "\n";
    }
    return w.file(mods / "modules.builtin", builtin);
}

Status write_setup(Writer& w, const FakeHostSpec& spec) {
    const fs::path etc = "etc";
    FAKEROOT_TRY(w.dir(etc));
    if (spec.hook) {
        const fs::path hooks = etc / "libvirt" / "hooks";
        FAKEROOT_TRY(w.dir(hooks / "qemu.d"));
        FAKEROOT_TRY(w.exec_file(hooks / "qemu.d" / "10-cpu-governor",
                                 "#!/bin/sh\n# Another administrator's hook: leaves PCI devices alone.\nexit 0\n"));
        if (*spec.hook == "installed") {
            FAKEROOT_TRY(w.exec_file(hooks / "qemu.d" / "50-hostdev", "#!/bin/sh\nexec hostdev-hook \"$@\"\n"));
        } else if (*spec.hook == "legacy") {
            FAKEROOT_TRY(w.exec_file(hooks / "qemu", "#!/bin/sh\n# libvirt qemu hook\nexec hostdev-hook \"$@\"\n"));
        }
    }
    if (spec.initramfs) {
        if (*spec.initramfs == "initramfs-tools") {
            FAKEROOT_TRY(w.dir(etc / "initramfs-tools"));
            FAKEROOT_TRY(w.file(etc / "initramfs-tools" / "modules",
                                "# List of modules that you want to include in your initramfs.\n"
                                "# They will be loaded at boot time in the order below.\n"
                                "#\n"
                                "# Syntax:  module_name [args ...]\n"
                                "#\n"
                                "# You must run update-initramfs(8) to effect this change.\n"
                                "#\n"
                                "# Examples:\n"
                                "#\n"
                                "# raid1\n"
                                "# sd_mod\n"));
        } else if (*spec.initramfs == "dracut") {
            FAKEROOT_TRY(w.dir(etc / "dracut.conf.d"));
            FAKEROOT_TRY(w.file(etc / "dracut.conf", "# PUT YOUR CONFIG IN separate files\n# in /etc/dracut.conf.d\n"));
        } else if (*spec.initramfs == "mkinitcpio") {
            FAKEROOT_TRY(w.file(etc / "mkinitcpio.conf",
                                "# vim:set ft=sh\n"
                                "MODULES=()\n"
                                "BINARIES=()\n"
                                "FILES=()\n"
                                "HOOKS=(base udev autodetect microcode modconf kms keyboard keymap consolefont block "
                                "filesystems fsck)\n"));
        }
    }
    if (spec.bootloader) {
        const std::string rel = spec.kernel_release.value_or("6.1.0-18-amd64");
        if (*spec.bootloader == "grub") {
            FAKEROOT_TRY(w.dir(etc / "default"));
            FAKEROOT_TRY(w.file(etc / "default" / "grub",
                                "GRUB_DEFAULT=0\n"
                                "GRUB_TIMEOUT=5\n"
                                "GRUB_DISTRIBUTOR=Debian\n"
                                "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
                                "GRUB_CMDLINE_LINUX=\"\"\n"));
        } else if (*spec.bootloader == "systemd-boot") {
            const fs::path loader = fs::path("boot") / "loader";
            FAKEROOT_TRY(w.dir(loader / "entries"));
            FAKEROOT_TRY(w.file(loader / "loader.conf", "default debian.conf\ntimeout 3\n"));
            FAKEROOT_TRY(w.file(loader / "entries" / "debian.conf",
                                "title   Debian GNU/Linux\n"
                                "linux   /vmlinuz-" +
                                    rel +
                                    "\n"
                                    "initrd  /initrd.img-" +
                                    rel +
                                    "\n"
                                    "options root=UUID=0b7d54e2-7c1a-4f36-8d2e-6a9f1c3b5e71 ro quiet\n"));
        }
    }
    return ok_status();
}

// lib/modules/REL/modules.alias as depmod writes it: a header, then one line
// per alias (a few of other modules around the spec's own).
Status write_modules_alias(Writer& w, const FakeHostSpec& spec) {
    const fs::path mods = fs::path("lib") / "modules" / *spec.kernel_release;
    FAKEROOT_TRY(w.dir(mods));
    std::string text = "# Aliases extracted from modules themselves.\n";
    text += "alias pci:v00008086d000015B8sv*sd*bc*sc*i* e1000e\n";
    for (const auto& [pattern, module] : spec.aliases)
        text += "alias " + pattern + (module.empty() ? "" : " " + module) + "\n";
    text += "alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci\n";
    return w.file(mods / "modules.alias", text);
}

// The libvirt library as Debian installs it: libvirt.so.0.MAJOR*1000+MINOR.MICRO
// and the libvirt.so.0 link to it.
Status write_libvirt(Writer& w, const std::string& version) {
    unsigned a = 0, b = 0, c = 0;
    std::sscanf(version.c_str(), "%u.%u.%u", &a, &b, &c);
    const fs::path dir = fs::path("usr") / "lib" / "x86_64-linux-gnu";
    FAKEROOT_TRY(w.dir(dir));
    const std::string file = "libvirt.so.0." + std::to_string(a * 1000 + b) + "." + std::to_string(c);
    FAKEROOT_TRY(w.file(dir / file, ""));
    return w.link(dir / "libvirt.so.0", dir / file);
}

// sys/class/drm/NODE with its device link, for every drm= of a dev line.
Status write_drm_nodes(Writer& w, const FakeHostSpec& spec, const Layout& L) {
    for (std::size_t i = 0; i < spec.devices.size(); ++i) {
        for (const auto& n : spec.devices[i].drm_nodes) {
            const fs::path node = fs::path("sys") / "class" / "drm" / n;
            FAKEROOT_TRY(w.dir(node));
            FAKEROOT_TRY(w.file(node / "uevent", "DEVNAME=dri/" + n + "\n"));
            FAKEROOT_TRY(w.link(node / "device", L.dir[i]));
        }
    }
    return ok_status();
}

// sys/class/vtconsole: the dummy console and fbcon, one of them bound.
Status write_vtconsoles(Writer& w, bool fbcon) {
    const fs::path dir = fs::path("sys") / "class" / "vtconsole";
    FAKEROOT_TRY(w.dir(dir / "vtcon0"));
    FAKEROOT_TRY(w.dir(dir / "vtcon1"));
    FAKEROOT_TRY(w.file(dir / "vtcon0" / "name", "(S) dummy device\n"));
    FAKEROOT_TRY(w.file(dir / "vtcon0" / "bind", fbcon ? "0\n" : "1\n"));
    FAKEROOT_TRY(w.file(dir / "vtcon1" / "name", "(M) frame buffer device\n"));
    return w.file(dir / "vtcon1" / "bind", fbcon ? "1\n" : "0\n");
}

// etc/systemd/system/display-manager.service -> /lib/systemd/system/NAME.service
// and run/systemd/units/invocation:NAME.service while it runs.
Status write_display_manager(Writer& w, const FakeHostSpec& spec) {
    FAKEROOT_TRY(w.dir(fs::path("etc") / "systemd" / "system"));
    FAKEROOT_TRY(w.dir(fs::path("run") / "systemd" / "units"));
    if (!spec.display_manager || *spec.display_manager == "none") return ok_status();
    const std::string unit = *spec.display_manager + ".service";
    FAKEROOT_TRY(w.dir(fs::path("lib") / "systemd" / "system"));
    FAKEROOT_TRY(w.file(fs::path("lib") / "systemd" / "system" / unit, "[Unit]\nDescription=Display manager\n"));
    FAKEROOT_TRY(
        w.raw_link(fs::path("etc") / "systemd" / "system" / "display-manager.service", "/lib/systemd/system/" + unit));
    if (!spec.display_manager_active.value_or(true)) return ok_status();
    return w.raw_link(fs::path("run") / "systemd" / "units" / ("invocation:" + unit),
                      "5f0e8a3c9d2b4e61a7c8f90b1d2e3f40");
}

// proc/PID/comm, proc/PID/fd/N (0 to 2 on /dev/null, then the spec's paths) and
// proc/PID/cgroup (the unit's, else a login session's).
Status write_processes(Writer& w, const FakeHostSpec& spec) {
    for (const auto& p : spec.processes) {
        const fs::path dir = fs::path("proc") / std::to_string(p.pid);
        FAKEROOT_TRY(w.dir(dir / "fd"));
        FAKEROOT_TRY(w.file(dir / "comm", p.comm + "\n"));
        for (int fd = 0; fd < 3; ++fd) FAKEROOT_TRY(w.raw_link(dir / "fd" / std::to_string(fd), "/dev/null"));
        for (std::size_t i = 0; i < p.fds.size(); ++i)
            FAKEROOT_TRY(w.raw_link(dir / "fd" / std::to_string(i + 3), p.fds[i]));
        FAKEROOT_TRY(w.file(dir / "cgroup", p.unit ? "0::/system.slice/" + *p.unit + "\n"
                                                   : std::string("0::/user.slice/user-1000.slice/session-2.scope\n")));
    }
    return ok_status();
}

Status write_readiness(Writer& w, const FakeHostSpec& spec) {
    const fs::path proc = "proc";
    if (spec.kernel_release) {
        FAKEROOT_TRY(w.dir(proc / "sys" / "kernel"));
        FAKEROOT_TRY(w.file(proc / "sys" / "kernel" / "osrelease", *spec.kernel_release + "\n"));
    }
    if (spec.irq_remap) FAKEROOT_TRY(w.file(proc / "interrupts", proc_interrupts(*spec.irq_remap)));
    if (spec.vfio_modules) FAKEROOT_TRY(write_kernel_modules(w, *spec.kernel_release, *spec.vfio_modules));
    if (!spec.aliases.empty()) FAKEROOT_TRY(write_modules_alias(w, spec));
    if (spec.libvirt && *spec.libvirt != "none") FAKEROOT_TRY(write_libvirt(w, *spec.libvirt));
    if (spec.framebuffers) FAKEROOT_TRY(write_framebuffers(w, *spec.framebuffers));
    if (spec.hook || spec.initramfs || spec.bootloader) FAKEROOT_TRY(write_setup(w, spec));
    if (spec.fbcon) FAKEROOT_TRY(write_vtconsoles(w, *spec.fbcon));
    if (spec.display_manager || spec.display_manager_active) FAKEROOT_TRY(write_display_manager(w, spec));
    return write_processes(w, spec);
}

// Sorts devices so that output does not depend on the order of spec lines.
FakeHostSpec normalized(const FakeHostSpec& spec) {
    FakeHostSpec s = spec;
    std::stable_sort(s.devices.begin(), s.devices.end(),
                     [](const FakeDevice& a, const FakeDevice& b) { return a.address < b.address; });
    assign_default_netdevs(s);
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

std::uint8_t FakeDevice::effective_header_type() const {
    if (header_type) return *header_type;
    const std::uint32_t cls = class_code >> 8;
    if (cls == 0x0604 || cls == 0x0609) return 1;
    if (cls == 0x0607) return 2;
    return 0;
}

std::optional<bool> FakeDevice::effective_boot_vga() const {
    if (boot_vga) return boot_vga;
    if ((class_code >> 8) == 0x0300) return false;
    return std::nullopt;
}

std::string FakeDevice::effective_modalias() const {
    if (modalias && *modalias != "none") return *modalias;
    // drivers/pci/pci-sysfs.c modalias_show: "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X".
    return "pci:v" + upper_hex(vendor, 8) + "d" + upper_hex(device, 8) + "sv" + upper_hex(subsystem_vendor, 8) + "sd" +
           upper_hex(subsystem_device, 8) + "bc" + upper_hex((class_code >> 16) & 0xff, 2) + "sc" +
           upper_hex((class_code >> 8) & 0xff, 2) + "i" + upper_hex(class_code & 0xff, 2);
}

bool FakeDevice::has_role(std::string_view role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

Result<FakeHostSpec> parse_fake_host_spec(std::string_view text) {
    FakeHostSpec spec;
    std::set<std::string> host_keys;
    int lineno = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        ++lineno;
        auto tokens = tokenize(line, lineno);
        if (!tokens) return tokens.error();
        if (!tokens->empty()) {
            const std::string& kind = tokens->front().text;
            if (kind == "host") {
                auto st = parse_host_line(*tokens, lineno, spec, host_keys);
                if (!st) return st.error();
            } else if (kind == "dev") {
                auto dev = parse_dev_line(*tokens, lineno);
                if (!dev) return dev.error();
                spec.devices.push_back(std::move(*dev));
            } else if (kind == "proc") {
                auto p = parse_proc_line(*tokens, lineno);
                if (!p) return p.error();
                spec.processes.push_back(std::move(*p));
            } else if (kind == "alias") {
                // Written as given, so that a test can lay out a malformed line too.
                if (tokens->size() < 2)
                    return line_error(lineno, "'alias' needs PATTERN MODULE (a modules.alias line)");
                std::string rest;
                for (std::size_t i = 2; i < tokens->size(); ++i) rest += (i > 2 ? " " : "") + (*tokens)[i].text;
                spec.aliases.push_back({(*tokens)[1].text, rest});
            } else {
                return line_error(lineno, "unknown statement '" + tokens->front().raw +
                                              "' (expected 'host', 'dev', 'proc' or 'alias')");
            }
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    assign_default_netdevs(spec);
    auto st = validate_fake_host_spec(spec);
    if (!st) return st.error();
    return spec;
}

Status validate_fake_host_spec(const FakeHostSpec& spec) {
    auto layout = plan(spec);
    if (!layout) return layout.error();
    return ok_status();
}

Result<fs::path> fake_device_dir(const FakeHostSpec& spec, const PciAddress& address) {
    auto layout = plan(spec);
    if (!layout) return layout.error();
    auto it = layout->index.find(address);
    if (it == layout->index.end()) return make_error("device " + address.str() + " is not in the spec");
    return layout->dir[it->second];
}

Status build_fake_root(const FakeHostSpec& input, const fs::path& root) {
    const FakeHostSpec spec = normalized(input);
    auto layout = plan(spec);
    if (!layout) return layout.error();
    const Layout& L = *layout;
    Writer w(root);

    const fs::path sys = "sys";
    const fs::path proc = "proc";
    const fs::path pci = sys / "bus" / "pci";
    for (const fs::path& d : {pci / "devices", pci / "drivers", sys / "kernel" / "iommu_groups",
                              sys / "class" / "iommu", sys / "class" / "net", sys / "class" / "block",
                              sys / "class" / "input", sys / "dev" / "block", proc / "self", proc / "net"}) {
        FAKEROOT_TRY(w.dir(d));
    }
    FAKEROOT_TRY(w.file(pci / "drivers_probe", ""));

    // Drivers (vfio-pci always) and groups, before the devices link into them.
    std::set<std::string> drivers{"vfio-pci"};
    std::set<int> groups;
    for (const auto& d : spec.devices) {
        if (d.driver) drivers.insert(*d.driver);
        if (d.group) groups.insert(*d.group);
    }
    for (const auto& name : drivers) FAKEROOT_TRY(write_driver_dir(w, name));
    for (int g : groups) {
        const fs::path grp = sys / "kernel" / "iommu_groups" / std::to_string(g);
        FAKEROOT_TRY(w.dir(grp / "devices"));
        FAKEROOT_TRY(w.file(grp / "type", "DMA\n"));
    }

    for (std::size_t i = 0; i < spec.devices.size(); ++i) {
        FAKEROOT_TRY(write_device(w, spec, spec.devices[i], L, i));
    }

    // SR-IOV links, virtfnN in address order of the VFs (devices are sorted).
    std::map<std::size_t, std::vector<std::size_t>> vfs_of;
    for (std::size_t i = 0; i < spec.devices.size(); ++i) {
        if (const auto& pf = spec.devices[i].physfn) vfs_of[L.index.at(*pf)].push_back(i);
    }
    for (const auto& [pf, vfs] : vfs_of) {
        for (std::size_t n = 0; n < vfs.size(); ++n) {
            FAKEROOT_TRY(w.link(L.dir[pf] / ("virtfn" + std::to_string(n)), L.dir[vfs[n]]));
            FAKEROOT_TRY(w.link(L.dir[vfs[n]] / "physfn", L.dir[pf]));
        }
        FAKEROOT_TRY(w.file(L.dir[pf] / "sriov_numvfs", std::to_string(vfs.size()) + "\n"));
        FAKEROOT_TRY(w.file(L.dir[pf] / "sriov_totalvfs", std::to_string(vfs.size()) + "\n"));
    }

    for (const auto& unit : spec.iommu_units) {
        const fs::path dev = sys / "devices" / "virtual" / "iommu" / unit;
        FAKEROOT_TRY(w.dir(dev));
        FAKEROOT_TRY(w.link(sys / "class" / "iommu" / unit, dev));
    }

    FAKEROOT_TRY(w.file(proc / "cmdline", spec.cmdline + "\n"));
    FAKEROOT_TRY(w.file(proc / "cpuinfo", cpuinfo(spec.cpu_vendor)));
    FAKEROOT_TRY(w.file(proc / "modules", proc_modules(spec.modules)));
    FAKEROOT_TRY(write_roles(w, spec, L));
    FAKEROOT_TRY(write_readiness(w, spec));
    if (spec.framebuffers) FAKEROOT_TRY(write_graphics(w, spec, L));
    return write_drm_nodes(w, spec, L);
}

// ---------------------------------------------------------------------------
// FakeRoot
// ---------------------------------------------------------------------------

FakeRoot::FakeRoot(std::string_view spec_text) {
    auto spec = parse_fake_host_spec(spec_text);
    if (!spec) throw std::runtime_error("fake host spec: " + spec.error().describe());
    spec_ = std::move(*spec);
    create();
}

FakeRoot::FakeRoot(FakeHostSpec spec) : spec_(std::move(spec)) {
    auto st = validate_fake_host_spec(spec_);
    if (!st) throw std::runtime_error("fake host spec: " + st.error().describe());
    spec_ = normalized(spec_);
    create();
}

void FakeRoot::create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hostdev-fakeroot-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
        throw std::runtime_error(make_error("cannot create a temporary directory", templ, errno).describe());
    }
    path_ = templ;
    auto st = build_fake_root(spec_, path_);
    if (!st) {
        remove();
        throw std::runtime_error("building fake root: " + st.error().describe());
    }
}

void FakeRoot::remove() noexcept {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
    path_.clear();
}

FakeRoot::~FakeRoot() { remove(); }

FakeRoot::FakeRoot(FakeRoot&& other) noexcept
    : spec_(std::move(other.spec_)), path_(std::exchange(other.path_, fs::path())) {}

FakeRoot& FakeRoot::operator=(FakeRoot&& other) noexcept {
    if (this != &other) {
        remove();
        spec_ = std::move(other.spec_);
        path_ = std::exchange(other.path_, fs::path());
    }
    return *this;
}

fs::path FakeRoot::device_dir(std::string_view address) const {
    auto addr = PciAddress::parse(address);
    if (!addr) throw std::runtime_error(addr.error().describe());
    auto rel = fake_device_dir(spec_, *addr);
    if (!rel) throw std::runtime_error(rel.error().describe());
    return path_ / *rel;
}

}  // namespace hostdev::testing
