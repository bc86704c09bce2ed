// Whole-group hot-plug (virt-hostdev attach and detach): the plan of libvirt
// calls from node devices and domain XML as libvirt writes them, and the
// executor driven through a fake libvirt that records every call and fails
// where a test says: exact call sequences, the unwinding after a failure at
// every call, function 0 last, refusals, and the ADDR arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "hostdev/base/exit_codes.hpp"
#include "hostdev/binding/hotplug.hpp"
#include "hostdev/domain/domain_edit.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/policy/hotplug.hpp"

using namespace hostdev;

namespace {

PciAddress addr(std::string_view s) { return *PciAddress::parse(s); }

// A PCI node device as libvirt 9 writes it.
std::string pci_xml(const std::string& address, const std::string& parent, const std::string& cls,
                    const std::string& ids, int group, const std::vector<std::string>& members,
                    const std::string& driver = "", const std::string& extra = "") {
    auto a = addr(address);
    std::string x = "<device>\n  <name>" + a.nodedev_name() + "</name>\n  <parent>" + parent + "</parent>\n";
    if (!driver.empty()) x += "  <driver>\n    <name>" + driver + "</name>\n  </driver>\n";
    x += "  <capability type='pci'>\n    <class>" + cls + "</class>\n";
    x += "    <domain>" + std::to_string(a.domain) + "</domain>\n    <bus>" + std::to_string(a.bus) +
         "</bus>\n    <slot>" + std::to_string(a.slot) + "</slot>\n    <function>" + std::to_string(a.function) +
         "</function>\n";
    x += "    <product id='0x" + ids.substr(5, 4) + "'>Product " + ids + "</product>\n";
    x += "    <vendor id='0x" + ids.substr(0, 4) + "'>Vendor " + ids.substr(0, 4) + "</vendor>\n" + extra;
    x += "    <iommuGroup number='" + std::to_string(group) + "'>\n";
    for (const auto& m : members) {
        auto ma = addr(m);
        char buf[128];
        std::snprintf(buf, sizeof buf, "      <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n",
                      ma.domain, ma.bus, ma.slot, ma.function);
        x += buf;
    }
    return x + "    </iommuGroup>\n  </capability>\n</device>\n";
}

std::string child_xml(const std::string& name, const std::string& parent, const std::string& capability) {
    return "<device>\n  <name>" + name + "</name>\n  <parent>" + parent + "</parent>\n" + capability + "</device>\n";
}

// The host: a GPU with its audio function behind a root port (group 1), a
// three-function card (group 2), a NIC pair with host interfaces (group 3),
// an NVMe drive on vfio-pci already (group 7), a USB controller with the
// host keyboard (group 4), the LPC with a driver beside the chipset audio
// (group 5), a root port (group 6), and a GPU whose audio function sits in
// another group (groups 8 and 9).
LibvirtHost sample_host() {
    const std::vector<std::string> g1 = {"0000:00:01.0", "0000:01:00.0", "0000:01:00.1"};
    const std::vector<std::string> g2 = {"0000:05:00.0", "0000:05:00.1", "0000:05:00.2"};
    const std::vector<std::string> g3 = {"0000:02:00.0", "0000:02:00.1"};
    const std::vector<std::string> g5 = {"0000:00:1f.0", "0000:00:1f.3"};
    std::vector<std::string> xml = {
        "<device><name>computer</name><capability type='system'/></device>",
        pci_xml("0000:00:01.0", "computer", "0x060400", "8086:1901", 1, g1, "pcieport",
                "    <capability type='pci-bridge'/>\n"),
        pci_xml("0000:01:00.0", "pci_0000_00_01_0", "0x030000", "10de:13c2", 1, g1, "nouveau"),
        pci_xml("0000:01:00.1", "pci_0000_00_01_0", "0x040300", "10de:0fbb", 1, g1, "snd_hda_intel"),
        pci_xml("0000:05:00.0", "computer", "0x020000", "15b3:1015", 2, g2, "mlx5_core"),
        pci_xml("0000:05:00.1", "computer", "0x020000", "15b3:1015", 2, g2, "mlx5_core"),
        pci_xml("0000:05:00.2", "computer", "0x020000", "15b3:1015", 2, g2, "mlx5_core"),
        pci_xml("0000:02:00.0", "computer", "0x020000", "8086:1521", 3, g3, "igb"),
        pci_xml("0000:02:00.1", "computer", "0x020000", "8086:1521", 3, g3, "igb"),
        child_xml("net_enp2s0f0", "pci_0000_02_00_0",
                  "<capability type='net'><interface>enp2s0f0</interface></capability>"),
        pci_xml("0000:03:00.0", "computer", "0x010802", "144d:a808", 7, {"0000:03:00.0"}, "vfio-pci"),
        pci_xml("0000:00:14.0", "computer", "0x0c0330", "8086:a12f", 4, {"0000:00:14.0"}, "xhci_hcd"),
        child_xml("usb_usb1", "pci_0000_00_14_0",
                  "<capability type='usb_device'><bus>1</bus><device>1</device>"
                  "<product id='0x0002'/><vendor id='0x1d6b'/></capability>"),
        child_xml("usb_1_2_1_0", "usb_usb1",
                  "<capability type='usb'><number>0</number><class>3</class>"
                  "<subclass>1</subclass><protocol>1</protocol></capability>"),
        pci_xml("0000:00:1f.0", "computer", "0x060100", "8086:a145", 5, g5, "lpc_ich"),
        pci_xml("0000:00:1f.3", "computer", "0x040300", "8086:a170", 5, g5, "snd_hda_intel"),
        pci_xml("0000:00:1c.0", "computer", "0x060400", "8086:a110", 6, {"0000:00:1c.0"}, "pcieport",
                "    <capability type='pci-bridge'/>\n"),
        pci_xml("0000:06:00.0", "computer", "0x030000", "1002:67df", 8, {"0000:06:00.0"}, "amdgpu"),
        pci_xml("0000:06:00.1", "computer", "0x040300", "1002:aaf0", 9, {"0000:06:00.1"}, "snd_hda_intel"),
    };
    std::vector<Result<NodeDevice>> devices;
    for (const auto& x : xml) devices.push_back(parse_nodedev_xml(x, "sample"));
    return host_from_node_devices(devices, "GenuineIntel");
}

// A q35 guest's definition: three pcie-root-ports, a disk on the first.
std::string domain_xml(const std::string& name, const std::string& devices = "") {
    return "<domain type='kvm'>\n  <name>" + name +
           "</name>\n  <memory unit='KiB'>1048576</memory>\n"
           "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n  <devices>\n"
           "    <controller type='pci' index='0' model='pcie-root'/>\n"
           "    <controller type='pci' index='1' model='pcie-root-port'>\n"
           "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>\n"
           "    </controller>\n"
           "    <controller type='pci' index='2' model='pcie-root-port'>\n"
           "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/>\n"
           "    </controller>\n"
           "    <controller type='pci' index='3' model='pcie-root-port'>\n"
           "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x2'/>\n"
           "    </controller>\n"
           "    <disk type='file' device='disk'>\n      <target dev='vda' bus='virtio'/>\n"
           "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n    </disk>\n" +
           devices + "  </devices>\n</domain>\n";
}

// A <hostdev> as libvirt shows it in a live definition.
std::string live_hostdev(const std::string& source, const std::string& guest_bus, const std::string& guest_function,
                         const std::string& managed = "no", const std::string& multifunction = "") {
    auto a = addr(source);
    char src[160];
    std::snprintf(src, sizeof src, "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>", a.domain,
                  a.bus, a.slot, a.function);
    return "    <hostdev mode='subsystem' type='pci' managed='" + managed + "'>\n      <source>\n        " + src +
           "\n      </source>\n      <alias name='hostdev0'/>\n      <address type='pci' domain='0x0000' bus='" +
           guest_bus + "' slot='0x00' function='" + guest_function + "'" + multifunction + "/>\n    </hostdev>\n";
}

HotplugDomain running(const std::string& name, const std::string& devices = "") {
    HotplugDomain d;
    d.name = name;
    d.active = true;
    d.live_xml = domain_xml(name, devices);
    d.config_xml = domain_xml(name);
    return d;
}

HotplugDomain shut_off(const std::string& name, const std::string& devices = "", bool autostart = false) {
    HotplugDomain d;
    d.name = name;
    d.autostart = autostart;
    d.config_xml = domain_xml(name, devices);
    return d;
}

HotplugRequest request(HotplugDomain d, Affected affected, std::vector<std::string> devices) {
    HotplugRequest r;
    r.domain = std::move(d);
    r.affected = affected;
    for (const auto& s : devices) r.devices.push_back(addr(s));
    return r;
}

constexpr Affected kLive{true, false};
constexpr Affected kConfig{false, true};
constexpr Affected kBoth{true, true};

HotplugPlan attach_plan(const HotplugRequest& r, const std::vector<HotplugDomain>& others = {}) {
    auto p = plan_attach(r, sample_host(), others);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().describe());
    return p.ok() ? *p : HotplugPlan{};
}

