// The qemu hook's protocol: run_hook for every operation, with the example
// domains on their example hosts (fake roots) and a simulated kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hostdev/binding/config.hpp"
#include "hostdev/binding/hook.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

namespace fs = std::filesystem;
using hostdev::Config;
using hostdev::hook_can_skip;
using hostdev::HookResult;
using hostdev::PciAddress;
using hostdev::run_hook;
using hostdev::testing::capture_driver_state;
using hostdev::testing::DriverState;
using hostdev::testing::FakeRoot;
using hostdev::testing::SimulatedKernel;
using namespace std::chrono_literals;

namespace {

const fs::path kExamples = fs::path(HOSTDEV_SOURCE_DIR) / "examples";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string host_spec(std::string_view name) { return slurp(kExamples / "hosts/src" / (std::string(name) + ".spec")); }
std::string domain_xml(std::string_view name) { return slurp(kExamples / "domains" / (std::string(name) + ".xml")); }

PciAddress addr(std::string_view text) {
    auto a = PciAddress::parse(text);
    if (!a) throw std::runtime_error("bad address " + std::string(text));
    return *a;
}

Config config_for(const FakeRoot& root) {
    Config c;
    c.root = root.path();
    c.wait_timeout = 2000ms;
    c.lock_timeout = 2000ms;
    return c;
}

std::vector<std::string> args(std::string_view name, std::string_view op, std::string_view subop) {
    return {std::string(name), std::string(op), std::string(subop), "-"};
}

bool has_line_starting(const HookResult& r, std::string_view prefix) {
    return std::any_of(r.log.begin(), r.log.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

// A domain with no hostdev at all, as libvirt passes it at prepare.
constexpr std::string_view kPlainDomain = R"(<domain type='qemu' id='1'>
  <name>plain</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='pci' index='0' model='pcie-root'/>
  </devices>
</domain>
)";

// win10-gtx970's GPU for a second domain.
std::string other_domain_with_gpu() {
    return R"(<domain type='kvm'>
  <name>other-guest</name>
  <uuid>aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee</uuid>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/></source>
    </hostdev>
  </devices>
</domain>
)";
}

struct Host {
    explicit Host(std::string_view spec_name) : root(host_spec(spec_name)), kernel(root.path(), root.spec()) {}
    FakeRoot root;
    SimulatedKernel kernel;
    HookResult run(std::string_view name, std::string_view op, std::string_view subop, std::string_view xml) {
        return run_hook(args(name, op, subop), xml, config_for(root), kernel);
    }
    DriverState state() const { return capture_driver_state(root.path()); }
};

}  // namespace

TEST(HookCanSkip, DecidedFromTheDomainsElements) {
    EXPECT_TRUE(hook_can_skip(""));
    EXPECT_TRUE(hook_can_skip(kPlainDomain));
    EXPECT_TRUE(hook_can_skip("<domain><devices><hostDev/></devices></domain>"));  // XML is case-sensitive
    EXPECT_FALSE(hook_can_skip(domain_xml("win10-gtx970")));
    // PCI passthrough: <devices><hostdev type='pci'>, mode subsystem or absent (libvirt's default).
    EXPECT_FALSE(hook_can_skip("<domain><devices><hostdev type='pci'/></devices></domain>"));
    EXPECT_FALSE(hook_can_skip("<domain><devices><hostdev mode=\"subsystem\" type=\"pci\"/></devices></domain>"));
    // Not PCI passthrough: other types and modes, a mention in a comment or
    // text, a hostdev that is not a device of the domain.
    EXPECT_TRUE(hook_can_skip("<domain><devices><hostdev mode='subsystem' type='usb'/></devices></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><devices><hostdev mode='subsystem' type='scsi'/></devices></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><devices><hostdev mode='capabilities' type='pci'/></devices></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><!-- <hostdev mode='subsystem' type='pci'/> --></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><description>&lt;hostdev type='pci'&gt;</description></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><metadata><hostdev type='pci'/></metadata></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><devices><disk><hostdev type='pci'/></disk></devices></domain>"));
    EXPECT_TRUE(hook_can_skip("<network><devices><hostdev type='pci'/></devices></network>"));
}

