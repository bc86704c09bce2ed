// What holds a GPU: the parsers on literals, the reader on fake roots (efifb
// with fbcon, a DRM driver with its nodes, processes holding them, NVIDIA
// nodes, the display manager, vanished processes, hostile content, links out
// of the root), the groups line and the doctor check.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fake_host.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/host/gpu_holders.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/output/format.hpp"
#include "hostdev/setup/doctor.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

const PciAddress kIgpu = *PciAddress::parse("0000:00:02.0");
const PciAddress kGpu = *PciAddress::parse("0000:01:00.0");

GpuHolders read_facts(const FakeRoot& root, const GpuHolderOptions& o = {}) {
    return read_gpu_holders(FsRoot(root.path()), o);
}

std::string holders_line(const GpuHolders& facts, const PciAddress& a, BootGpu boot, bool nvidia = false) {
    return describe_holders(holders_of(facts, a, boot, nvidia));
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::trunc) << text; }

// A boot GPU under a root port with an amdgpu-style DRM driver.
constexpr std::string_view kDrmHost =
    "host fb=amdgpu fbcon=yes display_manager=gdm3 active=yes\n"
    "dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01\n"
    "dev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu boot_vga=1 drm=card0,renderD128\n"
    "dev 01:00.1 1002:aaf0 0x040300 group=1 driver=snd_hda_intel\n";

}  // namespace

TEST(GpuHoldersParse, Literals) {
    EXPECT_EQ(parse::vtcon_bind("1\n").value(), true);
    EXPECT_EQ(parse::vtcon_bind("0").value(), false);
    EXPECT_FALSE(parse::vtcon_bind("2\n").ok());
    EXPECT_FALSE(parse::vtcon_bind("99999999999999999999").ok());
    EXPECT_FALSE(parse::vtcon_bind("").ok());

    EXPECT_EQ(parse::name_index("fb", "fb12"), std::optional<int>(12));
    EXPECT_EQ(parse::name_index("vtcon", "vtcon0"), std::optional<int>(0));
    EXPECT_EQ(parse::name_index("", "4194304"), std::optional<int>(4194304));
    EXPECT_FALSE(parse::name_index("fb", "fb").has_value());
    EXPECT_FALSE(parse::name_index("fb", "fb1a").has_value());
    EXPECT_FALSE(parse::name_index("fb", "fb9999999999").has_value());  // absurd: ten digits
    EXPECT_FALSE(parse::name_index("", "self").has_value());

    EXPECT_TRUE(parse::is_drm_node_name("card0"));
    EXPECT_TRUE(parse::is_drm_node_name("renderD128"));
    EXPECT_FALSE(parse::is_drm_node_name("card0-DP-1"));
    EXPECT_FALSE(parse::is_drm_node_name("version"));

    EXPECT_TRUE(parse::is_firmware_framebuffer_device("efi-framebuffer.0"));
    EXPECT_TRUE(parse::is_firmware_framebuffer_device("simple-framebuffer.0"));
    EXPECT_TRUE(parse::is_firmware_framebuffer_device("vesa-framebuffer.1"));
    EXPECT_FALSE(parse::is_firmware_framebuffer_device("serial8250"));
    EXPECT_FALSE(parse::is_firmware_framebuffer_device("efi-framebuffer."));
}

TEST(GpuHoldersParse, FdLinksAndUnits) {
    for (const char* node : {"/dev/dri/card0", "/dev/dri/renderD128", "/dev/nvidia0", "/dev/nvidiactl",
                             "/dev/nvidia-modeset", "/dev/nvidia-uvm"})
        EXPECT_EQ(parse::gpu_node_of_fd_link(node), std::optional<std::string>(node)) << node;
    for (const char* other : {"/dev/null", "socket:[1234]", "pipe:[5]", "/dev/dri/by-path", "/dev/nvidiax",
                              "/dev/nvidia0 (deleted)", "/dev/dri/card0-DP-1", "/home/dev/dri/card0", ""})
        EXPECT_FALSE(parse::gpu_node_of_fd_link(other).has_value()) << other;

    EXPECT_EQ(parse::unit_of_link("/lib/systemd/system/gdm3.service").value(), "gdm3.service");
    EXPECT_EQ(parse::unit_of_link("/usr/lib/systemd/system/sddm.service\n").value(), "sddm.service");
    EXPECT_EQ(parse::unit_of_link("lightdm.service").value(), "lightdm.service");
    EXPECT_FALSE(parse::unit_of_link("/dev/null").ok());  // a masked unit
    EXPECT_FALSE(parse::unit_of_link("/lib/systemd/system/gdm 3.service").ok());
    EXPECT_FALSE(parse::unit_of_link("").ok());

    EXPECT_EQ(parse::process_comm("Xorg\n"), "Xorg");
    EXPECT_EQ(parse::process_comm("a\x1b[31mb\n"), "a?[31mb");
    EXPECT_EQ(parse::process_comm(std::string(300, 'x')).size(), 64u);
}

