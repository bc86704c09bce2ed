// libvirt's node-device XML to the host model, and the checks across domains
// of one connection: parsers on literal XML as libvirt writes it.
#include <gtest/gtest.h>

#include <algorithm>

#include "hostdev/domain/domain.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/policy/libvirt_checks.hpp"

using namespace hostdev;

namespace {

PciAddress addr(std::string_view s) { return *PciAddress::parse(s); }

// A PCI node device as libvirt 9 writes it.
std::string pci_xml(const std::string& address, const std::string& parent, const std::string& cls,
                    const std::string& ids, std::optional<int> group, const std::vector<std::string>& members,
                    const std::string& driver = "", const std::string& extra = "") {
    auto a = addr(address);
    std::string x = "<device>\n  <name>" + a.nodedev_name() + "</name>\n";
    x += "  <path>/sys/devices/pci0000:00/" + a.str() + "</path>\n";
    x += "  <parent>" + parent + "</parent>\n";
    if (!driver.empty()) x += "  <driver>\n    <name>" + driver + "</name>\n  </driver>\n";
    x += "  <capability type='pci'>\n";
    if (!cls.empty()) x += "    <class>" + cls + "</class>\n";
    x += "    <domain>" + std::to_string(a.domain) + "</domain>\n    <bus>" + std::to_string(a.bus) +
         "</bus>\n    <slot>" + std::to_string(a.slot) + "</slot>\n    <function>" + std::to_string(a.function) +
         "</function>\n";
    x += "    <product id='0x" + ids.substr(5, 4) + "'>Product " + ids + "</product>\n";
    x += "    <vendor id='0x" + ids.substr(0, 4) + "'>Vendor " + ids.substr(0, 4) + "</vendor>\n";
    x += extra;
    if (group) {
        x += "    <iommuGroup number='" + std::to_string(*group) + "'>\n";
        for (const auto& m : members) {
            auto ma = addr(m);
            char buf[128];
            std::snprintf(buf, sizeof buf,
                          "      <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n", ma.domain,
                          ma.bus, ma.slot, ma.function);
            x += buf;
        }
        x += "    </iommuGroup>\n";
    }
    x += "  </capability>\n</device>\n";
    return x;
}

std::string child_xml(const std::string& name, const std::string& parent, const std::string& capability) {
    return "<device>\n  <name>" + name + "</name>\n  <parent>" + parent + "</parent>\n" + capability + "</device>\n";
}

NodeDevice parsed(const std::string& xml) {
    auto r = parse_nodedev_xml(xml, "test");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    return r.ok() ? *r : NodeDevice{};
}

const PciDevice& device(const Host& h, std::string_view a) {
    const PciDevice* d = h.find(addr(a));
    if (!d) throw std::runtime_error("no device " + std::string(a));
    return *d;
}

bool has_problem(const std::vector<std::string>& problems, std::string_view text) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

}  // namespace

TEST(NodedevParse, PciFunctionWithEverythingLibvirtShows) {
    const std::string xml = R"(<device>
  <name>pci_0000_01_00_0</name>
  <path>/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0</path>
  <parent>pci_0000_00_01_0</parent>
  <driver>
    <name>nouveau</name>
  </driver>
  <capability type='pci'>
    <class>0x030000</class>
    <domain>0</domain>
    <bus>1</bus>
    <slot>0</slot>
    <function>0</function>
    <product id='0x13c2'>GM204 [GeForce GTX 970]</product>
    <vendor id='0x10de'>NVIDIA Corporation</vendor>
    <iommuGroup number='13'>
      <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
      <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>
    </iommuGroup>
    <numa node='1'/>
    <pci-express>
      <link validity='cap' port='0' speed='8' width='16'/>
      <link validity='sta' speed='2.5' width='16'/>
    </pci-express>
  </capability>
</device>
)";
    NodeDevice nd = parsed(xml);
    EXPECT_EQ(nd.name, "pci_0000_01_00_0");
    EXPECT_EQ(nd.parent, "pci_0000_00_01_0");
    EXPECT_EQ(nd.capability, "pci");
    ASSERT_TRUE(nd.pci);
    const PciDevice& d = *nd.pci;
    EXPECT_EQ(d.address, addr("0000:01:00.0"));
    EXPECT_EQ(d.vendor, 0x10de);
    EXPECT_EQ(d.device, 0x13c2);
    EXPECT_EQ(d.vendor_name, "NVIDIA Corporation");
    EXPECT_EQ(d.device_name, "GM204 [GeForce GTX 970]");
    EXPECT_EQ(d.class_code, 0x030000u);
    EXPECT_TRUE(nd.class_known);
    EXPECT_EQ(d.driver, "nouveau");
    EXPECT_EQ(d.iommu_group, 13);
    EXPECT_EQ(d.numa_node, 1);
    EXPECT_FALSE(d.header_type);    // libvirt names bridges only
    EXPECT_FALSE(d.reset_methods);  // not shown by libvirt: unknown, not "none"
    ASSERT_EQ(nd.group_members.size(), 2u);
    EXPECT_EQ(nd.group_members[1], addr("0000:01:00.1"));
}

