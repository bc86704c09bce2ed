// hostdev boot-config: every generator (modprobe.d, kernel command line for
// Intel and AMD, GRUB / systemd-boot / none, initramfs-tools / dracut /
// mkinitcpio), identical IDs bound by address, blocked groups, the file edits
// on literals, --write's backups and roll-back, and golden outputs.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fake_host.hpp"
#include "golden.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/setup/bootconfig.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Paths as they read on a live host.
std::string live_etc(std::string_view rel) { return FsRoot().etc(rel).string(); }

Host read(const FakeRoot& root) { return read_fake_host(root); }

Host read_spec(std::string_view spec) { return read(FakeRoot(spec)); }

Host example_host(const std::string& name) {
    auto h = load_snapshot(source_path("examples/hosts/" + name + ".json"));
    if (!h) throw std::runtime_error(h.error().describe());
    return *h;
}

BootConfigInput domain_input(const std::string& example) {
    const std::string file = "examples/domains/" + example + ".xml";
    auto d = parse_domain_xml(read_text_file(source_path(file)), file);
    if (!d) throw std::runtime_error(d.error().describe());
    return BootConfigInput{file, *d};
}

BootConfigInput addresses(std::initializer_list<const char*> addrs) {
    BootConfigInput in;
    in.source = "command line";
    int line = 0;
    for (const char* a : addrs) {
        PassthroughDevice h;
        h.source = *PciAddress::parse(a);
        h.managed = true;
        h.line = ++line;
        in.domain.passthrough.push_back(h);
    }
    return in;
}

const std::string& modprobe_conf(const BootConfig& bc) { return bc.files.front().content; }

// The lines of a text that are not comments.
std::vector<std::string> config_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l))
        if (!l.empty() && l[0] != '#') out.push_back(l);
    return out;
}

std::string cmdline_of(const BootConfig& bc, CmdlineChange::Action action) {
    std::string s;
    for (const auto& c : bc.cmdline)
        if (c.action == action) s += (s.empty() ? "" : " ") + c.param;
    return s;
}

std::string slurp(const fs::path& p) { return hostdev::testing::read_text_file(p); }
std::vector<std::string> names_in(const fs::path& dir) { return hostdev::testing::sorted_names(dir); }

// Two identical GTX 970 cards: 01:00.x stays with the host, 02:00.x goes to a guest.
constexpr const char* kTwins = R"(
host cpu=AuthenticAMD iommu=ivhd0 cmdline="root=/dev/sda2 ro quiet" release=6.8.0-1-amd64
host vfio_modules=available initramfs=mkinitcpio bootloader=systemd-boot
dev 00:01.1 1022:1483 0x060400 group=1 driver=pcieport bus=01
dev 00:03.1 1022:1483 0x060400 group=2 driver=pcieport bus=02
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau boot_vga=1
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 02:00.0 10de:13c2 0x030000 group=2 driver=nouveau
dev 02:00.1 10de:0fbb 0x040300 group=2 driver=snd_hda_intel
dev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd
dev 00:17.0 8086:a102 0x010601 group=4 driver=ahci role=root-fs
)";

}  // namespace

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

TEST(BootConfig, ModprobeConfAndIntelCommandLine) {
    Host z170 = example_host("z170-gtx970");
    BootConfig bc = plan_boot_config({domain_input("win10-gtx970")}, z170);
    ASSERT_FALSE(bc.blocked());
    ASSERT_EQ(bc.devices.size(), 2u);  // the GPU and the HDMI audio function the planner adds
    EXPECT_EQ(bc.devices[1].address.str(), "0000:02:00.1");
    EXPECT_EQ(bc.ids, (std::vector<std::string>{"10de:13c2", "10de:0fbb"}));
    EXPECT_EQ(config_lines(modprobe_conf(bc)), (std::vector<std::string>{
                                                   "options vfio-pci ids=10de:13c2,10de:0fbb",
                                                   "softdep nouveau pre: vfio-pci",
                                                   "softdep snd_hda_intel pre: vfio-pci",
                                               }));
    EXPECT_EQ(bc.files.front().path(), live_etc("modprobe.d/vfio.conf"));
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Present), "intel_iommu=on");
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Add), "iommu=pt vfio-pci.ids=10de:13c2,10de:0fbb");
    const std::string text = format_boot_config(bc, z170);
    EXPECT_TRUE(has(text, "GRUB_CMDLINE_LINUX_DEFAULT")) << text;
    EXPECT_TRUE(has(text, "update-grub"));
    EXPECT_TRUE(has(text, live_etc("initramfs-tools/modules")));
    EXPECT_TRUE(has(text, "update-initramfs -u"));
}