TEST(GpuHolders, EfifbAndFbconOnly) {
    FakeRoot root("host fb=efifb fbcon=yes\ndev 00:02.0 8086:1912 0x030000 group=0 driver=i915 boot_vga=1\n");
    const GpuHolders f = read_facts(root);
    ASSERT_TRUE(f.consoles && f.framebuffers && f.firmware_devices && f.processes);
    ASSERT_EQ(f.consoles->size(), 2u);
    EXPECT_TRUE(f.consoles->at(1).is_fbcon() && f.consoles->at(1).bound);
    ASSERT_EQ(f.framebuffers->size(), 1u);
    EXPECT_EQ(f.framebuffers->at(0).name, std::optional<std::string>("EFI VGA"));
    EXPECT_EQ(f.framebuffers->at(0).platform_device, std::optional<std::string>("efi-framebuffer.0"));
    ASSERT_EQ(f.firmware_devices->size(), 1u);
    EXPECT_EQ(f.firmware_devices->at(0).driver, std::optional<std::string>("efi-framebuffer"));
    EXPECT_FALSE(f.drm_nodes.has_value());  // no sys/class/drm in this root: unknown
    EXPECT_TRUE(f.processes->empty());
    EXPECT_FALSE(f.display_manager.has_value());  // no etc/systemd under the root: unknown
    EXPECT_TRUE(f.problems.empty());
    EXPECT_EQ(holders_line(f, kIgpu, BootGpu::Yes),
              "console: fbcon on fb0 (EFI VGA, efi-framebuffer.0); "
              "firmware framebuffer: efi-framebuffer.0 bound to efi-framebuffer");
    // Not the boot GPU: the firmware's framebuffer is not its.
    EXPECT_TRUE(holders_of(f, kIgpu, BootGpu::No, false).empty());
}

TEST(GpuHolders, FbconUnbound) {
    FakeRoot root("host fb=efifb fbcon=no\ndev 00:02.0 8086:1912 0x030000 group=0 boot_vga=1\n");
    const auto h = holders_of(read_facts(root), kIgpu, BootGpu::Yes, false);
    EXPECT_FALSE(h.fbcon.has_value());
    EXPECT_EQ(describe_holders(h),
              "framebuffer: fb0 (EFI VGA, efi-framebuffer.0); "
              "firmware framebuffer: efi-framebuffer.0 bound to efi-framebuffer");
}

TEST(GpuHolders, DrmDriverWithFbconAndDisplayManager) {
    FakeRoot root(kDrmHost);
    const GpuHolders f = read_facts(root);
    ASSERT_TRUE(f.drm_nodes);
    ASSERT_EQ(f.drm_nodes->size(), 2u);
    EXPECT_EQ(f.drm_nodes->at(0).name, "card0");
    EXPECT_EQ(f.drm_nodes->at(0).device, kGpu);
    EXPECT_EQ(f.drm_nodes->at(0).dev_path(), "/dev/dri/card0");
    ASSERT_TRUE(f.framebuffers && f.framebuffers->size() == 1);
    EXPECT_EQ(f.framebuffers->at(0).pci_device, std::optional<PciAddress>(kGpu));
    ASSERT_TRUE(f.display_manager);
    EXPECT_EQ(f.display_manager->unit, "gdm3.service");
    EXPECT_EQ(f.display_manager->active, std::optional<bool>(true));
    EXPECT_EQ(holders_line(f, kGpu, BootGpu::Yes),
              "console: fbcon on fb0 (amdgpudrmfb, 0000:01:00.0); DRM: card0, renderD128; "
              "display manager: gdm3.service, active");
    // The audio function holds nothing.
    EXPECT_TRUE(holders_of(f, *PciAddress::parse("0000:01:00.1"), BootGpu::No, false).empty());
}