TEST(NodedevParse, UnboundDeviceWithoutClassOrGroup) {
    NodeDevice nd = parsed(pci_xml("0000:00:1f.4", "computer", "", "8086:a123", std::nullopt, {}));
    ASSERT_TRUE(nd.pci);
    EXPECT_FALSE(nd.driver);
    EXPECT_FALSE(nd.pci->driver);
    EXPECT_FALSE(nd.class_known);
    EXPECT_EQ(nd.pci->class_code, 0u);
    EXPECT_FALSE(nd.pci->iommu_group);
    EXPECT_TRUE(nd.group_members.empty());
}

TEST(NodedevParse, BridgeAndSriovCapabilities) {
    NodeDevice bridge = parsed(pci_xml("0000:00:1c.0", "computer", "0x060400", "8086:a110", 6, {"0000:00:1c.0"},
                                       "pcieport", "    <capability type='pci-bridge'/>\n"));
    ASSERT_TRUE(bridge.pci);
    EXPECT_EQ(bridge.pci->header_type, 1);
    EXPECT_TRUE(bridge.pci->is_bridge());
    NodeDevice cardbus = parsed(pci_xml("0000:00:1e.0", "computer", "0x060700", "1180:0476", std::nullopt, {}, "",
                                        "    <capability type='cardbus-bridge'/>\n"));
    EXPECT_EQ(cardbus.pci->header_type, 2);
    EXPECT_TRUE(cardbus.pci->is_bridge());

    NodeDevice pf = parsed(pci_xml("0000:04:00.0", "computer", "0x020000", "8086:1572", 13, {"0000:04:00.0"}, "i40e",
                                   "    <capability type='virt_functions' maxCount='64'>\n"
                                   "      <address domain='0x0000' bus='0x04' slot='0x02' function='0x0'/>\n"
                                   "      <address domain='0x0000' bus='0x04' slot='0x02' function='0x1'/>\n"
                                   "    </capability>\n"));
    ASSERT_EQ(pf.pci->virtfns.size(), 2u);
    EXPECT_EQ(pf.pci->virtfns[1], addr("0000:04:02.1"));
    NodeDevice vf = parsed(pci_xml("0000:04:02.0", "computer", "0x020000", "8086:154c", 14, {"0000:04:02.0"}, "iavf",
                                   "    <capability type='phys_function'>\n"
                                   "      <address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n"
                                   "    </capability>\n"));
    EXPECT_EQ(vf.pci->physfn, addr("0000:04:00.0"));
}

