// Parsers for what the kernel writes in sysfs and procfs. Each takes the text
// (or bytes) and never touches a file, so each is tested on literals.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev::parse {

// "0x10de\n" → 0x10de; fails on anything but one hex number (0x optional) above max.
Result<std::uint32_t> sysfs_hex(std::string_view text, std::uint32_t max = 0xffffffff);
// "-1\n" → -1, "0\n" → 0.
Result<long> sysfs_int(std::string_view text);
// driver_override: "(null)\n" or "" → nullopt, "vfio-pci\n" → "vfio-pci".
std::optional<std::string> driver_override(std::string_view text);
// reset_method: "flr bus\n" → {"flr", "bus"}.
std::vector<std::string> word_list(std::string_view text);

// Trailing newline and spaces removed.
std::string_view trim(std::string_view text);

// `text` in single quotes for a message about a file hostdev did not write:
// bytes outside printable ASCII (and the quote and backslash) as \xHH, and at
// most `max` bytes of it, then "...". A message quoting a hostile file stays
// one short line of valid UTF-8, so that it can go to a terminal or into JSON.
std::string quote(std::string_view text, std::size_t max = 64);

// The length (1 to 4) of the UTF-8 encoded character at the start of `text`;
// 0 for a stray or truncated byte, an overlong form, a surrogate, a code point
// above U+10FFFF, or empty text.
std::size_t utf8_char_length(std::string_view text);
// True when all of `text` is UTF-8 encoded characters.
bool valid_utf8(std::string_view text);

// The first 64 bytes of PCI config space.
struct ConfigHeader {
    std::uint16_t vendor = 0;
    std::uint16_t device = 0;
    std::uint8_t revision = 0;
    std::uint32_t class_code = 0;
    std::uint8_t header_type = 0;  // layout only (bit 7 masked)
    bool multifunction = false;
    std::uint16_t subsystem_vendor = 0;  // type 0 headers only
    std::uint16_t subsystem_device = 0;
};
Result<ConfigHeader> config_header(std::string_view bytes);

// The PCIe Device Serial Number (PCIe Base Specification §7.9.3) from config
// space bytes: the extended capability list is walked from 0x100 (a 32-bit
// header: id in bits 0-15, version 16-19, next offset 20-31), stopping at a
// next offset of 0, a loop, an offset below 0x100 or beyond the bytes, or after
// 960 hops; the capability PCI_EXT_CAP_ID_DSN holds the lower dword at +4 and
// the upper at +8. Spelled as lspci -vv does: "00-1b-21-ff-ff-a1-b2-c3" (the
// upper dword's bytes high to low, then the lower's). nullopt for 256 bytes or
// fewer (no extended space: a read without root gives 64), no such
// capability, or a list that is not well formed.
std::optional<std::string> device_serial_number(std::string_view config);

// nvme/nvmeN/serial: the controller's serial, blanks and the newline trimmed
// ("S4EWNX0R123456      \n" → "S4EWNX0R123456"); nullopt when empty, longer
// than 64 bytes, or holding bytes outside printable ASCII.
std::optional<std::string> nvme_serial(std::string_view text);

// net/IF/address with net/IF/addr_assign_type: the permanent MAC, lower case
// ("00:1B:21:A1:B2:C3\n", "0\n" → "00:1b:21:a1:b2:c3"). nullopt when the
// address is not assigned permanently (addr_assign_type other than 0:
// NET_ADDR_PERM of include/uapi/linux/netdevice.h), is all zeros, or is not six
// hexadecimal octets separated by colons (an InfiniBand address).
std::optional<std::string> permanent_mac(std::string_view address, std::string_view addr_assign_type);

// "../../../kernel/iommu_groups/13" → 13.
Result<int> iommu_group_link(std::string_view target);
// "../../../bus/pci/drivers/nouveau" → "nouveau" (the last component).
std::string link_basename(std::string_view target);
// Every component of a path that is a full PCI address, in path order
// ("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0" → 00:01.0, 01:00.0).
std::vector<PciAddress> pci_addresses_in_path(std::string_view path);

// /proc/self/mountinfo: the entry mounted at "/" (the last one wins, as the
// kernel stacks mounts).
struct MountEntry {
    unsigned major = 0;
    unsigned minor = 0;
    std::string fstype;
    std::string source;  // e.g. /dev/nvme0n1p2
};
std::optional<MountEntry> root_mount(std::string_view mountinfo);

// Interfaces that carry a default route: /proc/net/route (destination and
// mask 0) and /proc/net/ipv6_route (::/0).
std::vector<std::string> default_route_interfaces(std::string_view proc_net_route);
std::vector<std::string> default_route_interfaces_v6(std::string_view proc_net_ipv6_route);

// /proc/cpuinfo "vendor_id : GenuineIntel" → "GenuineIntel".
std::string cpu_vendor(std::string_view cpuinfo);

// An input device's capabilities/ev bitmask (hex words, most significant first)
// says keyboard when it has EV_KEY and EV_REP, as keyboards do and mice don't.
bool input_is_keyboard(std::string_view capabilities_ev);

// Kernel command line parameter value: ("quiet intel_iommu=on", "intel_iommu") → "on";
// a bare flag yields ""; absent → nullopt. The last occurrence wins, as in the kernel.
std::optional<std::string> cmdline_param(std::string_view cmdline, std::string_view name);

// ---- Host readiness facts (hostdev doctor, hostdev boot-config) ----

// /proc/interrupts: true when an interrupt chip is a remapped one ("IR-PCI-MSI",
// "IR-IO-APIC", "IR-PCI-MSIX-0000:00:14.0", ...), false when chips are listed
// but none is remapped, nullopt when the text names no interrupt chip at all.
std::optional<bool> interrupt_remapping(std::string_view proc_interrupts);

