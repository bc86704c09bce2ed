// Hostdev networks: the network reader, the domain's <interface
// type='network'>, a PF's netdev names on the host, the pool judged by the
// sibling policy, and the hook moving the rest of a pool device's group at
// start begin.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "fake_host.hpp"
#include "hostdev/base/exit_codes.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/binding/hook.hpp"
#include "hostdev/domain/network.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/network_pool.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;
using namespace std::chrono_literals;

namespace {

// A PF with four VFs: 03:10.0 and 03:10.4 share group 40 (no ACS between
// them), 03:10.1 is alone in group 41; 00:17.1 shares group 6 with the
// root-filesystem controller.
const char* kSriovHost = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=03
dev 03:00.0 8086:1521 0x020000 group=2 driver=igb net=enp3s0f0
dev 03:00.1 8086:1521 0x020000 group=3 driver=igb net=enp3s0f1
dev 03:10.0 8086:1520 0x020000 group=40 driver=igbvf physfn=03:00.0 net=enp3s16
dev 03:10.4 8086:1520 0x020000 group=40 driver=igbvf physfn=03:00.0 net=enp3s16f4
dev 03:10.1 8086:1520 0x020000 group=41 driver=igbvf physfn=03:00.0
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
dev 00:17.0 8086:a102 0x010601 group=6 driver=ahci role=root-fs
dev 00:17.1 8086:a103 0x0c0330 group=6 driver=xhci_hcd
)";

Host sriov_host() {
    FakeRoot root(kSriovHost);
    return hostdev::testing::read_fake_host(root);
}

Network network(const std::string& forward_body, const std::string& forward_attrs = " mode='hostdev'") {
    auto n = parse_network_xml("<network>\n  <name>pool</name>\n  <forward" + forward_attrs + ">\n" + forward_body +
                                   "  </forward>\n</network>\n",
                               "pool.xml");
    if (!n) throw std::runtime_error(n.error().describe());
    return *n;
}

Domain domain_on(const std::string& interfaces) {
    auto d = parse_domain_xml(
        "<domain type='kvm'>\n<name>vm</name>\n<uuid>6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14</uuid>"
        "\n<devices>\n" +
            interfaces + "</devices>\n</domain>\n",
        "vm.xml");
    if (!d) throw std::runtime_error(d.error().describe());
    return *d;
}

const char* kOnPool = "<interface type='network'>\n<source network='pool'/>\n</interface>\n";

std::string messages(const std::vector<Problem>& ps) {
    std::string s;
    for (const auto& p : ps) s += std::string(to_string(p.severity)) + ": " + p.message + "\n";
    return s;
}

int count(const std::vector<Problem>& ps, Severity s) {
    return static_cast<int>(std::count_if(ps.begin(), ps.end(), [&](const Problem& p) { return p.severity == s; }));
}

}  // namespace

// ---- the network reader

TEST(NetworkParse, HostdevPoolOfAddressesAndPf) {
    auto n = parse_network_xml(R"(<network>
  <name>sriov</name>
  <forward mode='hostdev' managed='yes'>
    <pf dev='enp3s0f0'/>
    <address type='pci' domain='0' bus='3' slot='0x10' function='2'/>
    <address type='pci' bus='0x03' slot='0x10' function='0x1'/>
  </forward>
</network>
)",
                               "sriov.xml");
    ASSERT_TRUE(n.ok()) << n.error().describe();
    EXPECT_EQ(n->name, "sriov");
    EXPECT_TRUE(n->is_hostdev());
    EXPECT_TRUE(n->managed);
    EXPECT_EQ(n->forward_line, 3);
    ASSERT_EQ(n->pfs.size(), 1u);
    EXPECT_EQ(n->pfs[0].dev, "enp3s0f0");
    EXPECT_EQ(n->pfs[0].line, 4);
    ASSERT_EQ(n->addresses.size(), 2u);
    EXPECT_EQ(n->addresses[0].address, *PciAddress::parse("0000:03:10.2"));
    EXPECT_EQ(n->addresses[1].address, *PciAddress::parse("0000:03:10.1"));
    EXPECT_EQ(n->addresses[1].line, 6);
}

TEST(NetworkParse, AddressesAreReadAsLibvirtReadsThem) {
    // bus='010' is octal: bus 8.
    Network n = network("<address type='pci' domain='0x0000' bus='010' slot='0x02' function='0x3'/>\n");
    ASSERT_EQ(n.addresses.size(), 1u);
    EXPECT_EQ(n.addresses[0].address, *PciAddress::parse("0000:08:02.3"));
}

