// Addresses as libvirt reads them, through every layer that holds one: a
// leading 0 is octal in the domain XML (bus='010' is bus 8), and a PCI domain
// above 0xffff (Intel VMD, sysfs names such as 10000:01:00.0) goes from the
// fake root through sysfs, snapshot, planner, binder and the qemu hook.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "fake_host.hpp"
#include "hostdev/binding/binder.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/binding/hook.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/policy/planner.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
using hostdev::testing::SimulatedKernel;
using namespace std::chrono_literals;

namespace {

PciAddress addr(std::string_view text) { return *PciAddress::parse(text); }

// Bus 8 holds a GPU with its audio function; bus 10 a two-port NIC.
const char* kOctalHost = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=08
dev 08:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 08:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:1c.0 8086:a110 0x060400 group=2 driver=pcieport bus=0a
dev 0a:00.0 8086:1521 0x020000 group=2 driver=igb
dev 0a:00.1 8086:1521 0x020000 group=2 driver=igb
)";

// Intel VMD: the NVMe drive behind it is 10000:01:00.0, below the VMD root
// port 10000:00:02.0.
const char* kVmdHost = R"(
host cmdline="intel_iommu=on"
dev 00:00.0 8086:9b33 0x060000 group=0
dev 00:0e.0 8086:467f 0x010400 group=1 driver=vmd
dev 10000:00:02.0 8086:06ac 0x060400 group=20 driver=pcieport bus=01
dev 10000:01:00.0 144d:a808 0x010802 group=20 driver=nvme
)";

const char* kVmdDomain = R"(<domain type='kvm'>
  <name>vmd-guest</name>
  <uuid>0b5e8f7a-3c2d-4e1f-9a8b-7c6d5e4f3a2b</uuid>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x10000' bus='0x01' slot='0x00' function='0x0'/></source>
    </hostdev>
  </devices>
</domain>
)";

Domain parse(const std::string& xml) {
    auto d = parse_domain_xml(xml, "t.xml");
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().describe());
    return d.ok() ? *d : Domain{};
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

}  // namespace

// libvirt assigns bus 8 for bus='010': the group completed is the GPU's, and
// the NIC on bus 0x0a (decimal 10) is left alone.
TEST(OctalAddress, FixCompletesTheGroupLibvirtAssigns) {
    FakeRoot root(kOctalHost);
    Host host = hostdev::testing::read_fake_host(root);
    Domain d = parse(
        "<domain type='kvm'><name>t</name><devices><hostdev mode='subsystem' type='pci' managed='yes'>"
        "<source><address domain='0' bus='010' slot='0' function='0'/></source></hostdev></devices>"
        "</domain>");
    ASSERT_EQ(d.passthrough.size(), 1U);
    EXPECT_EQ(d.passthrough[0].source, addr("08:00.0"));
    Plan p = plan_domain(d, host);
    ASSERT_EQ(p.groups.size(), 1U);
    EXPECT_EQ(p.groups[0].group, 1);
    ASSERT_EQ(p.edits.inject.size(), 1U);
    EXPECT_EQ(p.edits.inject[0].source, addr("08:00.1"));
    EXPECT_FALSE(p.blocked());
}

TEST(VmdDomain, SysfsAndSnapshotKeepFiveDigitDomains) {
    FakeRoot root(kVmdHost);
    EXPECT_TRUE(std::filesystem::exists(root.path() / "sys/bus/pci/devices/10000:01:00.0"));
    EXPECT_TRUE(std::filesystem::exists(root.path() / "sys/devices/pci10000:00/10000:00:02.0/10000:01:00.0"));
    Host host = hostdev::testing::read_fake_host(root);
    const PciDevice* nvme = host.find(addr("10000:01:00.0"));
    ASSERT_NE(nvme, nullptr);
    EXPECT_EQ(nvme->iommu_group, 20);
    EXPECT_EQ(nvme->driver, std::optional<std::string>("nvme"));
    EXPECT_EQ(host.find(addr("0000:01:00.0")), nullptr);

    auto again = parse_snapshot(write_snapshot(host), "vmd.json");
    ASSERT_TRUE(again.ok()) << again.error().describe();
    ASSERT_NE(again->find(addr("10000:01:00.0")), nullptr);
    EXPECT_EQ(write_snapshot(*again), write_snapshot(host));
}

TEST(VmdDomain, PlannerAndBinderMoveTheDevice) {
    FakeRoot root(kVmdHost);
    Host host = hostdev::testing::read_fake_host(root);
    Plan p = plan_domain(parse(kVmdDomain), host);
    EXPECT_FALSE(p.blocked());
    ASSERT_EQ(p.groups.size(), 1U);
    EXPECT_EQ(p.groups[0].group, 20);

    SimulatedKernel kernel(root.path(), root.spec());
    Binder binder(FsRoot(root.path()), kernel);
    auto planned = binder.plan_detach({addr("10000:01:00.0")});
    ASSERT_TRUE(planned.ok()) << planned.error().describe();
    EXPECT_FALSE(planned->empty());
}

// Before, the hook refused this domain at prepare ("domain='0x10000' is out of
// range"), so installing hostdev stopped a VM libvirt itself starts.
TEST(VmdDomain, HookPrepareAndReleaseRoundTrip) {
    FakeRoot root(kVmdHost);
    SimulatedKernel kernel(root.path(), root.spec());
    Config config;
    config.root = root.path();
    config.wait_timeout = 2000ms;
    config.lock_timeout = 2000ms;
    const auto before = hostdev::testing::capture_driver_state(root.path());

    HookResult r = run_hook({"vmd-guest", "prepare", "begin", "-"}, kVmdDomain, config, kernel);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text << "\n" << joined(r.log);
    const auto during = hostdev::testing::capture_driver_state(root.path());
    ASSERT_EQ(during.devices.count(addr("10000:01:00.0")), 1U);
    EXPECT_EQ(during.devices.at(addr("10000:01:00.0")).driver, "vfio-pci");
    EXPECT_TRUE(std::any_of(r.log.begin(), r.log.end(), [](const std::string& l) {
        return l.rfind("10000:01:00.0: nvme -> vfio-pci", 0) == 0;
    })) << joined(r.log);

    HookResult rel = run_hook({"vmd-guest", "release", "end", "-"}, kVmdDomain, config, kernel);
    EXPECT_EQ(rel.exit_code, 0) << rel.stderr_text << "\n" << joined(rel.log);
    const auto after = hostdev::testing::capture_driver_state(root.path());
    EXPECT_EQ(after, before) << before.diff(after);
}