HotplugPlan detach_plan(const HotplugRequest& r, const std::vector<HotplugDomain>& others = {}) {
    auto p = plan_detach(r, sample_host(), others);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().describe());
    return p.ok() ? *p : HotplugPlan{};
}

std::vector<std::string> lines(const std::vector<HotplugStep>& steps) {
    std::vector<std::string> out;
    for (const auto& s : steps) out.push_back(s.call.line());
    return out;
}

std::string src(const std::string& a) {
    auto p = addr(a);
    char buf[128];
    std::snprintf(buf, sizeof buf, "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>", p.domain,
                  p.bus, p.slot, p.function);
    return buf;
}

// The XML virt-hostdev attaches: managed='no', the source, no guest address.
std::string plain(const std::string& a) {
    return "<hostdev mode='subsystem' type='pci' managed='no'><source>" + src(a) + "</source></hostdev>";
}

std::vector<std::string> messages(const HotplugPlan& p, Severity s) {
    std::vector<std::string> out;
    for (const auto& x : p.problems)
        if (x.severity == s) out.push_back(x.message);
    return out;
}

bool has(const std::vector<std::string>& list, std::string_view text) {
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

// libvirt, as far as a hot-plug sees it: every call recorded as --dry-run
// prints it; the calls numbered in `fail` (1-based, undo calls counted too)
// fail.
class FakeLibvirt : public HotplugApi {
public:
    std::vector<std::string> calls;
    std::set<std::size_t> fail;

    Status detach_node(const std::string& node) override {
        return record(call(HotplugCall::Kind::DetachNode, node, "", "", Definition::Live));
    }
    Status reattach_node(const std::string& node) override {
        return record(call(HotplugCall::Kind::ReattachNode, node, "", "", Definition::Live));
    }
    Status attach_device(const std::string& domain, const std::string& xml, Definition d) override {
        return record(call(HotplugCall::Kind::AttachDevice, "", domain, xml, d));
    }
    Status detach_device(const std::string& domain, const std::string& xml, Definition d,
                         const PciAddress& /*source*/) override {
        return record(call(HotplugCall::Kind::DetachDevice, "", domain, xml, d));
    }

private:
    static HotplugCall call(HotplugCall::Kind k, const std::string& node, const std::string& domain,
                            const std::string& xml, Definition d) {
        HotplugCall c;
        c.kind = k;
        c.node_device = node;
        c.domain = domain;
        c.xml = xml;
        c.definition = d;
        return c;
    }
    Status record(const HotplugCall& c) {
        calls.push_back(c.line());
        if (fail.count(calls.size())) return make_error("injected failure of call " + std::to_string(calls.size()));
        return ok_status();
    }
};

// Fails the k-th call of `steps` (1-based) and checks the exact sequence: the
// calls up to k, then the undo of each call before k, last first.
void expect_unwinds_at_every_call(const std::vector<HotplugStep>& steps) {
    ASSERT_FALSE(steps.empty());
    for (std::size_t k = 1; k <= steps.size(); ++k) {
        SCOPED_TRACE("failure at call " + std::to_string(k));
        FakeLibvirt api;
        api.fail = {k};
        HotplugOutcome out = run_hotplug(steps, api);
        std::vector<std::string> want;
        for (std::size_t i = 0; i < k; ++i) want.push_back(steps[i].call.line());
        for (std::size_t i = k - 1; i-- > 0;) want.push_back(steps[i].undo.line());
        EXPECT_EQ(api.calls, want);
        ASSERT_TRUE(out.failed);
        EXPECT_EQ(*out.failed, k - 1);
        ASSERT_TRUE(out.error);
        EXPECT_NE(out.error->message.find("injected failure of call " + std::to_string(k)), std::string::npos);
        EXPECT_EQ(out.done.size(), k - 1);
        EXPECT_EQ(out.undone.size(), k - 1);
        EXPECT_TRUE(out.left.empty());
        EXPECT_EQ(out.exit_code(), exits::hotplug::kFailed);
    }
}

}  // namespace

