// hostdev doctor: the readiness facts (parsers on literals, the reader and the
// fake-root keys on built roots, snapshots), every check with each verdict it
// can give, exit codes, and golden outputs on the example hosts.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "fake_host.hpp"
#include "golden.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/setup/doctor.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

ReadOptions test_options() { return test_read_options(); }
Host read(const FakeRoot& root) { return read_fake_host(root); }

Host read_spec(std::string_view spec) { return read(FakeRoot(spec)); }

// Every check of one id (per-device checks may give several).
std::vector<Check> checks(const DoctorReport& r, std::string_view id) {
    std::vector<Check> out;
    for (const auto& c : r.checks)
        if (c.id == id) out.push_back(c);
    return out;
}

// The one check of an id; fails the test when there is not exactly one.
Check check(const DoctorReport& r, std::string_view id) {
    auto v = checks(r, id);
    EXPECT_EQ(v.size(), 1u) << id;
    return v.empty() ? Check{} : v.front();
}

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Paths as they read on a live host.
std::string live_etc(std::string_view rel) { return FsRoot().etc(rel).string(); }
std::string live_sys(std::string_view rel) { return FsRoot().sys(rel).string(); }

// A ready Intel host: everything doctor checks is ok. ready() builds it with
// some host keys changed ("" leaves a key out).
constexpr const char* kReadyDevices = R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 00:02.0 8086:1912 0x030000 group=0 driver=i915 boot_vga=1
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:17.0 8086:a102 0x010601 group=3 driver=ahci role=root-fs reset=none
dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich reset=none
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route
)";

std::string ready(const std::map<std::string, std::string>& changes = {}) {
    std::map<std::string, std::string> keys = {
        {"cpu", "GenuineIntel"},
        {"cmdline", "\"ro quiet intel_iommu=on iommu=pt\""},
        {"iommu", "dmar0"},
        {"release", "6.1.0-18-amd64"},
        {"irq_remap", "yes"},
        {"modules", "vfio,vfio_iommu_type1,vfio_pci"},
        {"vfio_modules", "available"},
        {"fb", "none"},
        {"fbcon", "no"},
        {"display_manager", "none"},
        {"hook", "installed"},
        {"initramfs", "initramfs-tools"},
        {"bootloader", "grub"},
    };
    for (const auto& [k, v] : changes) keys[k] = v;
    std::string s = "host";
    for (const auto& [k, v] : keys)
        if (!v.empty()) s += " " + k + "=" + v;
    return s + "\n" + kReadyDevices;
}

}  // namespace

// ---------------------------------------------------------------------------
// Parsers, on literals
// ---------------------------------------------------------------------------

TEST(ReadinessParse, InterruptRemapping) {
    const char* remapped =
        "           CPU0       CPU1\n"
        "  0:         36          0   IR-IO-APIC    2-edge      timer\n"
        " 24:          0          0  DMAR-MSI    0-edge      dmar0\n"
        "120:          0     123456  IR-PCI-MSI 327680-edge      xhci_hcd\n"
        "NMI:          0          0   Non-maskable interrupts\n";
    EXPECT_EQ(parse::interrupt_remapping(remapped), std::optional<bool>(true));
    const char* plain =
        "           CPU0\n"
        "  0:         36   IO-APIC   2-edge      timer\n"
        " 25:        100   PCI-MSI 327680-edge      xhci_hcd\n";
    EXPECT_EQ(parse::interrupt_remapping(plain), std::optional<bool>(false));
    // Per-device MSI domains (Linux 6.2+) keep the IR- prefix.
    EXPECT_EQ(parse::interrupt_remapping(" 40:  0  0  IR-PCI-MSIX-0000:03:00.0    0-edge  nvme0q0\n"),
              std::optional<bool>(true));
    // A device named like a chip is not a chip.
    EXPECT_EQ(parse::interrupt_remapping(" 25:  1  PCI-MSI 1-edge  IR-receiver\n"), std::optional<bool>(false));
    EXPECT_FALSE(parse::interrupt_remapping("").has_value());
    EXPECT_FALSE(parse::interrupt_remapping("           CPU0\nNMI:  0  Non-maskable interrupts\n").has_value());
}