TEST(GpuHolders, ProcessHoldingCard0) {
    FakeRoot root(std::string(kDrmHost) +
                  "proc 1234 Xorg /dev/dri/card0 /dev/null /dev/dri/card0 socket:[99]\n"
                  "proc 1300 gnome-shell /dev/dri/renderD128\n"
                  "proc 1400 bash /dev/pts/0\n"
                  "proc 1500 other-gpu /dev/dri/card1\n");
    const GpuHolders f = read_facts(root);
    ASSERT_TRUE(f.processes);
    ASSERT_EQ(f.processes->size(), 3u);
    EXPECT_EQ(f.processes->at(0).pid, 1234);
    EXPECT_EQ(f.processes->at(0).comm, "Xorg");
    EXPECT_EQ(f.processes->at(0).nodes, std::vector<std::string>{"/dev/dri/card0"});  // unique
    EXPECT_FALSE(f.scan_bound_hit.has_value());
    const auto h = holders_of(f, kGpu, BootGpu::Yes, false);
    ASSERT_EQ(h.processes.size(), 2u);  // card1 is not this GPU's
    EXPECT_NE(describe_holders(h).find("held open by: 1234 (Xorg), 1300 (gnome-shell)"), std::string::npos)
        << describe_holders(h);
}

TEST(GpuHolders, NvidiaNodesHeld) {
    FakeRoot root(
        "host fb=efifb fbcon=yes display_manager=sddm active=no\n"
        "dev 01:00.0 10de:13c2 0x030000 group=1 driver=nvidia boot_vga=1 drm=card0\n"
        "proc 2000 Xorg /dev/nvidiactl /dev/nvidia0 /dev/nvidia-modeset\n"
        "proc 2100 nvidia-persiste /dev/nvidiactl\n");
    const GpuHolders f = read_facts(root);
    const auto h = holders_of(f, kGpu, BootGpu::Yes, true);
    ASSERT_EQ(h.processes.size(), 2u);
    EXPECT_EQ(h.processes[0].nodes,
              (std::vector<std::string>{"/dev/nvidia-modeset", "/dev/nvidia0", "/dev/nvidiactl"}));
    EXPECT_EQ(describe_holders(h),
              "console: fbcon on fb0 (EFI VGA, efi-framebuffer.0); "
              "firmware framebuffer: efi-framebuffer.0 bound to efi-framebuffer; DRM: card0; "
              "held open by: 2000 (Xorg), 2100 (nvidia-persiste); display manager: sddm.service, inactive");
    // Not an NVIDIA device: /dev/nvidia* are not its nodes.
    EXPECT_TRUE(holders_of(f, kGpu, BootGpu::No, false).processes.empty());
}

TEST(GpuHolders, DisplayManager) {
    auto dm = [](std::string_view keys, const GpuHolderOptions& o = {}) {
        FakeRoot root("host " + std::string(keys) + "\ndev 00:02.0 8086:1912 0x030000 group=0 boot_vga=1\n");
        return read_facts(root, o).display_manager;
    };
    EXPECT_EQ(dm("display_manager=gdm3 active=yes")->active, std::optional<bool>(true));
    EXPECT_EQ(dm("display_manager=lightdm active=no")->active, std::optional<bool>(false));
    EXPECT_EQ(dm("display_manager=lightdm active=no")->unit, "lightdm.service");
    // No display-manager.service in etc/systemd/system: none.
    auto none = dm("display_manager=none");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->unit, "");
    // No etc/systemd at all: unknown.
    EXPECT_FALSE(dm("cpu=GenuineIntel").has_value());
    // A unit given by the caller is read instead of the link; "none" reads nothing.
    GpuHolderOptions given;
    given.display_manager = "sddm.service";
    EXPECT_EQ(dm("display_manager=gdm3 active=yes", given)->unit, "sddm.service");
    EXPECT_EQ(dm("display_manager=gdm3 active=yes", given)->active, std::optional<bool>(false));
    given.display_manager = "none";
    EXPECT_EQ(dm("display_manager=gdm3 active=yes", given)->unit, "");
}

TEST(GpuHolders, DisplayManagerStateUnknownWithoutRunDirectory) {
    FakeRoot root("host display_manager=gdm3 active=no\ndev 00:02.0 8086:1912 0x030000 group=0 boot_vga=1\n");
    fs::remove_all(root.path() / "run/systemd");
    auto dm = read_facts(root).display_manager;
    ASSERT_TRUE(dm);
    EXPECT_FALSE(dm->active.has_value());
    EXPECT_EQ(holders_line(read_facts(root), kIgpu, BootGpu::Yes), "display manager: gdm3.service, state unknown");
}