TEST(NetworkParse, OtherForwardModesAndNoForward) {
    Network nat = network("", " mode='nat'");
    EXPECT_FALSE(nat.is_hostdev());
    EXPECT_EQ(nat.forward_mode, std::optional<std::string>("nat"));
    auto isolated = parse_network_xml("<network><name>iso</name></network>", "iso.xml");
    ASSERT_TRUE(isolated.ok());
    EXPECT_FALSE(isolated->forward_mode.has_value());
    EXPECT_FALSE(isolated->is_hostdev());
}

TEST(NetworkParse, ErrorsNameTheFileAndLine) {
    auto bad = [](const std::string& text) {
        auto n = parse_network_xml(text, "net.xml");
        EXPECT_FALSE(n.ok()) << text;
        return n.ok() ? std::string() : n.error().message;
    };
    EXPECT_EQ(bad("<domain/>"),
              "net.xml:1: root element is <domain>, not <network>: this is not a libvirt network "
              "definition");
    EXPECT_EQ(bad("<network>\n<forward mode='hostdev'>\n<address bus='1' slot='0' function='0'/>\n</forward>\n"
                  "</network>"),
              "net.xml:3: <forward><address> has no type (libvirt requires type='pci')");
    EXPECT_NE(bad("<network>\n<forward mode='hostdev'>\n<address type='pci' bus='0x100' slot='0' function='0'/>"
                  "</forward></network>")
                  .rfind("net.xml:3: <forward><address>: ", 0),
              std::string::npos);
    EXPECT_EQ(bad("<network>\n<forward mode='hostdev'><pf/></forward></network>"),
              "net.xml:2: <pf> has no dev attribute");
    EXPECT_EQ(bad("<network>\n<forward mode='hostdev' managed='1'/></network>"),
              "net.xml:2: managed='1' must be 'yes' or 'no'");
    // The same hostile-input rules as a domain definition.
    EXPECT_EQ(bad("<?xml version='1.0'?>\n<!DOCTYPE network [<!ENTITY x 'y'>]>\n<network/>").rfind("net.xml:2: ", 0),
              0u);
    EXPECT_NE(bad("<network>\xff</network>").find("network definitions must be UTF-8"), std::string::npos);
}

// ---- the domain side

TEST(DomainParse, InterfacesOnNetworks) {
    Domain d = domain_on(
        "<interface type='network'>\n<source network='pool'/>\n</interface>\n"
        "<interface type='bridge'><source bridge='br0'/></interface>\n"
        "<interface type='network'><source network='default'/></interface>\n");
    ASSERT_EQ(d.network_interfaces.size(), 2u);
    EXPECT_EQ(d.network_interfaces[0].network, "pool");
    EXPECT_EQ(d.network_interfaces[0].line, 5);
    EXPECT_EQ(d.network_interfaces[1].network, "default");
    EXPECT_TRUE(d.passthrough.empty());  // the device is only known when the domain starts
}

// ---- the host side

TEST(HostNetdevs, ReadFromSysfsAndKeptInTheSnapshot) {
    const Host h = sriov_host();
    const PciDevice* pf = h.find_netdev("enp3s0f0");
    ASSERT_NE(pf, nullptr);
    EXPECT_EQ(pf->address, *PciAddress::parse("0000:03:00.0"));
    EXPECT_EQ(pf->virtfns.size(), 3u);
    EXPECT_EQ(h.find_netdev("eno1")->address, *PciAddress::parse("0000:00:1f.6"));
    EXPECT_EQ(h.find_netdev("nope0"), nullptr);
    EXPECT_TRUE(h.find(*PciAddress::parse("03:10.1"))->netdevs.empty());
    // The snapshot writes the key for devices that have interfaces, and reads it back.
    const std::string snap = write_snapshot(h);
    EXPECT_NE(snap.find("\"netdevs\": [\n"), std::string::npos);
    auto back = parse_snapshot(snap, "snap.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->find_netdev("enp3s0f0")->address, pf->address);
    EXPECT_EQ(write_snapshot(*back), snap);
}

// ---- judging the pool

TEST(NetworkPool, AGroupViableOnItsOwnSaysNothing) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network("<address type='pci' bus='0x03' slot='0x10' function='0x1'/>\n"), "p.xml"));
    auto ps = judge_network_pools(domain_on(kOnPool), nets, sriov_host(), "pass --network");
    EXPECT_TRUE(ps.empty()) << messages(ps);
}