TEST(NodedevParse, ChildDevices) {
    NodeDevice net = parsed(child_xml("net_eth0_52_54_00_12_34_56", "pci_0000_00_03_0",
                                      "  <capability type='net'>\n    <interface>eth0</interface>\n"
                                      "    <address>52:54:00:12:34:56</address>\n"
                                      "    <capability type='80203'/>\n  </capability>\n"));
    EXPECT_EQ(net.capability, "net");
    EXPECT_EQ(net.interface, "eth0");
    EXPECT_FALSE(net.pci);
    NodeDevice disk = parsed(child_xml("block_vda", "pci_0000_00_02_0",
                                       "  <capability type='storage'>\n    <block>/dev/vda</block>\n"
                                       "    <drive_type>disk</drive_type>\n  </capability>\n"));
    EXPECT_EQ(disk.block, "/dev/vda");
    NodeDevice kbd = parsed(child_xml("usb_1_3_1_0", "usb_1_3",
                                      "  <capability type='usb'>\n    <number>0</number>\n    <class>3</class>\n"
                                      "    <subclass>1</subclass>\n    <protocol>1</protocol>\n"
                                      "    <description>Keyboard</description>\n  </capability>\n"));
    ASSERT_TRUE(kbd.usb_interface);
    EXPECT_EQ(kbd.usb_interface->cls, 3u);
    EXPECT_EQ(kbd.usb_interface->protocol, 1u);
}

// libvirt reads a node device's <domain>, <bus>, <slot> and <function> in
// decimal (virXPathUInt), and the <address> attributes inside it in base 0.
TEST(NodedevParse, NumbersAsLibvirtReadsThem) {
    std::string x = pci_xml("0000:0a:00.0", "computer", "0x020000", "8086:1533", 3, {});
    x.replace(x.find("<bus>10</bus>"), 13, "<bus>010</bus>");
    x.replace(x.find("    </iommuGroup>"), 0, "      <address domain='0' bus='010' slot='0' function='0'/>\n");
    NodeDevice n = parsed(x);
    ASSERT_TRUE(n.pci.has_value());
    EXPECT_EQ(n.pci->address, addr("0000:0a:00.0"));
    EXPECT_EQ(n.group_members, (std::vector<PciAddress>{addr("0000:08:00.0")}));
    // Leading white space and a '+' are skipped, as strtoul does.
    std::string spaced = pci_xml("0000:0a:00.0", "computer", "0x020000", "8086:1533", std::nullopt, {});
    spaced.replace(spaced.find("<slot>0</slot>"), 14, "<slot>\n +3</slot>");
    EXPECT_EQ(parsed(spaced).pci->address, addr("0000:0a:03.0"));
}

// Devices behind Intel VMD sit in PCI domains above 0xffff: 10000:01:00.0 is
// the node device pci_10000_01_00_0, with <domain>65536</domain>.
TEST(NodedevParse, VmdDomainAboveFfff) {
    std::string x = pci_xml("10000:01:00.0", "pci_0000_00_0e_0", "0x010802", "144d:a808", 12,
                            {"10000:01:00.0", "10000:00:02.0"}, "nvme");
    EXPECT_NE(x.find("<domain>65536</domain>"), std::string::npos);
    EXPECT_NE(x.find("domain='0x10000'"), std::string::npos);
    NodeDevice n = parsed(x);
    ASSERT_TRUE(n.pci.has_value());
    EXPECT_EQ(n.name, "pci_10000_01_00_0");
    EXPECT_EQ(n.pci->address.str(), "10000:01:00.0");
    EXPECT_EQ(n.group_members, (std::vector<PciAddress>{addr("10000:01:00.0"), addr("10000:00:02.0")}));
}

