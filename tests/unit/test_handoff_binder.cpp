// The single-GPU handoff in the binder (binder.hpp, policy/handoff.hpp) on the
// simulated kernel: the exact sequence of writes, unit and module calls at
// detach and at reattach, a holder that refuses, a holder that closes in
// time, the efifb-only desktop whose firmware framebuffer the kernel removes,
// NVIDIA's modules, the switch that refuses, a failure at every write and a
// kill after every action (then recover), each followed by the whole host
// compared with how it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "binder_test_util.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/binding/binder.hpp"
#include "hostdev/binding/journal.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using namespace hostdev::testing;
namespace fs = std::filesystem;

namespace {

const PciAddress kVga = *PciAddress::parse("0000:00:02.0");
const PciAddress kGpu = *PciAddress::parse("0000:01:00.0");
const PciAddress kAudio = *PciAddress::parse("0000:01:00.1");
constexpr const char* kUuid = "6f1c9a2e-1b2d-4c3e-8f4a-5b6c7d8e9f00";

// QEMU's standard VGA on bochs-drm with fbcon, gdm3 running with Xorg holding card0.
constexpr std::string_view kBochsDm =
    "host fb=bochs-drm fbcon=yes display_manager=gdm3 active=yes\n"
    "dev 00:02.0 1234:1111 0x030000 group=2 driver=bochs-drm boot_vga=1 drm=card0,renderD128\n"
    "proc 900 Xorg /dev/dri/card0 unit=gdm3.service\n";

// The same VGA under OVMF with no driver: efifb and fbcon hold it.
constexpr std::string_view kEfifb =
    "host fb=efifb fbcon=yes display_manager=none\n"
    "dev 00:02.0 1234:1111 0x030000 group=2 boot_vga=1\n";

constexpr std::string_view kNvidia =
    "host fb=nvidia fbcon=yes display_manager=gdm3 active=yes "
    "modules=nvidia_drm,nvidia_modeset,nvidia_uvm,nvidia\n"
    "dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01\n"
    "dev 01:00.0 10de:1b80 0x030000 group=1 driver=nvidia boot_vga=1 drm=card0,renderD128\n"
    "dev 01:00.1 10de:10f0 0x040300 group=1 driver=snd_hda_intel\n"
    "proc 900 Xorg /dev/dri/card0 /dev/nvidiactl /dev/nvidia0 /dev/nvidia-modeset unit=gdm3.service\n";

Owner owner() { return *Owner::domain(kUuid, "desktop"); }

BinderOptions options(std::chrono::milliseconds release = std::chrono::milliseconds(300)) {
    BinderOptions o = fast_binder_options();
    o.gpu_release_timeout = release;
    return o;
}

std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Everything the handoff touches besides the PCI drivers: consoles, platform
// devices and their drivers, running units, processes, loaded modules.
std::string gpu_side(const fs::path& root) {
    std::string out;
    const fs::path vt = root / "sys/class/vtconsole";
    if (fs::exists(vt)) {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(vt)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            std::string bind = read(vt / n / "bind");
            while (!bind.empty() && bind.back() == '\n') bind.pop_back();
            out += n + " bind " + bind + "\n";
        }
    }
    const fs::path plat = root / "sys/bus/platform/devices";
    if (fs::exists(plat)) {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(plat)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            const fs::path drv = plat / n / "driver";
            out += n + " on " + (fs::is_symlink(drv) ? fs::read_symlink(drv).filename().string() : "-") + "\n";
        }
    }
    const fs::path units = root / "run/systemd/units";
    if (fs::exists(units))
        for (const auto& e : fs::directory_iterator(units)) out += "unit " + e.path().filename().string() + "\n";
    std::vector<std::string> pids;
    for (const auto& e : fs::directory_iterator(root / "proc"))
        if (std::all_of(e.path().filename().string().begin(), e.path().filename().string().end(), ::isdigit))
            pids.push_back(e.path().filename().string());
    std::sort(pids.begin(), pids.end());
    for (const auto& p : pids) out += "process " + p + "\n";
    // Modules by name and users: the refcount column follows the processes
    // that use a module (the simulated kernel writes it, nothing reads it).
    out += "modules:";
    std::istringstream mods(read(root / "proc/modules"));
    for (std::string line; std::getline(mods, line);) {
        std::istringstream f(line);
        std::string name, size, refs, users;
        f >> name >> size >> refs >> users;
        out += " " + name + "(" + users + ")";
    }
    out += "\n";
    return out;
}

