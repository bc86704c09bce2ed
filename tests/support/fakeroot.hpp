// Declarative fake root: a host described one line per PCI function, laid out
// on disk exactly as the Linux kernel lays out sysfs and procfs, so that every
// reader in hostdev (and lspci with -A linux-sysfs) can be pointed at it.
//
// Spec format
// -----------
// One statement per line. '#' outside quotes starts a comment that runs to the
// end of the line; blank lines are ignored. Tokens are separated by spaces or
// tabs; a value may be "double quoted" to hold spaces (key="a b c"). Lines may
// come in any order. Errors name the line number and the offending token.
//
//   host KEY=VALUE...        host-wide facts; several host lines accumulate
//     cpu=VENDOR             vendor_id in /proc/cpuinfo (default GenuineIntel)
//     cmdline="..."          /proc/cmdline (default empty)
//     iommu=U1,U2,...|none   /sys/class/iommu entries (default dmar0); none = no IOMMU
//     reset_method=yes|no    no = an old kernel: no reset_method file on any device
//   Readiness facts (hostdev doctor / boot-config); without the key nothing is
//   written for it (proc/modules stays an empty file), so older specs lay out as before:
//     release=REL            /proc/sys/kernel/osrelease, e.g. 6.1.0-18-amd64
//     irq_remap=yes|no       /proc/interrupts with remapped (IR-PCI-MSI, IR-IO-APIC)
//                            or plain (PCI-MSI, IO-APIC) interrupt chips
//     modules=M1,M2,...|none /proc/modules lines for these modules, in this order (the
//                            kernel prints the newest first): "NAME SIZE REFCNT USERS, Live
//                            0x0000000000000000", users "-" when none. The NVIDIA family
//                            knows its users (fake_module): nvidia_modeset is used by
//                            nvidia_drm, nvidia by nvidia_modeset and nvidia_uvm (those
//                            listed, in list order), and carries a desktop's refcounts, so
//                            modules=nvidia_drm,nvidia_modeset,nvidia_uvm,nvidia writes
//                              nvidia_drm 77824 4 - Live 0x0000000000000000
//                              nvidia_modeset 1314816 8 nvidia_drm, Live 0x0000000000000000
//                              nvidia_uvm 1540096 0 - Live 0x0000000000000000
//                              nvidia 56147968 460 nvidia_modeset,nvidia_uvm, Live 0x0000000000000000
//                            any other module: "NAME 16384 0 - Live 0x0000000000000000"
//     vfio_modules=available|builtin|missing   lib/modules/REL (needs release=):
//                            vfio .ko files under kernel/drivers/vfio, or listed in
//                            modules.builtin, or neither (other modules only)
//     fb=F1,F2,...|none      /proc/fb entries: efifb ("EFI VGA"), vesafb ("VESA VGA"),
//                            simplefb ("simple"), simpledrm ("simpledrmdrmfb"), with
//                            their bound platform devices in sys/bus/platform/drivers;
//                            any other name N is a GPU driver's own "Ndrmfb"; the
//                            platform devices (efi-framebuffer.0, vesa-framebuffer.0,
//                            simple-framebuffer.0: simplefb and simpledrm share it, the
//                            first listed binds it) in sys/devices/platform with their
//                            sys/bus/platform/devices links and driver links, and
//                            sys/class/graphics/fbN (N in list order) with name (the
//                            /proc/fb id) and a device link to the platform device, or
//                            for a GPU driver's framebuffer to the first dev bound to N
//     fbcon=yes|no           sys/class/vtconsole: vtcon0 "(S) dummy device" and vtcon1
//                            "(M) frame buffer device", fbcon (vtcon1) bound or not
//     display_manager=NAME|none   etc/systemd/system/display-manager.service as a link to
//                            /lib/systemd/system/NAME.service (none: no link), with
//                            etc/systemd/system and run/systemd/units
//     active=yes|no          run/systemd/units/invocation:NAME.service, a link to an
//                            invocation id, while the display manager runs (default yes)
//     hook=installed|legacy|missing   etc/libvirt/hooks: qemu.d/50-hostdev (executable),
//                            or hooks/qemu running hostdev-hook, or qemu.d with
//                            another hook only
//     initramfs=initramfs-tools|dracut|mkinitcpio|none   etc/initramfs-tools/modules,
//                            etc/dracut.conf + dracut.conf.d, or etc/mkinitcpio.conf
//     bootloader=grub|systemd-boot|none   etc/default/grub, or boot/loader/entries/*.conf
//                            (hook, initramfs and bootloader create etc/ even for none)
//     libvirt=X.Y.Z|none     usr/lib/x86_64-linux-gnu/libvirt.so.0.(X*1000+Y).Z and the
//                            libvirt.so.0 link to it, as Debian installs libvirt0
//
//   proc PID COMM [unit=NAME.service] PATH...
//                            a process: proc/PID/comm, and proc/PID/fd/0..2 linked to
//                            /dev/null, then fd/3, fd/4, ... linked to each PATH as written
//                            (/dev/dri/card0, /dev/nvidiactl): the links dangle in the root;
//                            proc/PID/cgroup "0::/system.slice/NAME.service\n" with unit=
//                            (a process of that service, which the simulated kernel's
//                            stop_unit ends), else "0::/user.slice/user-1000.slice/session-2.scope\n"
//                            (a login session's); the unit= token may stand anywhere after COMM
//
//   alias PATTERN MODULE     one line of lib/modules/REL/modules.alias (needs release=),
//                            in the kernel's format, e.g.
//                            alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci
//                            (the file, with a few other modules' lines, exists only
//                            when the spec has at least one alias line); the words are
//                            written as given, so `alias PATTERN` alone is a malformed line
//
//   dev ADDR VVVV:DDDD CLASS KEY=VALUE...
//     ADDR                   BB:SS.F or DDDD:BB:SS.F (hex; domains above 0xffff take more
//                            digits, as behind Intel VMD: 10000:01:00.0 under pci10000:00)
//     VVVV:DDDD              vendor and device id (hex)
//     CLASS                  24-bit class code, e.g. 0x030000 (hex, 0x optional)
//     group=N                IOMMU group number
//     driver=NAME            bound driver (no key: unbound)
//     override=NAME          driver_override (no key: "(null)")
//     rev=HH                 revision (hex, default 00)
//     subsys=VVVV:DDDD       subsystem vendor and device (default 0000:0000)
//     header=N               config header layout 0/1/2 (default: 1 for class
//                            0x0604xx and 0x0609xx, 2 for 0x0607xx, else 0)
//     bus=BB                 secondary bus of a bridge (header 1 or 2 only);
//                            devices on that bus are nested under the bridge
//     boot_vga=0|1           default: a file with 0 for class 0x0300xx, no file otherwise
//     reset=M1,M2,...|none   reset_method contents (default "flr bus");
//                            none = no reset method, the file is absent as in the kernel
//     numa=N                 numa_node (default -1)
//     physfn=ADDR            this is an SR-IOV virtual function of ADDR
//     role=R1,R2,...         root-fs | default-route | keyboard (comma list or repeated)
//     net=IFNAME             network interface of the function (default "ethN",
//                            only made up for a default-route device without net=)
//     modalias=TEXT|none     the modalias file (default: computed from the ids, subsystem
//                            and class as the kernel writes it,
//                            pci:v000015B3d0000101Esv000015B3sd00000062bc02sc00i00);
//                            none = no file
//     mdev=yes|no            yes: an mdev parent, mdev_supported_types/nvidia-63/ (default no)
//     vgpu=N                 nvidia/current_vgpu_type = N (an NVIDIA SR-IOV vGPU function;
//                            0 = no type set); no key: no nvidia/ directory
//     drm=card0,renderD128   sys/class/drm/NODE with a device link to the function
//   Serial numbers; without the keys nothing of them is written (config stays 256 bytes):
//     dsn=XX-XX-XX-XX-XX-XX-XX-XX   a PCIe Device Serial Number, as lspci -vv prints it:
//                            config becomes 4096 bytes with a PCI Express capability
//                            at 0x40 in the standard list and the DSN extended
//                            capability at 0x100
//     nvme_serial=TEXT       nvme/nvmeN/serial: TEXT padded with blanks to 20 characters
//                            and a newline, as the kernel writes it (at most 20 printable
//                            characters); N unique in the host (0 for the root-fs NVMe
//                            controller), with the sys/class/nvme/nvmeN link
//     mac=aa:bb:cc:dd:ee:ff  net/IF/address, with addr_assign_type 0 (permanent); the
//                            interface is net= or a made-up "ethN" as for default-route
//     mac_type=N             addr_assign_type N instead (1 random, 2 stolen, 3 set), needs mac=
//
// Example:
//   host cpu=GenuineIntel cmdline="BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 ro intel_iommu=on"
//   dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport rev=07 bus=01
//   dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1 subsys=1043:8508 reset=flr,bus
//   dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1
//   dev 00:17.0 8086:a102 0x010601 group=4 driver=ahci role=root-fs
//   dev 00:1f.6 8086:15b8 0x020000 group=11 driver=e1000e role=default-route net=eno1
//   dev 03:10.0 8086:1520 0x020000 group=40 driver=igbvf physfn=03:00.0
//
// Layout (relative to the root directory; relative symbolic links computed the
// way sysfs computes them, so realpath works inside the root):
//   sys/devices/pciDDDD:BB/<bridges...>/DDDD:BB:SS.F/   vendor device subsystem_vendor
//       subsystem_device class revision config(256 bytes) driver_override numa_node
//       reset_method boot_vga irq resource enable modalias, links driver, iommu_group,
//       physfn / virtfnN (+ sriov_numvfs, sriov_totalvfs); config is 4096 bytes with dsn=;
//       nvme/nvmeN/serial with nvme_serial=, net/IF/{address,addr_assign_type} with mac=
//   sys/class/nvme/nvmeN -> the controller directory (nvme_serial=)
//   sys/bus/pci/devices/ADDR, sys/bus/pci/drivers/NAME/{bind,unbind,new_id,remove_id,ADDR},
//       sys/bus/pci/drivers_probe, sys/bus/pci/drivers/vfio-pci (always)
//   sys/kernel/iommu_groups/N/{type,devices/ADDR}
//   sys/class/iommu/UNIT -> ../../devices/virtual/iommu/UNIT
//   sys/class/{block,net,input}, sys/dev/block: the role devices (see below)
//   proc/cmdline, proc/cpuinfo, proc/modules, proc/self/mountinfo,
//       proc/net/route, proc/net/ipv6_route
//   with the readiness keys: proc/sys/kernel/osrelease, proc/interrupts, proc/fb,
//       sys/bus/platform/drivers/*-framebuffer, lib/modules/REL, etc/libvirt/hooks,
//       etc/{initramfs-tools,dracut.conf*,mkinitcpio.conf,default/grub}, boot/loader/entries
// Roles:
//   root-fs        a partition below the function (nvme0n1p2, 259:2 for class
//                  0x0108xx; sda2, 8:2 below an ATA host otherwise), reachable from
//                  sys/dev/block/MAJ:MIN and sys/class/block, mounted on / in
//                  mountinfo. Without this role "/" is an overlay (major 0).
//   default-route  DEVDIR/net/IF with a device link, sys/class/net/IF, and a
//                  default route through IF in proc/net/route.
//   keyboard       a USB HID keyboard input below the function (capabilities/ev
//                  120013, with EV_REP) in sys/class/input; with at least one
//                  keyboard, a USB mouse (ev 17, no EV_REP) and an ACPI power
//                  button (not below any PCI function) are added too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/pci_address.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev::testing {