// --- flags and arguments -----------------------------------------------------

TEST(HotplugFlags, AsVirshHasThem) {
    auto r = resolve_affected({}, /*active=*/true, /*persistent=*/true, "vm");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->live);
    EXPECT_FALSE(r->config);
    r = resolve_affected({false, false, true}, false, true, "vm");  // --current, shut off
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->live);
    EXPECT_TRUE(r->config);
    r = resolve_affected({true, true, false}, true, true, "vm");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->live && r->config);
    r = resolve_affected({true, false, true}, true, true, "vm");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("--current excludes --live and --config"), std::string::npos);
    r = resolve_affected({false, true, true}, true, true, "vm");
    EXPECT_FALSE(r.ok());
    r = resolve_affected({true, false, false}, false, true, "vm");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("domain 'vm' is not running"), std::string::npos);
    r = resolve_affected({false, true, false}, true, false, "vm");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("domain 'vm' is transient"), std::string::npos);
}

TEST(HotplugArguments, EverySpellingOfAnAddress) {
    EXPECT_EQ(*parse_device_argument("0000:01:00.1"), addr("0000:01:00.1"));
    EXPECT_EQ(*parse_device_argument("01:00.1"), addr("0000:01:00.1"));
    EXPECT_EQ(*parse_device_argument("pci_0000_01_00_1"), addr("0000:01:00.1"));
    EXPECT_EQ(*parse_device_argument("10000:01:00.0"), (PciAddress{0x10000, 1, 0, 0}));
}

TEST(HotplugArguments, ABadAddressIsNamed) {
    for (std::string bad : {"01:00", "gpu", "0000:01:20.0", "01:00.8", "pci_0000_01_00", ""}) {
        SCOPED_TRACE(bad);
        auto r = parse_device_argument(bad);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().message.find("'" + bad + "'"), std::string::npos) << r.error().message;
    }
    auto r = parse_device_argument("01:00");
    EXPECT_NE(r.error().message.find("pci_0000_01_00_0"), std::string::npos) << r.error().message;
}