TEST(NetworkPool, AnotherEndpointOnAHostDriverIsAWarningTheHookHandles) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network("<address type='pci' bus='0x03' slot='0x10' function='0x0'/>\n"), "p.xml"));
    const Host h = sriov_host();
    auto ps = judge_network_pools(domain_on(kOnPool), nets, h, "pass --network");
    ASSERT_EQ(ps.size(), 1u) << messages(ps);
    EXPECT_EQ(ps[0].severity, Severity::Warning);
    EXPECT_EQ(ps[0].device, PciAddress::parse("03:10.0").value());
    EXPECT_EQ(ps[0].message,
              describe_device(*h.find(*PciAddress::parse("03:10.0"))) +
                  " in the pool of network 'pool' shares IOMMU group 40 with " +
                  describe_device(*h.find(*PciAddress::parse("03:10.4"))) +
                  " (on igbvf): libvirt detaches only the device it gives the domain; the hostdev hook moves the "
                  "rest of the group to vfio-pci at 'start begin' and returns it at release (without the hook QEMU "
                  "refuses the group as not viable)");
}

TEST(NetworkPool, ASiblingTheHostNeedsBlocksTheDomain) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network("<address type='pci' bus='0x00' slot='0x17' function='0x1'/>\n"), "p.xml"));
    const Host h = sriov_host();
    auto ps = judge_network_pools(domain_on(kOnPool), nets, h, "pass --network");
    ASSERT_EQ(ps.size(), 1u) << messages(ps);
    EXPECT_EQ(ps[0].severity, Severity::Error);
    EXPECT_EQ(ps[0].message,
              describe_device(*h.find(*PciAddress::parse("00:17.1"))) +
                  " in the pool of network 'pool' shares IOMMU group 6 with " +
                  describe_device(*h.find(*PciAddress::parse("00:17.0"))) +
                  ", which cannot leave the host (in use by the host: controller of the root filesystem): a "
                  "domain given this device cannot start; take it out of the pool");
}

TEST(NetworkPool, AbsentOrRefusedPoolDevicesAreErrors) {
    Networks nets;
    ASSERT_TRUE(add_network(nets,
                            network("<address type='pci' bus='0x05' slot='0x00' function='0x0'/>\n"
                                    "<address type='pci' bus='0x00' slot='0x1f' function='0x6'/>\n"),
                            "p.xml"));
    const Host h = sriov_host();
    auto ps = judge_network_pools(domain_on(kOnPool), nets, h, "pass --network");
    ASSERT_EQ(ps.size(), 2u) << messages(ps);
    EXPECT_EQ(ps[0].message,
              "0000:05:00.0 in the pool of network 'pool' is not on this host: no such PCI device (check the "
              "network's <address>, or the host snapshot)");
    EXPECT_EQ(ps[1].severity, Severity::Error);
    EXPECT_EQ(
        ps[1].message.rfind(describe_device(*h.find(*PciAddress::parse("00:1f.6"))) + " is needed by the host", 0), 0u)
        << ps[1].message;
    EXPECT_NE(ps[1].message.find("(it is in the pool of network 'pool')"), std::string::npos);
}

TEST(NetworkPool, PfDevPoolIsItsVirtualFunctions) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network("<pf dev='enp3s0f0'/>\n"), "p.xml"));
    auto ps = judge_network_pools(domain_on(kOnPool), nets, sriov_host(), "pass --network");
    // 03:10.0 and 03:10.4 share group 40 (each a warning for the other), 03:10.1 is alone.
    EXPECT_EQ(count(ps, Severity::Warning), 2) << messages(ps);
    EXPECT_EQ(ps.size(), 2u) << messages(ps);
    EXPECT_EQ(ps[0].device, PciAddress::parse("03:10.0").value());
    EXPECT_EQ(ps[1].device, PciAddress::parse("03:10.4").value());
}

TEST(NetworkPool, PfDevMissingOrWithoutVirtualFunctions) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network("<pf dev='nope0'/>\n"), "p.xml"));
    const Host h = sriov_host();
    auto ps = judge_network_pools(domain_on(kOnPool), nets, h, "pass --network");
    ASSERT_EQ(ps.size(), 1u) << messages(ps);
    EXPECT_EQ(ps[0].severity, Severity::Error);
    EXPECT_EQ(ps[0].message.rfind("network 'pool': pf dev 'nope0' (line 4 of its definition) is not a network "
                                  "interface of any PCI device on this host",
                                  0),
              0u)
        << ps[0].message;
    Networks none;
    ASSERT_TRUE(add_network(none, network("<pf dev='enp3s0f1'/>\n"), "p.xml"));
    auto no_vfs = judge_network_pools(domain_on(kOnPool), none, h, "pass --network");
    ASSERT_EQ(no_vfs.size(), 1u) << messages(no_vfs);
    EXPECT_EQ(no_vfs[0].message, describe_device(*h.find(*PciAddress::parse("03:00.1"))) +
                                     ", pf dev 'enp3s0f1' of network 'pool', has no SR-IOV virtual functions: libvirt "
                                     "has no device to give (create them through the PF's sriov_numvfs)");
}

