// --root is a boundary for the readers: a copied or hostile tree whose links
// lead out of it (absolute targets, ".." climbing above the root) yields
// only values from inside the root, or problems, for groups, snapshot and
// doctor alike. Outside the root sits a sentinel tree that would give other
// values if any of it were read; the checks look for those values. Every test
// runs with openat2 and with the user-space walk of kernels without it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "fake_host.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/output/format.hpp"
#include "hostdev/setup/doctor.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSpec = R"(
host cpu=GenuineIntel cmdline="ro intel_iommu=on" iommu=dmar0
host release=6.1.0-18-amd64 irq_remap=yes modules=vfio,vfio_iommu_type1,vfio_pci fb=none
host hook=missing initramfs=initramfs-tools bootloader=grub
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1
dev 00:14.0 8086:a12f 0x0c0330 group=2 driver=xhci_hcd
dev 00:17.0 8086:a102 0x010601 group=3 driver=ahci role=root-fs
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
)";

// What the sentinel tree says, wherever a reader could pick it up.
constexpr const char* kSentinel = "SENTINEL-OUTSIDE-THE-ROOT";
constexpr const char* kSentinelVendor = "beef";

void write(const fs::path& p, const std::string& s) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << s;
}

// ".." enough times to climb from anywhere in the root to "/", then `abs`.
std::string climbing(const fs::path& abs) {
    std::string s;
    for (int i = 0; i < 24; ++i) s += "../";
    return s + abs.relative_path().string();
}

// 64 bytes of config space for vendor 0xbeef, device 0xbeef, class 0x0c0330.
std::string sentinel_config() {
    std::string c(64, '\0');
    c[0] = c[2] = '\xef';
    c[1] = c[3] = '\xbe';
    c[9] = '\x30', c[10] = '\x03', c[11] = '\x0c';
    return c;
}

// A directory beside the fake root holding the sentinel tree.
class Outside {
public:
    Outside() {
        std::string tmpl =
            (fs::path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") / "hostdev-outside-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        dir_ = tmpl;
        for (const char* dev : {"0000:07:00.0", "0000:08:00.0"}) {
            const fs::path d = dir_ / "devices/pci0000:00" / dev;
            write(d / "config", sentinel_config());
            write(d / "vendor", "0xbeef\n");
            write(d / "device", "0xbeef\n");
            write(d / "class", "0x0c0330\n");
        }
        write(dir_ / "attr/config", sentinel_config());
        write(dir_ / "attr/vendor", "0xbeef\n");
        write(dir_ / "attr/class", "0x0c0330\n");
        write(dir_ / "cmdline", std::string(kSentinel) + " intel_iommu=on\n");
        write(dir_ / "mountinfo", "22 1 259:9 / / rw,relatime shared:1 - ext4 /dev/nvme9n1 rw\n");
        write(dir_ / "modules/kernel/drivers/vfio/vfio.ko", "");
        write(dir_ / "hostdev-hook", "#!/bin/sh\nexec /usr/libexec/hostdev-hook \"$@\"\n");
        fs::permissions(dir_ / "hostdev-hook", fs::perms::owner_all);
        fs::create_directories(dir_ / "devices/pci0000:00/0000:01:00.1/block/sda/sda2");
        fs::create_directories(dir_ / "net/eno1");
    }
    ~Outside() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    const fs::path& path() const { return dir_; }

private:
    fs::path dir_;
};

// Replaces `at` (a file, directory or link) with a symbolic link to `target`.
void plant(const fs::path& at, const std::string& target) {
    std::error_code ec;
    fs::remove_all(at, ec);
    fs::create_directories(at.parent_path());
    fs::create_symlink(target, at);
}

// The fake root with every escape planted; each would change a value if it
// were followed out of the root.
void plant_escapes(const FakeRoot& root, const Outside& out) {
    const fs::path sys = root.path() / "sys";
    const fs::path gpu = root.device_dir("0000:01:00.0");
    // Device links: an absolute one and a climbing one to devices outside.
    plant(sys / "bus/pci/devices/0000:07:00.0", (out.path() / "devices/pci0000:00/0000:07:00.0").string());
    plant(sys / "bus/pci/devices/0000:08:00.0", climbing(out.path() / "devices/pci0000:00/0000:08:00.0"));
    // Attribute links of a real device.
    plant(gpu / "config", (out.path() / "attr/config").string());
    plant(gpu / "vendor", climbing(out.path() / "attr/vendor"));
    plant(gpu / "class", (out.path() / "attr/class").string());
    // The default route's interface: outside, its device is the GPU.
    fs::create_symlink(fs::canonical(gpu), out.path() / "net/eno1/device");
    plant(sys / "class/net/eno1", (out.path() / "net/eno1").string());
    // The root filesystem's block device: outside, below the GPU's audio function.
    plant(sys / "dev/block/8:2", (out.path() / "devices/pci0000:00/0000:01:00.1/block/sda/sda2").string());
    plant(sys / "class/block/sda2", climbing(out.path() / "devices/pci0000:00/0000:01:00.1/block/sda/sda2"));
    // A second mountinfo outside names a disk that the root has below the USB controller.
    plant(root.path() / "proc/self/mountinfo", (out.path() / "mountinfo").string());
    fs::create_directories(root.device_dir("0000:00:14.0") / "nvme/nvme9n1");
    plant(sys / "dev/block/259:9", "../../devices/pci0000:00/0000:00:14.0/nvme/nvme9n1");
    // Host facts and setup.
    plant(root.path() / "proc/cmdline", (out.path() / "cmdline").string());
    plant(root.path() / "lib/modules/6.1.0-18-amd64", (out.path() / "modules").string());
    plant(root.path() / "etc/libvirt/hooks/qemu.d/60-hostdev", climbing(out.path() / "hostdev-hook"));
}

class RootBoundary : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { FsRoot::use_openat2(GetParam()); }
    void TearDown() override { FsRoot::use_openat2(true); }
};