TEST(HookCanSkip, AHostdevInterfaceIsPassthroughOtherInterfacesAreNot) {
    // <interface type='hostdev'> is a PCI hostdev to libvirt (an SR-IOV VF, any PCI NIC).
    EXPECT_FALSE(hook_can_skip(domain_xml("sriov-vf")));
    EXPECT_FALSE(hook_can_skip("<domain><devices><interface type='hostdev'/></devices></domain>"));
    EXPECT_FALSE(hook_can_skip("<domain><devices><interface managed=\"yes\" type=\"hostdev\"/></devices></domain>"));
    EXPECT_FALSE(hook_can_skip("<domain><devices><interface type='&#104;ostdev'/></devices></domain>"));
    EXPECT_FALSE(
        hook_can_skip("<domain><devices><interface type='network'/><interface type='hostdev'/></devices></domain>"));
    // Every other kind of interface is not, nor a mention elsewhere.
    for (const char* type : {"network", "bridge", "direct", "user", "vhostuser", "ethernet"})
        EXPECT_TRUE(hook_can_skip("<domain><devices><interface type='" + std::string(type) +
                                  "'><source/></interface></devices></domain>"))
            << type;
    EXPECT_TRUE(hook_can_skip("<domain><devices><interface/></devices></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><devices><!-- <interface type='hostdev'/> --></devices></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><metadata><interface type='hostdev'/></metadata></domain>"));
    EXPECT_TRUE(hook_can_skip("<domain><devices><disk><interface type='hostdev'/></disk></devices></domain>"));
}

TEST(HookCanSkip, WhatOnlyTheParserCanDecideIsNotSkipped) {
    // A reference in a value: the parser decodes it (&#112;ci is "pci").
    EXPECT_FALSE(hook_can_skip("<domain><devices><hostdev type='&#112;ci'/></devices></domain>"));
    EXPECT_FALSE(hook_can_skip("<domain><devices><hostdev mode='sub&#115;ystem' type='pci'/></devices></domain>"));
    // Not well-formed, or hostile: the parser refuses it with the line.
    EXPECT_FALSE(hook_can_skip("<domain><devices><hostdev type='pci'>"));
    EXPECT_FALSE(
        hook_can_skip("<!DOCTYPE d [<!ENTITY e 'pci'>]><domain><devices><hostdev type='&e;'/></devices></domain>"));
    EXPECT_FALSE(hook_can_skip("<domain><devices><hostdev type='pci' type='usb'/></devices></domain>"));
}

TEST(Hook, TooFewArgumentsIsAUsageError) {
    Host h("z170-gtx970");
    for (const std::vector<std::string>& a : {std::vector<std::string>{}, {"vm"}, {"vm", "prepare"}}) {
        HookResult r = run_hook(a, domain_xml("win10-gtx970"), config_for(h.root), h.kernel);
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_NE(r.stderr_text.find("usage: hostdev-hook NAME OPERATION SUBOP"), std::string::npos) << r.stderr_text;
        EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos);
    }
    EXPECT_EQ(h.kernel.writes(), 0);
}