TEST(ReadinessParse, Modules) {
    EXPECT_EQ(parse::module_name("vfio-pci"), "vfio_pci");
    EXPECT_EQ(parse::module_file_name("vfio-pci.ko"), std::optional<std::string>("vfio_pci"));
    EXPECT_EQ(parse::module_file_name("vfio_iommu_type1.ko.xz"), std::optional<std::string>("vfio_iommu_type1"));
    EXPECT_EQ(parse::module_file_name("vfio.ko.zst"), std::optional<std::string>("vfio"));
    EXPECT_EQ(parse::module_file_name("vfio.ko.gz"), std::optional<std::string>("vfio"));
    EXPECT_FALSE(parse::module_file_name("modules.dep").has_value());
    EXPECT_FALSE(parse::module_file_name(".ko").has_value());
    EXPECT_EQ(parse::loaded_modules("vfio_pci 16384 0 - Live 0x0000000000000000\n"
                                    "nouveau 2306048 1 - Live 0x0000000000000000\n"
                                    "vfio_pci 16384 0 - Live 0x0000000000000000\n"),
              (std::vector<std::string>{"nouveau", "vfio_pci"}));
    EXPECT_TRUE(parse::loaded_modules("").empty());
    EXPECT_EQ(parse::builtin_modules("kernel/drivers/pci/pcieport.ko\n"
                                     "kernel/drivers/vfio/vfio.ko\n"
                                     "kernel/drivers/vfio/pci/vfio-pci.ko\n"
                                     "kernel/drivers/vfio/pci/vfio-pci-core.ko\n",
                                     "kernel/drivers/vfio/"),
              (std::vector<std::string>{"vfio", "vfio_pci", "vfio_pci_core"}));
}

TEST(ReadinessParse, Framebuffers) {
    EXPECT_EQ(parse::firmware_framebuffers("0 EFI VGA\n"), (std::vector<std::string>{"efifb"}));
    EXPECT_EQ(parse::firmware_framebuffers("0 simpledrmdrmfb\n"), (std::vector<std::string>{"simpledrm"}));
    EXPECT_EQ(parse::firmware_framebuffers("0 VESA VGA\n1 simple\n"), (std::vector<std::string>{"simplefb", "vesafb"}));
    // A GPU driver's own framebuffer goes when its driver is unbound: not a firmware one.
    EXPECT_TRUE(parse::firmware_framebuffers("0 amdgpudrmfb\n1 nouveaudrmfb\n").empty());
    EXPECT_TRUE(parse::firmware_framebuffers("").empty());
    EXPECT_EQ(parse::framebuffer_of_platform_driver("efi-framebuffer"), std::optional<std::string>("efifb"));
    EXPECT_EQ(parse::framebuffer_of_platform_driver("simple-framebuffer"), std::optional<std::string>("simplefb"));
    EXPECT_EQ(parse::framebuffer_of_platform_driver("vesa-framebuffer"), std::optional<std::string>("vesafb"));
    EXPECT_FALSE(parse::framebuffer_of_platform_driver("serial8250").has_value());
}

TEST(ReadinessParse, KernelVersion) {
    EXPECT_EQ(parse::kernel_version("6.1.0-18-amd64"), (std::optional<std::pair<int, int>>{{6, 1}}));
    EXPECT_EQ(parse::kernel_version("5.15.0-91-generic"), (std::optional<std::pair<int, int>>{{5, 15}}));
    EXPECT_EQ(parse::kernel_version("6.10"), (std::optional<std::pair<int, int>>{{6, 10}}));
    EXPECT_FALSE(parse::kernel_version("linux").has_value());
    EXPECT_FALSE(parse::kernel_version("6").has_value());
}

// ---------------------------------------------------------------------------
// The fake-root keys and the reader
// ---------------------------------------------------------------------------

TEST(ReadinessFacts, OlderSpecsLayOutAsBeforeAndReadAsUnknown) {
    FakeRoot root("dev 00:02.0 8086:1912 0x030000 group=0 driver=i915\n");
    for (const char* p : {"etc", "lib", "boot", "proc/interrupts", "proc/fb", "proc/sys", "sys/bus/platform"})
        EXPECT_FALSE(fs::exists(root.path() / p)) << p;
    EXPECT_TRUE(fs::is_regular_file(root.path() / "proc/modules"));
    Host h = read(root);
    EXPECT_FALSE(h.kernel_release);
    EXPECT_FALSE(h.interrupt_remapping);
    ASSERT_TRUE(h.loaded_modules);  // the empty proc/modules every fake root has
    EXPECT_TRUE(h.loaded_modules->empty());
    EXPECT_FALSE(h.vfio_modules);
    EXPECT_FALSE(h.firmware_framebuffers);
    EXPECT_FALSE(h.libvirt_hook);
    EXPECT_FALSE(h.initramfs_tool);
    EXPECT_FALSE(h.bootloader);
    EXPECT_TRUE(h.driver_modules.empty());
}

TEST(ReadinessFacts, EveryKeyIsRead) {
    Host h = read_spec(ready());
    EXPECT_EQ(h.kernel_release, std::optional<std::string>("6.1.0-18-amd64"));
    EXPECT_EQ(h.interrupt_remapping, std::optional<bool>(true));
    EXPECT_EQ(h.loaded_modules, (std::optional<std::vector<std::string>>{{"vfio", "vfio_iommu_type1", "vfio_pci"}}));
    ASSERT_TRUE(h.vfio_modules);
    EXPECT_EQ(h.vfio_modules->available,
              (std::vector<std::string>{"vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core"}));
    EXPECT_TRUE(h.vfio_modules->builtin.empty());
    EXPECT_EQ(h.firmware_framebuffers, (std::optional<std::vector<std::string>>{std::vector<std::string>{}}));
    EXPECT_EQ(h.libvirt_hook, std::optional<std::string>(live_etc("libvirt/hooks/qemu.d/50-hostdev")));
    EXPECT_EQ(h.initramfs_tool, std::optional(InitramfsTool::InitramfsTools));
    EXPECT_EQ(h.bootloader, std::optional(Bootloader::Grub));

    Host off = read_spec(ready({{"irq_remap", "no"}}));
    EXPECT_EQ(off.interrupt_remapping, std::optional<bool>(false));
}