TEST(NodedevParse, ErrorsNameTheDevice) {
    auto e1 = parse_nodedev_xml("not xml", "pci_0000_01_00_0");
    ASSERT_FALSE(e1.ok());
    EXPECT_NE(e1.error().message.find("pci_0000_01_00_0: not XML"), std::string::npos) << e1.error().message;

    auto e2 = parse_nodedev_xml("<domain><name>x</name></domain>", "x");
    ASSERT_FALSE(e2.ok());
    EXPECT_NE(e2.error().message.find("expected <device>"), std::string::npos);

    auto e3 = parse_nodedev_xml("<!DOCTYPE device [<!ENTITY a 'b'>]><device><name>&a;</name></device>", "x");
    ASSERT_FALSE(e3.ok());
    EXPECT_NE(e3.error().message.find("DOCTYPE"), std::string::npos);

    auto e4 = parse_nodedev_xml("<device><capability type='net'/></device>", "x");
    ASSERT_FALSE(e4.ok());
    EXPECT_NE(e4.error().message.find("without <name>"), std::string::npos);

    std::string bad_slot = pci_xml("0000:00:1f.0", "computer", "0x060100", "8086:a145", 10, {"0000:00:1f.0"});
    bad_slot.replace(bad_slot.find("<slot>31</slot>"), 15, "<slot>32</slot>");
    auto e5 = parse_nodedev_xml(bad_slot, "pci_0000_00_1f_0");
    ASSERT_FALSE(e5.ok());
    EXPECT_NE(e5.error().message.find("<slot>"), std::string::npos) << e5.error().message;

    // libvirt reads <bus> and its siblings in decimal: a 0x prefix is refused.
    std::string hex_bus = pci_xml("0000:00:17.0", "computer", "0x010601", "8086:a282", std::nullopt, {});
    hex_bus.replace(hex_bus.find("<bus>0</bus>"), 12, "<bus>0x0</bus>");
    auto e6 = parse_nodedev_xml(hex_bus, "pci_0000_00_17_0");
    ASSERT_FALSE(e6.ok());
    EXPECT_NE(e6.error().message.find("pci_0000_00_17_0: <bus>: bus='0x0' is not a number"), std::string::npos)
        << e6.error().message;

    std::string no_vendor = pci_xml("0000:00:02.0", "computer", "0x030000", "8086:1912", std::nullopt, {});
    no_vendor.erase(no_vendor.find("    <vendor"), no_vendor.find("</vendor>\n") + 10 - no_vendor.find("    <vendor"));
    auto e7 = parse_nodedev_xml(no_vendor, "x");
    ASSERT_FALSE(e7.ok());
    EXPECT_NE(e7.error().message.find("<vendor> is missing"), std::string::npos) << e7.error().message;

    auto e8 = parse_nodedev_xml(std::string(kMaxNodeDeviceXmlBytes + 1, ' '), "big");
    ASSERT_FALSE(e8.ok());
    EXPECT_NE(e8.error().message.find("larger than"), std::string::npos);

    std::string bad_group = pci_xml("0000:01:00.0", "computer", "0x030000", "10de:13c2", 1, {"0000:01:00.0"});
    bad_group.replace(bad_group.find("number='1'"), 10, "number='x'");
    auto e9 = parse_nodedev_xml(bad_group, "x");
    ASSERT_FALSE(e9.ok());
    EXPECT_NE(e9.error().message.find("iommuGroup"), std::string::npos);
}

TEST(NodedevParse, CpuVendorFromCapabilities) {
    EXPECT_EQ(cpu_vendor_from_capabilities("<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch>"
                                           "<model>Skylake-Client-IBRS</model><vendor>Intel</vendor></cpu></host>"
                                           "</capabilities>"),
              "GenuineIntel");
    EXPECT_EQ(cpu_vendor_from_capabilities("<capabilities><host><cpu><vendor>AMD</vendor></cpu></host></capabilities>"),
              "AuthenticAMD");
    EXPECT_EQ(cpu_vendor_from_capabilities("<capabilities><host><cpu><arch>aarch64</arch></cpu></host></capabilities>"),
              "");
    EXPECT_EQ(cpu_vendor_from_capabilities("garbage"), "");
}