TEST(HotplugCalls, OneLinePerCallAsDryRunPrintsThem) {
    HotplugCall c;
    c.kind = HotplugCall::Kind::DetachNode;
    c.node_device = "pci_0000_01_00_0";
    EXPECT_EQ(c.line(), "virNodeDeviceDetachFlags pci_0000_01_00_0 vfio");
    c.kind = HotplugCall::Kind::ReattachNode;
    EXPECT_EQ(c.line(), "virNodeDeviceReAttach pci_0000_01_00_0");
    c.kind = HotplugCall::Kind::AttachDevice;
    c.domain = "vm";
    c.xml =
        "<hostdev mode='subsystem' type='pci' managed='no'>\n  <source>\n    <address bus='1'/>\n  </source>\n"
        "</hostdev>";
    c.definition = Definition::Config;
    EXPECT_EQ(c.line(),
              "virDomainAttachDeviceFlags vm <hostdev mode='subsystem' type='pci' managed='no'><source><address "
              "bus='1'/></source></hostdev> config");
    EXPECT_EQ(hostdev_xml({addr("10000:01:00.1"), true, PciAddress{0, 2, 0, 0}, true}),
              "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x10000' bus='0x01' "
              "slot='0x00' function='0x1'/></source><address type='pci' domain='0x0000' bus='0x02' slot='0x00' "
              "function='0x0' multifunction='on'/></hostdev>");
}

// --- attach ------------------------------------------------------------------

TEST(HotplugAttach, TheWholeGroupLiveFunctionZeroLast) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.0"}));
    ASSERT_FALSE(p.blocked()) << messages(p, Severity::Error).front();
    EXPECT_EQ(p.groups, std::vector<int>{1});
    EXPECT_EQ(p.endpoints, (std::vector<PciAddress>{addr("0000:01:00.0"), addr("0000:01:00.1")}));
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{
                                  "virNodeDeviceDetachFlags pci_0000_01_00_0 vfio",
                                  "virNodeDeviceDetachFlags pci_0000_01_00_1 vfio",
                                  "virDomainAttachDeviceFlags vm " + plain("0000:01:00.1") + " live",
                                  "virDomainAttachDeviceFlags vm " + plain("0000:01:00.0") + " live",
                              }));
    // Each call's undo.
    EXPECT_EQ(p.steps[0].undo.line(), "virNodeDeviceReAttach pci_0000_01_00_0");
    EXPECT_EQ(p.steps[3].undo.line(), "virDomainDetachDeviceFlags vm " + plain("0000:01:00.0") + " live");
    // The bridge stays; the live layout is libvirt's (it hot-plugs function 0 only).
    const auto notes = messages(p, Severity::Note);
    EXPECT_TRUE(has(notes,
                    "IOMMU group 1: 0000:01:00.0 (asked for) and 0000:01:00.1 (endpoint of the group) go to "
                    "'vm'; 0000:00:01.0 stays on the host"));
    EXPECT_TRUE(has(notes, "Only PCI device addresses with function=0 are supported"));
}

TEST(HotplugAttach, AFailureAtEveryCallUnwindsExactlyWhatWasDone) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.1"}));
    ASSERT_EQ(p.steps.size(), 4u);
    expect_unwinds_at_every_call(p.steps);
    // Spelled out once: the last attach fails.
    FakeLibvirt api;
    api.fail = {4};
    HotplugOutcome out = run_hotplug(p.steps, api);
    EXPECT_EQ(api.calls, (std::vector<std::string>{
                             "virNodeDeviceDetachFlags pci_0000_01_00_0 vfio",
                             "virNodeDeviceDetachFlags pci_0000_01_00_1 vfio",
                             "virDomainAttachDeviceFlags vm " + plain("0000:01:00.1") + " live",
                             "virDomainAttachDeviceFlags vm " + plain("0000:01:00.0") + " live",
                             "virDomainDetachDeviceFlags vm " + plain("0000:01:00.1") + " live",
                             "virNodeDeviceReAttach pci_0000_01_00_1",
                             "virNodeDeviceReAttach pci_0000_01_00_0",
                         }));
    EXPECT_EQ(out.error->message.substr(0, 41), "0000:01:00.0: virDomainAttachDeviceFlags:");
}

TEST(HotplugAttach, NothingFailsNothingIsUndone) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.1"}));
    FakeLibvirt api;
    std::vector<std::string> seen;
    HotplugOutcome out = run_hotplug(p.steps, api, [&](const HotplugCall& c, const Status& st, HotplugPhase ph) {
        seen.push_back(std::string(ph == HotplugPhase::Do ? "do " : "undo ") + (st ? "ok " : "failed ") + c.line());
    });
    EXPECT_TRUE(out.ok());
    EXPECT_EQ(out.exit_code(), exits::hotplug::kDone);
    EXPECT_EQ(api.calls, lines(p.steps));
    EXPECT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[0], "do ok virNodeDeviceDetachFlags pci_0000_01_00_0 vfio");
    EXPECT_TRUE(out.undone.empty());
}

