// Tests of the simulated kernel used by the binder tests: each reaction to a
// sysfs write, libvirt's detach and reattach sequences, failure injection,
// state shared through the fake root, and the driver-state snapshot; then the
// single-GPU handoff's reactions: platform framebuffer drivers, the firmware
// framebuffers a VFIO bind removes, vtconsoles, modules and units.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/host/gpu_holders.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

namespace fs = std::filesystem;
using hostdev::FsRoot;
using hostdev::PciAddress;
using hostdev::Status;
using hostdev::testing::capture_driver_state;
using hostdev::testing::DriverState;
using hostdev::testing::FakeRoot;
using hostdev::testing::SimulatedKernel;

namespace {

// A GPU with its audio function behind a root port (group 1), a NIC alone
// (group 11), an unbound USB controller with no native driver (group 2), a
// sound card waiting with driver_override=vfio-pci (group 7), a function with
// no IOMMU group, and a NIC already on vfio-pci in group 9.
constexpr const char* kHost = R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:1f.6 8086:15b8 0x020000 group=11 driver=e1000e
dev 00:14.0 8086:a12f 0x0c0330 group=2
dev 00:1b.0 1102:0002 0x040100 group=7 override=vfio-pci
dev 00:1f.3 8086:a170 0x040300 driver=snd_hda_intel
dev 00:19.0 8086:1533 0x020000 group=9 driver=vfio-pci
)";

constexpr const char* kGpu = "0000:01:00.0";
constexpr const char* kAudio = "0000:01:00.1";
constexpr const char* kBridge = "0000:00:01.0";
constexpr const char* kNic = "0000:00:1f.6";
constexpr const char* kUsb = "0000:00:14.0";
constexpr const char* kSound = "0000:00:1b.0";
constexpr const char* kNoGroup = "0000:00:1f.3";
constexpr const char* kVfioNic = "0000:00:19.0";