TEST(ReadinessFacts, SkippedOnRequest) {
    FakeRoot root(ready());
    ReadOptions o = test_options();
    o.readiness = ReadOptions::Readiness::Skip;
    auto h = read_host(FsRoot(root.path()), o);
    ASSERT_TRUE(h.ok());
    EXPECT_FALSE(h->kernel_release);
    EXPECT_FALSE(h->interrupt_remapping);
    EXPECT_FALSE(h->loaded_modules);
    EXPECT_FALSE(h->libvirt_hook);
    EXPECT_EQ(h->devices.size(), 7u);  // the rest is read as always
    EXPECT_TRUE(read(root).kernel_release);
}

TEST(ReadinessFacts, VfioModulesBuiltinOrMissing) {
    Host builtin = read_spec("host release=6.8.0-1 vfio_modules=builtin\ndev 00:02.0 8086:1912 0x030000 group=0\n");
    ASSERT_TRUE(builtin.vfio_modules);
    EXPECT_TRUE(builtin.vfio_modules->available.empty());
    EXPECT_EQ(builtin.vfio_modules->builtin,
              (std::vector<std::string>{"vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core"}));
    Host missing = read_spec("host release=6.8.0-1 vfio_modules=missing\ndev 00:02.0 8086:1912 0x030000 group=0\n");
    ASSERT_TRUE(missing.vfio_modules);
    EXPECT_TRUE(missing.vfio_modules->available.empty());
    EXPECT_TRUE(missing.vfio_modules->builtin.empty());
    // Compressed module files count too.
    FakeRoot root("host release=6.8.0-1 vfio_modules=missing\ndev 00:02.0 8086:1912 0x030000 group=0\n");
    fs::create_directories(root.path() / "lib/modules/6.8.0-1/kernel/drivers/vfio/pci");
    std::ofstream(root.path() / "lib/modules/6.8.0-1/kernel/drivers/vfio/pci/vfio-pci.ko.zst") << "";
    Host zst = read(root);
    EXPECT_EQ(zst.vfio_modules->available, (std::vector<std::string>{"vfio_pci"}));
    // Without a module tree for the running kernel, availability is unknown.
    Host no_tree = read_spec("host release=6.8.0-1\ndev 00:02.0 8086:1912 0x030000 group=0\n");
    EXPECT_FALSE(no_tree.vfio_modules);
}

TEST(ReadinessFacts, Framebuffers) {
    auto fbs = [](std::string_view key) {
        Host h = read_spec("host " + std::string(key) + "\ndev 00:02.0 8086:1912 0x030000 group=0 boot_vga=1\n");
        return h.firmware_framebuffers.value_or(std::vector<std::string>{"<unknown>"});
    };
    EXPECT_EQ(fbs("fb=efifb"), (std::vector<std::string>{"efifb"}));
    EXPECT_EQ(fbs("fb=simpledrm"), (std::vector<std::string>{"simpledrm"}));  // not also simplefb
    EXPECT_EQ(fbs("fb=simplefb"), (std::vector<std::string>{"simplefb"}));
    EXPECT_EQ(fbs("fb=vesafb"), (std::vector<std::string>{"vesafb"}));
    EXPECT_EQ(fbs("fb=i915"), (std::vector<std::string>{}));
    EXPECT_EQ(fbs("fb=none"), (std::vector<std::string>{}));
    // The platform driver alone (a kernel without /proc/fb) is enough.
    FakeRoot root("host fb=efifb\ndev 00:02.0 8086:1912 0x030000 group=0 boot_vga=1\n");
    fs::remove(root.path() / "proc/fb");
    EXPECT_EQ(read(root).firmware_framebuffers, (std::optional<std::vector<std::string>>{{"efifb"}}));
    EXPECT_TRUE(fs::is_symlink(root.path() / "sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0"));
}