TEST(HotplugAttach, FunctionZeroOfEachHostSlotLast) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:05:00.1", "0000:01:00.1"}));
    ASSERT_FALSE(p.blocked());
    EXPECT_EQ(p.groups, (std::vector<int>{2, 1}));
    std::vector<std::string> attaches;
    for (const auto& s : p.steps)
        if (s.call.kind == HotplugCall::Kind::AttachDevice) attaches.push_back(s.call.device.str());
    EXPECT_EQ(attaches, (std::vector<std::string>{"0000:01:00.1", "0000:01:00.0", "0000:05:00.1", "0000:05:00.2",
                                                  "0000:05:00.0"}));
    // Every node detach comes before the first attach.
    EXPECT_EQ(p.steps[5].call.kind, HotplugCall::Kind::AttachDevice);
    EXPECT_EQ(p.steps[4].call.kind, HotplugCall::Kind::DetachNode);
    expect_unwinds_at_every_call(p.steps);
}

TEST(HotplugAttach, OnePersistentGuestSlotWithMultifunction) {
    HotplugPlan p = attach_plan(request(shut_off("vm"), kConfig, {"0000:05:00.2"}));
    ASSERT_FALSE(p.blocked());
    // Root port 1 holds the disk: the functions go to root port 2's slot, function 0 last.
    auto guest = [](int f, bool multi = false) {
        return "<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x" + std::to_string(f) + "'" +
               (multi ? " multifunction='on'" : "") + "/>";
    };
    auto xml = [&](const std::string& a, int f, bool multi = false) {
        return "<hostdev mode='subsystem' type='pci' managed='no'><source>" + src(a) + "</source>" + guest(f, multi) +
               "</hostdev>";
    };
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{
                                  "virNodeDeviceDetachFlags pci_0000_05_00_0 vfio",
                                  "virNodeDeviceDetachFlags pci_0000_05_00_1 vfio",
                                  "virNodeDeviceDetachFlags pci_0000_05_00_2 vfio",
                                  "virDomainAttachDeviceFlags vm " + xml("0000:05:00.1", 1) + " config",
                                  "virDomainAttachDeviceFlags vm " + xml("0000:05:00.2", 2) + " config",
                                  "virDomainAttachDeviceFlags vm " + xml("0000:05:00.0", 0, true) + " config",
                              }));
    EXPECT_TRUE(has(messages(p, Severity::Note), "share guest slot 0000:02:00 in the persistent definition of 'vm'"));
    expect_unwinds_at_every_call(p.steps);
}

TEST(HotplugAttach, LiveAndConfigEachGetTheirCalls) {
    HotplugPlan p = attach_plan(request(running("vm"), kBoth, {"0000:01:00.0"}));
    ASSERT_FALSE(p.blocked());
    std::vector<std::string> want = {
        "virNodeDeviceDetachFlags pci_0000_01_00_0 vfio",
        "virNodeDeviceDetachFlags pci_0000_01_00_1 vfio",
        "virDomainAttachDeviceFlags vm " + plain("0000:01:00.1") + " live",
        "virDomainAttachDeviceFlags vm " + plain("0000:01:00.0") + " live",
    };
    const auto l = lines(p.steps);
    ASSERT_EQ(l.size(), 6u);
    EXPECT_EQ(std::vector<std::string>(l.begin(), l.begin() + 4), want);
    // The persistent definition shares a guest slot; the live one cannot.
    EXPECT_NE(l[4].find("function='0x1'/></hostdev> config"), std::string::npos) << l[4];
    EXPECT_NE(l[5].find("multifunction='on'/></hostdev> config"), std::string::npos) << l[5];
}

TEST(HotplugAttach, NoFreeGuestSlotLeavesTheAddressesToLibvirt) {
    // A pc (i440fx) guest whose pci-root has no free slot.
    std::string devices = "    <controller type='pci' index='0' model='pci-root'/>\n";
    for (int slot = 1; slot <= 0x1f; ++slot) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "    <memballoon model='virtio'>\n      <address type='pci' domain='0x0000' bus='0x00' "
                      "slot='0x%02x' function='0x0'/>\n    </memballoon>\n",
                      slot);
        devices += buf;
    }
    HotplugDomain d;
    d.name = "pc";
    d.config_xml = "<domain type='kvm'><name>pc</name><devices>\n" + devices + "</devices></domain>";
    HotplugPlan p = attach_plan(request(d, kConfig, {"0000:01:00.0"}));
    ASSERT_FALSE(p.blocked());
    EXPECT_EQ(lines(p.steps).back(), "virDomainAttachDeviceFlags pc " + plain("0000:01:00.0") + " config");
    EXPECT_TRUE(has(messages(p, Severity::Note), "no free guest slot in the persistent definition of 'pc'"));
}