struct Rig {
    explicit Rig(std::string_view spec) : root(spec), kernel(root.path(), root.spec()) {}
    FakeRoot root;
    SimulatedKernel kernel;
    [[nodiscard]] DriverState drivers() const { return capture_driver_state(root.path()); }
    [[nodiscard]] std::string side() const { return gpu_side(root.path()); }
    [[nodiscard]] bool journal_exists() const {
        return fs::exists(root.path() / "run/hostdev" / (std::string(kUuid) + ".json"));
    }
    [[nodiscard]] journal::Journal journal() const {
        const fs::path p = root.path() / "run/hostdev" / (std::string(kUuid) + ".json");
        auto j = journal::parse(read(p), p.string());
        EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().describe());
        return j.ok() ? *j : journal::Journal{};
    }
    std::vector<std::string> log_from(std::size_t n) const {
        return {kernel.log().begin() + static_cast<long>(n), kernel.log().end()};
    }
};

bool any_note(const BindReport& r, const std::string& part) {
    return std::any_of(r.notes.begin(), r.notes.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

}  // namespace

TEST(HandoffBinder, DisplayManagerConsoleAndDriverAndBackInReverse) {
    Rig r(kBochsDm);
    const DriverState drivers = r.drivers();
    const std::string side = r.side();
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto d = b.detach(owner(), {kVga});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    EXPECT_EQ(r.kernel.log(), (std::vector<std::string>{
                                  "stop unit gdm3.service",
                                  "write /sys/class/vtconsole/vtcon1/bind 0",
                                  "write /sys/bus/pci/devices/0000:00:02.0/driver_override vfio-pci",
                                  "write /sys/bus/pci/drivers/bochs-drm/unbind 0000:00:02.0",
                                  "write /sys/bus/pci/drivers_probe 0000:00:02.0",
                              }));
    EXPECT_EQ(b.current_driver(kVga), std::optional<std::string>("vfio-pci"));
    EXPECT_FALSE(fs::exists(r.root.path() / "proc/900"));  // Xorg went with gdm3
    EXPECT_EQ(read(r.root.path() / "sys/class/vtconsole/vtcon1/bind"), "0");
    const journal::Journal j = r.journal();
    ASSERT_TRUE(j.handoff);
    EXPECT_EQ(j.handoff->stopped_unit, std::optional<std::string>("gdm3.service"));
    EXPECT_EQ(j.handoff->done, (std::vector<int>{1, 2, 3}));
    EXPECT_TRUE(any_note(*d,
                         "0000:00:02.0: the hook hands the host's console and display to the guest: stops "
                         "gdm3.service"));
    EXPECT_TRUE(any_note(*d, "0000:00:02.0: the host's console and display are handed over: done in "));

    const std::size_t at = r.kernel.log().size();
    auto back = b.reattach(owner());
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(r.log_from(at), (std::vector<std::string>{
                                  "write /sys/bus/pci/devices/0000:00:02.0/driver_override ",
                                  "write /sys/bus/pci/drivers/vfio-pci/unbind 0000:00:02.0",
                                  "write /sys/bus/pci/drivers/bochs-drm/bind 0000:00:02.0",
                                  "write /sys/class/vtconsole/vtcon1/bind 1",
                                  "start unit gdm3.service",
                              }));
    EXPECT_TRUE(any_note(*back, "0000:00:02.0: the host's console and display are given back: done in "));
    EXPECT_EQ(r.drivers(), drivers) << drivers.diff(r.drivers());
    EXPECT_EQ(r.side(), side);
    EXPECT_FALSE(r.journal_exists());
}

TEST(HandoffBinder, AHolderThatStaysRefusesAndNothingChanged) {
    Rig r(std::string(kBochsDm) + "proc 4242 cuda-job /dev/dri/renderD128\n");
    const DriverState drivers = r.drivers();
    const std::string side = r.side();
    Binder b(FsRoot(r.root.path()), r.kernel, options(std::chrono::milliseconds(80)));
    auto d = b.detach(owner(), {kVga});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().kind, Error::Kind::Refused);
    EXPECT_NE(d.error().message.find("4242 (cuda-job) still holds /dev/dri/renderD128 open after 80 ms "
                                     "(gpu_release_timeout_ms); hostdev never kills a process"),
              std::string::npos)
        << d.error().message;
    EXPECT_NE(d.error().message.find("rolled back: every device is on its original driver and the host has its "
                                     "console and display again"),
              std::string::npos)
        << d.error().message;
    // gdm3 was stopped, and started again; nothing else was touched.
    EXPECT_EQ(r.kernel.log(), (std::vector<std::string>{"stop unit gdm3.service", "start unit gdm3.service"}));
    EXPECT_EQ(r.drivers(), drivers);
    EXPECT_EQ(r.side(), side);
    EXPECT_TRUE(fs::exists(r.root.path() / "proc/4242"));  // never killed
    EXPECT_FALSE(r.journal_exists());
}