TEST(ReadinessFacts, Hook) {
    auto hook = [](std::string_view value) {
        return read_spec("host hook=" + std::string(value) + "\ndev 00:02.0 8086:1912 0x030000 group=0\n").libvirt_hook;
    };
    EXPECT_EQ(hook("installed"), std::optional<std::string>(live_etc("libvirt/hooks/qemu.d/50-hostdev")));
    EXPECT_EQ(hook("legacy"), std::optional<std::string>(live_etc("libvirt/hooks/qemu")));
    EXPECT_EQ(hook("missing"), std::optional<std::string>(""));
    // Not executable: libvirt would not run it, so it is not installed.
    FakeRoot root("host hook=installed\ndev 00:02.0 8086:1912 0x030000 group=0\n");
    const fs::path h = root.path() / "etc/libvirt/hooks/qemu.d/50-hostdev";
    ASSERT_EQ(::chmod(h.c_str(), 0644), 0);
    EXPECT_EQ(read(root).libvirt_hook, std::optional<std::string>(""));
    // A link to the hook binary, absolute as installed: resolved inside the root.
    fs::remove(h);
    fs::create_directories(root.path() / "usr/libexec");
    {
        std::ofstream(root.path() / "usr/libexec/hostdev-hook") << "\x7f"
                                                                   "ELF";
    }
    fs::permissions(root.path() / "usr/libexec/hostdev-hook", fs::perms(0755));
    fs::create_symlink("/usr/libexec/hostdev-hook", root.path() / "etc/libvirt/hooks/qemu.d/90-vfio");
    EXPECT_EQ(read(root).libvirt_hook, std::optional<std::string>(live_etc("libvirt/hooks/qemu.d/90-vfio")));
}

TEST(ReadinessFacts, InitramfsAndBootloader) {
    auto host = [](std::string_view keys) {
        return read_spec("host " + std::string(keys) + "\ndev 00:02.0 8086:1912 0x030000 group=0\n");
    };
    EXPECT_EQ(host("initramfs=initramfs-tools").initramfs_tool, std::optional(InitramfsTool::InitramfsTools));
    EXPECT_EQ(host("initramfs=dracut").initramfs_tool, std::optional(InitramfsTool::Dracut));
    EXPECT_EQ(host("initramfs=mkinitcpio").initramfs_tool, std::optional(InitramfsTool::Mkinitcpio));
    EXPECT_EQ(host("initramfs=none").initramfs_tool, std::optional(InitramfsTool::None));
    EXPECT_EQ(host("bootloader=grub").bootloader, std::optional(Bootloader::Grub));
    Host sd = host("bootloader=systemd-boot release=6.8.0-1");
    EXPECT_EQ(sd.bootloader, std::optional(Bootloader::SystemdBoot));
    EXPECT_EQ(sd.boot_entries, (std::vector<std::string>{"/boot/loader/entries/debian.conf"}));
    EXPECT_EQ(host("bootloader=none").bootloader, std::optional(Bootloader::None));
}

TEST(ReadinessFacts, DriverModulesFromSysfs) {
    FakeRoot root("dev 00:14.0 8086:a12f 0x0c0330 group=2 driver=xhci_hcd\n");
    fs::create_directories(root.path() / "sys/module/xhci_pci");
    fs::create_symlink("../../../../module/xhci_pci", root.path() / "sys/bus/pci/drivers/xhci_hcd/module");
    Host h = read(root);
    EXPECT_EQ(h.driver_modules, (std::map<std::string, std::string>{{"xhci_hcd", "xhci_pci"}}));
}

TEST(ReadinessFacts, SpecErrors) {
    auto error = [](std::string_view spec) {
        auto r = parse_fake_host_spec(spec);
        return r.ok() ? std::string("<parsed>") : r.error().message;
    };
    EXPECT_TRUE(has(error("host irq_remap=maybe\n"), "line 1: bad value in 'irq_remap=maybe'"));
    EXPECT_TRUE(has(error("host vfio_modules=some release=6.1\n"), "available, builtin or missing"));
    EXPECT_TRUE(has(error("host vfio_modules=available\n"), "needs release="));
    EXPECT_TRUE(has(error("host hook=yes\n"), "installed, legacy or missing"));
    EXPECT_TRUE(has(error("host initramfs=booster\n"), "initramfs-tools, dracut, mkinitcpio or none"));
    EXPECT_TRUE(has(error("host bootloader=lilo\n"), "grub, systemd-boot or none"));
    EXPECT_TRUE(has(error("host fb=efifb,none\n"), "none or a comma list"));
    EXPECT_TRUE(has(error("host modules=a/b\n"), "module names"));
    EXPECT_TRUE(has(error("host release=6.1/x\n"), "kernel release"));
    EXPECT_TRUE(has(error("host lilo=yes\n"), "known: cpu, cmdline, iommu, reset_method, release"));
}

// ---------------------------------------------------------------------------
// Snapshots keep the facts, as optional keys
// ---------------------------------------------------------------------------