PciAddress addr(std::string_view text) {
    auto a = PciAddress::parse(text);
    EXPECT_TRUE(a.ok()) << text;
    return a.ok() ? *a : PciAddress{};
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class SimKernelTest : public ::testing::Test {
protected:
    SimKernelTest() : root_(kHost), fs_(root_.path()), kernel_(root_.path(), root_.spec()) {}

    fs::path device(std::string_view a) const { return fs_.pci_device(a); }
    fs::path override_file(std::string_view a) const { return device(a) / "driver_override"; }
    fs::path driver_file(std::string_view driver, const char* file) const {
        return fs_.pci_drivers() / std::string(driver) / file;
    }
    fs::path probe_file() const { return fs_.sys("bus/pci/drivers_probe"); }
    fs::path group_node(int n) const { return fs_.dev("vfio/" + std::to_string(n)); }

    std::optional<std::string> driver_of(std::string_view a) const {
        std::error_code ec;
        fs::path target = fs::read_symlink(device(a) / "driver", ec);
        if (ec) return std::nullopt;
        return target.filename().string();
    }
    std::string override_of(std::string_view a) const { return slurp(override_file(a)); }

    Status set_override(SimulatedKernel& k, std::string_view a, std::string_view v) {
        return k.write(override_file(a), v);
    }
    Status unbind(SimulatedKernel& k, std::string_view a, std::string_view driver) {
        return k.write(driver_file(driver, "unbind"), a);
    }
    Status bind(SimulatedKernel& k, std::string_view a, std::string_view driver) {
        return k.write(driver_file(driver, "bind"), a);
    }
    Status probe(SimulatedKernel& k, std::string_view a) { return k.write(probe_file(), a); }

    // libvirt's detach and reattach of one device.
    void detach(SimulatedKernel& k, std::string_view a) {
        ASSERT_TRUE(set_override(k, a, "vfio-pci").ok());
        if (auto d = driver_of(a)) {
            ASSERT_TRUE(unbind(k, a, *d).ok());
        }
        ASSERT_TRUE(probe(k, a).ok());
    }
    void reattach(SimulatedKernel& k, std::string_view a) {
        ASSERT_TRUE(set_override(k, a, "\n").ok());
        ASSERT_TRUE(unbind(k, a, "vfio-pci").ok());
        ASSERT_TRUE(probe(k, a).ok());
    }

    static int err_of(const Status& s) { return s.ok() ? 0 : s.error().err; }

    FakeRoot root_;
    FsRoot fs_;
    SimulatedKernel kernel_;
};

// --- driver_override ------------------------------------------------------

TEST_F(SimKernelTest, OverrideIsSetAndClearedThroughEitherSpelling) {
    EXPECT_EQ(override_of(kGpu), "(null)\n");
    ASSERT_TRUE(set_override(kernel_, kGpu, "vfio-pci").ok());
    EXPECT_EQ(override_of(kGpu), "vfio-pci\n");
    ASSERT_TRUE(set_override(kernel_, kGpu, "\n").ok());
    EXPECT_EQ(override_of(kGpu), "(null)\n");

    // The real directory under sys/devices, with a trailing newline.
    const fs::path real = root_.device_dir(kGpu) / "driver_override";
    ASSERT_NE(real, override_file(kGpu));
    ASSERT_TRUE(kernel_.write(real, "vfio-pci\n").ok());
    EXPECT_EQ(override_of(kGpu), "vfio-pci\n");
    ASSERT_TRUE(kernel_.write(real, "").ok());
    EXPECT_EQ(override_of(kGpu), "(null)\n");
    // Setting the override moves nothing by itself.
    EXPECT_EQ(driver_of(kGpu), "nouveau");
}

// --- unbind ---------------------------------------------------------------

TEST_F(SimKernelTest, UnbindRemovesBothLinksOnlyFromTheBoundDriver) {
    EXPECT_EQ(err_of(unbind(kernel_, kGpu, "snd_hda_intel")), ENODEV);  // bound to nouveau
    EXPECT_EQ(driver_of(kGpu), "nouveau");

    ASSERT_TRUE(unbind(kernel_, kGpu, "nouveau").ok());
    EXPECT_FALSE(fs::exists(fs::symlink_status(device(kGpu) / "driver")));
    EXPECT_FALSE(fs::exists(fs::symlink_status(fs_.pci_drivers() / "nouveau" / kGpu)));
    EXPECT_EQ(err_of(unbind(kernel_, kGpu, "nouveau")), ENODEV);  // not bound any more

    EXPECT_EQ(err_of(unbind(kernel_, "0000:05:00.0", "nouveau")), ENODEV);   // no such device
    EXPECT_EQ(err_of(unbind(kernel_, "01:00.1", "snd_hda_intel")), ENODEV);  // not the kernel's name
    EXPECT_EQ(err_of(unbind(kernel_, kAudio, "no_such_driver")), ENOENT);
    EXPECT_EQ(driver_of(kAudio), "snd_hda_intel");
}

TEST_F(SimKernelTest, UnbindAcceptsTrailingNewlineAndTheDevicesDriverSpelling) {
    ASSERT_TRUE(kernel_.write(driver_file("nouveau", "unbind"), std::string(kGpu) + "\n").ok());
    EXPECT_EQ(driver_of(kGpu), std::nullopt);
    // DEVDIR/driver/unbind reaches the same attribute.
    ASSERT_TRUE(kernel_.write(device(kNic) / "driver" / "unbind", kNic).ok());
    EXPECT_EQ(driver_of(kNic), std::nullopt);
    EXPECT_FALSE(fs::exists(fs::symlink_status(fs_.pci_drivers() / "e1000e" / kNic)));
}

// --- bind -----------------------------------------------------------------

TEST_F(SimKernelTest, BindMatchesTheNativeDriverOrTheOverride) {
    EXPECT_EQ(err_of(bind(kernel_, kGpu, "nouveau")), EBUSY);  // already bound (Linux >= 5.13)
    ASSERT_TRUE(unbind(kernel_, kGpu, "nouveau").ok());
    EXPECT_EQ(err_of(bind(kernel_, kGpu, "snd_hda_intel")), ENODEV);  // not its driver
    EXPECT_EQ(err_of(bind(kernel_, kGpu, "vfio-pci")), ENODEV);       // no override
    EXPECT_EQ(err_of(bind(kernel_, "0000:05:00.0", "nouveau")), ENODEV);
    EXPECT_EQ(err_of(bind(kernel_, kGpu, "no_such_driver")), ENOENT);
    EXPECT_EQ(driver_of(kGpu), std::nullopt);

    ASSERT_TRUE(bind(kernel_, kGpu, "nouveau").ok());
    EXPECT_EQ(driver_of(kGpu), "nouveau");
    // Both links relative and resolving inside the root, as the builder writes them.
    const fs::path link = root_.device_dir(kGpu) / "driver";
    EXPECT_TRUE(fs::read_symlink(link).is_relative());
    EXPECT_EQ(fs::canonical(link), fs::canonical(fs_.pci_drivers() / "nouveau"));
    const fs::path back = fs_.pci_drivers() / "nouveau" / kGpu;
    EXPECT_TRUE(fs::read_symlink(back).is_relative());
    EXPECT_EQ(fs::canonical(back), fs::canonical(root_.device_dir(kGpu)));

    // An override naming another driver blocks the native one.
    ASSERT_TRUE(unbind(kernel_, kGpu, "nouveau").ok());
    ASSERT_TRUE(set_override(kernel_, kGpu, "vfio-pci").ok());
    EXPECT_EQ(err_of(bind(kernel_, kGpu, "nouveau")), ENODEV);
    EXPECT_FALSE(fs::exists(group_node(1)));
    ASSERT_TRUE(bind(kernel_, kGpu, "vfio-pci").ok());
    EXPECT_EQ(driver_of(kGpu), "vfio-pci");
    EXPECT_TRUE(fs::is_regular_file(group_node(1)));
    EXPECT_TRUE(fs::is_regular_file(fs_.dev("vfio/vfio")));
}

TEST_F(SimKernelTest, VfioProbeFailsWithoutIommuGroupAndOnBridges) {
    ASSERT_TRUE(unbind(kernel_, kNoGroup, "snd_hda_intel").ok());
    ASSERT_TRUE(set_override(kernel_, kNoGroup, "vfio-pci").ok());
    EXPECT_EQ(err_of(bind(kernel_, kNoGroup, "vfio-pci")), EINVAL);
    EXPECT_EQ(driver_of(kNoGroup), std::nullopt);
    ASSERT_TRUE(probe(kernel_, kNoGroup).ok());  // probe failures do not reach the writer
    EXPECT_EQ(driver_of(kNoGroup), std::nullopt);

    ASSERT_TRUE(unbind(kernel_, kBridge, "pcieport").ok());
    ASSERT_TRUE(set_override(kernel_, kBridge, "vfio-pci").ok());
    EXPECT_EQ(err_of(bind(kernel_, kBridge, "vfio-pci")), EINVAL);
    EXPECT_EQ(driver_of(kBridge), std::nullopt);
    EXPECT_FALSE(fs::exists(group_node(1)));
}

// --- drivers_probe --------------------------------------------------------

TEST_F(SimKernelTest, ProbeBindsTheOverrideElseTheNativeDriver) {
    // Bound already: no change, even with an override set.
    ASSERT_TRUE(set_override(kernel_, kNic, "vfio-pci").ok());
    ASSERT_TRUE(probe(kernel_, kNic).ok());
    EXPECT_EQ(driver_of(kNic), "e1000e");

    // Native driver when no override.
    ASSERT_TRUE(unbind(kernel_, kAudio, "snd_hda_intel").ok());
    ASSERT_TRUE(probe(kernel_, kAudio).ok());
    EXPECT_EQ(driver_of(kAudio), "snd_hda_intel");

    // No native driver, no override: stays unbound.
    ASSERT_TRUE(probe(kernel_, kUsb).ok());
    EXPECT_EQ(driver_of(kUsb), std::nullopt);

    // Override: that driver, never the native one.
    ASSERT_TRUE(probe(kernel_, kSound).ok());
    EXPECT_EQ(driver_of(kSound), "vfio-pci");
    EXPECT_TRUE(fs::exists(group_node(7)));

    // Override naming a driver that is not loaded: stays unbound, no fallback.
    ASSERT_TRUE(unbind(kernel_, kGpu, "nouveau").ok());
    ASSERT_TRUE(set_override(kernel_, kGpu, "nvidia").ok());
    ASSERT_TRUE(probe(kernel_, kGpu).ok());
    EXPECT_EQ(driver_of(kGpu), std::nullopt);

    EXPECT_EQ(err_of(probe(kernel_, "0000:05:00.0")), ENODEV);
}

TEST_F(SimKernelTest, ProbeOfAnUnloadedNativeDriverLeavesTheDeviceUnbound) {
    ASSERT_TRUE(unbind(kernel_, kNic, "e1000e").ok());
    fs::remove_all(fs_.pci_drivers() / "e1000e");
    ASSERT_TRUE(probe(kernel_, kNic).ok());
    EXPECT_EQ(driver_of(kNic), std::nullopt);
}

TEST_F(SimKernelTest, ADeviceNativelyOnVfioPciReturnsThere) {
    // Bound to vfio-pci in the spec without an override (vfio-pci.ids=): its
    // native driver is vfio-pci, and its group node exists from the start.
    EXPECT_TRUE(fs::exists(group_node(9)));
    ASSERT_TRUE(unbind(kernel_, kVfioNic, "vfio-pci").ok());
    EXPECT_FALSE(fs::exists(group_node(9)));
    ASSERT_TRUE(probe(kernel_, kVfioNic).ok());
    EXPECT_EQ(driver_of(kVfioNic), "vfio-pci");
    EXPECT_TRUE(fs::exists(group_node(9)));
}

// --- libvirt's sequences --------------------------------------------------

TEST_F(SimKernelTest, LibvirtDetachSequenceLandsOnVfioPci) {
    ASSERT_TRUE(set_override(kernel_, kNic, "vfio-pci").ok());
    ASSERT_TRUE(unbind(kernel_, kNic, "e1000e").ok());
    ASSERT_TRUE(probe(kernel_, kNic).ok());
    EXPECT_EQ(driver_of(kNic), "vfio-pci");
    EXPECT_TRUE(fs::is_symlink(fs_.pci_drivers() / "vfio-pci" / kNic));
    EXPECT_FALSE(fs::exists(fs::symlink_status(fs_.pci_drivers() / "e1000e" / kNic)));
    EXPECT_TRUE(fs::is_regular_file(group_node(11)));
    EXPECT_EQ(kernel_.writes(), 3);
    const std::vector<std::string> expected = {
        "write /sys/bus/pci/devices/0000:00:1f.6/driver_override vfio-pci",
        "write /sys/bus/pci/drivers/e1000e/unbind 0000:00:1f.6",
        "write /sys/bus/pci/drivers_probe 0000:00:1f.6",
    };
    EXPECT_EQ(kernel_.log(), expected);
}

TEST_F(SimKernelTest, LibvirtReattachSequenceReturnsTheNativeDriver) {
    detach(kernel_, kNic);
    ASSERT_TRUE(fs::exists(group_node(11)));
    reattach(kernel_, kNic);
    EXPECT_EQ(driver_of(kNic), "e1000e");
    EXPECT_EQ(override_of(kNic), "(null)\n");
    EXPECT_FALSE(fs::exists(group_node(11)));
    EXPECT_FALSE(fs::exists(fs::symlink_status(fs_.pci_drivers() / "vfio-pci" / kNic)));
    EXPECT_EQ(kernel_.log().back(), "write /sys/bus/pci/drivers_probe 0000:00:1f.6");
    EXPECT_EQ(kernel_.log()[3], "write /sys/bus/pci/devices/0000:00:1f.6/driver_override ");
}

TEST_F(SimKernelTest, GroupNodeGoesOnlyWhenTheLastMemberLeavesVfioPci) {
    const DriverState before = capture_driver_state(root_.path());
    detach(kernel_, kGpu);
    detach(kernel_, kAudio);
    EXPECT_TRUE(fs::exists(group_node(1)));

    reattach(kernel_, kGpu);
    EXPECT_EQ(driver_of(kGpu), "nouveau");
    EXPECT_TRUE(fs::exists(group_node(1))) << "the audio function still holds group 1";
    reattach(kernel_, kAudio);
    EXPECT_FALSE(fs::exists(group_node(1)));
    EXPECT_TRUE(fs::exists(fs_.dev("vfio/vfio")));  // the container node stays
    EXPECT_EQ(capture_driver_state(root_.path()), before);
}

// --- failure injection ----------------------------------------------------

TEST_F(SimKernelTest, FailedWriteReturnsTheErrnoAndChangesNothing) {
    kernel_.fail_write(2, EBUSY);
    ASSERT_TRUE(set_override(kernel_, kGpu, "vfio-pci").ok());
    const DriverState mid = capture_driver_state(root_.path());
    Status st = unbind(kernel_, kGpu, "nouveau");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().err, EBUSY);
    EXPECT_EQ(st.error().path, "/sys/bus/pci/drivers/nouveau/unbind");
    EXPECT_EQ(capture_driver_state(root_.path()), mid);
    EXPECT_EQ(kernel_.writes(), 2);
    EXPECT_EQ(kernel_.log().size(), 2U);

    // Only write 2 fails; the same write again goes through.
    ASSERT_TRUE(unbind(kernel_, kGpu, "nouveau").ok());
    EXPECT_EQ(driver_of(kGpu), std::nullopt);
}