TEST(BootConfig, AmdCommandLineAndKernelParametersAlreadyThere) {
    Host twins = read_spec(kTwins);
    BootConfig bc = plan_boot_config({addresses({"03:00.0"})}, twins);
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Add), "amd_iommu=on iommu=pt vfio-pci.ids=1b21:1242");
    EXPECT_TRUE(cmdline_of(bc, CmdlineChange::Action::Present).empty());
    EXPECT_EQ(config_lines(modprobe_conf(bc)),
              (std::vector<std::string>{"options vfio-pci ids=1b21:1242", "softdep xhci_pci pre: vfio-pci"}));

    Host intel = read_spec(
        "host cpu=GenuineIntel cmdline=\"ro intel_iommu=on iommu=pt vfio-pci.ids=1b21:1242\"\n"
        "dev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n");
    bc = plan_boot_config({addresses({"03:00.0"})}, intel);
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Present), "intel_iommu=on iommu=pt vfio-pci.ids=1b21:1242");
    EXPECT_TRUE(has(format_boot_config(bc, intel), "2. Kernel command line: nothing to change."));

    Host other = read_spec(
        "host cpu=GenuineIntel cmdline=\"ro intel_iommu=off vfio-pci.ids=10de:1b81\"\n"
        "dev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n");
    bc = plan_boot_config({addresses({"03:00.0"})}, other);
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Replace), "intel_iommu=on vfio-pci.ids=1b21:1242");
    const std::string text = format_boot_config(bc, other);
    EXPECT_TRUE(has(text, "replace: intel_iommu=off -> intel_iommu=on")) << text;
    EXPECT_TRUE(has(text, "replace: vfio-pci.ids=10de:1b81 -> vfio-pci.ids=1b21:1242")) << text;

    Host unknown_cpu = read_spec("host cpu=Zhaoxin\ndev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n");
    bc = plan_boot_config({addresses({"03:00.0"})}, unknown_cpu);
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Add), "iommu=pt vfio-pci.ids=1b21:1242");
    ASSERT_EQ(bc.notes.size(), 1u);
    EXPECT_TRUE(has(bc.notes[0], "intel_iommu=on on an Intel CPU or amd_iommu=on on an AMD one"));
}

TEST(BootConfig, Bootloaders) {
    auto text = [](std::string_view keys) {
        Host h = read_spec("host " + std::string(keys) + "\ndev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n");
        return format_boot_config(plan_boot_config({addresses({"03:00.0"})}, h), h);
    };
    const std::string grub = text("bootloader=grub");
    EXPECT_TRUE(has(grub, "GRUB_CMDLINE_LINUX_DEFAULT=\"...\" in " + live_etc("default/grub"))) << grub;
    EXPECT_TRUE(has(grub, "update-grub"));
    const std::string sd = text("bootloader=systemd-boot");
    EXPECT_TRUE(has(sd,
                    "systemd-boot: make the change on the `options` line of each boot entry "
                    "(/boot/loader/entries/debian.conf)"))
        << sd;
    EXPECT_FALSE(has(sd, "update-grub"));
    const std::string none = text("bootloader=none");
    EXPECT_TRUE(has(none, "No bootloader configuration was found")) << none;
    const std::string unknown = text("cpu=GenuineIntel");
    EXPECT_TRUE(has(unknown, "The bootloader is unknown")) << unknown;
    // The bootloader's configuration is described, never written.
    Host h =
        read_spec("host bootloader=grub initramfs=dracut\ndev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n");
    for (const auto& f : plan_boot_config({addresses({"03:00.0"})}, h).files) EXPECT_FALSE(has(f.rel, "grub")) << f.rel;
}