TEST(NetworkPool, AHostdevNetworkWithoutAPoolIsAnError) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network(""), "p.xml"));
    auto ps = judge_network_pools(domain_on(kOnPool), nets, sriov_host(), "pass --network");
    ASSERT_EQ(ps.size(), 1u) << messages(ps);
    EXPECT_EQ(ps[0].severity, Severity::Error);
    EXPECT_EQ(ps[0].message,
              "network 'pool' forwards in hostdev mode (line 3 of its definition) but has no <pf> and no <address>: "
              "libvirt has no device to give");
}

TEST(NetworkPool, NetworksNotGivenAreANoteOtherModesNothing) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network("", " mode='nat'"), "p.xml"));
    auto nat = judge_network_pools(domain_on(kOnPool), nets, sriov_host(), "pass --network");
    EXPECT_TRUE(nat.empty()) << messages(nat);
    auto missing = judge_network_pools(domain_on(std::string(kOnPool) + kOnPool), {}, sriov_host(), "pass --network");
    ASSERT_EQ(missing.size(), 1u);  // one note per network, not per interface
    EXPECT_EQ(missing[0].severity, Severity::Note);
    EXPECT_EQ(missing[0].message,
              "network 'pool' (interface on line 5) not given: its pool was not checked; pass --network");
}

TEST(NetworkPool, NamesAreUniqueAndRequired) {
    Networks nets;
    ASSERT_TRUE(add_network(nets, network(""), "a.xml"));
    auto again = add_network(nets, network(""), "b.xml");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().message, "b.xml: network 'pool' is given twice");
    auto unnamed = parse_network_xml("<network/>", "u.xml");
    ASSERT_TRUE(unnamed.ok());
    EXPECT_FALSE(add_network(nets, *unnamed, "u.xml").ok());
}

TEST(NetworkPool, ErrorsBlockTheDomainThroughFix) {
    const Host h = sriov_host();
    const std::string xml = "<domain type='kvm'><name>vm</name><memory>1</memory><os><type>hvm</type></os><devices>" +
                            std::string(kOnPool) + "</devices></domain>";
    FixResult r = fix_domain(xml, "vm.xml", h, nullptr, {});
    EXPECT_EQ(r.status, FixStatus::Ok);
    Networks warn;
    ASSERT_TRUE(add_network(warn, network("<address type='pci' bus='0x03' slot='0x10' function='0x0'/>\n"), "p.xml"));
    FixResult w = r;
    add_network_problems(w, warn, h, "pass --network");
    EXPECT_EQ(w.status, FixStatus::Ok);  // a warning informs
    EXPECT_EQ(w.problems.size(), 1u);
    Networks bad;
    ASSERT_TRUE(add_network(bad, network("<pf dev='nope0'/>\n"), "p.xml"));
    add_network_problems(r, bad, h, "pass --network");
    EXPECT_EQ(r.status, FixStatus::Blocked);
}

// ---- the hook at start begin