TEST_F(SimKernelTest, FailedOverrideWriteLeavesTheFile) {
    kernel_.fail_write(1, EIO);
    EXPECT_EQ(err_of(set_override(kernel_, kGpu, "vfio-pci")), EIO);
    EXPECT_EQ(override_of(kGpu), "(null)\n");
}

TEST_F(SimKernelTest, HungWriteSucceedsWithoutEffect) {
    kernel_.hang_write(3);
    ASSERT_TRUE(set_override(kernel_, kNic, "vfio-pci").ok());
    ASSERT_TRUE(unbind(kernel_, kNic, "e1000e").ok());
    ASSERT_TRUE(probe(kernel_, kNic).ok());  // the probe that never completes
    EXPECT_EQ(driver_of(kNic), std::nullopt);
    EXPECT_FALSE(fs::exists(group_node(11)));
    ASSERT_TRUE(probe(kernel_, kNic).ok());  // write 4 is not hung
    EXPECT_EQ(driver_of(kNic), "vfio-pci");
    EXPECT_EQ(kernel_.writes(), 4);
}

TEST_F(SimKernelTest, RefusedProbeFailsBindAndLeavesProbeUnbound) {
    kernel_.refuse_bind(addr(kNic), "vfio-pci", EIO);
    ASSERT_TRUE(set_override(kernel_, kNic, "vfio-pci").ok());
    ASSERT_TRUE(unbind(kernel_, kNic, "e1000e").ok());
    ASSERT_TRUE(probe(kernel_, kNic).ok());
    EXPECT_EQ(driver_of(kNic), std::nullopt);
    EXPECT_EQ(err_of(bind(kernel_, kNic, "vfio-pci")), EIO);
    EXPECT_EQ(driver_of(kNic), std::nullopt);
    EXPECT_FALSE(fs::exists(group_node(11)));

    // Other drivers still probe it.
    ASSERT_TRUE(set_override(kernel_, kNic, "").ok());
    ASSERT_TRUE(bind(kernel_, kNic, "e1000e").ok());
    EXPECT_EQ(driver_of(kNic), "e1000e");

    // The refusal belongs to this object only.
    SimulatedKernel other(root_.path(), root_.spec());
    ASSERT_TRUE(set_override(other, kNic, "vfio-pci").ok());
    ASSERT_TRUE(unbind(other, kNic, "e1000e").ok());
    ASSERT_TRUE(bind(other, kNic, "vfio-pci").ok());
    EXPECT_EQ(driver_of(kNic), "vfio-pci");
}

// --- state in the root ----------------------------------------------------

TEST_F(SimKernelTest, SecondKernelContinuesWhereTheFirstStopped) {
    const DriverState before = capture_driver_state(root_.path());
    {
        SimulatedKernel first(root_.path(), root_.spec());
        first.fail_write(3, EIO);
        ASSERT_TRUE(set_override(first, kGpu, "vfio-pci").ok());
        ASSERT_TRUE(unbind(first, kGpu, "nouveau").ok());
        // "killed" here: the probe never ran.
    }
    SimulatedKernel second(root_.path(), root_.spec());
    EXPECT_EQ(second.writes(), 0);
    EXPECT_EQ(override_of(kGpu), "vfio-pci\n");
    EXPECT_EQ(driver_of(kGpu), std::nullopt);
    ASSERT_TRUE(probe(second, kGpu).ok());  // write 1 here; the first one's injection is gone
    ASSERT_TRUE(probe(second, kGpu).ok());
    ASSERT_TRUE(probe(second, kGpu).ok());
    EXPECT_EQ(driver_of(kGpu), "vfio-pci");
    EXPECT_TRUE(fs::exists(group_node(1)));

    // And a third one restores the native driver recorded in the spec.
    SimulatedKernel third(root_.path(), root_.spec());
    reattach(third, kGpu);
    EXPECT_EQ(capture_driver_state(root_.path()), before);
}

// --- module loading -------------------------------------------------------

TEST_F(SimKernelTest, LoadModuleBringsVfioPciBack) {
    const fs::path vfio = fs_.pci_drivers() / "vfio-pci";
    fs::remove_all(vfio);
    ASSERT_TRUE(set_override(kernel_, kNic, "vfio-pci").ok());
    ASSERT_TRUE(unbind(kernel_, kNic, "e1000e").ok());
    EXPECT_EQ(err_of(bind(kernel_, kNic, "vfio-pci")), ENOENT);
    ASSERT_TRUE(probe(kernel_, kNic).ok());
    EXPECT_EQ(driver_of(kNic), std::nullopt);

    ASSERT_TRUE(kernel_.load_module("e1000e").ok());  // other modules: no effect
    EXPECT_FALSE(fs::exists(vfio));

    // The driver's registration binds the waiting devices: the NIC and the
    // sound card that had driver_override=vfio-pci from the start.
    ASSERT_TRUE(kernel_.load_module("vfio_pci").ok());
    for (const char* f : {"bind", "unbind", "new_id", "remove_id"}) {
        EXPECT_TRUE(fs::is_regular_file(vfio / f)) << f;
    }
    EXPECT_EQ(driver_of(kNic), "vfio-pci");
    EXPECT_EQ(driver_of(kSound), "vfio-pci");
    EXPECT_TRUE(fs::exists(group_node(11)));
    EXPECT_TRUE(fs::exists(group_node(7)));
    EXPECT_EQ(driver_of(kGpu), "nouveau");
    ASSERT_TRUE(kernel_.load_module("vfio-pci").ok());  // loaded already: nothing
    EXPECT_EQ(kernel_.writes(), 4);
}