TEST(HandoffBinder, AHolderThatClosesInTimeLetsItGo) {
    Rig r(std::string(kBochsDm) + "proc 4242 cuda-job /dev/dri/renderD128\n");
    Binder b(FsRoot(r.root.path()), r.kernel, options(std::chrono::milliseconds(5000)));
    std::thread closer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
        (void)r.kernel.exit_process(4242);
    });
    auto d = b.detach(owner(), {kVga});
    closer.join();
    ASSERT_TRUE(d.ok()) << d.error().describe();
    EXPECT_EQ(b.current_driver(kVga), std::optional<std::string>("vfio-pci"));
}

TEST(HandoffBinder, EfifbOnlyTheKernelRemovesTheFirmwareFramebuffer) {
    Rig r(kEfifb);
    const DriverState drivers = r.drivers();
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto d = b.detach(owner(), {kVga});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    EXPECT_EQ(r.kernel.log(), (std::vector<std::string>{
                                  "write /sys/class/vtconsole/vtcon1/bind 0",
                                  "write /sys/bus/platform/drivers/efi-framebuffer/unbind efi-framebuffer.0",
                                  "write /sys/bus/pci/devices/0000:00:02.0/driver_override vfio-pci",
                                  "write /sys/bus/pci/drivers_probe 0000:00:02.0",
                              }));
    EXPECT_TRUE(any_note(*d, "will not return after the guest stops unless a DRM driver binds the GPU"));
    EXPECT_FALSE(fs::exists(r.root.path() / "sys/bus/platform/devices/efi-framebuffer.0"));  // 6.x removed it
    const std::size_t at = r.kernel.log().size();
    auto back = b.reattach(owner());
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(r.log_from(at), (std::vector<std::string>{
                                  "write /sys/bus/pci/devices/0000:00:02.0/driver_override ",
                                  "write /sys/bus/pci/drivers/vfio-pci/unbind 0000:00:02.0",
                                  "write /sys/class/vtconsole/vtcon1/bind 1",
                              }));
    EXPECT_TRUE(any_note(*back, "0000:00:02.0: efi-framebuffer.0 is gone"));
    EXPECT_EQ(r.drivers(), drivers);
    EXPECT_FALSE(r.journal_exists());
}

TEST(HandoffBinder, EfifbOnOlderKernelsIsBoundAgain) {
    Rig r(kEfifb);
    r.kernel.set_kernel_removes_firmware_framebuffer(false);  // 5.15
    const std::string side = r.side();
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    ASSERT_TRUE(b.detach(owner(), {kVga}).ok());
    const std::size_t at = r.kernel.log().size();
    ASSERT_TRUE(b.reattach(owner()).ok());
    EXPECT_EQ(r.log_from(at), (std::vector<std::string>{
                                  "write /sys/bus/pci/devices/0000:00:02.0/driver_override ",
                                  "write /sys/bus/pci/drivers/vfio-pci/unbind 0000:00:02.0",
                                  "write /sys/bus/platform/drivers/efi-framebuffer/bind efi-framebuffer.0",
                                  "write /sys/class/vtconsole/vtcon1/bind 1",
                              }));
    EXPECT_EQ(r.side(), side);
}