std::string mode_name(const ::testing::TestParamInfo<bool>& info) { return info.param ? "openat2" : "userspace"; }

bool has_problem(const PciDevice& d, std::string_view word) {
    for (const auto& p : d.problems)
        if (p.find(word) != std::string::npos) return true;
    return false;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Resolution, RootBoundary, ::testing::Bool(), mode_name);

TEST_P(RootBoundary, EveryValueComesFromInsideTheRootOrIsAProblem) {
    FakeRoot root(kSpec);
    Outside out;
    plant_escapes(root, out);
    Host host = hostdev::testing::read_fake_host(root);

    // The devices behind escaping links are listed, with the missing directory as their problem.
    for (const char* a : {"07:00.0", "08:00.0"}) {
        const PciDevice* d = host.find(*PciAddress::parse(a));
        ASSERT_NE(d, nullptr) << a;
        EXPECT_EQ(d->vendor, 0) << a;
        EXPECT_TRUE(has_problem(*d, "device directory is missing")) << a;
    }
    // The GPU's linked attributes are problems; its other attributes are read.
    const PciDevice* gpu = host.find(*PciAddress::parse("01:00.0"));
    ASSERT_NE(gpu, nullptr);
    EXPECT_NE(gpu->vendor, 0xbeef);
    EXPECT_EQ(gpu->device, 0x13c2);
    EXPECT_NE(gpu->class_code, 0x0c0330u);
    EXPECT_TRUE(has_problem(*gpu, "/config")) << ::testing::PrintToString(gpu->problems);
    EXPECT_TRUE(has_problem(*gpu, "/vendor")) << ::testing::PrintToString(gpu->problems);
    EXPECT_EQ(gpu->driver, "nouveau");
    // No role comes from outside: not the GPU's (default route), not the
    // audio function's or the USB controller's (root filesystem).
    for (const auto& d : host.devices) {
        EXPECT_FALSE(d.has_role(HostRole::DefaultRoute)) << d.address.str();
        EXPECT_FALSE(d.has_role(HostRole::RootFilesystem)) << d.address.str();
    }
    // Host facts: the command line is unknown (its link leads out), the vfio
    // modules are unknown, the hook outside is not this root's hook.
    EXPECT_EQ(host.kernel_cmdline, "");
    EXPECT_FALSE(host.vfio_modules.has_value());
    EXPECT_EQ(host.libvirt_hook, std::string());
    EXPECT_EQ(host.initramfs_tool, InitramfsTool::InitramfsTools);  // inside: still read
    EXPECT_EQ(host.kernel_release, "6.1.0-18-amd64");
}