namespace {

constexpr const char* kUuid = "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14";

// The domain as libvirt passes it at prepare begin (and after the pool
// device is released): the interface still names its network.
std::string xml_at_prepare() {
    return std::string("<domain type='kvm'>\n<name>vm</name>\n<uuid>") + kUuid + "</uuid>\n<devices>\n" + kOnPool +
           "</devices>\n</domain>\n";
}

// At start begin libvirt has picked 03:10.0 and detached it. It formats the
// actual device in place of the network (virDomainNetDefFormat without
// VIR_DOMAIN_DEF_FORMAT_ACTUAL_NET): <interface type='hostdev'>, with the
// network's managed and the device's PCI source, and no network name.
std::string xml_at_start() {
    return std::string("<domain type='kvm'>\n<name>vm</name>\n<uuid>") + kUuid +
           "</uuid>\n<devices>\n<interface type='hostdev' managed='yes'>\n<mac address='52:54:00:6d:90:02'/>\n"
           "<source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x0'/></source>\n"
           "</interface>\n</devices>\n</domain>\n";
}

struct Rig {
    Rig() : root(kSriovHost), kernel(root.path(), root.spec()) {
        config.root = root.path();
        config.wait_timeout = 2000ms;
        config.lock_timeout = 2000ms;
    }
    HookResult run(const char* op, const char* subop, const std::string& xml) {
        return run_hook({"vm", op, subop, "-"}, xml, config, kernel);
    }
    // What libvirt does for a managed pool device before start begin.
    void libvirt_detaches(const char* dev) {
        const auto sys = root.path() / "sys/bus/pci";
        ASSERT_TRUE(kernel.write(sys / "devices" / dev / "driver_override", "vfio-pci"));
        ASSERT_TRUE(kernel.write(sys / "drivers/igbvf/unbind", dev));
        ASSERT_TRUE(kernel.write(sys / "drivers_probe", dev));
    }
    hostdev::testing::DriverState state() const { return hostdev::testing::capture_driver_state(root.path()); }
    FakeRoot root;
    hostdev::testing::SimulatedKernel kernel;
    Config config;
};

}  // namespace

TEST(HookStart, MovesTheRestOfThePoolDevicesGroupAndReleaseReturnsIt) {
    Rig rig;
    const auto vf0 = *PciAddress::parse("03:10.0");
    const auto vf4 = *PciAddress::parse("03:10.4");
    const auto before = rig.state();
    // prepare begin: nothing is known yet.
    HookResult prep = rig.run("prepare", "begin", xml_at_prepare());
    EXPECT_EQ(prep.exit_code, 0);
    EXPECT_EQ(rig.kernel.writes(), 0);
    rig.libvirt_detaches("0000:03:10.0");
    const int libvirt_writes = rig.kernel.writes();
    // start begin: the XML names 03:10.0; its group mate 03:10.4 follows.
    HookResult start = rig.run("start", "begin", xml_at_start());
    EXPECT_EQ(start.exit_code, 0) << start.stderr_text;
    EXPECT_GT(rig.kernel.writes(), libvirt_writes);
    auto during = rig.state();
    EXPECT_EQ(during.devices.at(vf4).driver, std::optional<std::string>("vfio-pci"));
    EXPECT_EQ(during.devices.at(vf0).driver, std::optional<std::string>("vfio-pci"));
    EXPECT_TRUE(std::any_of(start.log.begin(), start.log.end(), [](const std::string& l) {
        return l.rfind("0000:03:10.4: igbvf -> vfio-pci", 0) == 0;
    })) << ::testing::PrintToString(start.log);
    EXPECT_TRUE(std::any_of(start.log.begin(), start.log.end(), [](const std::string& l) {
        return l.rfind("0000:03:10.0: vfio-pci -> vfio-pci (already on vfio-pci; not recorded)", 0) == 0;
    })) << ::testing::PrintToString(start.log);
    // A second start begin (the same XML) writes nothing more.
    const int after_start = rig.kernel.writes();
    EXPECT_EQ(rig.run("start", "begin", xml_at_start()).exit_code, 0);
    EXPECT_EQ(rig.kernel.writes(), after_start);
    // release end (the interface names its network again): 03:10.4 returns to
    // igbvf; 03:10.0 is libvirt's to reattach and stays as it is.
    HookResult rel = rig.run("release", "end", xml_at_prepare());
    EXPECT_EQ(rel.exit_code, 0) << rel.stderr_text;
    auto after = rig.state();
    EXPECT_EQ(after.devices.at(vf4), before.devices.at(vf4)) << before.diff(after);
    EXPECT_EQ(after.devices.at(vf0).driver, std::optional<std::string>("vfio-pci"));
}

TEST(HookStart, ARefusedGroupStopsTheStart) {
    Rig rig;
    // A pool device in the root-filesystem controller's group: refused, nothing written.
    const std::string xml = std::string("<domain type='kvm'><name>vm</name><uuid>") + kUuid +
                            "</uuid><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address "
                            "domain='0x0000' bus='0x00' slot='0x17' function='0x1'/></source></hostdev></devices>"
                            "</domain>";
    HookResult r = rig.run("start", "begin", xml);
    EXPECT_EQ(r.exit_code, hostdev::exits::hook::kRefused);
    EXPECT_EQ(r.stderr_text.rfind("hostdev: vm: refused, nothing changed: ", 0), 0u) << r.stderr_text;
    EXPECT_EQ(rig.kernel.writes(), 0);
}