TEST(BootConfig, InitramfsTools) {
    auto plan = [](std::string_view keys, std::optional<InitramfsTool> named = std::nullopt) {
        Host h = read_spec("host " + std::string(keys) + "\ndev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n");
        BootConfigOptions o;
        o.initramfs = named;
        BootConfig bc = plan_boot_config({addresses({"03:00.0"})}, h, o);
        return std::pair{bc, format_boot_config(bc, h)};
    };
    auto [itools, itools_text] = plan("initramfs=initramfs-tools release=6.1.0-18-amd64");
    ASSERT_EQ(itools.files.size(), 2u);
    EXPECT_EQ(itools.files[1].kind, ConfigFile::Kind::InitramfsToolsModules);
    EXPECT_EQ(itools.files[1].path(), live_etc("initramfs-tools/modules"));
    // Linux 6.1 still has vfio_virqfd as a module of its own (merged into vfio in 6.2).
    EXPECT_EQ(itools.initramfs_modules,
              (std::vector<std::string>{"vfio", "vfio_iommu_type1", "vfio_virqfd", "vfio_pci"}));
    EXPECT_TRUE(has(itools_text, "update-initramfs -u"));

    auto [dracut, dracut_text] = plan("initramfs=dracut release=6.8.0-1");
    ASSERT_EQ(dracut.files.size(), 2u);
    EXPECT_EQ(dracut.files[1].path(), live_etc("dracut.conf.d/vfio.conf"));
    EXPECT_EQ(config_lines(dracut.files[1].content),
              (std::vector<std::string>{"add_drivers+=\" vfio vfio_iommu_type1 vfio_pci \""}));
    EXPECT_TRUE(has(dracut_text, "dracut -f"));

    auto [mk, mk_text] = plan("initramfs=mkinitcpio");
    ASSERT_EQ(mk.files.size(), 2u);
    EXPECT_EQ(mk.files[1].kind, ConfigFile::Kind::MkinitcpioConf);
    EXPECT_EQ(mk.files[1].path(), live_etc("mkinitcpio.conf"));
    EXPECT_TRUE(has(mk_text, "mkinitcpio -P"));
    EXPECT_TRUE(has(mk_text, "MODULES=(...)"));

    // Named: used even when the host has another or none, and said so.
    auto [named, named_text] = plan("initramfs=none", InitramfsTool::Dracut);
    EXPECT_EQ(named.files.at(1).kind, ConfigFile::Kind::DracutConf);
    EXPECT_TRUE(has(named_text, "named with --initramfs; the host has none configured")) << named_text;

    auto [none, none_text] = plan("initramfs=none");
    EXPECT_EQ(none.files.size(), 1u);
    EXPECT_TRUE(has(none_text, "no initramfs tool was found")) << none_text;
    auto [unknown, unknown_text] = plan("cpu=GenuineIntel");
    EXPECT_EQ(unknown.files.size(), 1u);
    EXPECT_TRUE(has(unknown_text, "the tool is unknown")) << unknown_text;
}

TEST(BootConfig, SoftdepNamesTheDriversModule) {
    Host h = read_spec(
        "dev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd\n"
        "dev 04:00.0 8086:15b8 0x020000 group=4 driver=e1000e\n"
        "dev 05:00.0 1217:8621 0x080501 group=5 driver=sdhci-pci\n"
        "dev 06:00.0 144d:a802 0x010802 group=6 driver=vfio-pci\n");
    h.driver_modules["e1000e"] = "e1000e_custom";  // what sysfs says wins
    BootConfig bc = plan_boot_config({addresses({"03:00.0", "04:00.0", "05:00.0", "06:00.0"})}, h);
    EXPECT_EQ(bc.softdeps, (std::vector<std::string>{"e1000e_custom", "sdhci_pci", "xhci_pci"}));
    ASSERT_EQ(bc.notes.size(), 1u);
    EXPECT_TRUE(has(bc.notes[0], "0000:06:00.0 is on vfio-pci now")) << bc.notes[0];
    EXPECT_EQ(module_of_driver(Host{}, "i801_smbus"), "i2c_i801");
    EXPECT_EQ(module_of_driver(Host{}, "ehci-pci"), "ehci_pci");
}