TEST(Hook, PrepareMovesTheWholeGroupAndReleaseRestoresIt) {
    Host h("z170-gtx970");
    const DriverState before = h.state();
    const std::string xml = domain_xml("win10-gtx970");

    HookResult r = h.run("win10-gaming", "prepare", "begin", xml);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text << "\n" << joined(r.log);
    EXPECT_EQ(r.stderr_text, "");
    const DriverState during = h.state();
    // The domain lists only 02:00.0; its HDMI audio 02:00.1 shares group 13.
    for (auto a : {"0000:02:00.0", "0000:02:00.1"}) {
        ASSERT_EQ(during.devices.count(addr(a)), 1U) << a;
        EXPECT_EQ(during.devices.at(addr(a)).driver, "vfio-pci") << a;
        EXPECT_EQ(during.devices.at(addr(a)).override, "vfio-pci") << a;
    }
    EXPECT_EQ(during.vfio_groups.count(13), 1U);
    // Nothing else moved.
    DriverState expected = before;
    expected.devices[addr("02:00.0")] = during.devices.at(addr("02:00.0"));
    expected.devices[addr("02:00.1")] = during.devices.at(addr("02:00.1"));
    expected.vfio_groups.insert(13);
    EXPECT_EQ(during, expected) << expected.diff(during);
    // Device lines start with the device's address.
    EXPECT_TRUE(has_line_starting(r, "0000:02:00.0: nouveau -> vfio-pci")) << joined(r.log);
    EXPECT_TRUE(has_line_starting(r, "0000:02:00.1: snd_hda_intel -> vfio-pci")) << joined(r.log);

    // The steps libvirt runs in between do nothing.
    const int writes = h.kernel.writes();
    for (auto [op, subop] : {std::pair{"start", "begin"}, {"started", "begin"}, {"stopped", "end"}}) {
        HookResult s = h.run("win10-gaming", op, subop, xml);
        EXPECT_EQ(s.exit_code, 0) << op;
        EXPECT_EQ(s.stderr_text, "") << op;
    }
    EXPECT_EQ(h.kernel.writes(), writes);
    EXPECT_EQ(h.state(), during);

    HookResult rel = h.run("win10-gaming", "release", "end", xml);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(rel.stderr_text, "") << joined(rel.log);
    const DriverState after = h.state();
    EXPECT_EQ(after, before) << before.diff(after);
    EXPECT_EQ(after.devices.at(addr("02:00.0")).driver, "nouveau");
    EXPECT_EQ(after.devices.at(addr("02:00.1")).driver, "snd_hda_intel");
    EXPECT_FALSE(after.devices.at(addr("02:00.0")).override.has_value());
    EXPECT_TRUE(has_line_starting(rel, "0000:02:00.0: ")) << joined(rel.log);
    EXPECT_TRUE(has_line_starting(rel, "0000:02:00.1: ")) << joined(rel.log);

    // A second release finds no journal: nothing to do.
    const int writes_after = h.kernel.writes();
    HookResult again = h.run("win10-gaming", "release", "end", xml);
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_EQ(again.stderr_text, "");
    EXPECT_EQ(h.kernel.writes(), writes_after);
}

namespace {
// The journals under the fake root, as text, concatenated.
std::string journal_texts(const FakeRoot& root) {
    std::string out;
    const auto dir = root.path() / "run/hostdev";
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".json") continue;
        std::ifstream in(e.path());
        out += std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
}
}  // namespace

TEST(Hook, PrepareRecordsTheStartingDaemonAndStartedForgetsIt) {
    Host h("z170-gtx970");
    const std::string xml = domain_xml("win10-gtx970");
    // libvirtd as the hook's parent, under the fake root's proc.
    const auto proc = h.root.path() / "proc/812";
    std::filesystem::create_directories(proc);
    std::ofstream(proc / "comm") << "libvirtd\n";
    std::ofstream(proc / "stat") << "812 (libvirtd) S 1 812 812 0 -1 4194560 2553 0 0 0 12 5 0 0 20 0 17 0 4242 1 2\n";
    HookResult r = run_hook(args("win10-gaming", "prepare", "begin"), xml, config_for(h.root), h.kernel, 812);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text << "\n" << joined(r.log);
    std::string j = journal_texts(h.root);
    EXPECT_NE(j.find("\"starting\""), std::string::npos) << j;
    EXPECT_NE(j.find("\"pid\": 812"), std::string::npos) << j;
    EXPECT_NE(j.find("\"start_time\": 4242"), std::string::npos) << j;
    EXPECT_NE(j.find("\"name\": \"libvirtd\""), std::string::npos) << j;
    // start begin (nothing new to move) keeps it; started begin forgets it,
    // writing nothing to the kernel.
    const int writes = h.kernel.writes();
    ASSERT_EQ(run_hook(args("win10-gaming", "start", "begin"), xml, config_for(h.root), h.kernel, 812).exit_code, 0);
    EXPECT_NE(journal_texts(h.root).find("\"starting\""), std::string::npos);
    HookResult s = run_hook(args("win10-gaming", "started", "begin"), xml, config_for(h.root), h.kernel, 812);
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_EQ(s.stderr_text, "");
    j = journal_texts(h.root);
    EXPECT_EQ(j.find("\"starting\""), std::string::npos) << j;
    EXPECT_NE(j.find("0000:02:00.0"), std::string::npos) << j;  // the devices are still held
    EXPECT_EQ(h.kernel.writes(), writes);
    // Without a known caller (0), prepare records none.
    Host h2("z170-gtx970");
    ASSERT_EQ(run_hook(args("win10-gaming", "prepare", "begin"), xml, config_for(h2.root), h2.kernel).exit_code, 0);
    EXPECT_EQ(journal_texts(h2.root).find("\"starting\""), std::string::npos);
    EXPECT_NE(journal_texts(h2.root).find("0000:02:00.0"), std::string::npos);
}