TEST(HandoffBinder, NvidiaModulesInOrderAndBack) {
    Rig r(kNvidia);
    const DriverState drivers = r.drivers();
    const std::string side = r.side();
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto d = b.detach(owner(), {kGpu});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    EXPECT_EQ(r.kernel.log(), (std::vector<std::string>{
                                  "stop unit gdm3.service",
                                  "write /sys/class/vtconsole/vtcon1/bind 0",
                                  "unload module nvidia_drm",
                                  "unload module nvidia_modeset",
                                  "unload module nvidia_uvm",
                                  "write /sys/bus/pci/devices/0000:01:00.0/driver_override vfio-pci",
                                  "write /sys/bus/pci/drivers/nvidia/unbind 0000:01:00.0",
                                  "write /sys/bus/pci/drivers_probe 0000:01:00.0",
                                  "write /sys/bus/pci/devices/0000:01:00.1/driver_override vfio-pci",
                                  "write /sys/bus/pci/drivers/snd_hda_intel/unbind 0000:01:00.1",
                                  "write /sys/bus/pci/drivers_probe 0000:01:00.1",
                                  "unload module nvidia",
                              }));
    const std::size_t at = r.kernel.log().size();
    auto back = b.reattach(owner());
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(r.log_from(at), (std::vector<std::string>{
                                  "load module nvidia",
                                  "write /sys/bus/pci/devices/0000:01:00.0/driver_override ",
                                  "write /sys/bus/pci/drivers/vfio-pci/unbind 0000:01:00.0",
                                  "write /sys/bus/pci/drivers/nvidia/bind 0000:01:00.0",
                                  "write /sys/bus/pci/devices/0000:01:00.1/driver_override ",
                                  "write /sys/bus/pci/drivers/vfio-pci/unbind 0000:01:00.1",
                                  "write /sys/bus/pci/drivers/snd_hda_intel/bind 0000:01:00.1",
                                  "load module nvidia_uvm",
                                  "load module nvidia_modeset",
                                  "load module nvidia_drm",
                                  "write /sys/class/vtconsole/vtcon1/bind 1",
                                  "start unit gdm3.service",
                              }));
    EXPECT_EQ(r.drivers(), drivers) << drivers.diff(r.drivers());
    EXPECT_EQ(r.side(), side);
}

TEST(HandoffBinder, NvidiaModulesNeverUnloadedWhileAnotherNvidiaGpuStays) {
    Rig r(std::string(kNvidia) +
          "dev 00:1c.0 8086:a110 0x060400 group=5 driver=pcieport bus=02\n"
          "dev 02:00.0 10de:1c82 0x030000 group=5 driver=nvidia drm=card1,renderD129\n");
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto d = b.detach(owner(), {kGpu});
    ASSERT_TRUE(d.ok()) << d.error().describe();
    for (const auto& line : r.kernel.log()) EXPECT_EQ(line.find("module"), std::string::npos) << line;
    EXPECT_EQ(b.current_driver(*PciAddress::parse("0000:02:00.0")), std::optional<std::string>("nvidia"));
}

TEST(HandoffBinder, TheSwitchRefusesWithNothingWritten) {
    Rig r(kBochsDm);
    BinderOptions o = options();
    o.single_gpu_handoff = false;
    Binder b(FsRoot(r.root.path()), r.kernel, o);
    auto d = b.detach(owner(), {kVga});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().kind, Error::Kind::Refused);
    EXPECT_NE(d.error().message.find("single_gpu_handoff = no"), std::string::npos) << d.error().message;
    EXPECT_TRUE(r.kernel.log().empty());
}

TEST(HandoffBinder, AFailedDisplayManagerStopChangesNothing) {
    Rig r(kBochsDm);
    const std::string side = r.side();
    r.kernel.hang_unit_stop("gdm3.service");
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto d = b.detach(owner(), {kVga});
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find(
                  "handoff step H1 (stop gdm3.service): systemctl stop gdm3.service did not finish within 300 ms"),
              std::string::npos)
        << d.error().message;
    EXPECT_EQ(r.side(), side);
    EXPECT_FALSE(r.journal_exists());
}