// --- other paths ----------------------------------------------------------

TEST_F(SimKernelTest, OtherAttributesAreWrittenWithoutReaction) {
    ASSERT_TRUE(kernel_.write(driver_file("vfio-pci", "new_id"), "10de 13c2").ok());
    EXPECT_EQ(slurp(driver_file("vfio-pci", "new_id")), "10de 13c2");
    EXPECT_EQ(driver_of(kGpu), "nouveau");
    ASSERT_TRUE(kernel_.write(device(kGpu) / "reset_method", "bus\n").ok());
    EXPECT_EQ(slurp(device(kGpu) / "reset_method"), "bus\n");
    EXPECT_EQ(err_of(kernel_.write(device(kGpu) / "no_such_attribute", "1")), ENOENT);
    EXPECT_FALSE(fs::exists(device(kGpu) / "no_such_attribute"));
    EXPECT_EQ(err_of(kernel_.write(fs_.sys("bus/pci/no_dir/x"), "1")), ENOENT);
}

TEST_F(SimKernelTest, PathsOutsideTheRootAreRefused) {
    FakeRoot elsewhere(kHost);
    const fs::path foreign = elsewhere.device_dir(kGpu) / "driver_override";
    EXPECT_EQ(err_of(kernel_.write(foreign, "vfio-pci")), EPERM);
    EXPECT_EQ(slurp(foreign), "(null)\n");
    EXPECT_EQ(err_of(kernel_.write(root_.path() / ".." / "x", "1")), EPERM);
    // A link inside the root that leads out of it.
    fs::create_symlink(elsewhere.device_dir(kGpu), root_.path() / "escape");
    EXPECT_EQ(err_of(kernel_.write(root_.path() / "escape" / "driver_override", "vfio-pci")), EPERM);
    fs::create_symlink(foreign, root_.path() / "escape_file");
    EXPECT_EQ(err_of(kernel_.write(root_.path() / "escape_file", "vfio-pci")), EPERM);
    EXPECT_EQ(slurp(foreign), "(null)\n");
    EXPECT_EQ(kernel_.writes(), 4);
}

// --- capture_driver_state -------------------------------------------------

TEST_F(SimKernelTest, CaptureReadsEveryDeviceAndGroupNode) {
    const DriverState s = capture_driver_state(root_.path());
    ASSERT_EQ(s.devices.size(), 8U);
    EXPECT_EQ(s.devices.at(addr(kGpu)).driver, "nouveau");
    EXPECT_EQ(s.devices.at(addr(kGpu)).override, std::nullopt);
    EXPECT_EQ(s.devices.at(addr(kUsb)).driver, std::nullopt);
    EXPECT_EQ(s.devices.at(addr(kSound)).driver, std::nullopt);
    EXPECT_EQ(s.devices.at(addr(kSound)).override, "vfio-pci");
    EXPECT_EQ(s.devices.at(addr(kVfioNic)).driver, "vfio-pci");
    EXPECT_EQ(s.vfio_groups, (std::set<int>{9}));
    EXPECT_EQ(s.diff(s), "");
    EXPECT_THROW(capture_driver_state(root_.path() / "missing"), std::runtime_error);
}

TEST_F(SimKernelTest, DiffNamesEachChangeDeviceByDevice) {
    const DriverState before = capture_driver_state(root_.path());
    detach(kernel_, kGpu);
    ASSERT_TRUE(set_override(kernel_, kAudio, "vfio-pci").ok());
    const DriverState after = capture_driver_state(root_.path());
    EXPECT_NE(before, after);
    EXPECT_EQ(before.diff(after),
              "0000:01:00.0: driver nouveau -> vfio-pci\n"
              "0000:01:00.0: driver_override (null) -> vfio-pci\n"
              "0000:01:00.1: driver_override (null) -> vfio-pci\n"
              "/dev/vfio/1: absent -> present\n");
    EXPECT_EQ(after.diff(before),
              "0000:01:00.0: driver vfio-pci -> nouveau\n"
              "0000:01:00.0: driver_override vfio-pci -> (null)\n"
              "0000:01:00.1: driver_override vfio-pci -> (null)\n"
              "/dev/vfio/1: present -> absent\n");

    DriverState fewer = after;
    fewer.devices.erase(addr(kUsb));
    EXPECT_EQ(after.diff(fewer), "0000:00:14.0: present -> absent\n");
    EXPECT_EQ(fewer.diff(after), "0000:00:14.0: absent -> present\n");
}

// A whole round trip: every endpoint of group 1 to vfio-pci and back leaves the
// host exactly as before, device by device.
TEST_F(SimKernelTest, WholeGroupRoundTripRestoresEverything) {
    const DriverState before = capture_driver_state(root_.path());
    detach(kernel_, kGpu);
    detach(kernel_, kAudio);
    const DriverState detached = capture_driver_state(root_.path());
    EXPECT_EQ(detached.devices.at(addr(kGpu)).driver, "vfio-pci");
    EXPECT_EQ(detached.devices.at(addr(kAudio)).driver, "vfio-pci");
    EXPECT_EQ(detached.devices.at(addr(kBridge)).driver, "pcieport");
    EXPECT_EQ(detached.vfio_groups, (std::set<int>{1, 9}));
    reattach(kernel_, kAudio);
    reattach(kernel_, kGpu);
    EXPECT_EQ(capture_driver_state(root_.path()), before) << before.diff(capture_driver_state(root_.path()));
    EXPECT_EQ(kernel_.writes(), 12);
}

// --- the single-GPU handoff ---------------------------------------------

// The host's only discrete GPU on nvidia, the boot display, with efifb under
// fbcon and nvidia's own framebuffer; an iGPU on i915 that does not display;
// gdm3 running Xorg (in its unit) and a session's gnome-shell on the GPU, a
// persistence daemon on /dev/nvidiactl and a session process on the iGPU.
constexpr const char* kGpuHost = R"(
host fb=efifb,nvidia fbcon=yes display_manager=gdm3 active=yes
host modules=nvidia_drm,nvidia_modeset,nvidia_uvm,nvidia,snd_hda_intel
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:2484 0x030000 group=1 driver=nvidia boot_vga=1 drm=card0,renderD128
dev 01:00.1 10de:228b 0x040300 group=1 driver=snd_hda_intel
dev 00:02.0 8086:3e92 0x030000 group=0 driver=i915 boot_vga=0 drm=card1,renderD129
proc 1200 Xorg unit=gdm3.service /dev/dri/card0 /dev/nvidiactl /dev/nvidia0
proc 1300 gnome-shell /dev/dri/renderD128
proc 1400 nvidia-persiste /dev/nvidiactl
proc 1500 kwin /dev/dri/card1
)";

constexpr const char* kIgpu = "0000:00:02.0";
constexpr const char* kEfi = "efi-framebuffer.0";
constexpr const char* kDm = "gdm3.service";

constexpr const char* kDesktopModules =
    "nvidia_drm 77824 4 - Live 0x0000000000000000\n"
    "nvidia_modeset 1314816 8 nvidia_drm, Live 0x0000000000000000\n"
    "nvidia_uvm 1540096 0 - Live 0x0000000000000000\n"
    "nvidia 56147968 460 nvidia_modeset,nvidia_uvm, Live 0x0000000000000000\n"
    "snd_hda_intel 16384 0 - Live 0x0000000000000000\n";

class SimKernelGpuTest : public ::testing::Test {
protected:
    explicit SimKernelGpuTest(const char* spec = kGpuHost)
        : root_(spec), fs_(root_.path()), kernel_(root_.path(), root_.spec()) {}