TEST(Hook, AHostdevInterfaceAloneInItsGroupMovesAloneAndComesBack) {
    Host h("sriov-server");
    const DriverState before = h.state();
    const std::string xml = domain_xml("sriov-vf");
    HookResult r = h.run("router", "prepare", "begin", xml);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text << "\n" << joined(r.log);
    const DriverState during = h.state();
    DriverState expected = before;
    for (auto a : {"0000:01:10.0", "0000:01:10.1"}) {
        EXPECT_EQ(during.devices.at(addr(a)).driver, "vfio-pci") << a;
        expected.devices[addr(a)] = during.devices.at(addr(a));
    }
    expected.vfio_groups = {32, 33};
    EXPECT_EQ(during, expected) << expected.diff(during);
    EXPECT_TRUE(has_line_starting(r, "0000:01:10.0: ixgbevf -> vfio-pci")) << joined(r.log);
    HookResult rel = h.run("router", "release", "end", xml);
    EXPECT_EQ(rel.exit_code, 0) << joined(rel.log);
    EXPECT_EQ(h.state(), before) << before.diff(h.state());
}

TEST(Hook, AHostdevInterfaceTakesItsWholeGroupOrIsRefused) {
    // The VF's group also holds both ports of its card: all three move.
    FakeRoot root(R"(
dev 00:1c.0 8086:a190 0x060400 group=20 driver=pcieport bus=02
dev 02:00.0 8086:1521 0x020000 group=20 driver=igb
dev 02:00.1 8086:1521 0x020000 group=20 driver=igb
dev 02:01.0 8086:10d3 0x020000 group=20 driver=e1000e
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
)");
    SimulatedKernel kernel(root.path(), root.spec());
    const DriverState before = capture_driver_state(root.path());
    const std::string xml = R"(<domain type='kvm'><name>vf</name><uuid>7b3e5d2f-9c4e-4f8b-a016-2d3e4f5a6b7c</uuid>
  <devices><interface type='hostdev' managed='yes'><mac address='52:54:00:6d:91:01'/>
    <source><address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/></source></interface>
  </devices></domain>)";
    HookResult r = run_hook(args("vf", "prepare", "begin"), xml, config_for(root), kernel);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text << "\n" << joined(r.log);
    const DriverState during = capture_driver_state(root.path());
    for (auto a : {"0000:02:00.0", "0000:02:00.1", "0000:02:01.0"})
        EXPECT_EQ(during.devices.at(addr(a)).driver, "vfio-pci") << a;
    EXPECT_EQ(during.devices.at(addr("00:1c.0")).driver, "pcieport");
    EXPECT_EQ(during.devices.at(addr("00:1f.6")).driver, "e1000e");
    HookResult rel = run_hook(args("vf", "release", "end"), xml, config_for(root), kernel);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(capture_driver_state(root.path()), before) << before.diff(capture_driver_state(root.path()));

    // On the example server the I350's port 0 carries the default route.
    Host h("sriov-server");
    const DriverState server = h.state();
    HookResult refused = h.run("mgmt", "prepare", "begin", domain_xml("sriov-vf-shared"));
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.stderr_text.find("default route"), std::string::npos) << refused.stderr_text;
    EXPECT_EQ(h.kernel.writes(), 0);
    EXPECT_EQ(h.state(), server);
}

