// The single-GPU handoff's plan (policy/handoff.hpp) on fake roots read as the
// binder and hostdev-fix read them: the efifb + fbcon desktop with no driver, a
// DRM driver with fbcon and its display manager, a holder that is not the
// display manager, NVIDIA with and without another NVIDIA GPU staying, a GPU
// that needs no handoff, and the switch that refuses it.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "fake_host.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/binding/journal.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/policy/handoff.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

const PciAddress kVga = *PciAddress::parse("0000:00:02.0");
const PciAddress kGpu = *PciAddress::parse("0000:01:00.0");
const PciAddress kAudio = *PciAddress::parse("0000:01:00.1");

// A holder's cgroup, as systemd places a service's processes.
void in_unit(const FakeRoot& root, int pid, const std::string& unit) {
    std::ofstream(root.path() / "proc" / std::to_string(pid) / "cgroup", std::ios::trunc)
        << "0::/system.slice/" << unit << "\n";
}

HandoffPlan plan_for(const Host& host, const std::vector<PciAddress>& moving, HandoffSettings s = {}) {
    return plan_handoff(host, moving, s);
}

// QEMU's standard VGA under OVMF: efifb on efi-framebuffer.0, fbcon on it, no driver.
constexpr std::string_view kEfifbOnly =
    "host fb=efifb fbcon=yes display_manager=none\n"
    "dev 00:02.0 1234:1111 0x030000 group=2 boot_vga=1\n";

// The same GPU on a DRM driver (bochs), its display manager running.
constexpr std::string_view kDrm =
    "host fb=bochs-drm fbcon=yes display_manager=gdm3 active=yes\n"
    "dev 00:02.0 1234:1111 0x030000 group=2 driver=bochs-drm boot_vga=1 drm=card0,renderD128\n";

constexpr std::string_view kNvidia =
    "host fb=nvidia fbcon=yes display_manager=gdm3 active=yes "
    "modules=nvidia_drm,nvidia_modeset,nvidia_uvm,nvidia\n"
    "dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01\n"
    "dev 01:00.0 10de:1b80 0x030000 group=1 driver=nvidia boot_vga=1 drm=card0,renderD128\n"
    "dev 01:00.1 10de:10f0 0x040300 group=1 driver=snd_hda_intel\n";

}  // namespace

TEST(Handoff, EfifbAndFbconOnly) {
    FakeRoot root(kEfifbOnly);
    const Host host = read_fake_host(root);
    ASSERT_TRUE(host.gpu_holders);
    const PciDevice* vga = host.find(kVga);
    ASSERT_NE(vga, nullptr);
    EXPECT_TRUE(needs_handoff(host, *vga));
    const HandoffPlan p = plan_for(host, {kVga});
    ASSERT_FALSE(p.refusal) << *p.refusal;
    ASSERT_TRUE(p.handoff);
    const Handoff& h = *p.handoff;
    EXPECT_EQ(h.gpu, kVga);
    EXPECT_FALSE(h.stop_unit);
    EXPECT_TRUE(h.nodes.empty());  // no DRM driver: nothing to wait for
    EXPECT_EQ(h.consoles, std::vector<int>{1});
    ASSERT_EQ(h.firmware.size(), 1u);
    EXPECT_EQ(h.firmware[0].name, "efi-framebuffer.0");
    EXPECT_EQ(h.firmware[0].driver, std::optional<std::string>("efi-framebuffer"));
    EXPECT_TRUE(h.modules_before.empty() && h.modules_after.empty());
    const auto words = describe_handoff(h);
    ASSERT_EQ(words.size(), 2u);
    EXPECT_EQ(words[0],
              "0000:00:02.0: the hook hands the host's console and display to the guest: unbinds the framebuffer "
              "console (vtcon1), unbinds efi-framebuffer.0 from efi-framebuffer; when the guest stops it gives them "
              "back in reverse order");
    EXPECT_EQ(words[1],
              "0000:00:02.0: the firmware console (efi-framebuffer on efi-framebuffer.0) will not return after the "
              "guest stops unless a DRM driver binds the GPU: the kernel removes the firmware framebuffer when "
              "vfio-pci takes the GPU (Linux 6.0 and later), and the GPU has no driver of its own to come back to");
}