struct FakeDevice {
    PciAddress address;
    std::uint16_t vendor = 0;
    std::uint16_t device = 0;
    std::uint16_t subsystem_vendor = 0;
    std::uint16_t subsystem_device = 0;
    std::uint32_t class_code = 0;
    std::uint8_t revision = 0;
    std::optional<std::uint8_t> header_type;  // nullopt: derived from the class
    std::optional<int> group;
    std::optional<std::string> driver;
    std::optional<std::string> driver_override;
    std::optional<std::uint8_t> secondary_bus;  // bridges only
    std::optional<bool> boot_vga;               // nullopt: derived from the class
    // nullopt = no reset_method file; empty = no reset method (file absent too,
    // as the kernel hides it); otherwise the methods in order.
    std::optional<std::vector<std::string>> reset_methods;
    std::optional<int> numa_node;  // nullopt: -1
    std::optional<PciAddress> physfn;
    std::vector<std::string> roles;       // "root-fs", "default-route", "keyboard"
    std::string netdev;                   // interface name; empty = none
    std::optional<std::string> modalias;  // nullopt: computed; "none": no file
    bool mdev_parent = false;             // mdev_supported_types/ with one type
    std::optional<int> vgpu_type;         // nvidia/current_vgpu_type
    std::optional<std::uint64_t> dsn;     // Device Serial Number: upper dword in the high bits
    std::optional<std::string> nvme_serial;
    std::optional<std::string> mac;      // as written to net/IF/address
    std::optional<int> mac_type;         // addr_assign_type; nullopt: 0
    std::vector<std::string> drm_nodes;  // sys/class/drm entries: card0, renderD128
    int line = 0;                        // spec line, 0 when built in code