    fs::path device(std::string_view a) const { return fs_.pci_device(a); }
    fs::path platform_driver(std::string_view d, const char* file) const {
        return fs_.sys("bus/platform/drivers/" + std::string(d) + "/" + file);
    }
    fs::path platform_device(std::string_view name) const { return fs_.sys("devices/platform/" + std::string(name)); }
    std::optional<std::string> driver_of(const fs::path& dev) const {
        std::error_code ec;
        fs::path target = fs::read_symlink(dev / "driver", ec);
        if (ec) return std::nullopt;
        return target.filename().string();
    }
    static bool present(const fs::path& p) { return fs::exists(fs::symlink_status(p)); }
    std::string modules() const { return slurp(fs_.proc("modules")); }
    fs::path invocation() const { return fs_.run("systemd/units/invocation:gdm3.service"); }
    fs::path proc(int pid) const { return fs_.proc(std::to_string(pid)); }

    // The group's driver steps for the GPU alone, as the binder writes them.
    void gpu_to_vfio(SimulatedKernel& k) {
        ASSERT_TRUE(k.write(device(kGpu) / "driver_override", "vfio-pci").ok());
        if (auto d = driver_of(device(kGpu))) {
            ASSERT_TRUE(k.write(fs_.pci_driver(*d) / "unbind", kGpu).ok());
        }
        ASSERT_TRUE(k.write(fs_.pci_drivers_probe(), kGpu).ok());
        ASSERT_EQ(driver_of(device(kGpu)), "vfio-pci");
    }

    static int err_of(const Status& s) { return s.ok() ? 0 : s.error().err; }

    FakeRoot root_;
    FsRoot fs_;
    SimulatedKernel kernel_;
};

// --- platform drivers -----------------------------------------------------

TEST_F(SimKernelGpuTest, PlatformUnbindDropsBothLinksOnlyFromTheBoundDriver) {
    const fs::path back = platform_driver("efi-framebuffer", kEfi);
    ASSERT_EQ(driver_of(platform_device(kEfi)), "efi-framebuffer");
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "unbind"), "vesa-framebuffer.0")), ENODEV);
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "unbind"), "")), ENODEV);
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "unbind"), "../efi-framebuffer.0")), ENODEV);
    EXPECT_EQ(err_of(kernel_.write(platform_driver("simpledrm", "unbind"), kEfi)), ENOENT);  // no such driver
    EXPECT_TRUE(present(back));

    ASSERT_TRUE(kernel_.write(platform_driver("efi-framebuffer", "unbind"), std::string(kEfi) + "\n").ok());
    EXPECT_EQ(driver_of(platform_device(kEfi)), std::nullopt);
    EXPECT_FALSE(present(back));
    EXPECT_TRUE(fs::is_directory(platform_device(kEfi)));  // the device stays, unbound
    EXPECT_TRUE(present(fs_.sys("bus/platform/devices/efi-framebuffer.0")));
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "unbind"), kEfi)), ENODEV);  // not bound
    EXPECT_EQ(kernel_.log().back(), "write /sys/bus/platform/drivers/efi-framebuffer/unbind efi-framebuffer.0");

    // hostdev's reader sees it unbound.
    auto firmware = hostdev::read_firmware_framebuffer_devices(fs_);
    ASSERT_TRUE(firmware.has_value());
    ASSERT_EQ(firmware->size(), 1u);
    EXPECT_EQ((*firmware)[0].name, kEfi);
    EXPECT_EQ((*firmware)[0].driver, std::nullopt);
}

TEST_F(SimKernelGpuTest, PlatformBindBringsTheLinksBackAsTheBuilderSpellsThem) {
    const fs::path link = platform_device(kEfi) / "driver";
    const fs::path back = platform_driver("efi-framebuffer", kEfi);
    const fs::path link_text = fs::read_symlink(link);
    const fs::path back_text = fs::read_symlink(back);
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "bind"), kEfi)), EBUSY);  // bound already
    ASSERT_TRUE(kernel_.write(platform_driver("efi-framebuffer", "unbind"), kEfi).ok());
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "bind"), "efi-framebuffer.1")), ENODEV);
    ASSERT_TRUE(kernel_.write(platform_driver("efi-framebuffer", "bind"), kEfi).ok());
    EXPECT_EQ(fs::read_symlink(link), link_text);
    EXPECT_EQ(fs::read_symlink(back), back_text);
    EXPECT_EQ(fs::canonical(back), fs::canonical(platform_device(kEfi)));
}

class SimKernelSimpledrmTest : public SimKernelGpuTest {
protected:
    SimKernelSimpledrmTest()
        : SimKernelGpuTest(
              "host fb=simpledrm,efifb\n"
              "dev 01:00.0 1002:67df 0x030000 group=1 driver=amdgpu boot_vga=1\n") {}
};

TEST_F(SimKernelSimpledrmTest, APlatformDriverBindsOnlyTheDevicesNamedAfterIt) {
    const std::string simple = "simple-framebuffer.0";
    ASSERT_EQ(driver_of(platform_device(simple)), "simpledrm");
    ASSERT_TRUE(kernel_.write(platform_driver("simpledrm", "unbind"), simple).ok());
    ASSERT_TRUE(kernel_.write(platform_driver("efi-framebuffer", "unbind"), kEfi).ok());
    EXPECT_EQ(err_of(kernel_.write(platform_driver("simpledrm", "bind"), kEfi)), ENODEV);
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "bind"), simple)), ENODEV);
    EXPECT_EQ(driver_of(platform_device(kEfi)), std::nullopt);
    ASSERT_TRUE(kernel_.write(platform_driver("simpledrm", "bind"), simple).ok());
    EXPECT_EQ(driver_of(platform_device(simple)), "simpledrm");
}

// --- firmware framebuffers removed by a VFIO bind of the boot display ----------

TEST_F(SimKernelGpuTest, VfioBindOfTheBootDisplayRemovesTheFirmwareFramebuffers) {
    ASSERT_EQ(slurp(fs_.proc("fb")), "0 EFI VGA\n1 nvidiadrmfb\n");
    // Another function of the group (no boot_vga) leaves them.
    ASSERT_TRUE(kernel_.write(device(kAudio) / "driver_override", "vfio-pci").ok());
    ASSERT_TRUE(kernel_.write(fs_.pci_driver("snd_hda_intel") / "unbind", kAudio).ok());
    ASSERT_TRUE(kernel_.write(fs_.pci_drivers_probe(), kAudio).ok());
    ASSERT_EQ(driver_of(device(kAudio)), "vfio-pci");
    EXPECT_TRUE(fs::is_directory(platform_device(kEfi)));

    gpu_to_vfio(kernel_);
    EXPECT_FALSE(present(platform_device(kEfi)));
    EXPECT_FALSE(present(fs_.sys("bus/platform/devices/efi-framebuffer.0")));
    EXPECT_FALSE(present(platform_driver("efi-framebuffer", kEfi)));
    EXPECT_TRUE(fs::is_directory(fs_.sys("bus/platform/drivers/efi-framebuffer")));  // the driver stays
    EXPECT_FALSE(present(fs_.sys("class/graphics/fb0")));
    EXPECT_TRUE(present(fs_.sys("class/graphics/fb1")));  // not a firmware framebuffer
    EXPECT_EQ(slurp(fs_.proc("fb")), "1 nvidiadrmfb\n");
    // Gone for good: the release's bind finds no device.
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "bind"), kEfi)), ENODEV);
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "unbind"), kEfi)), ENODEV);
    auto firmware = hostdev::read_firmware_framebuffer_devices(fs_);
    ASSERT_TRUE(firmware.has_value());
    EXPECT_TRUE(firmware->empty());
}