TEST(Handoff, DrmDriverWithFbconAndItsDisplayManager) {
    FakeRoot root(std::string(kDrm) + "proc 900 Xorg /dev/dri/card0\nproc 950 gnome-shell /dev/dri/renderD128\n");
    in_unit(root, 900, "gdm3.service");
    in_unit(root, 950, "gdm3.service");
    const Host host = read_fake_host(root);
    const HandoffPlan p = plan_for(host, {kVga}, HandoffSettings{true, std::chrono::milliseconds(1500)});
    ASSERT_TRUE(p.handoff);
    const Handoff& h = *p.handoff;
    EXPECT_EQ(h.stop_unit, std::optional<std::string>("gdm3.service"));
    EXPECT_EQ(h.nodes, (std::vector<std::string>{"/dev/dri/card0", "/dev/dri/renderD128"}));
    ASSERT_EQ(h.with_unit.size(), 2u);
    EXPECT_TRUE(h.others.empty());
    EXPECT_EQ(h.consoles, std::vector<int>{1});
    EXPECT_TRUE(h.firmware.empty());  // the DRM driver took over from the firmware
    EXPECT_TRUE(h.notes.empty()) << h.notes[0];
    EXPECT_EQ(describe_handoff(h)[0],
              "0000:00:02.0: the hook hands the host's console and display to the guest: stops gdm3.service, waits "
              "up to 1500 ms for /dev/dri/card0, /dev/dri/renderD128 to be closed (900 (Xorg), 950 (gnome-shell) go "
              "with it), unbinds the framebuffer console (vtcon1); when the guest stops it gives them back in "
              "reverse order and starts gdm3.service again");
}

TEST(Handoff, AHolderThatIsNotTheDisplayManagerIsSaidBeforehand) {
    FakeRoot root(std::string(kDrm) + "proc 900 Xorg /dev/dri/card0\nproc 4242 cuda-job /dev/dri/renderD128\n");
    in_unit(root, 900, "gdm3.service");
    in_unit(root, 4242, "batch.service");
    const Host host = read_fake_host(root);
    const HandoffPlan p = plan_for(host, {kVga});
    ASSERT_TRUE(p.handoff);
    ASSERT_EQ(p.handoff->others.size(), 1u);
    EXPECT_EQ(p.handoff->others[0].pid, 4242);
    ASSERT_EQ(p.handoff->notes.size(), 1u);
    EXPECT_EQ(p.handoff->notes[0],
              "4242 (cuda-job) holds /dev/dri/renderD128 open and is not the display manager: the start waits up to "
              "10000 ms (gpu_release_timeout_ms) for it to close, then is refused; hostdev never kills it");
}

TEST(Handoff, ARunningDisplayManagerThatHoldsNothingIsNotStopped) {
    FakeRoot root(kDrm);  // no process holds the GPU
    const Host host = read_fake_host(root);
    const HandoffPlan p = plan_for(host, {kVga});
    ASSERT_TRUE(p.handoff);  // fbcon still shows it
    EXPECT_FALSE(p.handoff->stop_unit);
    ASSERT_EQ(p.handoff->notes.size(), 1u);
    EXPECT_EQ(p.handoff->notes[0], "gdm3.service runs but nothing holds this GPU open: it is not stopped");
}

