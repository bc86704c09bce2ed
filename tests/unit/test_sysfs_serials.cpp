// The sysfs reader's serial numbers on fake roots: the Device Serial Number
// from config space, NVMe serials and permanent MACs, Skip and read_serials,
// and lspci reading the same serial from the same fake root.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fake_host.hpp"
#include "hostdev/host/sysfs.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
namespace fs = std::filesystem;

namespace {

PciAddress addr(std::string_view s) { return *PciAddress::parse(s); }

const PciDevice& device(const Host& h, std::string_view a) {
    const PciDevice* d = h.find(addr(a));
    if (d == nullptr) throw std::runtime_error("no device " + std::string(a));
    return *d;
}

const char* kSerialHost = R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport rev=07 bus=01 dsn=00-00-00-00-00-00-01-01
dev 01:00.0 8086:1533 0x020000 group=1 driver=igb rev=03 dsn=00-1b-21-ff-ff-a1-b2-c3 mac=00:1B:21:A1:B2:C3 net=enp1s0
dev 00:1d.0 144d:a808 0x010802 group=2 driver=nvme nvme_serial=S4EWNX0R123456
dev 00:1f.6 8086:15b8 0x020000 group=3 driver=e1000e mac=52:54:00:12:34:56 mac_type=1
dev 00:17.0 8086:a102 0x010601 group=4 driver=ahci
)";

}  // namespace

TEST(SysfsSerials, ReadsDsnNvmeAndMac) {
    FakeRoot root(kSerialHost);
    const Host h = hostdev::testing::read_fake_host(root);
    EXPECT_EQ(device(h, "01:00.0").serials.dsn, "00-1b-21-ff-ff-a1-b2-c3");
    EXPECT_EQ(device(h, "01:00.0").serials.mac, "00:1b:21:a1:b2:c3");
    EXPECT_EQ(device(h, "01:00.0").serials.nvme, std::nullopt);
    EXPECT_EQ(device(h, "00:01.0").serials.dsn, "00-00-00-00-00-00-01-01");
    EXPECT_EQ(device(h, "00:1d.0").serials, (DeviceSerials{std::nullopt, "S4EWNX0R123456", std::nullopt}));
    EXPECT_TRUE(device(h, "00:1f.6").serials.empty());  // a random address is no serial
    EXPECT_TRUE(device(h, "00:17.0").serials.empty());
    // The header still reads from the same config file, and nothing is a problem.
    EXPECT_EQ(device(h, "01:00.0").revision, 0x03);
    for (const auto& d : h.devices) EXPECT_TRUE(d.problems.empty()) << d.address.str() << ": " << d.problems.front();
}

TEST(SysfsSerials, SkipLeavesThemUnknown) {
    FakeRoot root(kSerialHost);
    ReadOptions o = hostdev::testing::test_read_options();
    o.serials = ReadOptions::Serials::Skip;
    auto h = read_host(FsRoot(root.path()), o);
    ASSERT_TRUE(h.ok()) << h.error().describe();
    for (const auto& d : h->devices) EXPECT_TRUE(d.serials.empty()) << d.address.str();
    EXPECT_EQ(device(*h, "01:00.0").vendor, 0x8086);
}

TEST(SysfsSerials, ReadSerialsForChosenDevices) {
    FakeRoot root(kSerialHost);
    ReadOptions o = hostdev::testing::test_read_options();
    o.serials = ReadOptions::Serials::Skip;
    auto h = read_host(FsRoot(root.path()), o);
    ASSERT_TRUE(h.ok()) << h.error().describe();
    read_serials(FsRoot(root.path()), *h, {addr("0000:01:00.0")});
    EXPECT_EQ(device(*h, "01:00.0").serials.dsn, "00-1b-21-ff-ff-a1-b2-c3");
    EXPECT_EQ(device(*h, "01:00.0").serials.mac, "00:1b:21:a1:b2:c3");
    EXPECT_TRUE(device(*h, "00:01.0").serials.empty());
    EXPECT_TRUE(device(*h, "00:1d.0").serials.empty());
    read_serials(FsRoot(root.path()), *h, {});  // every device
    EXPECT_EQ(device(*h, "00:01.0").serials.dsn, "00-00-00-00-00-00-01-01");
    EXPECT_EQ(device(*h, "00:1d.0").serials.nvme, "S4EWNX0R123456");
}

TEST(SysfsSerials, ConfigOf64BytesLeavesTheDsnUnknown) {
    FakeRoot root(kSerialHost);
    // What a reader without root sees: the header only.
    const fs::path config = root.device_dir("0000:01:00.0") / "config";
    fs::resize_file(config, 64);
    const Host h = hostdev::testing::read_fake_host(root);
    const PciDevice& d = device(h, "01:00.0");
    EXPECT_EQ(d.serials.dsn, std::nullopt);
    EXPECT_EQ(d.serials.mac, "00:1b:21:a1:b2:c3");
    EXPECT_EQ(d.vendor, 0x8086);
    EXPECT_EQ(d.revision, 0x03);
    EXPECT_TRUE(d.problems.empty());
}