TEST(ReadinessSnapshot, RoundTripAndOlderSnapshots) {
    Host h = read_spec(ready({{"fb", "efifb"}}));
    const std::string text = write_snapshot(h);
    auto back = parse_snapshot(text, "s.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->kernel_release, h.kernel_release);
    EXPECT_EQ(back->interrupt_remapping, h.interrupt_remapping);
    EXPECT_EQ(back->loaded_modules, h.loaded_modules);
    ASSERT_TRUE(back->vfio_modules);
    EXPECT_EQ(back->vfio_modules->available, h.vfio_modules->available);
    EXPECT_EQ(back->firmware_framebuffers, (std::optional<std::vector<std::string>>{{"efifb"}}));
    EXPECT_EQ(back->libvirt_hook, h.libvirt_hook);
    EXPECT_EQ(back->initramfs_tool, h.initramfs_tool);
    EXPECT_EQ(back->bootloader, h.bootloader);
    EXPECT_EQ(write_snapshot(*back), text);

    // A snapshot written before the facts existed: same version, every fact unknown.
    auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["version"], 1);
    for (const char* k : {"release", "interrupt_remapping", "modules", "vfio_modules", "framebuffers"})
        j["kernel"].erase(k);
    j.erase("setup");
    auto old = parse_snapshot(j.dump(), "old.json");
    ASSERT_TRUE(old.ok()) << old.error().describe();
    EXPECT_FALSE(old->kernel_release);
    EXPECT_FALSE(old->interrupt_remapping);
    EXPECT_FALSE(old->loaded_modules);
    EXPECT_FALSE(old->vfio_modules);
    EXPECT_FALSE(old->firmware_framebuffers);
    EXPECT_FALSE(old->libvirt_hook);
    EXPECT_FALSE(old->initramfs_tool);
    EXPECT_FALSE(old->bootloader);
    // Unknown facts are not written, so the old snapshot stays as it was.
    EXPECT_EQ(nlohmann::json::parse(write_snapshot(*old)), j);

    // A fact of the wrong type is a malformed snapshot.
    auto bad = nlohmann::json::parse(text);
    bad["kernel"]["interrupt_remapping"] = "yes";
    auto r = parse_snapshot(bad.dump(), "bad.json");
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(has(r.error().message, "bad.json: malformed snapshot"));
}

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

TEST(Doctor, ReadyHostIsAllOk) {
    DoctorReport r = run_doctor(read_spec(ready()));
    for (const auto& c : r.checks) EXPECT_EQ(c.verdict, CheckVerdict::Ok) << c.id << ": " << c.message;
    EXPECT_EQ(r.exit_code(), exits::doctor::kAllOk);
    std::vector<std::string> ids;
    for (const auto& c : r.checks) ids.push_back(c.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"iommu", "interrupt-remapping", "acs-override", "vfio-modules",
                                             "device-reset", "device-boot-vga", "gpu-holders", "gpu-handoff",
                                             "device-shared-ids", "libvirt-hook"}));
    EXPECT_TRUE(has(check(r, "iommu").message, "iommu=pt set"));
}

TEST(Doctor, PassthroughCandidates) {
    Host h = read_spec(ready());
    auto cand = [&](std::string_view a) { return is_passthrough_candidate(*h.find(*PciAddress::parse(a))); };
    EXPECT_TRUE(cand("01:00.0"));
    EXPECT_TRUE(cand("01:00.1"));
    EXPECT_TRUE(cand("00:02.0"));   // the boot display: single-GPU passthrough
    EXPECT_FALSE(cand("00:01.0"));  // bridge
    EXPECT_FALSE(cand("00:1f.0"));  // platform function
    EXPECT_FALSE(cand("00:17.0"));  // root filesystem
    EXPECT_FALSE(cand("00:1f.6"));  // default route
}

// mdev parents and vGPU functions are not candidates, and doctor says why,
// once per device; a host without them has no such line.
TEST(Doctor, DevicesLeftAloneOnPurposeAreNamedWithTheReason) {
    const std::string spec = std::string(ready()) +
                             "dev 05:00.0 10de:1eb8 0x030200 group=40 driver=nvidia mdev=yes\n"
                             "dev 06:00.4 10de:2236 0x030200 group=41 driver=nvidia vgpu=3\n";
    Host h = read_spec(spec);
    DoctorReport r = run_doctor(h);
    std::vector<const Check*> left;
    for (const auto& c : r.checks)
        if (c.id == "device-left-alone") left.push_back(&c);
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[0]->device, PciAddress::parse("05:00.0").value());
    EXPECT_TRUE(has(left[0]->message, "is left alone on purpose: it is an mdev parent")) << left[0]->message;
    EXPECT_TRUE(has(left[1]->message, "vGPU type 3")) << left[1]->message;
    for (const Check* c : left) EXPECT_EQ(c->verdict, CheckVerdict::Ok);
    EXPECT_FALSE(is_passthrough_candidate(*h.find(*PciAddress::parse("05:00.0"))));
}