TEST(Handoff, ASecondaryGpuNeedsNone) {
    FakeRoot root(
        "host fb=i915 fbcon=yes display_manager=gdm3 active=yes\n"
        "dev 00:02.0 8086:3e92 0x030000 group=0 driver=i915 boot_vga=1 drm=card0\n"
        "dev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu drm=card1,renderD129\n"
        "proc 900 Xorg /dev/dri/card0\n");
    const Host host = read_fake_host(root);
    EXPECT_FALSE(needs_handoff(host, *host.find(kGpu)));
    const HandoffPlan p = plan_for(host, {kGpu});
    EXPECT_FALSE(p.handoff);
    EXPECT_FALSE(p.refusal);
}

TEST(Handoff, AGpuAlreadyOnVfioNeedsNone) {
    FakeRoot root(
        "host fb=none fbcon=no display_manager=gdm3 active=yes\n"
        "dev 00:02.0 1234:1111 0x030000 group=2 driver=vfio-pci boot_vga=1\n");
    const Host host = read_fake_host(root);
    EXPECT_FALSE(needs_handoff(host, *host.find(kVga)));
}

TEST(Handoff, TheSwitchRefusesIt) {
    FakeRoot root(kEfifbOnly);
    const Host host = read_fake_host(root);
    const HandoffPlan p = plan_for(host, {kVga}, HandoffSettings{false, std::chrono::milliseconds(10000)});
    EXPECT_FALSE(p.handoff);
    ASSERT_TRUE(p.refusal);
    EXPECT_EQ(*p.refusal,
              "0000:00:02.0 holds the host's console or display (console: fbcon on fb0 (EFI VGA, efi-framebuffer.0); "
              "firmware framebuffer: efi-framebuffer.0 bound to efi-framebuffer) and single_gpu_handoff = no in "
              "hostdev.conf keeps it on the host: pass another device, or set single_gpu_handoff = yes to let the "
              "hook hand it over");
    // A GPU that needs no handoff is not refused by the switch.
    FakeRoot other("host fb=none fbcon=no\ndev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu\n");
    EXPECT_FALSE(plan_for(read_fake_host(other), {kGpu}, HandoffSettings{false, {}}).refusal);
}

TEST(Handoff, NvidiaModulesUnloadedInOrderWhenNoOtherNvidiaGpuStays) {
    FakeRoot root(std::string(kNvidia) + "proc 700 nvidia-persiste /dev/nvidiactl /dev/nvidia0\n");
    const Host host = read_fake_host(root);
    const HandoffPlan p = plan_for(host, {kGpu, kAudio});
    ASSERT_TRUE(p.handoff);
    const Handoff& h = *p.handoff;
    EXPECT_EQ(h.modules_before, (std::vector<std::string>{"nvidia_drm", "nvidia_modeset", "nvidia_uvm"}));
    EXPECT_EQ(h.modules_after, std::vector<std::string>{"nvidia"});
    EXPECT_EQ(h.nodes, (std::vector<std::string>{"/dev/dri/card0", "/dev/dri/renderD128", "/dev/nvidia*"}));
    ASSERT_EQ(h.others.size(), 1u);  // nvidia-persistenced is not the display manager
    EXPECT_EQ(h.others[0].comm, "nvidia-persiste");
}

TEST(Handoff, NvidiaModulesStayWhenAnotherNvidiaGpuStays) {
    FakeRoot root(std::string(kNvidia) +
                  "dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=02\n"
                  "dev 02:00.0 10de:1c82 0x030000 group=5 driver=nvidia drm=card1,renderD129\n");
    const Host host = read_fake_host(root);
    const HandoffPlan p = plan_for(host, {kGpu, kAudio});
    ASSERT_TRUE(p.handoff);
    EXPECT_TRUE(p.handoff->modules_before.empty());
    EXPECT_TRUE(p.handoff->modules_after.empty());
    EXPECT_EQ(p.handoff->nodes, (std::vector<std::string>{"/dev/dri/card0", "/dev/dri/renderD128"}));
    const std::string note =
        "the NVIDIA modules stay loaded: 0000:02:00.0 stays on nvidia; only this GPU is unbound from it "
        "(close what uses it first)";
    EXPECT_NE(std::find(p.handoff->notes.begin(), p.handoff->notes.end(), note), p.handoff->notes.end())
        << ::testing::PrintToString(p.handoff->notes);
}