namespace {

// A host as a libvirt daemon would list it: a GPU group behind a root port,
// a USB controller with a keyboard, a SATA controller with a disk through
// the SCSI chain, a NIC with an interface, an SR-IOV pair.
std::vector<Result<NodeDevice>> sample_devices() {
    std::vector<std::string> xml = {
        "<device><name>computer</name><capability type='system'/></device>",
        pci_xml("0000:00:01.0", "computer", "0x060400", "8086:1901", 1,
                {"0000:00:01.0", "0000:01:00.0", "0000:01:00.1"}, "pcieport", "    <capability type='pci-bridge'/>\n"),
        pci_xml("0000:01:00.0", "pci_0000_00_01_0", "0x030000", "10de:13c2", 1,
                {"0000:00:01.0", "0000:01:00.0", "0000:01:00.1"}, "nouveau"),
        pci_xml("0000:01:00.1", "pci_0000_00_01_0", "0x040300", "10de:0fbb", 1,
                {"0000:00:01.0", "0000:01:00.0", "0000:01:00.1"}, "snd_hda_intel"),
        pci_xml("0000:00:14.0", "computer", "0x0c0330", "8086:a12f", 4, {"0000:00:14.0", "0000:00:14.2"}, "xhci_hcd"),
        pci_xml("0000:00:14.2", "computer", "0x118000", "8086:a131", 4, {"0000:00:14.0", "0000:00:14.2"},
                "intel_pch_thermal"),
        child_xml("usb_usb1", "pci_0000_00_14_0",
                  "<capability type='usb_device'><bus>1</bus><device>1</device>"
                  "<product id='0x0002'/><vendor id='0x1d6b'/></capability>"),
        child_xml("usb_1_2", "usb_usb1",
                  "<capability type='usb_device'><bus>1</bus><device>2</device>"
                  "<product id='0xc31c'/><vendor id='0x046d'/></capability>"),
        child_xml("usb_1_2_1_0", "usb_1_2",
                  "<capability type='usb'><number>0</number><class>3</class>"
                  "<subclass>1</subclass><protocol>1</protocol></capability>"),
        pci_xml("0000:00:17.0", "computer", "0x010601", "8086:a102", 5, {"0000:00:17.0"}, "ahci"),
        child_xml("scsi_host0", "pci_0000_00_17_0", "<capability type='scsi_host'><host>0</host></capability>"),
        child_xml("scsi_target0_0_0", "scsi_host0",
                  "<capability type='scsi_target'><target>target0:0:0</target></capability>"),
        child_xml("scsi_0_0_0_0", "scsi_target0_0_0",
                  "<capability type='scsi'><host>0</host><bus>0</bus>"
                  "<target>0</target><lun>0</lun><type>disk</type></capability>"),
        child_xml("block_sda_WD", "scsi_0_0_0_0", "<capability type='storage'><block>/dev/sda</block></capability>"),
        pci_xml("0000:00:1f.6", "computer", "0x020000", "8086:15b8", 6, {"0000:00:1f.6"}, "e1000e"),
        child_xml("net_eno1_aa", "pci_0000_00_1f_6", "<capability type='net'><interface>eno1</interface></capability>"),
        pci_xml("0000:04:00.0", "computer", "0x020000", "8086:1572", 13, {"0000:04:00.0"}, "i40e",
                "    <capability type='virt_functions'>\n"
                "      <address domain='0x0000' bus='0x04' slot='0x02' function='0x0'/>\n    </capability>\n"),
        pci_xml("0000:04:02.0", "computer", "0x020000", "8086:154c", 14, {"0000:04:02.0"}, ""),
    };
    std::vector<Result<NodeDevice>> out;
    for (const auto& x : xml) out.push_back(parse_nodedev_xml(x, "sample"));
    return out;
}

}  // namespace