TEST(HandoffBinder, DryRunPrintsTheHandoff) {
    Rig r(kBochsDm);
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto plan = b.plan_detach({kVga}, owner());
    ASSERT_TRUE(plan.ok()) << plan.error().describe();
    std::vector<std::string> lines;
    for (const auto& w : *plan) lines.push_back(w.command.empty() ? w.action + " " + w.value : w.command);
    EXPECT_EQ(lines, (std::vector<std::string>{
                         "systemctl stop gdm3.service",
                         "wait up to 300 ms for /dev/dri/card0, /dev/dri/renderD128 to be closed",
                         "unbind vtcon1 0",
                         "set driver_override vfio-pci",
                         "unbind from bochs-drm 0000:00:02.0",
                         "probe 0000:00:02.0",
                     }));
    EXPECT_TRUE(r.kernel.log().empty());
}

// A failure at every write k unwinds everything done before it.
class HandoffEveryWrite : public ::testing::TestWithParam<int> {};

TEST_P(HandoffEveryWrite, FailureUnwindsAll) {
    // The writes of a detach that fails nowhere: a failed probe write is
    // followed by a direct bind to vfio-pci, and the detach goes through.
    std::vector<std::string> writes;
    {
        Rig clean(kNvidia);
        Binder b(FsRoot(clean.root.path()), clean.kernel, options());
        ASSERT_TRUE(b.detach(owner(), {kGpu}).ok());
        for (const auto& line : clean.kernel.log())
            if (line.rfind("write ", 0) == 0) writes.push_back(line);
    }
    ASSERT_EQ(writes.size(), 7U);
    const std::string& failing = writes[static_cast<std::size_t>(GetParam() - 1)];
    Rig r(kNvidia);
    const DriverState drivers = r.drivers();
    const std::string side = r.side();
    r.kernel.fail_write(GetParam(), EIO);
    Binder b(FsRoot(r.root.path()), r.kernel, options());
    auto d = b.detach(owner(), {kGpu});
    if (failing.find("/drivers_probe ") != std::string::npos) {
        ASSERT_TRUE(d.ok()) << failing << ": " << d.error().describe();
        EXPECT_NE(std::find(r.kernel.log().begin(), r.kernel.log().end(),
                            "write /sys/bus/pci/drivers/vfio-pci/bind " + failing.substr(failing.rfind(' ') + 1)),
                  r.kernel.log().end());
        return;
    }
    ASSERT_FALSE(d.ok()) << failing;
    EXPECT_NE(d.error().message.find("rolled back"), std::string::npos) << d.error().message;
    EXPECT_EQ(r.drivers(), drivers) << drivers.diff(r.drivers());
    EXPECT_EQ(r.side(), side);
    EXPECT_FALSE(r.journal_exists());
}

// Sysfs writes of the NVIDIA detach: vtcon1, then 3 per device.
INSTANTIATE_TEST_SUITE_P(Writes, HandoffEveryWrite, ::testing::Range(1, 8));

// A kill after every action k (units and modules too), then recover: the host
// is as before.
class HandoffEveryKill : public ::testing::TestWithParam<int> {};

TEST_P(HandoffEveryKill, RecoverFinishesTheInterruptedHandoff) {
    FakeRoot root(kNvidia);
    const DriverState drivers = capture_driver_state(root.path());
    const std::string side = gpu_side(root.path());
    ASSERT_TRUE(detach_killed_after_write(root, GetParam(), owner(), {kGpu}, options()));
    SimulatedKernel kernel(root.path(), root.spec());
    Binder b(FsRoot(root.path()), kernel, options());
    auto rec = b.recover([](const Owner&) { return false; });
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    EXPECT_EQ(capture_driver_state(root.path()), drivers) << drivers.diff(capture_driver_state(root.path()));
    EXPECT_EQ(gpu_side(root.path()), side);
    EXPECT_FALSE(fs::exists(root.path() / "run/hostdev" / (std::string(kUuid) + ".json")));
}

// 12 actions: the unit, vtcon1, three modules, six device writes, nvidia.
INSTANTIATE_TEST_SUITE_P(Actions, HandoffEveryKill, ::testing::Range(1, 13));