TEST(Hook, ReleaseAfterTheLastHostdevWasHotUnpluggedStillReturnsTheGroup) {
    Host h("z170-gtx970");
    const DriverState before = h.state();
    std::string xml = domain_xml("win10-gtx970");
    ASSERT_EQ(h.run("win10-gaming", "prepare", "begin", xml).exit_code, 0);
    // The live XML at release no longer has the hostdev (detached while running).
    const auto from = xml.find("<hostdev");
    const auto to = xml.find("</hostdev>") + std::string("</hostdev>").size();
    xml.erase(from, to - from);
    ASSERT_TRUE(hook_can_skip(xml));
    HookResult rel = h.run("win10-gaming", "release", "end", xml);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(h.state(), before) << before.diff(h.state());
    // Without any journal, such a release touches nothing.
    const int writes = h.kernel.writes();
    EXPECT_EQ(h.run("win10-gaming", "release", "end", xml).exit_code, 0);
    EXPECT_EQ(h.kernel.writes(), writes);
}

TEST(Hook, ReleaseAfterLibvirtReattachedManagedDevicesIsIdempotent) {
    Host h("z170-gtx970");
    const DriverState before = h.state();
    const std::string xml = domain_xml("win10-gtx970");
    ASSERT_EQ(h.run("win10-gaming", "prepare", "begin", xml).exit_code, 0);
    // libvirt's managed reattach between stopped and release: clear the
    // override, unbind from vfio-pci, probe; 02:00.0 is back on nouveau.
    const fs::path dev = h.root.device_dir("0000:02:00.0");
    ASSERT_TRUE(h.kernel.write(dev / "driver_override", "\n"));
    ASSERT_TRUE(h.kernel.write(h.root.path() / "sys/bus/pci/drivers/vfio-pci/unbind", "0000:02:00.0"));
    ASSERT_TRUE(h.kernel.write(h.root.path() / "sys/bus/pci/drivers_probe", "0000:02:00.0"));
    ASSERT_EQ(h.state().devices.at(addr("02:00.0")).driver, "nouveau");

    HookResult rel = h.run("win10-gaming", "release", "end", xml);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(rel.stderr_text, "") << joined(rel.log);
    EXPECT_EQ(h.state(), before) << before.diff(h.state());
}

TEST(Hook, BlockedGroupIsRefusedWithOneLineAndNothingChanges) {
    Host h("z170-gtx970");
    const DriverState before = h.state();
    const std::string xml = domain_xml("blocked-hda");

    HookResult r = h.run("audio-guest", "prepare", "begin", xml);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.stderr_text.rfind("hostdev: audio-guest: ", 0), 0U) << r.stderr_text;
    EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("lpc_ich"), std::string::npos) << r.stderr_text;
    EXPECT_EQ(h.kernel.writes(), 0) << joined(h.kernel.log());
    EXPECT_EQ(h.state(), before) << before.diff(h.state());

    // libvirt still runs stopped and release after a failed start.
    HookResult rel = h.run("audio-guest", "release", "end", xml);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(rel.stderr_text, "");
    EXPECT_EQ(h.kernel.writes(), 0);
    EXPECT_EQ(h.state(), before);
}

TEST(Hook, FailureDuringDetachRollsBackAndRefuses) {
    // Writes of the two devices of group 13: override, unbind, probe each. A
    // failed probe falls back to vfio-pci/bind, so the failures injected are
    // at the override and unbind writes of either device.
    for (int k : {1, 2, 4, 5}) {
        Host h("z170-gtx970");
        const DriverState before = h.state();
        h.kernel.fail_write(k, EIO);
        HookResult r = h.run("win10-gaming", "prepare", "begin", domain_xml("win10-gtx970"));
        EXPECT_EQ(r.exit_code, 1) << "k=" << k;
        EXPECT_EQ(r.stderr_text.rfind("hostdev: win10-gaming: ", 0), 0U) << r.stderr_text;
        EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos) << r.stderr_text;
        EXPECT_EQ(h.state(), before) << "k=" << k << "\n" << before.diff(h.state());
    }
}

TEST(Hook, MigrateAndRestorePrintNothing) {
    Host h("z170-gtx970");
    const DriverState before = h.state();
    for (const std::string& xml : {domain_xml("win10-gtx970"), std::string(kPlainDomain)}) {
        for (auto [op, subop] : {std::pair{"migrate", "begin"}, {"restore", "begin"}}) {
            HookResult r = h.run("win10-gaming", op, subop, xml);
            EXPECT_EQ(r.exit_code, 0) << op;
            EXPECT_EQ(r.stderr_text, "") << op;
            EXPECT_TRUE(r.log.empty()) << op << ": " << joined(r.log);
        }
    }
    EXPECT_EQ(h.kernel.writes(), 0);
    EXPECT_EQ(h.state(), before);
}