TEST_P(RootBoundary, NothingFromOutsideReachesGroupsSnapshotOrDoctor) {
    FakeRoot root(kSpec);
    Outside out;
    plant_escapes(root, out);
    Host host = hostdev::testing::read_fake_host(root);
    const DoctorReport report = run_doctor(host);
    for (const std::string& text : {format_groups_json(host), format_groups_text(host), format_groups_dot(host),
                                    write_snapshot(host), format_doctor_text(report), format_doctor_json(report)}) {
        EXPECT_EQ(text.find(kSentinel), std::string::npos) << text;
        EXPECT_EQ(text.find(kSentinelVendor), std::string::npos) << text;
    }
}

TEST_P(RootBoundary, LinksThatStayInsideTheRootAreFollowed) {
    FakeRoot root(kSpec);
    // The same kinds of links, absolute and climbing, but to places inside the root.
    const fs::path rel_gpu = fs::relative(root.device_dir("0000:01:00.0"), root.path());
    plant(root.path() / "sys/bus/pci/devices/0000:01:00.0", "/" + rel_gpu.string());
    const fs::path rel_nic = fs::relative(root.device_dir("0000:00:1f.6"), root.path());
    plant(root.path() / "sys/class/net/eno1", climbing("/" + (rel_nic / "net/eno1").string()));
    fs::rename(root.path() / "proc/cmdline", root.path() / "etc/cmdline");
    plant(root.path() / "proc/cmdline", "/etc/cmdline");
    Host host = hostdev::testing::read_fake_host(root);
    const PciDevice* gpu = host.find(*PciAddress::parse("01:00.0"));
    ASSERT_NE(gpu, nullptr);
    EXPECT_EQ(gpu->vendor, 0x10de);
    EXPECT_TRUE(gpu->problems.empty()) << ::testing::PrintToString(gpu->problems);
    EXPECT_TRUE(host.find(*PciAddress::parse("00:1f.6"))->has_role(HostRole::DefaultRoute));
    EXPECT_EQ(host.kernel_cmdline, "ro intel_iommu=on");
}

TEST_P(RootBoundary, FifosWhereFilesShouldBeNeverBlock) {
    FakeRoot root(kSpec);
    const fs::path gpu = root.device_dir("0000:01:00.0");
    for (const fs::path& p :
         {gpu / "config", gpu / "class", root.path() / "proc/cmdline", root.path() / "proc/self/mountinfo"}) {
        fs::remove(p);
        ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0) << p;
    }
    ASSERT_EQ(::mkfifo((root.path() / "etc/libvirt/hooks/qemu.d/70-hostdev").c_str(), 0700), 0);
    Host host = hostdev::testing::read_fake_host(root);  // returns: nothing blocked
    const PciDevice* g = host.find(*PciAddress::parse("01:00.0"));
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->vendor, 0x10de);  // from the vendor attribute
    EXPECT_FALSE(g->problems.empty());
    EXPECT_EQ(host.libvirt_hook, std::string());
}

// The kernel refuses a RESOLVE_IN_ROOT or RESOLVE_BENEATH lookup through ".."
// with EAGAIN when anything on the system is renamed meanwhile, and sysfs
// links are all "..": a host read while another process renames files (as
// libvirtd and every atomic writer do) must still read every device.
TEST(FsRootUnderRenames, ReadsWhileFilesAreRenamedElsewhereSeeEveryDevice) {
    FakeRoot root(R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:17.0 8086:a102 0x010601 group=2 driver=ahci role=root-fs
)");
    const fs::path spot = root.path().parent_path() / (root.path().filename().string() + "-renames");
    fs::create_directories(spot);
    std::ofstream(spot / "a") << "x";
    std::atomic<bool> stop{false};
    std::thread renamer([&] {
        while (!stop) {
            ::rename((spot / "a").c_str(), (spot / "b").c_str());
            ::rename((spot / "b").c_str(), (spot / "a").c_str());
        }
    });
    const Host expected = hostdev::testing::read_fake_host(root);
    int differing = 0;
    for (int i = 0; i < 200; ++i) {
        auto h = read_host(FsRoot(root.path()), hostdev::testing::test_read_options());
        if (!h || write_snapshot(*h) != write_snapshot(expected)) ++differing;
    }
    stop = true;
    renamer.join();
    fs::remove_all(spot);
    EXPECT_EQ(differing, 0) << "reads that lost a device or a fact while files were renamed elsewhere";
}