TEST(HotplugAttach, APciRootSlotWhenThereIsNoRootPort) {
    HotplugDomain d;
    d.name = "pc";
    d.config_xml =
        "<domain type='kvm'><name>pc</name><devices>\n"
        "<controller type='pci' index='0' model='pci-root'/>\n"
        "<controller type='ide' index='0'><address type='pci' domain='0x0000' bus='0x00' slot='0x01' "
        "function='0x1'/></controller>\n"
        "<video><address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></video>\n"
        "</devices></domain>";
    HotplugPlan p = attach_plan(request(d, kConfig, {"0000:01:00.0"}));
    EXPECT_NE(lines(p.steps).back().find("<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0' "
                                         "multifunction='on'/>"),
              std::string::npos)
        << lines(p.steps).back();
}

TEST(HotplugAttach, EndpointsAttachedAlreadyAreNotAttachedTwice) {
    HotplugPlan p =
        attach_plan(request(running("vm", live_hostdev("0000:01:00.1", "0x03", "0x0")), kLive, {"0000:01:00.0"}));
    ASSERT_FALSE(p.blocked());
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{
                                  "virNodeDeviceDetachFlags pci_0000_01_00_0 vfio",
                                  "virDomainAttachDeviceFlags vm " + plain("0000:01:00.0") + " live",
                              }));
    EXPECT_TRUE(
        has(messages(p, Severity::Note), "0000:01:00.1 is attached to 'vm' already (live): not attached twice"));
    // All there: nothing to do.
    p = attach_plan(request(
        running("vm", live_hostdev("0000:01:00.1", "0x03", "0x0") + live_hostdev("0000:01:00.0", "0x02", "0x0")), kLive,
        {"0000:01:00.0"}));
    EXPECT_TRUE(p.steps.empty());
    EXPECT_FALSE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Note), "nothing to do"));
}

TEST(HotplugAttach, OnlyWhatIsAttachedSomewhereLeavesTheHost) {
    // The persistent definition has the GPU (managed='yes': libvirt moves it
    // at start); only its audio function is added, and only it is detached.
    HotplugDomain vm = shut_off("vm", live_hostdev("0000:01:00.0", "0x02", "0x0", "yes"));
    HotplugPlan p = attach_plan(request(vm, kConfig, {"0000:01:00.0"}));
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{
                                  "virNodeDeviceDetachFlags pci_0000_01_00_1 vfio",
                                  "virDomainAttachDeviceFlags vm " + plain("0000:01:00.1") + " config",
                              }));
}

TEST(HotplugAttach, ADeviceOnVfioAlreadyStaysThereWhateverHappens) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:03:00.0"}));
    EXPECT_EQ(lines(p.steps),
              (std::vector<std::string>{"virDomainAttachDeviceFlags vm " + plain("0000:03:00.0") + " live"}));
    EXPECT_TRUE(has(messages(p, Severity::Note), "0000:03:00.0 is on vfio-pci already"));
}

TEST(HotplugAttach, RefusedByTheSiblingPolicy) {
    struct Case {
        std::string device, message;
    } cases[] = {
        {"0000:00:14.0", "USB controller with the host keyboard"},
        {"0000:00:1f.3", "shares IOMMU group 5 with 0000:00:1f.3 and cannot leave the host"},
        {"0000:00:1c.0", "PCI bridge"},
        {"0000:3d:00.0", "0000:3d:00.0 is not on this host"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.device);
        HotplugPlan p = attach_plan(request(running("vm"), kLive, {c.device}));
        EXPECT_TRUE(p.blocked());
        EXPECT_TRUE(p.steps.empty());
        EXPECT_TRUE(has(messages(p, Severity::Error), c.message)) << messages(p, Severity::Error).front();
    }
}

TEST(HotplugAttach, TheSlotsOtherGroupsOnlyWithWholeSlot) {
    HotplugRequest r = request(running("vm"), kLive, {"0000:06:00.0"});
    HotplugPlan p = attach_plan(r);
    EXPECT_EQ(p.endpoints, std::vector<PciAddress>{addr("0000:06:00.0")});
    EXPECT_TRUE(has(messages(p, Severity::Note), "0000:06:00.1"));
    r.whole_slot = PlanOptions::WholeSlot::Inject;
    p = attach_plan(r);
    EXPECT_EQ(p.groups, (std::vector<int>{8, 9}));
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{
                                  "virNodeDeviceDetachFlags pci_0000_06_00_0 vfio",
                                  "virNodeDeviceDetachFlags pci_0000_06_00_1 vfio",
                                  "virDomainAttachDeviceFlags vm " + plain("0000:06:00.1") + " live",
                                  "virDomainAttachDeviceFlags vm " + plain("0000:06:00.0") + " live",
                              }));
}

TEST(HotplugAttach, HostInterfacesAreWarnings) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:02:00.1"}));
    EXPECT_FALSE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Warning), "network interface enp2s0f0"));
}