TEST(Hook, DomainWithoutHostdevsWritesNothingAtAnyStep) {
    Host h("z170-gtx970");
    const DriverState before = h.state();
    for (auto [op, subop] : {std::pair{"prepare", "begin"},
                             {"start", "begin"},
                             {"started", "begin"},
                             {"stopped", "end"},
                             {"release", "end"},
                             {"reconnect", "begin"},
                             {"migrate", "begin"},
                             {"restore", "begin"},
                             {"attach", "begin"}}) {
        HookResult r = h.run("plain", op, subop, kPlainDomain);
        EXPECT_EQ(r.exit_code, 0) << op;
        EXPECT_EQ(r.stderr_text, "") << op;
    }
    EXPECT_EQ(h.kernel.writes(), 0);
    EXPECT_EQ(h.state(), before);
    EXPECT_FALSE(fs::exists(h.root.path() / "run/hostdev"));
}

TEST(Hook, OnlyUsbHostdevsIsNothingToDo) {
    Host h("z170-gtx970");
    constexpr std::string_view xml = R"(<domain type='kvm'><name>usb</name>
  <uuid>22222222-3333-4444-5555-666666666666</uuid>
  <devices><hostdev mode='subsystem' type='usb' managed='yes'>
    <source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev></devices></domain>)";
    for (auto [op, subop] : {std::pair{"prepare", "begin"}, {"release", "end"}, {"reconnect", "begin"}}) {
        HookResult r = h.run("usb", op, subop, xml);
        EXPECT_EQ(r.exit_code, 0) << op << ": " << r.stderr_text;
        EXPECT_EQ(r.stderr_text, "") << op;
    }
    EXPECT_EQ(h.kernel.writes(), 0);
}

TEST(Hook, DomainWithoutUuidIsRefused) {
    Host h("z170-gtx970");
    std::string xml = domain_xml("win10-gtx970");
    const auto b = xml.find("<uuid>");
    const auto e = xml.find("</uuid>");
    ASSERT_NE(b, std::string::npos);
    xml.erase(b, e + 7 - b);
    HookResult r = h.run("win10-gaming", "prepare", "begin", xml);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.stderr_text.rfind("hostdev: win10-gaming: no uuid", 0), 0U) << r.stderr_text;
    EXPECT_EQ(h.kernel.writes(), 0);
    HookResult rel = h.run("win10-gaming", "release", "end", xml);
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(h.kernel.writes(), 0);
}

TEST(Hook, UnreadableXmlIsRefusedAtPrepareOnly) {
    Host h("z170-gtx970");
    const std::string bad = "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'>";
    HookResult r = h.run("broken", "prepare", "begin", bad);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.stderr_text.rfind("hostdev: broken: cannot read the domain XML: ", 0), 0U) << r.stderr_text;
    EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos);
    for (auto [op, subop] : {std::pair{"release", "end"}, {"reconnect", "begin"}}) {
        HookResult s = h.run("broken", op, subop, bad);
        EXPECT_EQ(s.exit_code, 0) << op;
    }
    EXPECT_EQ(h.kernel.writes(), 0);
}

TEST(Hook, NameWithNewlineStaysOneLine) {
    Host h("z170-gtx970");
    HookResult r = h.run("evil\nname", "prepare", "begin", domain_xml("blocked-hda"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.stderr_text.find('\n'), std::string::npos) << r.stderr_text;
}

TEST(Hook, AnotherDomainsGroupIsRefused) {
    Host h("z170-gtx970");
    const std::string win10 = domain_xml("win10-gtx970");
    ASSERT_EQ(h.run("win10-gaming", "prepare", "begin", win10).exit_code, 0);
    const DriverState held = h.state();

    HookResult r = h.run("other-guest", "prepare", "begin", other_domain_with_gpu());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.stderr_text.rfind("hostdev: other-guest: ", 0), 0U) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("win10-gaming"), std::string::npos) << r.stderr_text;
    EXPECT_EQ(h.state(), held);
    // The refused domain's release does not return the other domain's devices.
    HookResult rel = h.run("other-guest", "release", "end", other_domain_with_gpu());
    EXPECT_EQ(rel.exit_code, 0);
    EXPECT_EQ(h.state(), held) << held.diff(h.state());
}