TEST(Handoff, WithoutHolderFactsOnlyTheBootDisplayDecides) {
    FakeRoot root(kEfifbOnly);
    Host host = read_fake_host(root);
    host.gpu_holders.reset();  // a snapshot that does not carry them
    EXPECT_TRUE(needs_handoff(host, *host.find(kVga)));
    const HandoffPlan p = plan_for(host, {kVga});
    ASSERT_TRUE(p.handoff);
    EXPECT_TRUE(p.handoff->consoles.empty());
    ASSERT_EQ(p.handoff->notes.size(), 1u);
    EXPECT_EQ(p.handoff->notes[0], "what holds the GPU could not be read: nothing is handed over");
}

TEST(HandoffParse, ServiceOfCgroup) {
    EXPECT_EQ(parse::service_of_cgroup("0::/system.slice/gdm.service\n"), std::optional<std::string>("gdm.service"));
    EXPECT_EQ(parse::service_of_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n"), std::nullopt);
    EXPECT_EQ(parse::service_of_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service\n"),
              std::optional<std::string>("x.service"));
    EXPECT_EQ(parse::service_of_cgroup("12:pids:/\n1:name=systemd:/system.slice/lightdm.service\n"),
              std::optional<std::string>("lightdm.service"));
    EXPECT_EQ(parse::service_of_cgroup(""), std::nullopt);
    EXPECT_EQ(parse::service_of_cgroup("0::/\n"), std::nullopt);
    EXPECT_EQ(parse::service_of_cgroup("garbage without colons"), std::nullopt);
}

TEST(HandoffJournal, WhatItWritesItReadsBack) {
    journal::Journal j;
    j.owner = *Owner::domain("6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14", "desktop");
    j.state = "detaching";
    journal::Device d;
    d.address = kGpu;
    d.group = 1;
    d.original_driver = "nvidia";
    d.done = {1, 2};
    d.doing = 3;
    d.pending = true;
    j.devices.push_back(d);
    journal::Handoff h;
    h.gpu = kGpu;
    h.stopped_unit = "gdm3.service";
    h.nodes = {"/dev/dri/card0", "/dev/nvidia*"};
    h.consoles = {1};
    h.firmware = {{"efi-framebuffer.0", "efi-framebuffer"}};
    h.modules_before = {"nvidia_drm", "nvidia_modeset", "nvidia_uvm"};
    h.modules_after = {"nvidia"};
    h.done = {1, 2, 3};
    h.doing = 4;
    j.handoff = h;
    auto back = journal::parse(journal::serialize(j), "j.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    ASSERT_TRUE(back->handoff);
    EXPECT_EQ(back->handoff->gpu, kGpu);
    EXPECT_EQ(back->handoff->stopped_unit, h.stopped_unit);
    EXPECT_EQ(back->handoff->nodes, h.nodes);
    EXPECT_EQ(back->handoff->consoles, h.consoles);
    ASSERT_EQ(back->handoff->firmware.size(), 1u);
    EXPECT_EQ(back->handoff->firmware[0].device, "efi-framebuffer.0");
    EXPECT_EQ(back->handoff->firmware[0].driver, "efi-framebuffer");
    EXPECT_EQ(back->handoff->modules_before, h.modules_before);
    EXPECT_EQ(back->handoff->modules_after, h.modules_after);
    EXPECT_EQ(back->handoff->done, h.done);
    EXPECT_EQ(back->handoff->doing, std::optional<int>(4));
    EXPECT_EQ(back->handoff->steps(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
    // A journal without the key (every journal before the handoff) has none.
    j.handoff.reset();
    auto plain = journal::parse(journal::serialize(j), "j.json");
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE(plain->handoff);
}