TEST(BootConfig, WholeSlotBindsTheSlotsOtherGroups) {
    Host h = read_spec(
        "dev 03:00.0 10de:13c2 0x030000 group=8 driver=nouveau\n"
        "dev 03:00.1 10de:0fbb 0x040300 group=9 driver=snd_hda_intel\n");
    BootConfig one = plan_boot_config({addresses({"03:00.0"})}, h);
    EXPECT_EQ(one.ids, (std::vector<std::string>{"10de:13c2"}));
    BootConfigOptions o;
    o.whole_slot = PlanOptions::WholeSlot::Inject;
    BootConfig both = plan_boot_config({addresses({"03:00.0"})}, h, o);
    EXPECT_EQ(both.ids, (std::vector<std::string>{"10de:13c2", "10de:0fbb"}));
}

// ---------------------------------------------------------------------------
// Identical IDs: never in ids= when a device with the same ID stays
// ---------------------------------------------------------------------------

TEST(BootConfig, SharedIdIsNeverBoundById) {
    Host h = read_spec(kTwins);
    BootConfig bc = plan_boot_config({addresses({"02:00.0", "03:00.0"})}, h);
    ASSERT_FALSE(bc.blocked());
    ASSERT_EQ(bc.devices.size(), 3u);
    EXPECT_TRUE(bc.devices[0].by_address());
    EXPECT_EQ(bc.devices[0].shares_ids_with, (std::vector<PciAddress>{*PciAddress::parse("01:00.0")}));
    EXPECT_TRUE(bc.devices[1].by_address());
    EXPECT_FALSE(bc.devices[2].by_address());
    EXPECT_EQ(bc.ids, (std::vector<std::string>{"1b21:1242"}));
    // Neither ids= nor vfio-pci.ids= holds a shared ID, anywhere.
    for (const auto& line : config_lines(modprobe_conf(bc))) {
        if (line.rfind("options", 0) == 0) {
            EXPECT_EQ(line, "options vfio-pci ids=1b21:1242");
        }
    }
    for (const auto& c : bc.cmdline) {
        EXPECT_FALSE(has(c.param, "10de:13c2")) << c.param;
        EXPECT_FALSE(has(c.param, "10de:0fbb")) << c.param;
    }
    // Per-address binding: driver_override written before vfio-pci loads.
    const std::string install = "install vfio-pci for a in 0000:02:00.0 0000:02:00.1; do echo vfio-pci > " +
                                FsRoot().pci_devices().string() +
                                "/$a/driver_override; done; /sbin/modprobe --ignore-install vfio-pci $CMDLINE_OPTS";
    const auto lines = config_lines(modprobe_conf(bc));
    EXPECT_NE(std::find(lines.begin(), lines.end(), install), lines.end()) << modprobe_conf(bc);
    EXPECT_NE(std::find(lines.begin(), lines.end(), "softdep nouveau pre: vfio-pci"), lines.end());
    // And the output says why.
    const std::string text = format_boot_config(bc, h);
    EXPECT_TRUE(has(text,
                    "0000:02:00.0 [10de:13c2]: 10de:13c2 is also the ID of 0000:01:00.0, which stays on the "
                    "host; vfio-pci ids= and vfio-pci.ids= would bind it too"))
        << text;
    EXPECT_TRUE(has(text, "A udev rule would race")) << text;

    // Only shared IDs: no ids= and no vfio-pci.ids= at all; one already there is removed.
    Host h2 = read_spec(std::string(kTwins).replace(std::string(kTwins).find("ro quiet"), 8,
                                                    "ro quiet vfio-pci.ids=10de:13c2,10de:0fbb"));
    bc = plan_boot_config({addresses({"02:00.0"})}, h2);
    EXPECT_TRUE(bc.ids.empty());
    for (const auto& line : config_lines(modprobe_conf(bc))) EXPECT_NE(line.rfind("options", 0), 0u) << line;
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Remove), "vfio-pci.ids=10de:13c2,10de:0fbb");
    EXPECT_EQ(cmdline_of(bc, CmdlineChange::Action::Add), "amd_iommu=on iommu=pt");
}