TEST(GpuHolders, VanishedAndUnreadableProcesses) {
    FakeRoot root(std::string(kDrmHost) + "proc 1234 Xorg /dev/dri/card0\nproc 1235 gone /dev/dri/card0\n");
    // A pid whose fd directory is gone, one whose fd is not a directory, one
    // without comm: skipped or named "?", never an error.
    fs::remove_all(root.path() / "proc/1235/fd");
    fs::create_directories(root.path() / "proc/77");
    write(root.path() / "proc/77/fd", "not a directory\n");
    fs::create_directories(root.path() / "proc/88/fd");
    fs::create_symlink("/dev/dri/renderD128", root.path() / "proc/88/fd/5");
    const GpuHolders f = read_facts(root);
    ASSERT_TRUE(f.processes);
    ASSERT_EQ(f.processes->size(), 2u);
    EXPECT_EQ(f.processes->at(0).pid, 88);
    EXPECT_EQ(f.processes->at(0).comm, "");
    EXPECT_EQ(f.processes->at(1).pid, 1234);
    EXPECT_NE(holders_line(f, kGpu, BootGpu::Yes).find("held open by: 88 (?), 1234 (Xorg)"), std::string::npos);
}

TEST(GpuHolders, ScanBounds) {
    FakeRoot root(std::string(kDrmHost) + "proc 10 a /dev/dri/card0\nproc 11 b /dev/dri/card0\nproc 12 c x y z\n");
    GpuHolderOptions o;
    o.max_pids = 2;
    GpuHolders f = read_facts(root, o);
    EXPECT_EQ(f.scan_bound_hit, std::optional<std::string>("2 processes"));
    EXPECT_NE(holders_line(f, kGpu, BootGpu::Yes).find("process scan stopped at 2 processes"), std::string::npos);
    o = {};
    o.max_fds = 4;  // 0..2 are /dev/null: process 12 has 6 descriptors
    f = read_facts(root, o);
    EXPECT_EQ(f.scan_bound_hit, std::optional<std::string>("4 descriptors of a process"));
    EXPECT_EQ(f.processes->size(), 2u);
    o.processes = GpuHolderOptions::Processes::Skip;
    EXPECT_FALSE(read_facts(root, o).processes.has_value());
}

TEST(GpuHolders, HostileContent) {
    FakeRoot root{std::string(kDrmHost)};
    const fs::path sys = root.path() / "sys";
    // A FIFO as a framebuffer's and a console's name: read without blocking.
    fs::remove(sys / "class/graphics/fb0/name");
    ASSERT_EQ(::mkfifo((sys / "class/graphics/fb0/name").c_str(), 0644), 0);
    fs::remove(sys / "class/vtconsole/vtcon1/name");
    ASSERT_EQ(::mkfifo((sys / "class/vtconsole/vtcon1/name").c_str(), 0644), 0);
    // An absurd bind value and an absurd console number.
    write(sys / "class/vtconsole/vtcon0/bind", "123456789012345678901234567890\n");
    fs::create_directories(sys / "class/vtconsole/vtcon99999999999");
    // A comm full of escapes, a display-manager link to something that is not a unit.
    fs::create_directories(root.path() / "proc/4242/fd");
    fs::create_symlink("/dev/dri/card0", root.path() / "proc/4242/fd/3");
    write(root.path() / "proc/4242/comm", std::string("\x1b]0;pwned\x07\n"));
    fs::remove(root.path() / "etc/systemd/system/display-manager.service");
    fs::create_symlink("/dev/null", root.path() / "etc/systemd/system/display-manager.service");
    const GpuHolders f = read_facts(root);
    ASSERT_TRUE(f.consoles);
    // vtcon0's bind is bad (a problem); vtcon1's name reads empty (not fbcon); vtcon99999999999 is no number.
    ASSERT_EQ(f.consoles->size(), 1u);
    EXPECT_EQ(f.consoles->at(0).index, 1);
    EXPECT_FALSE(f.consoles->at(0).is_fbcon());
    ASSERT_EQ(f.framebuffers->size(), 1u);
    EXPECT_EQ(f.framebuffers->at(0).name, std::optional<std::string>(""));
    ASSERT_EQ(f.processes->size(), 1u);
    EXPECT_EQ(f.processes->at(0).comm, "?]0;pwned?");
    EXPECT_FALSE(f.display_manager.has_value());
    EXPECT_FALSE(f.problems.empty());
    bool named_bind = false, named_dm = false;
    for (const auto& p : f.problems) {
        named_bind = named_bind || p.find("/sys/class/vtconsole/vtcon0/bind") != std::string::npos;
        named_dm = named_dm || p.find("/etc/systemd/system/display-manager.service") != std::string::npos;
    }
    EXPECT_TRUE(named_bind && named_dm) << ::testing::PrintToString(f.problems);
}