// A kernel module's name as the kernel spells it: '-' becomes '_'
// ("vfio-pci" -> "vfio_pci"), as modprobe treats both alike.
std::string module_name(std::string_view name);
// "vfio-pci.ko", "vfio-pci.ko.xz", ".ko.zst", ".ko.gz" -> "vfio_pci"; nullopt
// for anything that is not a module file.
std::optional<std::string> module_file_name(std::string_view filename);
// /proc/modules: the loaded modules' names, sorted, without duplicates.
std::vector<std::string> loaded_modules(std::string_view proc_modules);
// modules.builtin: the names of built-in modules whose path starts with
// `prefix` ("kernel/drivers/vfio/"), sorted.
std::vector<std::string> builtin_modules(std::string_view modules_builtin, std::string_view prefix);

// /proc/fb: the firmware framebuffers among the entries ("0 EFI VGA" -> efifb,
// "0 VESA VGA" -> vesafb, "0 simple" -> simplefb, "0 simpledrmdrmfb" ->
// simpledrm), sorted; a GPU driver's own framebuffer ("0 amdgpudrmfb") is not one.
std::vector<std::string> firmware_framebuffers(std::string_view proc_fb);
// The firmware framebuffer behind a platform driver bound to a firmware
// framebuffer device: "efi-framebuffer" -> efifb, "vesa-framebuffer" -> vesafb,
// "simple-framebuffer" -> simplefb, "simpledrm" -> simpledrm (it binds the
// simple-framebuffer device); nullopt otherwise.
std::optional<std::string> framebuffer_of_platform_driver(std::string_view driver);

// ---- What holds a GPU (gpu_holders.hpp) ----
// vtconN/bind: "1\n" -> true, "0\n" -> false; anything else fails.
Result<bool> vtcon_bind(std::string_view text);
// The number after `prefix` in a directory name: ("fb", "fb12") -> 12; nullopt
// unless the rest is 1 to 9 decimal digits.
std::optional<int> name_index(std::string_view prefix, std::string_view name);
// A DRM node name hostdev lists: cardN or renderDN (not card0-DP-1 connectors).
bool is_drm_node_name(std::string_view name);
// A firmware framebuffer platform device name: efi-framebuffer.N,
// vesa-framebuffer.N, simple-framebuffer.N.
bool is_firmware_framebuffer_device(std::string_view name);
// An fd link's text when it names a GPU node: "/dev/dri/card0",
// "/dev/dri/renderD128", "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-modeset"
// ("/dev/nvidia-caps/..." too); nullopt for anything else.
std::optional<std::string> gpu_node_of_fd_link(std::string_view target);
// display-manager.service's link text -> the unit ("/lib/systemd/system/gdm3.service"
// -> "gdm3.service"); fails unless it ends in a unit name.
Result<std::string> unit_of_link(std::string_view target);
// A unit name hostdev accepts: letters, digits, ":-_.\@", ending in ".service".
bool valid_unit_name(std::string_view unit);
// /proc/PID/cgroup: the systemd service of the process's cgroup, the last
// path element ending in ".service" of its unified ("0::") or name=systemd
// line ("0::/system.slice/gdm.service" -> "gdm.service"); nullopt otherwise.
std::optional<std::string> service_of_cgroup(std::string_view text);
// /proc/PID/comm: the name without its newline, non-printable bytes as '?', at most 64 bytes.
std::string process_comm(std::string_view text);
// /proc/PID/stat: the process's start time (field 22, in clock ticks since
// boot), which with the PID tells one process from a later one that reuses
// its PID. Read after the last ')' (the name may hold spaces and parens);
// nullopt when the text is not a stat line.
std::optional<std::uint64_t> process_start_time(std::string_view stat);

// ---- VFIO variant drivers ----

// One `alias vfio_pci:PATTERN MODULE` line of lib/modules/REL/modules.alias.
struct ModulesAliasLine {
    std::string pattern;  // "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"
    std::string module;   // "mlx5_vfio_pci"
};
struct ModulesAlias {
    std::vector<ModulesAliasLine> vfio_pci;  // in file order
    // "line N: what is wrong" for each `alias vfio_pci:` line that was skipped.
    std::vector<std::string> skipped;
};
// The vfio_pci aliases of modules.alias (the kernel's file2alias writes
// "alias vfio_pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X MODULE" with `*` for
// any field a driver leaves open). Other aliases and comments are ignored; an
// `alias vfio_pci:` line that is not PATTERN and MODULE (missing or extra
// words, bytes that cannot be in a module name) is skipped and named.
ModulesAlias vfio_pci_aliases(std::string_view modules_alias);

// The kernel's modalias glob (fnmatch without flags, as modprobe matches
// aliases): `*` any run, `?` any one byte, [...] a set; anything else itself.
bool alias_matches(std::string_view pattern, std::string_view text);

// libvirt's version from its library's file name: "libvirt.so.0.9000.0" ->
// {9, 0, 0} (libvirt names it libvirt.so.0.MAJOR*1000+MINOR.MICRO); nullopt
// for any other name.
struct Version3 {
    unsigned major = 0, minor = 0, micro = 0;
};
std::optional<Version3> libvirt_soname_version(std::string_view filename);
// "10.0.0" exactly -> {10, 0, 0}.
std::optional<Version3> version3(std::string_view text);
// A pkg-config file's "Version: 10.0.0" line -> {10, 0, 0}.
std::optional<Version3> pkgconfig_version(std::string_view pc_text);

// "6.1.0-18-amd64" -> {6, 1}; nullopt when it does not start with N.N.
std::optional<std::pair<int, int>> kernel_version(std::string_view release);

}  // namespace hostdev::parse