TEST(Doctor, NoIommuIsAnErrorNamingTheFirmwareSettingAndParameter) {
    const char* intel = "host iommu=none cpu=GenuineIntel\ndev 01:00.0 10de:13c2 0x030000 driver=nouveau\n";
    DoctorReport r = run_doctor(read_spec(intel));
    Check c = check(r, "iommu");
    EXPECT_EQ(c.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(c.fix, "VT-d")) << c.fix;
    EXPECT_TRUE(has(c.fix, "intel_iommu=on iommu=pt")) << c.fix;
    EXPECT_FALSE(has(c.fix, "amd_iommu"));
    EXPECT_EQ(r.exit_code(), exits::doctor::kErrors);

    const char* amd =
        "host iommu=none cpu=AuthenticAMD cmdline=\"ro amd_iommu=off\"\n"
        "dev 01:00.0 1002:67df 0x030000 driver=amdgpu\n";
    c = check(run_doctor(read_spec(amd)), "iommu");
    EXPECT_EQ(c.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(c.fix, "AMD-Vi")) << c.fix;
    EXPECT_TRUE(has(c.fix, "amd_iommu=on iommu=pt")) << c.fix;
    EXPECT_TRUE(has(c.fix, "remove amd_iommu=off")) << c.fix;
    EXPECT_FALSE(has(c.fix, "intel_iommu"));

    // IOMMU units but no groups: the kernel parameter is what is missing.
    const char* units = "host iommu=dmar0 cpu=GenuineIntel\ndev 01:00.0 10de:13c2 0x030000 driver=nouveau\n";
    c = check(run_doctor(read_spec(units)), "iommu");
    EXPECT_EQ(c.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(c.message, "dmar0")) << c.message;
    EXPECT_TRUE(has(c.fix, "intel_iommu=on")) << c.fix;
}

TEST(Doctor, InterruptRemapping) {
    auto ir = [](const std::string& spec) { return check(run_doctor(read_spec(spec)), "interrupt-remapping"); };
    EXPECT_EQ(ir(ready()).verdict, CheckVerdict::Ok);
    Check off = ir(ready({{"irq_remap", "no"}}));
    EXPECT_EQ(off.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(off.message, "VFIO refuses")) << off.message;
    EXPECT_TRUE(has(off.fix, "allow_unsafe_interrupts")) << off.fix;
    Check unsafe = ir(
        ready({{"irq_remap", "no"}, {"cmdline", "\"ro intel_iommu=on vfio_iommu_type1.allow_unsafe_interrupts=1\""}}));
    EXPECT_EQ(unsafe.verdict, CheckVerdict::Warn) << unsafe.message;
    EXPECT_TRUE(has(unsafe.message, "allow_unsafe_interrupts=1")) << unsafe.message;
    Check intremap = ir(ready({{"irq_remap", "no"}, {"cmdline", "\"ro intel_iommu=on intremap=off\""}}));
    EXPECT_EQ(intremap.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(intremap.fix, "Remove intremap=off")) << intremap.fix;
    Check unknown = ir(ready({{"irq_remap", ""}}));
    EXPECT_EQ(unknown.verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(unknown.message, "cannot tell"));
    Check no_iommu = ir("host iommu=none\ndev 01:00.0 10de:13c2 0x030000\n");
    EXPECT_EQ(no_iommu.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(no_iommu.message, "IOMMU"));
}

TEST(Doctor, AcsOverride) {
    EXPECT_EQ(check(run_doctor(read_spec(ready())), "acs-override").verdict, CheckVerdict::Ok);
    Check acs = check(
        run_doctor(read_spec(ready({{"cmdline", "\"ro intel_iommu=on pcie_acs_override=downstream,multifunction\""}}))),
        "acs-override");
    EXPECT_EQ(acs.verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(acs.message, "pcie_acs_override=downstream,multifunction"));
    EXPECT_TRUE(has(acs.message, "peer-to-peer DMA")) << acs.message;  // the isolation cost
    EXPECT_FALSE(acs.fix.empty());
}

TEST(Doctor, VfioModules) {
    auto vfio = [](const std::string& spec) { return check(run_doctor(read_spec(spec)), "vfio-modules"); };
    Check loaded = vfio(ready());
    EXPECT_EQ(loaded.verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(loaded.message, "loaded: vfio, vfio_iommu_type1, vfio_pci")) << loaded.message;
    Check available = vfio(ready({{"modules", "nouveau"}}));
    EXPECT_EQ(available.verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(available.message, "installed for kernel 6.1.0-18-amd64")) << available.message;
    Check builtin = vfio(ready({{"modules", "nouveau"}, {"vfio_modules", "builtin"}}));
    EXPECT_EQ(builtin.verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(builtin.message, "built in: vfio, vfio_iommu_type1, vfio_pci")) << builtin.message;
    Check missing = vfio(ready({{"modules", "vfio"}, {"vfio_modules", "missing"}}));
    EXPECT_EQ(missing.verdict, CheckVerdict::Error);
    EXPECT_TRUE(has(missing.message, "vfio_iommu_type1, vfio_pci are neither loaded nor installed")) << missing.message;
    EXPECT_TRUE(has(missing.message, "loaded: vfio")) << missing.message;
    // Loaded modules known and complete: the module tree does not matter.
    EXPECT_EQ(vfio(ready({{"vfio_modules", ""}})).verdict, CheckVerdict::Ok);
    Check unknown = vfio(ready({{"vfio_modules", ""}, {"modules", "nouveau"}}));
    EXPECT_EQ(unknown.verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(unknown.message, "cannot tell")) << unknown.message;
}