    // Header layout actually written: header_type, else derived from the class.
    [[nodiscard]] std::uint8_t effective_header_type() const;
    // boot_vga file contents: nullopt = no file.
    [[nodiscard]] std::optional<bool> effective_boot_vga() const;
    [[nodiscard]] bool has_role(std::string_view role) const;
    // The modalias file's contents without the newline (modalias, else computed).
    [[nodiscard]] std::string effective_modalias() const;
};

// proc PID COMM PATH...: a process with these fd link texts.
struct FakeProcess {
    int pid = 0;
    std::string comm;
    std::vector<std::string> fds;     // link texts of fd 3, 4, ...
    std::optional<std::string> unit;  // "gdm3.service": its cgroup; nullopt: a login session
    int line = 0;
};

// What the builder and the simulated kernel know of a kernel module: its size
// in /proc/modules, the modules it uses (each lists it in its users column)
// and the references a desktop holds on it besides its users' own. The NVIDIA
// family as the 535 driver loads it (nvidia_drm uses nvidia_modeset;
// nvidia_modeset and nvidia_uvm use nvidia); any other module: 16384 bytes,
// uses none, no references.
struct FakeModule {
    std::string name;
    std::uint64_t size = 16384;
    std::vector<std::string> uses;
    int desktop_refs = 0;
};
FakeModule fake_module(std::string_view name);