TEST(BootConfig, IdenticalDevicesThatAllLeaveAreBoundById) {
    Host h = read_spec(kTwins);
    BootConfig bc = plan_boot_config({addresses({"01:00.0", "02:00.0"})}, h);
    ASSERT_FALSE(bc.blocked());
    EXPECT_EQ(bc.devices.size(), 4u);
    for (const auto& d : bc.devices) EXPECT_FALSE(d.by_address()) << d.address.str();
    EXPECT_EQ(bc.ids, (std::vector<std::string>{"10de:13c2", "10de:0fbb"}));
    EXPECT_FALSE(has(modprobe_conf(bc), "install vfio-pci"));
}

TEST(BootConfig, BuiltinVfioPciCannotBindByAddress) {
    Host h = read_spec(
        std::string(kTwins).replace(std::string(kTwins).find("vfio_modules=available"), 22, "vfio_modules=builtin"));
    BootConfig bc = plan_boot_config({addresses({"02:00.0"})}, h);
    ASSERT_FALSE(bc.notes.empty());
    EXPECT_TRUE(has(bc.notes.back(), "vfio-pci is built into this kernel")) << bc.notes.back();
}

// ---------------------------------------------------------------------------
// Blocked groups: refused with hostdev-fix's words
// ---------------------------------------------------------------------------

TEST(BootConfig, BlockedGroupIsRefused) {
    Host z170 = example_host("z170-gtx970");
    BootConfig bc = plan_boot_config({domain_input("win10-gtx970"), domain_input("blocked-hda")}, z170);
    EXPECT_TRUE(bc.blocked());
    EXPECT_TRUE(bc.devices.empty());
    EXPECT_TRUE(bc.files.empty());
    const std::string why = boot_config_explanation(bc, z170);
    EXPECT_TRUE(has(why, "platform function bound to lpc_ich: host-critical, cannot leave the host")) << why;
    EXPECT_TRUE(has(why, "examples/domains/blocked-hda.xml (audio-guest): blocked, nothing written")) << why;
    auto written = write_boot_config(bc, FsRoot("/nonexistent-root"), "stamp");
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().kind, Error::Kind::Refused);

    // A device the host does not have, and one the host needs, are refused too.
    EXPECT_TRUE(plan_boot_config({addresses({"0a:00.0"})}, z170).blocked());
    EXPECT_TRUE(plan_boot_config({addresses({"00:17.0"})}, z170).blocked());
}

// ---------------------------------------------------------------------------
// File edits, on literals
// ---------------------------------------------------------------------------

TEST(BootConfigEdit, InitramfsToolsModules) {
    const std::vector<std::string> mods = {"vfio", "vfio_iommu_type1", "vfio_pci"};
    EXPECT_EQ(ensure_initramfs_tools_modules("", mods),
              "# vfio modules for PCI passthrough (hostdev boot-config)\nvfio\nvfio_iommu_type1\nvfio_pci\n");
    EXPECT_EQ(
        ensure_initramfs_tools_modules("# list\nraid1\nvfio-pci\nvfio", mods),
        "# list\nraid1\nvfio-pci\nvfio\n# vfio modules for PCI passthrough (hostdev boot-config)\nvfio_iommu_type1\n");
    const std::string complete = "vfio\nvfio_iommu_type1 dma_entry_limit=65535\nvfio_pci\n";
    EXPECT_EQ(ensure_initramfs_tools_modules(complete, mods), complete);
    // A commented-out module is not there.
    EXPECT_TRUE(has(ensure_initramfs_tools_modules("# vfio_pci\nvfio\nvfio_iommu_type1\n", mods), "\nvfio_pci\n"));
}