TEST_F(SimKernelGpuTest, AKernelThatKeepsThemLeavesTheFirmwareFramebuffers) {
    kernel_.set_kernel_removes_firmware_framebuffer(false);  // 5.15
    gpu_to_vfio(kernel_);
    EXPECT_EQ(driver_of(platform_device(kEfi)), "efi-framebuffer");
    EXPECT_TRUE(present(fs_.sys("class/graphics/fb0")));
    EXPECT_EQ(slurp(fs_.proc("fb")), "0 EFI VGA\n1 nvidiadrmfb\n");
}

TEST_F(SimKernelSimpledrmTest, LoadingVfioPciForTheBootDisplayRemovesEveryFirmwareFramebuffer) {
    fs::remove_all(fs_.pci_driver("vfio-pci"));
    ASSERT_TRUE(kernel_.write(device(kGpu) / "driver_override", "vfio-pci").ok());
    ASSERT_TRUE(kernel_.write(fs_.pci_driver("amdgpu") / "unbind", kGpu).ok());
    EXPECT_TRUE(present(platform_device("simple-framebuffer.0")));
    ASSERT_TRUE(kernel_.load_module("vfio-pci").ok());
    EXPECT_EQ(driver_of(device(kGpu)), "vfio-pci");
    EXPECT_FALSE(present(platform_device("simple-framebuffer.0")));
    EXPECT_FALSE(present(platform_device(kEfi)));
    EXPECT_FALSE(present(fs_.sys("bus/platform/drivers/simpledrm/simple-framebuffer.0")));
    EXPECT_FALSE(present(fs_.sys("class/graphics/fb0")));
    EXPECT_FALSE(present(fs_.sys("class/graphics/fb1")));
    EXPECT_EQ(slurp(fs_.proc("fb")), "");
}

// --- vtconsoles -------------------------------------------------------------

TEST_F(SimKernelGpuTest, VtconsoleBindIsAPlainAttributeWithInjectionsAsAnyWrite) {
    const fs::path fbcon = fs_.sys("class/vtconsole/vtcon1/bind");
    ASSERT_EQ(slurp(fbcon), "1\n");
    kernel_.fail_write(2, EIO);
    kernel_.hang_write(3);
    ASSERT_TRUE(kernel_.write(fbcon, "0").ok());
    EXPECT_EQ(slurp(fbcon), "0");
    EXPECT_EQ(err_of(kernel_.write(fbcon, "1")), EIO);
    EXPECT_EQ(slurp(fbcon), "0");
    ASSERT_TRUE(kernel_.write(fbcon, "1").ok());  // hung: nothing happens
    EXPECT_EQ(slurp(fbcon), "0");
    ASSERT_TRUE(kernel_.write(fbcon, "1\n").ok());
    EXPECT_EQ(slurp(fbcon), "1\n");
    EXPECT_EQ(kernel_.log(),
              (std::vector<std::string>{
                  "write /sys/class/vtconsole/vtcon1/bind 0", "write /sys/class/vtconsole/vtcon1/bind 1",
                  "write /sys/class/vtconsole/vtcon1/bind 1", "write /sys/class/vtconsole/vtcon1/bind 1"}));
    auto holders = hostdev::read_gpu_holders(fs_);
    ASSERT_TRUE(holders.consoles.has_value());
    ASSERT_EQ(holders.consoles->size(), 2u);
    EXPECT_TRUE((*holders.consoles)[1].bound);
}

// --- modules ----------------------------------------------------------------

TEST_F(SimKernelGpuTest, AModuleOthersUseIsNotUnloaded) {
    for (int pid : {1200, 1300, 1400}) ASSERT_TRUE(kernel_.exit_process(pid).ok());  // no holders: only users
    for (const char* m : {"nvidia", "nvidia_modeset"}) {
        Status st = kernel_.unload_module(m);
        EXPECT_EQ(err_of(st), EAGAIN) << m;
        EXPECT_NE(st.error().message.find("(it is in use)"), std::string::npos) << st.error().message;
    }
    EXPECT_EQ(modules(), kDesktopModules);
    EXPECT_EQ(driver_of(device(kGpu)), "nvidia");
    EXPECT_EQ(err_of(kernel_.unload_module("nouveau")), ENOENT);
    EXPECT_EQ(kernel_.log(), (std::vector<std::string>{"unload module nvidia", "unload module nvidia_modeset",
                                                       "unload module nouveau"}));
    EXPECT_EQ(kernel_.writes(), 0);
}

TEST_F(SimKernelGpuTest, NvidiaNodesHoldEveryNvidiaModule) {
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia_uvm")), EAGAIN);  // 1200 and 1400 hold /dev/nvidia*
    ASSERT_TRUE(kernel_.exit_process(1200).ok());
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia_uvm")), EAGAIN);  // 1400 still does
    ASSERT_TRUE(kernel_.exit_process(1400).ok());
    ASSERT_TRUE(kernel_.unload_module("nvidia_uvm").ok());
    EXPECT_EQ(modules(),
              "nvidia_drm 77824 4 - Live 0x0000000000000000\n"
              "nvidia_modeset 1314816 8 nvidia_drm, Live 0x0000000000000000\n"
              "nvidia 56147968 459 nvidia_modeset, Live 0x0000000000000000\n"
              "snd_hda_intel 16384 0 - Live 0x0000000000000000\n");
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia_uvm")), ENOENT);  // gone
}

TEST_F(SimKernelGpuTest, NvidiaDrmIsHeldByTheDriNodesOfADeviceOnNvidiaOnly) {
    ASSERT_TRUE(kernel_.exit_process(1200).ok());
    ASSERT_TRUE(kernel_.exit_process(1400).ok());
    // 1300 holds renderD128 of the GPU on nvidia; 1500 card1 of the iGPU on i915.
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia_drm")), EAGAIN);
    ASSERT_TRUE(kernel_.exit_process(1300).ok());
    ASSERT_TRUE(present(proc(1500)));
    ASSERT_TRUE(kernel_.unload_module("nvidia_drm").ok());
    EXPECT_EQ(modules(),
              "nvidia_modeset 1314816 7 - Live 0x0000000000000000\n"
              "nvidia_uvm 1540096 0 - Live 0x0000000000000000\n"
              "nvidia 56147968 460 nvidia_modeset,nvidia_uvm, Live 0x0000000000000000\n"
              "snd_hda_intel 16384 0 - Live 0x0000000000000000\n");
    EXPECT_EQ(driver_of(device(kGpu)), "nvidia");  // not a PCI driver: nothing unbound
}

TEST_F(SimKernelGpuTest, AHeldModuleIsNotUnloadedUntilReleased) {
    for (int pid : {1200, 1300, 1400}) ASSERT_TRUE(kernel_.exit_process(pid).ok());
    kernel_.hold_module("nvidia-drm");  // '-' and '_' are the same
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia_drm")), EAGAIN);
    EXPECT_EQ(modules(), kDesktopModules);
    kernel_.release_module("nvidia_drm");
    EXPECT_TRUE(kernel_.unload_module("nvidia_drm").ok());
}