TEST(NodedevHost, SameModelAsSysfsGives) {
    auto devices = sample_devices();
    for (const auto& d : devices) ASSERT_TRUE(d.ok()) << d.error().describe();
    LibvirtHost lh = host_from_node_devices(devices, "GenuineIntel");
    const Host& h = lh.host;
    EXPECT_TRUE(h.iommu_present);
    EXPECT_EQ(h.cpu_vendor, "GenuineIntel");
    ASSERT_EQ(h.devices.size(), 9u);
    ASSERT_TRUE(h.groups.count(1));
    EXPECT_EQ(h.groups.at(1).members,
              (std::vector<PciAddress>{addr("0000:00:01.0"), addr("0000:01:00.0"), addr("0000:01:00.1")}));
    EXPECT_EQ(device(h, "01:00.0").driver, "nouveau");
    EXPECT_FALSE(device(h, "04:02.0").driver);  // no <driver>: unbound
    EXPECT_EQ(device(h, "01:00.1").parent_bridges, std::vector<PciAddress>{addr("0000:00:01.0")});
    EXPECT_TRUE(device(h, "00:01.0").parent_bridges.empty());
    // SR-IOV: the VF's node device does not name its PF here; the PF's does.
    EXPECT_EQ(device(h, "04:02.0").physfn, addr("0000:04:00.0"));
    EXPECT_EQ(device(h, "04:00.0").virtfns, std::vector<PciAddress>{addr("0000:04:02.0")});
    // Roles: the keyboard's controller only.
    EXPECT_TRUE(device(h, "00:14.0").has_role(HostRole::HostKeyboard));
    for (const auto& d : h.devices) {
        if (d.address != addr("0000:00:14.0")) {
            EXPECT_TRUE(d.roles.empty()) << d.address.str();
        }
    }
    // Uses: the disk through the SCSI chain, the interface, the keyboard.
    ASSERT_TRUE(lh.uses.count(addr("0000:00:17.0")));
    EXPECT_EQ(lh.uses.at(addr("0000:00:17.0")).front().kind, HostUse::Kind::Disk);
    EXPECT_EQ(lh.uses.at(addr("0000:00:17.0")).front().name, "/dev/sda");
    EXPECT_EQ(lh.uses.at(addr("0000:00:1f.6")).front().name, "eno1");
    EXPECT_EQ(lh.uses.at(addr("0000:00:14.0")).front().kind, HostUse::Kind::Keyboard);
    EXPECT_FALSE(lh.uses.count(addr("0000:01:00.0")));
    // What libvirt cannot show is said once, as a host warning.
    EXPECT_TRUE(has_problem(h.warnings, "default route"));
}