TEST(BootConfigEdit, MkinitcpioModules) {
    const std::vector<std::string> mods = {"vfio", "vfio_iommu_type1", "vfio_pci"};
    auto edit = [&](std::string_view text) {
        auto r = ensure_mkinitcpio_modules(text, mods);
        return r.ok() ? *r : "error: " + r.error().message;
    };
    EXPECT_EQ(edit("MODULES=()\nHOOKS=(base udev)\n"), "MODULES=(vfio vfio_iommu_type1 vfio_pci)\nHOOKS=(base udev)\n");
    EXPECT_EQ(edit("MODULES=(amdgpu vfio_pci)\n"), "MODULES=(vfio vfio_iommu_type1 vfio_pci amdgpu)\n");
    EXPECT_EQ(edit("MODULES=\"nvme\"\n"), "MODULES=\"vfio vfio_iommu_type1 vfio_pci nvme\"\n");
    EXPECT_EQ(edit("MODULES=(\n  amdgpu\n)\n"), "MODULES=(vfio vfio_iommu_type1 vfio_pci amdgpu)\n");
    // The last assignment is the one the shell keeps.
    EXPECT_EQ(edit("#MODULES=(x)\nMODULES=(a)\nMODULES=(b)\n"),
              "#MODULES=(x)\nMODULES=(a)\nMODULES=(vfio vfio_iommu_type1 vfio_pci b)\n");
    const std::string done = "MODULES=(vfio vfio_iommu_type1 vfio_pci amdgpu)\n";
    EXPECT_EQ(edit(done), done);
    EXPECT_EQ(edit("HOOKS=(base)"), "HOOKS=(base)\nMODULES=(vfio vfio_iommu_type1 vfio_pci)\n");
    EXPECT_TRUE(has(edit("MODULES=(amdgpu\n"), "error: MODULES=( in mkinitcpio.conf is not closed"));
    EXPECT_TRUE(has(edit("MODULES=$X\n"), "error: MODULES= in mkinitcpio.conf is neither"));
}

// ---------------------------------------------------------------------------
// --write: atomic files, backups, nothing changed on failure
// ---------------------------------------------------------------------------

TEST(BootConfigWrite, CreatesReplacesWithBackupsAndLeavesUnchangedFilesAlone) {
    FakeRoot root(kTwins);
    Host h = read(root);
    const fs::path etc = root.path() / "etc";
    const std::string mk_before = slurp(etc / "mkinitcpio.conf");
    ASSERT_EQ(::chmod((etc / "mkinitcpio.conf").c_str(), 0640), 0);
    BootConfig bc = plan_boot_config({addresses({"02:00.0", "03:00.0"})}, h);
    auto w = write_boot_config(bc, FsRoot(root.path()), "20240131T120501Z");
    ASSERT_TRUE(w.ok()) << w.error().describe() << "\n" << boot_config_explanation(bc, h);
    ASSERT_EQ(w->size(), 2u);
    EXPECT_EQ((*w)[0].action, WrittenFile::Action::Created);
    EXPECT_EQ((*w)[0].path, live_etc("modprobe.d/vfio.conf"));
    EXPECT_EQ((*w)[1].action, WrittenFile::Action::Replaced);
    EXPECT_EQ((*w)[1].backup, live_etc("mkinitcpio.conf.hostdev-backup-20240131T120501Z"));
    EXPECT_EQ(slurp(etc / "modprobe.d/vfio.conf"), modprobe_conf(bc));
    EXPECT_TRUE(has(slurp(etc / "mkinitcpio.conf"), "\nMODULES=(vfio vfio_iommu_type1 vfio_pci)\n"));
    EXPECT_EQ(slurp(etc / "mkinitcpio.conf.hostdev-backup-20240131T120501Z"), mk_before);
    EXPECT_EQ(fs::status(etc / "mkinitcpio.conf").permissions() & fs::perms::all, fs::perms(0640));
    EXPECT_EQ(fs::status(etc / "mkinitcpio.conf.hostdev-backup-20240131T120501Z").permissions() & fs::perms::all,
              fs::perms(0640));
    EXPECT_EQ(names_in(etc / "modprobe.d"), (std::vector<std::string>{"vfio.conf"}));  // no temporary left

    // Again: nothing changes, no new backup.
    auto again = write_boot_config(bc, FsRoot(root.path()), "20240131T120502Z");
    ASSERT_TRUE(again.ok());
    for (const auto& f : *again) EXPECT_EQ(f.action, WrittenFile::Action::Unchanged) << f.path;
    EXPECT_FALSE(fs::exists(etc / "mkinitcpio.conf.hostdev-backup-20240131T120502Z"));

    // Another configuration over it: the old vfio.conf is kept, a backup name never overwritten.
    BootConfig other = plan_boot_config({addresses({"03:00.0"})}, h);
    auto third = write_boot_config(other, FsRoot(root.path()), "20240131T120501Z");
    ASSERT_TRUE(third.ok()) << third.error().describe();
    EXPECT_EQ((*third)[0].action, WrittenFile::Action::Replaced);
    EXPECT_EQ((*third)[0].backup, live_etc("modprobe.d/vfio.conf.hostdev-backup-20240131T120501Z"));
    EXPECT_EQ(slurp(etc / "modprobe.d/vfio.conf.hostdev-backup-20240131T120501Z"), modprobe_conf(bc));
    EXPECT_EQ(slurp(etc / "modprobe.d/vfio.conf"), modprobe_conf(other));
    EXPECT_EQ((*third)[1].action, WrittenFile::Action::Unchanged);  // mkinitcpio.conf has the modules already
}