TEST_F(SimKernelGpuTest, UnloadingNvidiaUnbindsItsDevicesAndLoadingBindsThemBack) {
    for (int pid : {1200, 1300, 1400}) ASSERT_TRUE(kernel_.exit_process(pid).ok());
    for (const char* m : {"nvidia_drm", "nvidia_modeset", "nvidia_uvm"})
        ASSERT_TRUE(kernel_.unload_module(m).ok()) << m;
    EXPECT_EQ(modules(),
              "nvidia 56147968 458 - Live 0x0000000000000000\n"
              "snd_hda_intel 16384 0 - Live 0x0000000000000000\n");
    ASSERT_TRUE(kernel_.unload_module("nvidia").ok());
    EXPECT_EQ(driver_of(device(kGpu)), std::nullopt);
    EXPECT_FALSE(present(fs_.pci_driver("nvidia")));
    EXPECT_EQ(modules(), "snd_hda_intel 16384 0 - Live 0x0000000000000000\n");
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia")), ENOENT);

    // Loading it again: the driver's registration binds its unbound devices.
    ASSERT_TRUE(kernel_.load_module("nvidia").ok());
    EXPECT_EQ(driver_of(device(kGpu)), "nvidia");
    EXPECT_TRUE(present(fs_.pci_driver("nvidia") / kGpu));
    for (const char* f : {"bind", "unbind", "new_id", "remove_id"})
        EXPECT_TRUE(fs::is_regular_file(fs_.pci_driver("nvidia") / f)) << f;
    // nvidia_drm brings what it uses, as modprobe does, each listing its users.
    ASSERT_TRUE(kernel_.load_module("nvidia_uvm").ok());
    ASSERT_TRUE(kernel_.load_module("nvidia_drm").ok());
    EXPECT_EQ(modules(),
              "nvidia_drm 77824 0 - Live 0x0000000000000000\n"
              "nvidia_modeset 1314816 1 nvidia_drm, Live 0x0000000000000000\n"
              "nvidia_uvm 1540096 0 - Live 0x0000000000000000\n"
              "nvidia 56147968 2 nvidia_modeset,nvidia_uvm, Live 0x0000000000000000\n"
              "snd_hda_intel 16384 0 - Live 0x0000000000000000\n");
    ASSERT_TRUE(kernel_.load_module("nvidia").ok());  // loaded already: nothing
    EXPECT_EQ(std::vector<std::string>(kernel_.log().end() - 4, kernel_.log().end()),
              (std::vector<std::string>{"load module nvidia", "load module nvidia_uvm", "load module nvidia_drm",
                                        "load module nvidia"}));
}

TEST_F(SimKernelGpuTest, LoadingNvidiaLeavesADeviceWhoseOverrideNamesAnotherDriver) {
    for (int pid : {1200, 1300, 1400}) ASSERT_TRUE(kernel_.exit_process(pid).ok());
    for (const char* m : {"nvidia_drm", "nvidia_modeset", "nvidia_uvm"})
        ASSERT_TRUE(kernel_.unload_module(m).ok()) << m;
    ASSERT_TRUE(kernel_.write(device(kGpu) / "driver_override", "vfio-pci").ok());
    ASSERT_TRUE(kernel_.unload_module("nvidia").ok());
    ASSERT_TRUE(kernel_.load_module("nvidia").ok());
    EXPECT_EQ(driver_of(device(kGpu)), std::nullopt);
}

TEST_F(SimKernelGpuTest, UnloadingAVfioModuleUnbindsItsDevicesAndDropsTheGroupNode) {
    gpu_to_vfio(kernel_);
    ASSERT_TRUE(present(fs_.dev("vfio/1")));
    ASSERT_TRUE(kernel_.unload_module("vfio_pci").ok());  // loaded: its driver directory exists
    EXPECT_EQ(driver_of(device(kGpu)), std::nullopt);
    EXPECT_FALSE(present(fs_.pci_driver("vfio-pci")));
    EXPECT_FALSE(present(fs_.dev("vfio/1")));
    EXPECT_EQ(err_of(kernel_.unload_module("vfio-pci")), ENOENT);
    // Loading it binds the GPU again (override vfio-pci); the load is not logged.
    ASSERT_TRUE(kernel_.load_module("vfio-pci").ok());
    EXPECT_EQ(driver_of(device(kGpu)), "vfio-pci");
    EXPECT_NE(modules().find("vfio_pci 16384 0 - Live"), std::string::npos);
    EXPECT_EQ(std::count(kernel_.log().begin(), kernel_.log().end(), "unload module vfio_pci"), 1);
    for (const auto& line : kernel_.log()) EXPECT_NE(line.rfind("load module", 0), 0u) << line;
}

TEST_F(SimKernelGpuTest, InjectedModuleFailuresChangeNothing) {
    for (int pid : {1200, 1300, 1400}) ASSERT_TRUE(kernel_.exit_process(pid).ok());
    kernel_.fail_module("nvidia_drm", "unload", EBUSY);
    kernel_.fail_module("nvidia-uvm", "load", ENOEXEC);
    EXPECT_EQ(err_of(kernel_.unload_module("nvidia_drm")), EBUSY);
    EXPECT_EQ(modules(), kDesktopModules);
    ASSERT_TRUE(kernel_.unload_module("nvidia_uvm").ok());
    EXPECT_EQ(err_of(kernel_.load_module("nvidia_uvm")), ENOEXEC);
    EXPECT_EQ(modules().find("nvidia_uvm"), std::string::npos);
    EXPECT_THROW(kernel_.fail_module("nvidia", "insert", EIO), std::invalid_argument);
}

// --- units ------------------------------------------------------------------

TEST_F(SimKernelGpuTest, StoppingTheDisplayManagerEndsItsProcessesOnly) {
    ASSERT_TRUE(fs::is_symlink(invocation()));
    ASSERT_TRUE(kernel_.stop_unit(kDm, std::chrono::milliseconds(5000)).ok());
    EXPECT_FALSE(present(invocation()));
    EXPECT_FALSE(present(proc(1200)));
    for (int pid : {1300, 1400, 1500}) EXPECT_TRUE(fs::is_directory(proc(pid))) << pid;
    // Stopping it again, or a unit that is not running: success, nothing changes.
    ASSERT_TRUE(kernel_.stop_unit(kDm, std::chrono::milliseconds(5000)).ok());
    ASSERT_TRUE(kernel_.stop_unit("sddm.service", std::chrono::milliseconds(5000)).ok());
    for (int pid : {1300, 1400, 1500}) EXPECT_TRUE(fs::is_directory(proc(pid))) << pid;

    auto holders = hostdev::read_gpu_holders(fs_);
    ASSERT_TRUE(holders.display_manager.has_value());
    EXPECT_EQ(holders.display_manager->unit, kDm);
    EXPECT_EQ(holders.display_manager->active, false);
}

TEST_F(SimKernelGpuTest, StartingItAgainBringsTheSameProcessesBack) {
    const fs::path link_text = fs::read_symlink(invocation());
    ASSERT_TRUE(kernel_.stop_unit(kDm, std::chrono::milliseconds(5000)).ok());
    ASSERT_TRUE(kernel_.start_unit(kDm, std::chrono::milliseconds(5000)).ok());
    EXPECT_EQ(fs::read_symlink(invocation()), link_text);
    EXPECT_EQ(slurp(proc(1200) / "comm"), "Xorg\n");
    EXPECT_EQ(slurp(proc(1200) / "cgroup"), "0::/system.slice/gdm3.service\n");
    EXPECT_EQ(fs::read_symlink(proc(1200) / "fd/3"), "/dev/dri/card0");
    EXPECT_EQ(fs::read_symlink(proc(1200) / "fd/5"), "/dev/nvidia0");
    // hostdev sees the display manager's process holding the GPU again.
    auto held = hostdev::processes_holding(fs_, {"/dev/dri/card0"});
    ASSERT_TRUE(held.has_value());
    ASSERT_EQ(held->size(), 1u);
    EXPECT_EQ((*held)[0].pid, 1200);
    EXPECT_EQ((*held)[0].comm, "Xorg");
    EXPECT_EQ((*held)[0].unit, kDm);
    // Running already: nothing changes.
    ASSERT_TRUE(kernel_.start_unit(kDm, std::chrono::milliseconds(5000)).ok());
    EXPECT_EQ(fs::read_symlink(invocation()), link_text);
    EXPECT_EQ(kernel_.log(), (std::vector<std::string>{"stop unit gdm3.service", "start unit gdm3.service",
                                                       "start unit gdm3.service"}));
}