TEST(GpuHolders, LinksOutOfTheRootAreNotFollowed) {
    // Outside the root: a tree that would look like a held GPU if it were read.
    const fs::path outside = fs::path(::testing::TempDir()) / ("gpu-outside-" + std::to_string(::getpid()));
    fs::remove_all(outside);
    fs::create_directories(outside / "fb0");
    write(outside / "fb0/name", "OUTSIDE\n");
    fs::create_directories(outside / "units");
    fs::create_symlink("0123456789abcdef0123456789abcdef", outside / "units/invocation:gdm3.service");
    FakeRoot root("host display_manager=gdm3 active=no\ndev 00:02.0 8086:1912 0x030000 group=0 boot_vga=1\n");
    const fs::path sys = root.path() / "sys";
    fs::create_directories(sys / "class/graphics");
    fs::create_symlink(outside / "fb0", sys / "class/graphics/fb0");  // absolute: taken from the root
    fs::remove_all(root.path() / "run/systemd/units");
    fs::create_symlink(outside / "units", root.path() / "run/systemd/units");
    fs::create_directories(sys / "class/drm");
    fs::create_symlink("../../../../../../../../../..", sys / "class/drm/card0");
    const GpuHolders f = read_facts(root);
    ASSERT_TRUE(f.framebuffers);
    for (const auto& fb : *f.framebuffers) EXPECT_NE(fb.name, std::optional<std::string>("OUTSIDE"));
    ASSERT_TRUE(f.display_manager);
    EXPECT_NE(f.display_manager->active, std::optional<bool>(true));
    EXPECT_TRUE(f.drm_nodes->empty());
    fs::remove_all(outside);
}

TEST(GpuHolders, ReadHostOnlyWithADisplayDevice) {
    FakeRoot with(std::string(kDrmHost) + "proc 1234 Xorg /dev/dri/card0\n");
    const Host h = read_fake_host(with);
    ASSERT_TRUE(h.gpu_holders);
    EXPECT_EQ(h.gpu_holders->processes->size(), 1u);
    FakeRoot without("host fbcon=yes\ndev 00:1f.6 8086:15b8 0x020000 group=11 driver=e1000e\n");
    EXPECT_FALSE(read_fake_host(without).gpu_holders.has_value());
    ReadOptions skip = test_read_options();
    skip.readiness = ReadOptions::Readiness::Skip;
    auto skipped = read_host(FsRoot(with.path()), skip);
    ASSERT_TRUE(skipped.ok());
    EXPECT_FALSE(skipped->gpu_holders.has_value());
}