// One /proc/modules line as kernel/module/procfs.c prints it, with its newline:
// "nvidia_modeset 1314816 8 nvidia_drm, Live 0x0000000000000000".
std::string proc_modules_line(std::string_view name, std::uint64_t size, int refcount,
                              const std::vector<std::string>& users);

struct FakeHostSpec {
    std::string cpu_vendor = "GenuineIntel";
    std::string cmdline;
    std::vector<std::string> iommu_units = {"dmar0"};
    bool reset_method_files = true;
    // Readiness facts; nullopt: not written (see the host keys above).
    std::optional<std::string> kernel_release;
    std::optional<bool> irq_remap;
    std::vector<std::string> modules;
    std::optional<std::string> vfio_modules;               // available | builtin | missing
    std::optional<std::vector<std::string>> framebuffers;  // empty: fb=none
    std::optional<std::string> hook;                       // installed | legacy | missing
    std::optional<std::string> initramfs;                  // initramfs-tools | dracut | mkinitcpio | none
    std::optional<std::string> bootloader;                 // grub | systemd-boot | none
    std::optional<std::string> libvirt;                    // X.Y.Z | none
    std::optional<bool> fbcon;                             // vtconsoles; nullopt: none written
    std::optional<std::string> display_manager;            // NAME | none
    std::optional<bool> display_manager_active;            // nullopt: yes
    std::vector<FakeProcess> processes;
    std::vector<std::pair<std::string, std::string>> aliases;  // modules.alias (pattern, module)
    std::vector<FakeDevice> devices;
};

// Pure parser. The error message starts with "line N:" and quotes the token.
Result<FakeHostSpec> parse_fake_host_spec(std::string_view text);

// Checks a spec for consistency (unique addresses, bridges, SR-IOV links,
// roles); parse_fake_host_spec already did this, build_fake_root does it again
// for specs built in code.
Status validate_fake_host_spec(const FakeHostSpec& spec);

// Directory of a device relative to the root, e.g.
// "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0".
Result<std::filesystem::path> fake_device_dir(const FakeHostSpec& spec, const PciAddress& address);

// Lays the spec out under root (created if missing; must not already hold any
// of the files written).
Status build_fake_root(const FakeHostSpec& spec, const std::filesystem::path& root);

// A fresh fake root for one test: a new mkdtemp directory under $TMPDIR (else
// /tmp), removed with everything in it by the destructor.
class FakeRoot {
public:
    // Throws std::runtime_error on a bad spec or a failed build (tests only).
    explicit FakeRoot(std::string_view spec_text);
    explicit FakeRoot(FakeHostSpec spec);
    ~FakeRoot();
    FakeRoot(const FakeRoot&) = delete;
    FakeRoot& operator=(const FakeRoot&) = delete;
    FakeRoot(FakeRoot&& other) noexcept;
    FakeRoot& operator=(FakeRoot&& other) noexcept;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] const FakeHostSpec& spec() const { return spec_; }
    // Absolute directory of a device in this root; throws if not in the spec.
    [[nodiscard]] std::filesystem::path device_dir(std::string_view address) const;

private:
    void create();
    void remove() noexcept;
    FakeHostSpec spec_;
    std::filesystem::path path_;
};

}  // namespace hostdev::testing