TEST_F(SimKernelGpuTest, ASecondKernelStartsWhatTheFirstStopped) {
    {
        SimulatedKernel prepare(root_.path(), root_.spec());
        ASSERT_TRUE(prepare.stop_unit(kDm, std::chrono::milliseconds(5000)).ok());
    }
    ASSERT_FALSE(present(proc(1200)));
    SimulatedKernel release(root_.path(), root_.spec());
    ASSERT_TRUE(release.start_unit(kDm, std::chrono::milliseconds(5000)).ok());
    EXPECT_TRUE(fs::is_symlink(invocation()));
    EXPECT_EQ(slurp(proc(1200) / "comm"), "Xorg\n");
}

TEST_F(SimKernelGpuTest, AUnitNotStoppedHereStartsWithoutProcesses) {
    ASSERT_TRUE(kernel_.start_unit("sddm.service", std::chrono::milliseconds(5000)).ok());
    EXPECT_TRUE(fs::is_symlink(fs_.run("systemd/units/invocation:sddm.service")));
}

TEST_F(SimKernelGpuTest, InjectedUnitFailuresChangeNothing) {
    kernel_.fail_unit(kDm, "stop", EIO);
    Status st = kernel_.stop_unit(kDm, std::chrono::milliseconds(5000));
    EXPECT_EQ(err_of(st), EIO);
    EXPECT_NE(st.error().message.find("systemctl stop gdm3.service"), std::string::npos) << st.error().message;
    EXPECT_TRUE(fs::is_symlink(invocation()));
    EXPECT_TRUE(present(proc(1200)));

    SimulatedKernel other(root_.path(), root_.spec());  // the injection belongs to one object
    ASSERT_TRUE(other.stop_unit(kDm, std::chrono::milliseconds(5000)).ok());
    other.fail_unit(kDm, "start", EPERM);
    EXPECT_EQ(err_of(other.start_unit(kDm, std::chrono::milliseconds(5000))), EPERM);
    EXPECT_FALSE(present(invocation()));
    EXPECT_FALSE(present(proc(1200)));
    ASSERT_TRUE(kernel_.start_unit(kDm, std::chrono::milliseconds(5000)).ok());
    EXPECT_TRUE(present(proc(1200)));
    EXPECT_THROW(kernel_.fail_unit(kDm, "restart", EIO), std::invalid_argument);
}

TEST_F(SimKernelGpuTest, AHungStopTimesOutAndTheUnitStaysActive) {
    kernel_.hang_unit_stop(kDm);
    Status st = kernel_.stop_unit(kDm, std::chrono::milliseconds(1500));
    EXPECT_EQ(err_of(st), ETIMEDOUT);
    EXPECT_NE(st.error().message.find("within 1500 ms"), std::string::npos) << st.error().message;
    EXPECT_TRUE(fs::is_symlink(invocation()));
    EXPECT_TRUE(present(proc(1200)));
    EXPECT_EQ(kernel_.log(), std::vector<std::string>{"stop unit gdm3.service"});
}

// --- processes and the log ----------------------------------------------------

TEST_F(SimKernelGpuTest, AProcessExitsOnce) {
    ASSERT_TRUE(kernel_.exit_process(1300).ok());
    EXPECT_FALSE(present(proc(1300)));
    EXPECT_EQ(err_of(kernel_.exit_process(1300)), ESRCH);
    EXPECT_EQ(err_of(kernel_.exit_process(0)), ESRCH);
    EXPECT_TRUE(kernel_.log().empty());  // a test's action, not a call of hostdev's
}

// The handoff as the hook runs it, then its release: one log, writes and calls in order.
TEST_F(SimKernelGpuTest, TheHandoffAndItsReleaseAreLoggedInOrder) {
    const auto ms = std::chrono::milliseconds(5000);
    const DriverState before = capture_driver_state(root_.path());
    ASSERT_TRUE(kernel_.stop_unit(kDm, ms).ok());                                         // H1
    for (int pid : {1300, 1400}) ASSERT_TRUE(kernel_.exit_process(pid).ok());             // H2
    ASSERT_TRUE(kernel_.write(fs_.sys("class/vtconsole/vtcon1/bind"), "0").ok());         // H3
    ASSERT_TRUE(kernel_.write(platform_driver("efi-framebuffer", "unbind"), kEfi).ok());  // H4
    for (const char* m : {"nvidia_drm", "nvidia_modeset", "nvidia_uvm"})                  // H5
        ASSERT_TRUE(kernel_.unload_module(m).ok()) << m;
    gpu_to_vfio(kernel_);
    ASSERT_TRUE(kernel_.unload_module("nvidia").ok());  // H6

    ASSERT_TRUE(kernel_.load_module("nvidia").ok());
    ASSERT_TRUE(kernel_.write(device(kGpu) / "driver_override", "\n").ok());
    ASSERT_TRUE(kernel_.write(fs_.pci_driver("vfio-pci") / "unbind", kGpu).ok());
    ASSERT_TRUE(kernel_.write(fs_.pci_driver("nvidia") / "bind", kGpu).ok());
    for (const char* m : {"nvidia_uvm", "nvidia_modeset", "nvidia_drm"}) ASSERT_TRUE(kernel_.load_module(m).ok()) << m;
    EXPECT_EQ(err_of(kernel_.write(platform_driver("efi-framebuffer", "bind"), kEfi)), ENODEV);  // removed
    ASSERT_TRUE(kernel_.write(fs_.sys("class/vtconsole/vtcon1/bind"), "1").ok());
    ASSERT_TRUE(kernel_.start_unit(kDm, ms).ok());

    const std::string gpu = kGpu;
    EXPECT_EQ(kernel_.log(), (std::vector<std::string>{
                                 "stop unit gdm3.service",
                                 "write /sys/class/vtconsole/vtcon1/bind 0",
                                 "write /sys/bus/platform/drivers/efi-framebuffer/unbind efi-framebuffer.0",
                                 "unload module nvidia_drm",
                                 "unload module nvidia_modeset",
                                 "unload module nvidia_uvm",
                                 "write /sys/bus/pci/devices/" + gpu + "/driver_override vfio-pci",
                                 "write /sys/bus/pci/drivers/nvidia/unbind " + gpu,
                                 "write /sys/bus/pci/drivers_probe " + gpu,
                                 "unload module nvidia",
                                 "load module nvidia",
                                 "write /sys/bus/pci/devices/" + gpu + "/driver_override ",
                                 "write /sys/bus/pci/drivers/vfio-pci/unbind " + gpu,
                                 "write /sys/bus/pci/drivers/nvidia/bind " + gpu,
                                 "load module nvidia_uvm",
                                 "load module nvidia_modeset",
                                 "load module nvidia_drm",
                                 "write /sys/bus/platform/drivers/efi-framebuffer/bind efi-framebuffer.0",
                                 "write /sys/class/vtconsole/vtcon1/bind 1",
                                 "start unit gdm3.service",
                             }));
    EXPECT_EQ(kernel_.writes(), 10);
    EXPECT_EQ(capture_driver_state(root_.path()), before) << before.diff(capture_driver_state(root_.path()));
    EXPECT_TRUE(present(proc(1200)));
}

}  // namespace