TEST(GpuHolders, GroupsTextLine) {
    FakeRoot root(std::string(kDrmHost) + "proc 1234 Xorg /dev/dri/card0\n");
    const std::string text = format_groups_text(read_fake_host(root));
    EXPECT_NE(text.find("      held by the host: console: fbcon on fb0 (amdgpudrmfb, 0000:01:00.0); DRM: card0, "
                        "renderD128; held open by: 1234 (Xorg); display manager: gdm3.service, active\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("held by the host", text.find("held by the host") + 1), std::string::npos) << text;
    // Nothing holds it: no line.
    FakeRoot idle("dev 01:00.0 1002:67df 0x030000 group=1 driver=vfio-pci\n");
    EXPECT_EQ(format_groups_text(read_fake_host(idle)).find("held by the host"), std::string::npos);
}

TEST(GpuHolders, DoctorCheck) {
    auto gpu_checks = [](std::string_view spec) {
        std::vector<Check> out;
        for (const auto& c : run_doctor(read_fake_host(FakeRoot(spec))).checks)
            if (c.id == "gpu-holders") out.push_back(c);
        return out;
    };
    auto held = gpu_checks(std::string(kDrmHost) + "proc 1234 Xorg /dev/dri/card0\n");
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].verdict, CheckVerdict::Warn);
    EXPECT_EQ(held[0].device, std::optional<PciAddress>(kGpu));
    EXPECT_NE(held[0].message.find("1234 (Xorg)"), std::string::npos) << held[0].message;
    EXPECT_NE(held[0].fix.find("the hook hands the host's console and display to the guest: stops gdm3.service"),
              std::string::npos)
        << held[0].fix;
    EXPECT_NE(held[0].fix.find("unbinds the framebuffer console (vtcon1)"), std::string::npos) << held[0].fix;

    auto idle = gpu_checks(
        "host fbcon=no display_manager=gdm3 active=no\n"
        "dev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu boot_vga=1 drm=card0\n");
    ASSERT_EQ(idle.size(), 1u);
    EXPECT_EQ(idle[0].verdict, CheckVerdict::Ok);
    EXPECT_NE(idle[0].message.find("DRM: card0"), std::string::npos) << idle[0].message;

    // The facts unknown (a snapshot): cannot tell, never ok.
    Host unknown = read_fake_host(FakeRoot(kDrmHost));
    unknown.gpu_holders.reset();
    std::vector<Check> cannot_tell;
    for (const auto& c : run_doctor(unknown).checks)
        if (c.id == "gpu-holders") cannot_tell.push_back(c);
    ASSERT_EQ(cannot_tell.size(), 1u);
    EXPECT_EQ(cannot_tell[0].verdict, CheckVerdict::Warn);
    EXPECT_NE(cannot_tell[0].message.find("unknown"), std::string::npos) << cannot_tell[0].message;

    // No boot GPU among the display devices, or no display device: no check.
    EXPECT_TRUE(gpu_checks("dev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu drm=card0\n").empty());
    EXPECT_TRUE(gpu_checks("dev 00:1f.6 8086:15b8 0x020000 group=11 driver=e1000e\n").empty());
}

TEST(GpuHoldersFakeRoot, Keys) {
    EXPECT_FALSE(parse_fake_host_spec("host fbcon=maybe\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("host active=sometimes\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("host display_manager=../x\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("dev 01:00.0 1002:67df 0x030000 drm=card0-DP-1\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("proc 0 init\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("proc 12\n").ok());
    auto spec = parse_fake_host_spec("proc 12 Xorg /dev/dri/card0 /dev/nvidiactl\n");
    ASSERT_TRUE(spec.ok()) << spec.error().describe();
    ASSERT_EQ(spec->processes.size(), 1u);
    EXPECT_EQ(spec->processes[0].fds, (std::vector<std::string>{"/dev/dri/card0", "/dev/nvidiactl"}));
    FakeRoot root("host fb=efifb\nproc 12 Xorg /dev/dri/card0\n");
    EXPECT_EQ(fs::read_symlink(root.path() / "proc/12/fd/3"), "/dev/dri/card0");
    EXPECT_TRUE(fs::is_symlink(root.path() / "sys/bus/platform/devices/efi-framebuffer.0"));
    EXPECT_EQ(fs::read_symlink(root.path() / "sys/class/graphics/fb0/device").filename(), "efi-framebuffer.0");
}

TEST(GpuHolders, SnapshotRoundTripAndOlderSnapshots) {
    FakeRoot root(std::string(kDrmHost) + "proc 1234 Xorg /dev/dri/card0\n");
    const Host live = read_fake_host(root);
    const std::string text = write_snapshot(live);
    auto back = parse_snapshot(text, "host.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    ASSERT_TRUE(back->gpu_holders);
    const auto line = [](const Host& h) { return holders_line(*h.gpu_holders, kGpu, BootGpu::Yes); };
    EXPECT_EQ(line(*back), line(live));
    EXPECT_EQ(write_snapshot(*back), text);
    // Doctor says the same from the snapshot as from the root.
    EXPECT_EQ(format_doctor_text(run_doctor(*back)), format_doctor_text(run_doctor(live)));

    // Older snapshots have no gpu_holders: unknown.
    auto j = nlohmann::json::parse(text);
    j.erase("gpu_holders");
    auto old = parse_snapshot(j.dump(), "old.json");
    ASSERT_TRUE(old.ok()) << old.error().describe();
    EXPECT_FALSE(old->gpu_holders.has_value());
    // A fact of the wrong type is a malformed snapshot, named by its path.
    j = nlohmann::json::parse(text);
    j["gpu_holders"]["processes"][0]["pid"] = "Xorg";
    auto bad = parse_snapshot(j.dump(), "bad.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("processes[0].pid"), std::string::npos) << bad.error().message;
}