TEST(HotplugAttach, ADeviceARunningDomainHoldsIsRefused) {
    const std::vector<HotplugDomain> others = {running("other", live_hostdev("0000:01:00.1", "0x02", "0x0"))};
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.0"}), others);
    EXPECT_TRUE(p.blocked());
    EXPECT_TRUE(p.steps.empty());
    EXPECT_TRUE(has(messages(p, Severity::Error), "(IOMMU group 1) is held by running domain 'other'"));
}

TEST(HotplugAttach, DefinitionsSharingAGroupAsCheckJudgesThem) {
    const std::string hd = live_hostdev("0000:01:00.1", "0x02", "0x0");
    // A shut-off domain defining the group: a warning.
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.0"}), {shut_off("other", hd)});
    EXPECT_FALSE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Warning), "IOMMU group 1 is also assigned by domain 'other'"));
    // Both start automatically and the persistent definition changes: blocked, as in check.
    HotplugDomain vm = shut_off("vm", "", /*autostart=*/true);
    p = attach_plan(request(vm, kConfig, {"0000:01:00.0"}), {shut_off("other", hd, true)});
    EXPECT_TRUE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Error), "both start automatically"));
}

TEST(HotplugAttach, AMissingOrBadDefinitionIsInvalid) {
    HotplugDomain d = running("vm");
    d.live_xml = "<domain><name>vm</name><devices><hostdev";
    EXPECT_FALSE(plan_attach(request(d, kLive, {"0000:01:00.0"}), sample_host(), {}).ok());
    d.live_xml.reset();
    auto r = plan_attach(request(d, kLive, {"0000:01:00.0"}), sample_host(), {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("live definition was not given"), std::string::npos);
}

// --- detach ------------------------------------------------------------------

TEST(HotplugDetach, UnplugsTheGroupThenReturnsItFunctionZeroFirst) {
    HotplugDomain vm =
        running("vm", live_hostdev("0000:01:00.1", "0x03", "0x0") + live_hostdev("0000:01:00.0", "0x02", "0x0"));
    HotplugPlan p = detach_plan(request(vm, kLive, {"0000:01:00.1"}));
    ASSERT_FALSE(p.blocked());
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{
                                  "virDomainDetachDeviceFlags vm " + plain("0000:01:00.0") + " live",
                                  "virDomainDetachDeviceFlags vm " + plain("0000:01:00.1") + " live",
                                  "virNodeDeviceReAttach pci_0000_01_00_0",
                                  "virNodeDeviceReAttach pci_0000_01_00_1",
                              }));
    // The undo of an unplug plugs the element in again as the domain had it.
    auto parsed = DomainDocument::parse(*vm.live_xml, "vm");
    const DomainDocument& doc = *parsed;
    EXPECT_EQ(p.steps[0].undo.kind, HotplugCall::Kind::AttachDevice);
    EXPECT_EQ(p.steps[0].undo.xml, std::string(doc.element_text(1)));
    EXPECT_EQ(p.steps[0].undo.xml.substr(0, 50), "<hostdev mode='subsystem' type='pci' managed='no'>");
    EXPECT_EQ(p.steps[0].undo.xml.substr(p.steps[0].undo.xml.size() - 10), "</hostdev>");
    EXPECT_EQ(p.steps[3].undo.line(), "virNodeDeviceDetachFlags pci_0000_01_00_1 vfio");
    expect_unwinds_at_every_call(p.steps);
}

TEST(HotplugDetach, AnUnplugTheGuestDoesNotFinishIsUndoneBeforeAnythingReturns) {
    HotplugDomain vm =
        running("vm", live_hostdev("0000:01:00.1", "0x03", "0x0") + live_hostdev("0000:01:00.0", "0x02", "0x0"));
    HotplugPlan p = detach_plan(request(vm, kLive, {"0000:01:00.0"}));
    FakeLibvirt api;
    api.fail = {2};  // the guest does not release 01:00.1
    HotplugOutcome out = run_hotplug(p.steps, api);
    ASSERT_EQ(api.calls.size(), 3u);
    EXPECT_EQ(api.calls[2].substr(0, 30), "virDomainAttachDeviceFlags vm ");
    EXPECT_NE(api.calls[2].find("<alias name='hostdev0'/>"), std::string::npos);
    EXPECT_NE(api.calls[2].find(src("0000:01:00.0")), std::string::npos);
    EXPECT_EQ(out.exit_code(), exits::hotplug::kFailed);
}

TEST(HotplugDetach, ThePersistentDefinitionAloneLeavesTheRunningGuestItsDevices) {
    HotplugDomain vm = running("vm", live_hostdev("0000:01:00.1", "0x03", "0x0"));
    vm.config_xml = domain_xml("vm", live_hostdev("0000:01:00.1", "0x03", "0x0"));
    HotplugPlan p = detach_plan(request(vm, kConfig, {"0000:01:00.1"}));
    EXPECT_EQ(lines(p.steps),
              (std::vector<std::string>{"virDomainDetachDeviceFlags vm " + plain("0000:01:00.1") + " config"}));
    EXPECT_TRUE(has(messages(p, Severity::Note), "0000:01:00.1 stays with running 'vm'"));
}