TEST(BootConfigWrite, FailureLeavesTheRootAsItWas) {
    FakeRoot root(
        std::string(kTwins).replace(std::string(kTwins).find("initramfs=mkinitcpio"), 20, "initramfs=initramfs-tools"));
    Host h = read(root);
    const fs::path etc = root.path() / "etc";
    fs::create_directories(etc / "modprobe.d");
    std::ofstream(etc / "modprobe.d/vfio.conf") << "options vfio-pci ids=dead:beef\n";
    // An initramfs-tools/modules too large to copy under the file size limit set below.
    const std::string big = "# " + std::string(64 * 1024, 'x') + "\n";
    std::ofstream(etc / "initramfs-tools/modules") << big;
    const auto before_modprobe = names_in(etc / "modprobe.d");
    const auto before_itools = names_in(etc / "initramfs-tools");

    BootConfig bc = plan_boot_config({addresses({"03:00.0"})}, h);
    ASSERT_EQ(bc.files.size(), 2u);
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = 16 * 1024;  // vfio.conf and its backup fit; the modules backup does not
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    auto w = write_boot_config(bc, FsRoot(root.path()), "20240131T120501Z");
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);

    ASSERT_FALSE(w.ok());
    EXPECT_TRUE(has(w.error().describe(), "put back as it was")) << w.error().describe();
    EXPECT_EQ(slurp(etc / "modprobe.d/vfio.conf"), "options vfio-pci ids=dead:beef\n");
    EXPECT_EQ(slurp(etc / "initramfs-tools/modules"), big);
    EXPECT_EQ(names_in(etc / "modprobe.d"), before_modprobe);  // backups and temporaries removed
    EXPECT_EQ(names_in(etc / "initramfs-tools"), before_itools);
}

TEST(BootConfigWrite, UnreadableOrUneditableFileStopsBeforeWriting) {
    FakeRoot root(kTwins);
    Host h = read(root);
    const fs::path etc = root.path() / "etc";
    std::ofstream(etc / "mkinitcpio.conf", std::ios::trunc) << "MODULES=(amdgpu\n";  // not closed
    auto w = write_boot_config(plan_boot_config({addresses({"03:00.0"})}, h), FsRoot(root.path()), "s");
    ASSERT_FALSE(w.ok());
    EXPECT_TRUE(has(w.error().describe(), "not closed")) << w.error().describe();
    EXPECT_TRUE(has(w.error().describe(), live_etc("mkinitcpio.conf"))) << w.error().describe();
    EXPECT_FALSE(fs::exists(etc / "modprobe.d"));
}

TEST(BootConfigWrite, BackupStamp) {
    EXPECT_EQ(backup_stamp(0), "19700101T000000Z");
    EXPECT_EQ(backup_stamp(1706702701), "20240131T120501Z");
}