TEST(Doctor, DeviceReset) {
    const char* spec = R"(
host iommu=dmar0
dev 00:02.0 8086:1912 0x030000 group=0 driver=i915 boot_vga=1
dev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu reset=none
dev 01:00.1 1002:aaf0 0x040300 group=1 driver=snd_hda_intel reset=none
dev 02:00.0 1002:7300 0x030000 group=2 driver=amdgpu reset=none
)";
    DoctorReport r = run_doctor(read_spec(spec));
    auto v = checks(r, "device-reset");
    ASSERT_EQ(v.size(), 3u);
    for (const auto& c : v) {
        EXPECT_EQ(c.verdict, CheckVerdict::Warn);
        ASSERT_TRUE(c.device);
        EXPECT_TRUE(has(c.message, "no reset method")) << c.message;
        EXPECT_TRUE(has(c.message, "may not work again after the guest stops")) << c.message;
    }
    EXPECT_EQ(v[0].device->str(), "0000:01:00.0");
    EXPECT_TRUE(has(v[0].fix, "vendor-reset supports it")) << v[0].fix;  // Polaris 10
    EXPECT_TRUE(has(v[0].fix, "device_specific"));
    EXPECT_FALSE(has(v[1].fix, "vendor-reset")) << v[1].fix;  // audio function, not a GPU
    EXPECT_TRUE(has(v[2].fix, "AMD reset bug")) << v[2].fix;  // Fiji: not in vendor-reset's list
    EXPECT_TRUE(has(v[2].fix, "vendor-reset"));
    EXPECT_EQ(r.exit_code(), exits::doctor::kWarnings);

    Check ok = check(run_doctor(read_spec(ready())), "device-reset");
    EXPECT_EQ(ok.verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(ok.message, "every passthrough candidate (3)")) << ok.message;
    // An old kernel without reset_method files: cannot tell.
    Check old = check(run_doctor(read_spec(ready({{"reset_method", "no"}}))), "device-reset");
    EXPECT_EQ(old.verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(old.message, "5.15")) << old.message;
}

TEST(Doctor, BootVga) {
    auto boot_vga = [](const std::string& spec) { return checks(run_doctor(read_spec(spec)), "device-boot-vga"); };
    auto ok = boot_vga(ready());
    ASSERT_EQ(ok.size(), 1u);
    EXPECT_EQ(ok[0].verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(ok[0].message, "0000:00:02.0")) << ok[0].message;
    auto efifb = boot_vga(ready({{"fb", "efifb"}}));
    ASSERT_EQ(efifb.size(), 1u);
    EXPECT_EQ(efifb[0].verdict, CheckVerdict::Warn);
    EXPECT_EQ(efifb[0].device->str(), "0000:00:02.0");
    EXPECT_TRUE(has(efifb[0].message, "efifb holds its memory")) << efifb[0].message;
    EXPECT_TRUE(has(efifb[0].fix, "video=efifb:off")) << efifb[0].fix;
    EXPECT_TRUE(has(efifb[0].fix, live_sys("bus/platform/drivers/efi-framebuffer/unbind"))) << efifb[0].fix;
    auto simpledrm = boot_vga(ready({{"fb", "simpledrm"}}));
    ASSERT_EQ(simpledrm.size(), 1u);
    EXPECT_EQ(simpledrm[0].verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(simpledrm[0].fix, "initcall_blacklist=simpledrm_platform_driver_init")) << simpledrm[0].fix;
    // simpledrm binds simple-framebuffer.0 under its own driver name.
    EXPECT_TRUE(
        has(simpledrm[0].fix, "echo simple-framebuffer.0 > " + live_sys("bus/platform/drivers/simpledrm/unbind")))
        << simpledrm[0].fix;
    auto simplefb = boot_vga(ready({{"fb", "simplefb"}}));
    EXPECT_EQ(simplefb.at(0).verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(simplefb.at(0).fix,
                    "echo simple-framebuffer.0 > " + live_sys("bus/platform/drivers/simple-framebuffer/unbind")))
        << simplefb.at(0).fix;
    auto unknown = boot_vga(ready({{"fb", ""}}));
    EXPECT_EQ(unknown.at(0).verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(unknown.at(0).message, "unknown"));
    // No boot display among the candidates.
    auto none = boot_vga("host fb=efifb\ndev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau\n");
    ASSERT_EQ(none.size(), 1u);
    EXPECT_EQ(none[0].verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(none[0].message, "no passthrough candidate is the boot display"));
}