TEST(SysfsSerials, FakeRootLaysThemOutAsTheKernelDoes) {
    FakeRoot root(kSerialHost);
    EXPECT_EQ(fs::file_size(root.device_dir("0000:01:00.0") / "config"), 4096u);
    EXPECT_EQ(fs::file_size(root.device_dir("0000:00:17.0") / "config"), 256u);
    std::ifstream serial(root.device_dir("0000:00:1d.0") / "nvme" / "nvme0" / "serial");
    std::string text((std::istreambuf_iterator<char>(serial)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "S4EWNX0R123456      \n");
    EXPECT_TRUE(fs::exists(root.path() / "sys" / "class" / "nvme" / "nvme0" / "serial"));
    std::ifstream type(root.device_dir("0000:00:1f.6") / "net" / "eth0" / "addr_assign_type");
    std::string t((std::istreambuf_iterator<char>(type)), std::istreambuf_iterator<char>());
    EXPECT_EQ(t, "1\n");
}

TEST(SysfsSerials, NvmeIndexesAreUniqueAndTheRootDiskKeepsNvme0) {
    FakeRoot root(
        "dev 00:1b.0 144d:a808 0x010802 group=1 driver=nvme nvme_serial=SECOND\n"
        "dev 00:1d.0 144d:a808 0x010802 group=2 driver=nvme nvme_serial=ROOTDISK role=root-fs\n"
        "dev 00:1e.0 144d:a808 0x010802 group=3 driver=nvme nvme_serial=THIRD\n");
    EXPECT_TRUE(fs::exists(root.device_dir("0000:00:1d.0") / "nvme" / "nvme0" / "nvme0n1"));
    EXPECT_TRUE(fs::exists(root.device_dir("0000:00:1d.0") / "nvme" / "nvme0" / "serial"));
    EXPECT_TRUE(fs::exists(root.device_dir("0000:00:1b.0") / "nvme" / "nvme1" / "serial"));
    EXPECT_TRUE(fs::exists(root.device_dir("0000:00:1e.0") / "nvme" / "nvme2" / "serial"));
    const Host h = hostdev::testing::read_fake_host(root);
    EXPECT_EQ(device(h, "00:1b.0").serials.nvme, "SECOND");
    EXPECT_EQ(device(h, "00:1d.0").serials.nvme, "ROOTDISK");
    EXPECT_EQ(device(h, "00:1e.0").serials.nvme, "THIRD");
    EXPECT_TRUE(device(h, "00:1d.0").has_role(HostRole::RootFilesystem));
}

TEST(SysfsSerials, FakeRootRefusesBadSerialKeys) {
    using hostdev::testing::parse_fake_host_spec;
    EXPECT_FALSE(parse_fake_host_spec("dev 00:01.0 8086:1533 0x020000 dsn=00-1b-21\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("dev 00:01.0 8086:1533 0x020000 dsn=00:1b:21:ff:ff:a1:b2:c3\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("dev 00:01.0 8086:1533 0x020000 mac=00:1b:21:a1:b2\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("dev 00:01.0 8086:1533 0x020000 mac_type=1\n").ok());
    EXPECT_FALSE(parse_fake_host_spec("dev 00:01.0 144d:a808 0x010802 nvme_serial=ABCDEFGHIJKLMNOPQRSTU\n").ok());
}

// lspci decodes the fake root's config space as the reader does.
TEST(SysfsSerials, LspciPrintsTheSameDsn) {
    FakeRoot root(kSerialHost);
    const std::string cmd = "lspci -vv -s 01:00.0 -A linux-sysfs -O sysfs.path='" +
                            (root.path() / "sys" / "bus" / "pci").string() + "' 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
    EXPECT_EQ(::pclose(pipe), 0) << out;
    EXPECT_NE(out.find("Capabilities: [40] Express (v2) Endpoint"), std::string::npos) << out;
    EXPECT_NE(out.find("Capabilities: [100 v1] Device Serial Number 00-1b-21-ff-ff-a1-b2-c3"), std::string::npos)
        << out;
    const Host h = hostdev::testing::read_fake_host(root);
    EXPECT_NE(out.find("Device Serial Number " + *device(h, "01:00.0").serials.dsn), std::string::npos);
}

// The root is a boundary: serial files are read beneath the device directory,
// never through a link that leads elsewhere, and a FIFO does not block.
TEST(SysfsSerials, LinksOutOfTheDeviceDirectoryAreNotFollowed) {
    FakeRoot root(kSerialHost);
    const fs::path outside = root.path() / "outside";
    fs::create_directories(outside / "nvme9");
    std::ofstream(outside / "nvme9" / "serial") << "LEAKED\n";
    std::ofstream(outside / "address") << "02:00:00:00:00:01\n";
    // nvme/nvme0 becomes a link to a directory outside the device's.
    const fs::path ctrl = root.device_dir("0000:00:1d.0") / "nvme" / "nvme0";
    fs::remove_all(ctrl);
    fs::create_directory_symlink(outside / "nvme9", ctrl);
    // net/enp1s0/address becomes a link; addr_assign_type stays 0.
    const fs::path address = root.device_dir("0000:01:00.0") / "net" / "enp1s0" / "address";
    fs::remove(address);
    fs::create_symlink(outside / "address", address);
    // A FIFO where the NIC's config would be: read without blocking, nothing known.
    const fs::path config = root.device_dir("0000:00:01.0") / "config";
    fs::remove(config);
    ASSERT_EQ(::mkfifo(config.c_str(), 0644), 0);
    const Host h = hostdev::testing::read_fake_host(root);
    EXPECT_EQ(device(h, "00:1d.0").serials.nvme, std::nullopt);
    EXPECT_EQ(device(h, "01:00.0").serials.mac, std::nullopt);
    EXPECT_EQ(device(h, "01:00.0").serials.dsn, "00-1b-21-ff-ff-a1-b2-c3");
    EXPECT_EQ(device(h, "00:01.0").serials.dsn, std::nullopt);
    Host again = h;
    read_serials(FsRoot(root.path()), again, {});
    EXPECT_EQ(device(again, "00:1d.0").serials.nvme, std::nullopt);
    EXPECT_EQ(device(again, "01:00.0").serials.mac, std::nullopt);
}