TEST(HotplugDetach, WhatIsOnVfioWithNoGuestReturnsToo) {
    // The NVMe drive sits on vfio-pci and no domain has it (its guest stopped).
    HotplugPlan p = detach_plan(request(shut_off("vm"), kConfig, {"0000:03:00.0"}));
    EXPECT_EQ(lines(p.steps), (std::vector<std::string>{"virNodeDeviceReAttach pci_0000_03_00_0"}));
    // Unless a running domain holds it.
    p = detach_plan(request(shut_off("vm"), kConfig, {"0000:03:00.0"}),
                    {running("other", live_hostdev("0000:03:00.0", "0x02", "0x0"))});
    EXPECT_TRUE(p.steps.empty());
    EXPECT_TRUE(has(messages(p, Severity::Note), "0000:03:00.0 is held by running domain 'other': left as it is"));
    // Nothing at all: nothing to do.
    p = detach_plan(request(shut_off("vm"), kConfig, {"0000:01:00.0"}));
    EXPECT_TRUE(p.steps.empty());
    EXPECT_FALSE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Note), "nothing to do"));
}

TEST(HotplugDetach, RefusedWhereLibvirtCannotUnplug) {
    // A multifunction guest slot.
    HotplugDomain vm = running("vm", live_hostdev("0000:01:00.0", "0x02", "0x0", "no", " multifunction='on'") +
                                         live_hostdev("0000:01:00.1", "0x02", "0x1"));
    HotplugPlan p = detach_plan(request(vm, kLive, {"0000:01:00.0"}));
    EXPECT_TRUE(p.blocked());
    EXPECT_TRUE(p.steps.empty());
    EXPECT_TRUE(has(messages(p, Severity::Error), "a function of multifunction guest slot 0000:02:00"));
    // A bus with hotplug='off'.
    std::string xml = domain_xml("vm", live_hostdev("0000:01:00.0", "0x03", "0x0"));
    const std::string port3 = "<controller type='pci' index='3' model='pcie-root-port'>\n";
    xml.replace(xml.find(port3), port3.size(), port3 + "      <target hotplug='off'/>\n");
    vm = running("vm");
    vm.live_xml = xml;
    p = detach_plan(request(vm, kLive, {"0000:01:00.0"}));
    EXPECT_TRUE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Error), "hotplug='off'"));
    // An <interface type='hostdev'>.
    vm = running("vm",
                 "    <interface type='hostdev' managed='yes'>\n      <source>\n        <address type='pci' "
                 "domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>\n      </source>\n    </interface>\n");
    p = detach_plan(request(vm, kLive, {"0000:02:00.1"}));
    EXPECT_TRUE(p.blocked());
    EXPECT_TRUE(has(messages(p, Severity::Error), "virsh detach-interface"));
}

// --- the executor when undoing fails ----------------------------------------

TEST(HotplugUnwind, AFailedNodeUndoDoesNotStopTheOthers) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.0"}));
    FakeLibvirt api;
    api.fail = {3, 4};  // the first attach fails, then 01:00.1 does not come back to the host
    HotplugOutcome out = run_hotplug(p.steps, api);
    EXPECT_EQ(api.calls, (std::vector<std::string>{
                             "virNodeDeviceDetachFlags pci_0000_01_00_0 vfio",
                             "virNodeDeviceDetachFlags pci_0000_01_00_1 vfio",
                             "virDomainAttachDeviceFlags vm " + plain("0000:01:00.1") + " live",
                             "virNodeDeviceReAttach pci_0000_01_00_1",
                             "virNodeDeviceReAttach pci_0000_01_00_0",
                         }));
    ASSERT_EQ(out.undo_errors.size(), 1u);
    EXPECT_EQ(out.left, (std::vector<HotplugCall>{p.steps[1].call}));
    EXPECT_EQ(out.undone, (std::vector<HotplugCall>{p.steps[0].undo}));
    EXPECT_EQ(out.exit_code(), exits::hotplug::kNotUndone);
}

TEST(HotplugUnwind, AFailedDeviceUndoStopsBeforeAnyDeviceReturnsToTheHost) {
    HotplugPlan p = attach_plan(request(running("vm"), kLive, {"0000:01:00.0"}));
    FakeLibvirt api;
    api.fail = {4, 5};  // the second attach fails, and the guest keeps the first
    HotplugOutcome out = run_hotplug(p.steps, api);
    EXPECT_EQ(api.calls.size(), 5u);
    EXPECT_EQ(api.calls[4], "virDomainDetachDeviceFlags vm " + plain("0000:01:00.1") + " live");
    EXPECT_EQ(out.left.size(), 3u);  // both node detaches and the attach stand
    EXPECT_TRUE(out.undone.empty());
    EXPECT_EQ(out.exit_code(), exits::hotplug::kNotUndone);
}