// ---------------------------------------------------------------------------
// Golden outputs: the example hosts with their domains, and the twins
// ---------------------------------------------------------------------------

TEST(BootConfigGolden, ExampleHosts) {
    const std::map<std::string, std::string> cases = {
        {"win10-gtx970", "z170-gtx970"},
        {"nvme", "hm170-laptop"},
        {"usb-xhci", "hm170-laptop"},
        {"sriov-vf", "sriov-server"}};  // two <interface type='hostdev'> VFs
    for (const auto& [domain, host_name] : cases) {
        Host host = example_host(host_name);
        BootConfig bc = plan_boot_config({domain_input(domain)}, host);
        ASSERT_FALSE(bc.blocked()) << domain;
        expect_golden(format_boot_config(bc, host), source_path("tests/golden/boot-config/" + domain + ".txt"));
    }
    Host z170 = example_host("z170-gtx970");
    BootConfig blocked = plan_boot_config({domain_input("blocked-hda")}, z170);
    ASSERT_TRUE(blocked.blocked());
    expect_golden(boot_config_explanation(blocked, z170),
                  source_path("tests/golden/boot-config/blocked-hda.explain.txt"));
}

TEST(BootConfigGolden, IdenticalGpusAmdSystemdBootMkinitcpio) {
    Host h = read_spec(kTwins);
    BootConfig bc = plan_boot_config({addresses({"02:00.0", "03:00.0"})}, h);
    expect_golden(format_boot_config(bc, h), source_path("tests/golden/boot-config/identical-gpus.txt"));
}

// --write under a root stays inside it (issue: --root is a boundary): an
// absolute link is taken from the root, a link that climbs with ".." cannot
// leave it, and a file beside the root is never read or written.
TEST(BootConfigWrite, LinksInTheRootNeverLeadOutOfIt) {
    FakeRoot root(kTwins);
    Host h = read(root);
    const fs::path etc = root.path() / "etc";
    const fs::path outside = root.path().parent_path() / (root.path().filename().string() + "-outside");
    fs::create_directories(outside);
    std::ofstream(outside / "mkinitcpio.conf") << "MODULES=(outside)\n";
    // modprobe.d is an absolute link: inside the root it means ROOT/srv/conf.
    fs::create_directories(root.path() / "srv/conf");
    fs::create_directories(outside / "srv/conf");
    fs::create_symlink("/srv/conf", etc / "modprobe.d");
    // mkinitcpio.conf climbs out of the root, then names the file beside it.
    fs::remove(etc / "mkinitcpio.conf");
    fs::create_symlink("../../../../../../../../" + outside.filename().string() + "/mkinitcpio.conf",
                       etc / "mkinitcpio.conf");
    BootConfig bc = plan_boot_config({addresses({"02:00.0", "03:00.0"})}, h);
    auto w = write_boot_config(bc, FsRoot(root.path()), "20240131T120501Z");
    // The climbing link leads nowhere inside the root: refused before anything is written.
    ASSERT_FALSE(w.ok());
    EXPECT_TRUE(has(w.error().describe(), "/etc/mkinitcpio.conf")) << w.error().describe();
    EXPECT_EQ(slurp(outside / "mkinitcpio.conf"), "MODULES=(outside)\n");
    EXPECT_TRUE(names_in(root.path() / "srv/conf").empty());

    // Without it, modprobe.d's file lands in ROOT/srv/conf, never beside the root.
    fs::remove(etc / "mkinitcpio.conf");
    std::ofstream(etc / "mkinitcpio.conf") << "MODULES=()\n";
    auto ok = write_boot_config(bc, FsRoot(root.path()), "20240131T120501Z");
    ASSERT_TRUE(ok.ok()) << ok.error().describe();
    EXPECT_EQ(slurp(root.path() / "srv/conf/vfio.conf"), modprobe_conf(bc));
    EXPECT_TRUE(names_in(outside / "srv/conf").empty());
    EXPECT_TRUE(fs::is_symlink(etc / "modprobe.d"));
    fs::remove_all(outside);
}