TEST(Hook, ReconnectLogsAndAlwaysSucceeds) {
    Host h("z170-gtx970");
    const std::string xml = domain_xml("win10-gtx970");
    // Nothing held yet.
    HookResult none = h.run("win10-gaming", "reconnect", "begin", xml);
    EXPECT_EQ(none.exit_code, 0);
    EXPECT_EQ(none.stderr_text, "");

    ASSERT_EQ(h.run("win10-gaming", "prepare", "begin", xml).exit_code, 0);
    const int writes = h.kernel.writes();
    HookResult r = h.run("win10-gaming", "reconnect", "begin", xml);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(has_line_starting(r, "0000:02:00.0: on vfio-pci")) << joined(r.log);
    EXPECT_TRUE(has_line_starting(r, "0000:02:00.1: on vfio-pci")) << joined(r.log);
    EXPECT_EQ(h.kernel.writes(), writes);  // reconnect only reads

    // Someone moved the audio function away behind hostdev's back: still 0, logged.
    ASSERT_TRUE(h.kernel.write(h.root.path() / "sys/bus/pci/drivers/vfio-pci/unbind", "0000:02:00.1"));
    HookResult moved = h.run("win10-gaming", "reconnect", "begin", xml);
    EXPECT_EQ(moved.exit_code, 0);
    EXPECT_TRUE(has_line_starting(moved, "0000:02:00.1: NOT on a VFIO driver")) << joined(moved.log);
    EXPECT_TRUE(has_line_starting(moved, "0000:02:00.0: on vfio-pci")) << joined(moved.log);

    // An unreadable journal directory: still 0.
    Config broken = config_for(h.root);
    broken.journal_dir = h.root.path() / "no-such-dir-file";
    std::ofstream(*broken.journal_dir) << "not a directory\n";
    HookResult bad = run_hook(args("win10-gaming", "reconnect", "begin"), xml, broken, h.kernel);
    EXPECT_EQ(bad.exit_code, 0);
}

TEST(Hook, LaptopDomainsRoundTrip) {
    Host h("hm170-laptop");
    const DriverState before = h.state();
    struct Case {
        const char* file;
        const char* name;
        std::vector<const char*> moved;
        int group;
    };
    for (const Case& c : {Case{"nvme", "nas", {"0000:3d:00.0"}, 15},
                          Case{"usb-xhci", "usb-guest", {"0000:00:14.0", "0000:00:14.2"}, 3}}) {
        const std::string xml = domain_xml(c.file);
        HookResult r = h.run(c.name, "prepare", "begin", xml);
        ASSERT_EQ(r.exit_code, 0) << c.file << ": " << r.stderr_text;
        const DriverState during = h.state();
        for (const char* a : c.moved) {
            EXPECT_EQ(during.devices.at(addr(a)).driver, "vfio-pci") << c.file << " " << a;
            EXPECT_TRUE(has_line_starting(r, std::string(a) + ": ")) << joined(r.log);
        }
        EXPECT_EQ(during.vfio_groups.count(c.group), 1U) << c.file;
        HookResult rel = h.run(c.name, "release", "end", xml);
        EXPECT_EQ(rel.exit_code, 0);
        EXPECT_EQ(rel.stderr_text, "") << joined(rel.log);
        EXPECT_EQ(h.state(), before) << c.file << "\n" << before.diff(h.state());
    }
}

TEST(Hook, UnknownOperationsDoNothing) {
    Host h("z170-gtx970");
    const std::string xml = domain_xml("win10-gtx970");
    for (auto [op, subop] :
         {std::pair{"attach", "begin"}, {"prepare", "end"}, {"release", "begin"}, {"frobnicate", "now"}, {"", ""}}) {
        HookResult r = h.run("win10-gaming", op, subop, xml);
        EXPECT_EQ(r.exit_code, 0) << op;
        EXPECT_EQ(r.stderr_text, "") << op;
    }
    EXPECT_EQ(h.kernel.writes(), 0);
}