// A pin made on the host records subsystem ids and a revision, which node
// devices do not show: unknown there, so not compared (README "Device pins").
TEST(NodedevHost, PinFieldsLibvirtDoesNotShowAreUnknownNotZero) {
    LibvirtHost lh = host_from_node_devices(sample_devices(), "GenuineIntel");
    const DeviceIdentity id = identity_of(device(lh.host, "01:00.0"));
    EXPECT_EQ(id.vendor, 0x10de);
    EXPECT_EQ(id.device, 0x13c2);
    EXPECT_EQ(id.class_code, 0x030000U);
    EXPECT_EQ(id.slot_path, "0000:00/01.0/00.0");
    EXPECT_FALSE(id.subsystem_vendor);
    EXPECT_FALSE(id.subsystem_device);
    EXPECT_FALSE(id.revision);
    DeviceIdentity pinned = id;
    pinned.subsystem_vendor = 0x3842;
    pinned.subsystem_device = 0x2974;
    pinned.revision = 0xa1;
    const IdentityComparison c = compare_identity(pinned, id);
    EXPECT_TRUE(c.matches());
    EXPECT_EQ(c.not_compared, (std::vector<IdentityField>{IdentityField::Subsystem, IdentityField::Revision}));
    pinned.device = 0x17c8;
    EXPECT_EQ(compare_identity(pinned, id).differ, std::vector<IdentityField>{IdentityField::Device});
    // A snapshot of this host (virt-hostdev snapshot) keeps them unknown: null.
    const std::string snap = write_snapshot(lh.host);
    EXPECT_NE(snap.find("\"subsystem_vendor\": null"), std::string::npos);
    auto back = parse_snapshot(snap, "libvirt.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(identity_of(device(*back, "01:00.0")), id);
    EXPECT_EQ(write_snapshot(*back), snap);
    // Without <class> (older libvirt) the class is unknown too.
    LibvirtHost old = host_from_node_devices(
        {parse_nodedev_xml(pci_xml("0000:00:14.0", "computer", "", "8086:a12f", 4, {"0000:00:14.0"}), "old")},
        "GenuineIntel");
    EXPECT_FALSE(identity_of(device(old.host, "00:14.0")).class_code);
}

TEST(NodedevHost, MouseIsNotAKeyboard) {
    std::vector<Result<NodeDevice>> devices;
    devices.push_back(
        parse_nodedev_xml(pci_xml("0000:00:14.0", "computer", "0x0c0330", "8086:a12f", 4, {"0000:00:14.0"}), "x"));
    devices.push_back(
        parse_nodedev_xml(child_xml("usb_1_4", "pci_0000_00_14_0",
                                    "<capability type='usb_device'><bus>1</bus>"
                                    "<device>4</device><product id='0xc077'/><vendor id='0x046d'/></capability>"),
                          "x"));
    devices.push_back(
        parse_nodedev_xml(child_xml("usb_1_4_1_0", "usb_1_4",
                                    "<capability type='usb'><number>0</number>"
                                    "<class>3</class><subclass>1</subclass><protocol>2</protocol></capability>"),
                          "x"));
    LibvirtHost lh = host_from_node_devices(devices, "");
    EXPECT_TRUE(device(lh.host, "00:14.0").roles.empty());
    EXPECT_FALSE(lh.uses.count(addr("0000:00:14.0")));
}

TEST(NodedevHost, OrphanMembersMismatchesAndBadDevices) {
    std::vector<Result<NodeDevice>> devices;
    // 02:00.0 lists 02:00.1 in its group, which libvirt does not describe.
    devices.push_back(parse_nodedev_xml(
        pci_xml("0000:02:00.0", "computer", "0x020000", "8086:1521", 11, {"0000:02:00.0", "0000:02:00.1"}), "x"));
    // 03:00.0 is listed by 05:00.0's group but says group 12.
    devices.push_back(
        parse_nodedev_xml(pci_xml("0000:03:00.0", "computer", "0x010802", "144d:a808", 12, {"0000:03:00.0"}), "x"));
    devices.push_back(parse_nodedev_xml(
        pci_xml("0000:05:00.0", "computer", "", "1b21:1242", 15, {"0000:03:00.0", "0000:05:00.0"}), "x"));
    devices.push_back(parse_nodedev_xml("<device>", "pci_0000_06_00_0"));
    LibvirtHost lh = host_from_node_devices(devices, "");
    const Host& h = lh.host;
    const PciDevice& orphan = device(h, "02:00.1");
    EXPECT_EQ(orphan.iommu_group, 11);
    EXPECT_TRUE(has_problem(orphan.problems, "libvirt shows no node device for it"));
    EXPECT_EQ(h.groups.at(11).members.size(), 2u);
    EXPECT_TRUE(has_problem(device(h, "03:00.0").problems, "says IOMMU group 12"));
    EXPECT_TRUE(has_problem(device(h, "05:00.0").problems, "does not show this device's class"));
    EXPECT_TRUE(has_problem(h.warnings, "pci_0000_06_00_0"));
}

TEST(NodedevHost, NoIommuGivesTheAdvice) {
    std::vector<Result<NodeDevice>> devices;
    devices.push_back(
        parse_nodedev_xml(pci_xml("0000:00:02.0", "computer", "0x020000", "1af4:1041", std::nullopt, {}), "x"));
    LibvirtHost lh = host_from_node_devices(devices, "AuthenticAMD");
    EXPECT_FALSE(lh.host.iommu_present);
    EXPECT_TRUE(has_problem(lh.host.warnings, "amd_iommu=on"));
}

TEST(NodedevHost, SnapshotRoundTripPlansAlike) {
    LibvirtHost lh = host_from_node_devices(sample_devices(), "GenuineIntel");
    auto back = parse_snapshot(write_snapshot(lh.host), "snapshot");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    auto dom = parse_domain_xml(
        "<domain type='kvm'><name>t</name><memory>1</memory><os><type>hvm</type></os><devices>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><source><address bus='1' slot='0' "
        "function='0'/></source></hostdev>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><source><address bus='0' slot='0x14' "
        "function='0'/></source></hostdev>"
        "</devices></domain>",
        "t.xml");
    ASSERT_TRUE(dom.ok());
    Plan a = plan_domain(*dom, lh.host);
    Plan b = plan_domain(*dom, *back);
    EXPECT_TRUE(a.blocked());
    EXPECT_EQ(a.blocked(), b.blocked());
    ASSERT_EQ(a.groups.size(), b.groups.size());
    for (std::size_t i = 0; i < a.groups.size(); ++i) {
        ASSERT_EQ(a.groups[i].members.size(), b.groups[i].members.size());
        for (std::size_t k = 0; k < a.groups[i].members.size(); ++k)
            EXPECT_EQ(a.groups[i].members[k].verdict, b.groups[i].members[k].verdict);
    }
    ASSERT_EQ(a.problems.size(), b.problems.size());
    for (std::size_t i = 0; i < a.problems.size(); ++i) EXPECT_EQ(a.problems[i].message, b.problems[i].message);
}

TEST(NodedevHostUses, WarnsForWhatLeavesTheHost) {
    LibvirtHost lh = host_from_node_devices(sample_devices(), "");
    auto domain_with = [](const std::string& address) {
        auto a = addr(address);
        return *parse_domain_xml(
            "<domain type='kvm'><name>t</name><memory>1</memory><os><type>hvm</type></os><devices>"
            "<hostdev mode='subsystem' type='pci' managed='yes'><source><address bus='" +
                std::to_string(a.bus) + "' slot='" + std::to_string(a.slot) + "' function='" +
                std::to_string(a.function) + "'/></source></hostdev></devices></domain>",
            "t.xml");
    };
    auto nic = host_use_problems(plan_domain(domain_with("0000:00:1f.6"), lh.host), lh);
    ASSERT_EQ(nic.size(), 1u);
    EXPECT_EQ(nic[0].severity, Severity::Warning);
    EXPECT_EQ(nic[0].device, addr("0000:00:1f.6"));
    EXPECT_NE(nic[0].message.find("network interface eno1"), std::string::npos) << nic[0].message;
    auto sata = host_use_problems(plan_domain(domain_with("0000:00:17.0"), lh.host), lh);
    ASSERT_EQ(sata.size(), 1u);
    EXPECT_NE(sata[0].message.find("disk /dev/sda"), std::string::npos);
    // The keyboard's controller is blocked by its role, not warned about.
    Plan usb = plan_domain(domain_with("0000:00:14.0"), lh.host);
    EXPECT_TRUE(usb.blocked());
    EXPECT_TRUE(host_use_problems(usb, lh).empty());
    EXPECT_TRUE(host_use_problems(plan_domain(domain_with("0000:01:00.0"), lh.host), lh).empty());
}

TEST(CrossDomain, SharedGroupWarnsBoth) {
    auto p = cross_domain_problems({{"a", false, {1}, {}}, {"b", true, {1, 4}, {}}, {"c", false, {7}, {}}});
    ASSERT_EQ(p.size(), 3u);
    ASSERT_EQ(p[0].size(), 1u);
    ASSERT_EQ(p[1].size(), 1u);
    EXPECT_TRUE(p[2].empty());
    EXPECT_EQ(p[0][0].severity, Severity::Warning);
    EXPECT_NE(p[0][0].message.find("IOMMU group 1 is also assigned by domain 'b'"), std::string::npos)
        << p[0][0].message;
    EXPECT_NE(p[1][0].message.find("domain 'a'"), std::string::npos);
}

TEST(CrossDomain, BothAutostartIsAnErrorForBoth) {
    auto p = cross_domain_problems({{"a", true, {1, 3}, {}}, {"b", true, {3, 1}, {}}, {"c", true, {2}, {}}});
    ASSERT_EQ(p[0].size(), 1u);
    ASSERT_EQ(p[1].size(), 1u);
    EXPECT_EQ(p[0][0].severity, Severity::Error);
    EXPECT_EQ(p[1][0].severity, Severity::Error);
    EXPECT_NE(p[0][0].message.find("IOMMU groups 1 and 3"), std::string::npos) << p[0][0].message;
    EXPECT_NE(p[0][0].message.find("autostart --disable"), std::string::npos);
    EXPECT_TRUE(p[2].empty());
}

TEST(CrossDomain, SameDeviceWithoutGroups) {
    auto dev = addr("0000:00:05.0");
    auto p = cross_domain_problems(
        {{"a", true, {}, {dev}}, {"b", false, {}, {dev}}, {"c", true, {}, {addr("0000:00:06.0")}}});
    ASSERT_EQ(p[0].size(), 1u);
    EXPECT_EQ(p[0][0].severity, Severity::Warning);
    EXPECT_EQ(p[0][0].device, dev);
    EXPECT_NE(p[0][0].message.find("device 0000:00:05.0"), std::string::npos);
    EXPECT_TRUE(p[2].empty());
}