TEST(Doctor, SharedIds) {
    const char* twins = R"(
host iommu=ivhd0 cpu=AuthenticAMD
dev 01:00.0 10de:1b81 0x030000 group=1 driver=nvidia boot_vga=1
dev 01:00.1 10de:10f0 0x040300 group=1 driver=snd_hda_intel
dev 02:00.0 10de:1b81 0x030000 group=2 driver=nvidia
dev 02:00.1 10de:10f0 0x040300 group=2 driver=snd_hda_intel
dev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd
)";
    auto v = checks(run_doctor(read_spec(twins)), "device-shared-ids");
    ASSERT_EQ(v.size(), 4u);
    EXPECT_EQ(v[0].device->str(), "0000:01:00.0");
    EXPECT_EQ(v[0].verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(v[0].message, "shares its IDs 10de:1b81 with 0000:02:00.0")) << v[0].message;
    EXPECT_TRUE(has(v[0].message, "vfio-pci.ids= would take that device too")) << v[0].message;
    EXPECT_TRUE(has(v[0].fix, "by address"));
    EXPECT_EQ(v[3].device->str(), "0000:02:00.1");
    EXPECT_EQ(check(run_doctor(read_spec(ready())), "device-shared-ids").verdict, CheckVerdict::Ok);
}

TEST(Doctor, LibvirtHook) {
    auto hook = [](const std::string& spec) { return check(run_doctor(read_spec(spec)), "libvirt-hook"); };
    Check ok = hook(ready());
    EXPECT_EQ(ok.verdict, CheckVerdict::Ok);
    EXPECT_TRUE(has(ok.message, live_etc("libvirt/hooks/qemu.d/50-hostdev")));
    Check missing = hook(ready({{"hook", "missing"}}));
    EXPECT_EQ(missing.verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(missing.message, "not installed")) << missing.message;
    EXPECT_TRUE(has(missing.fix, live_etc("libvirt/hooks/qemu.d/50-hostdev"))) << missing.fix;
    EXPECT_TRUE(has(missing.fix, "restart libvirtd"));
    Check unknown = hook("dev 01:00.0 10de:13c2 0x030000 group=1\n");
    EXPECT_EQ(unknown.verdict, CheckVerdict::Warn);
    EXPECT_TRUE(has(unknown.message, "cannot tell"));
}

TEST(Doctor, ExitCodes) {
    DoctorReport r;
    EXPECT_EQ(r.exit_code(), exits::doctor::kAllOk);
    r.checks.push_back(Check{"a", CheckVerdict::Ok, "m", "", std::nullopt});
    EXPECT_EQ(r.exit_code(), 0);
    r.checks.push_back(Check{"b", CheckVerdict::Warn, "m", "f", std::nullopt});
    EXPECT_EQ(r.exit_code(), 1);
    r.checks.push_back(Check{"c", CheckVerdict::Error, "m", "f", std::nullopt});
    r.checks.push_back(Check{"d", CheckVerdict::Warn, "m", "f", std::nullopt});
    EXPECT_EQ(r.exit_code(), 2);
}

TEST(Doctor, TextAndJsonFormats) {
    DoctorReport r;
    r.checks.push_back(Check{"iommu", CheckVerdict::Ok, "fine", "", std::nullopt});
    r.checks.push_back(
        Check{"device-reset", CheckVerdict::Warn, "no reset", "reboot", PciAddress::parse("01:00.0").value()});
    r.checks.push_back(Check{"vfio-modules", CheckVerdict::Error, "missing", "install", std::nullopt});
    EXPECT_EQ(format_doctor_text(r),
              "ok    iommu: fine\n"
              "warn  device-reset: no reset\n"
              "      fix: reboot\n"
              "error vfio-modules: missing\n"
              "      fix: install\n"
              "3 checks: 1 ok, 1 warning, 1 error\n");
    auto j = nlohmann::json::parse(format_doctor_json(r));
    EXPECT_EQ(j["exit_code"], 2);
    ASSERT_EQ(j["checks"].size(), 3u);
    EXPECT_EQ(j["checks"][0], (nlohmann::json{{"id", "iommu"}, {"verdict", "ok"}, {"message", "fine"}, {"fix", ""}}));
    EXPECT_EQ(j["checks"][1]["device"], "0000:01:00.0");
    EXPECT_EQ(j["checks"][1]["verdict"], "warn");
    EXPECT_FALSE(j["checks"][2].contains("device"));
}

// ---------------------------------------------------------------------------
// Golden outputs on the example hosts
// ---------------------------------------------------------------------------

class DoctorExample : public ::testing::TestWithParam<std::string> {};

TEST_P(DoctorExample, TextAndJson) {
    auto host = load_snapshot(source_path("examples/hosts/" + GetParam() + ".json"));
    ASSERT_TRUE(host.ok()) << host.error().describe();
    DoctorReport r = run_doctor(*host);
    expect_golden(format_doctor_text(r), source_path("tests/golden/doctor/" + GetParam() + ".txt"));
    expect_golden(format_doctor_json(r), source_path("tests/golden/doctor/" + GetParam() + ".json"));
}

INSTANTIATE_TEST_SUITE_P(Examples, DoctorExample, ::testing::Values("z170-gtx970", "hm170-laptop"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                             std::string s = p.param;
                             std::replace(s.begin(), s.end(), '-', '_');
                             return s;
                         });
