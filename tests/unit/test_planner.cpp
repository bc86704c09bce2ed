// The sibling policy, row by row, on hosts read from fresh fake roots.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdio>

#include "fake_host.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/policy/planner.hpp"
#include "support/fakeroot.hpp"

using namespace hostdev;
using hostdev::testing::FakeRoot;

namespace {

const char* kHost = R"(
host cmdline="intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:14.0 8086:a12f 0x0c0330 group=2 driver=xhci_hcd role=keyboard
dev 00:14.2 8086:a131 0x118000 group=2 driver=intel_pch_thermal
dev 00:17.0 8086:a102 0x010601 group=3 driver=ahci role=root-fs
dev 00:17.1 8086:a103 0x0c0330 group=3 driver=xhci_hcd
dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich
dev 00:1f.2 8086:a121 0x058000 group=4
dev 00:1f.3 8086:a170 0x040300 group=4 driver=snd_hda_intel
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
dev 00:1c.0 8086:a110 0x060400 group=6 driver=pcieport bus=02
dev 02:00.0 1b21:1242 0x0c0330 group=6 driver=xhci_hcd
dev 02:00.1 1b21:1243 0x0c0330 group=6
dev 00:1d.0 8086:a118 0x060400 group=7 driver=pcieport bus=03
dev 03:00.0 1002:67df 0x030000 group=8 driver=amdgpu boot_vga=1
dev 03:00.1 1002:aaf0 0x040300 group=9 driver=snd_hda_intel
dev 00:1f.4 8086:a123 0x0c0500 group=10
dev 00:1e.0 8086:a127 0x118000 group=11 driver=intel-lpss
dev 00:1e.1 8086:a128 0x0c0330 group=12 driver=xhci_hcd role=keyboard
)";

// Every call lays out a fresh fake root and reads it.
Host host() {
    FakeRoot root(kHost);
    auto r = read_host(FsRoot(root.path()), hostdev::testing::test_read_options());
    if (!r) throw std::runtime_error(r.error().describe());
    return *r;
}

// A domain with the given <hostdev> lines inside <devices>.
Domain domain(const std::string& hostdevs, const std::string& features = "") {
    std::string xml = "<domain type='kvm'><name>t</name><memory>1</memory><os><type>hvm</type></os>" + features +
                      "<devices>" + hostdevs + "</devices></domain>";
    auto d = parse_domain_xml(xml, "t.xml");
    if (!d) throw std::runtime_error(d.error().describe());
    return *d;
}

std::string hd(const char* bus, const char* slot, const char* fn, const char* managed = "yes", const char* guest = "") {
    return std::string("<hostdev mode='subsystem' type='pci' managed='") + managed +
           "'><source><address domain='0x0000' bus='" + bus + "' slot='" + slot + "' function='" + fn + "'/></source>" +
           guest + "</hostdev>";
}

const MemberPlan* member(const Plan& p, const char* addr) {
    auto a = *PciAddress::parse(addr);
    for (const auto& g : p.groups)
        for (const auto& m : g.members)
            if (m.address == a) return &m;
    return nullptr;
}

int count(const Plan& p, Severity s) {
    int n = 0;
    for (const auto& pr : p.problems) n += pr.severity == s;
    return n;
}

}  // namespace

TEST(Planner, EndpointSiblingIsInjectedWithTheRequestedManagedValue) {
    for (const char* managed : {"yes", "no"}) {
        Plan p = plan_domain(domain(hd("0x01", "0x00", "0x0", managed)), host());
        ASSERT_EQ(p.groups.size(), 1u);
        EXPECT_EQ(p.groups[0].group, 1);
        EXPECT_EQ(member(p, "01:00.0")->verdict, Verdict::Covered);
        EXPECT_TRUE(member(p, "01:00.0")->requested);
        EXPECT_EQ(member(p, "00:01.0")->verdict, Verdict::StaysOnHost);  // the root port: a bridge
        EXPECT_EQ(member(p, "01:00.1")->verdict, Verdict::Injected);
        EXPECT_FALSE(member(p, "01:00.1")->reason.empty());
        ASSERT_EQ(p.edits.inject.size(), 1u);
        EXPECT_EQ(p.edits.inject[0].source.str(), "0000:01:00.1");
        EXPECT_EQ(p.edits.inject[0].managed, std::string(managed) == "yes");
        EXPECT_FALSE(p.blocked());
    }
}

TEST(Planner, UnboundEndpointIsInjectedToo) {
    Plan p = plan_domain(domain(hd("0x02", "0x00", "0x0")), host());
    EXPECT_EQ(member(p, "02:00.1")->verdict, Verdict::Injected);
    EXPECT_EQ(member(p, "00:1c.0")->verdict, Verdict::StaysOnHost);
}

TEST(Planner, PlatformFunctionWithDriverBlocksWithoutOneStays) {
    Plan p = plan_domain(domain(hd("0x00", "0x1f", "0x3")), host());
    EXPECT_EQ(member(p, "00:1f.0")->verdict, Verdict::Blocked);  // lpc_ich bound
    EXPECT_NE(member(p, "00:1f.0")->reason.find("lpc_ich"), std::string::npos);
    EXPECT_EQ(member(p, "00:1f.2")->verdict, Verdict::StaysOnHost);  // PMC, no driver
    EXPECT_TRUE(p.blocked());
    EXPECT_TRUE(p.edits.inject.empty());
}

TEST(Planner, SiblingsTheHostNeedsBlock) {
    // Keyboard's USB controller next to the thermal function.
    Plan kb = plan_domain(domain(hd("0x00", "0x14", "0x2")), host());
    EXPECT_EQ(member(kb, "00:14.0")->verdict, Verdict::Blocked);
    EXPECT_NE(member(kb, "00:14.0")->reason.find("keyboard"), std::string::npos);
    EXPECT_TRUE(kb.blocked());
    // The root filesystem's controller next to another USB controller.
    Plan rootfs = plan_domain(domain(hd("0x00", "0x17", "0x1")), host());
    EXPECT_EQ(member(rootfs, "00:17.0")->verdict, Verdict::Blocked);
    EXPECT_NE(member(rootfs, "00:17.0")->reason.find("root filesystem"), std::string::npos);
    EXPECT_TRUE(rootfs.blocked());
}

TEST(Planner, RequestedDeviceAbsentBridgeOrNeededIsAnError) {
    for (auto [bus, slot, fn, words] :
         {std::tuple{"0x09", "0x00", "0x0", "not on this host"}, std::tuple{"0x00", "0x01", "0x0", "bridge"},
          std::tuple{"0x00", "0x1f", "0x6", "default route"}, std::tuple{"0x00", "0x17", "0x0", "root filesystem"}}) {
        Plan p = plan_domain(domain(hd(bus, slot, fn)), host());
        EXPECT_TRUE(p.blocked()) << words;
        ASSERT_FALSE(p.problems.empty());
        EXPECT_NE(p.problems[0].message.find(words), std::string::npos) << p.problems[0].message;
        EXPECT_TRUE(p.edits.inject.empty());
    }
}

// The boot display that holds the host's console: the handoff plan, as a
// warning; the same GPU with nothing holding it: no word at all.
TEST(Planner, BootVgaIsAWarningNotAnError) {
    std::string spec = kHost;
    const std::string first = "host cmdline=\"intel_iommu=on\"";
    spec.replace(spec.find(first), first.size(), first + " fbcon=yes fb=amdgpu");
    FakeRoot root(spec);
    auto h = read_host(FsRoot(root.path()), hostdev::testing::test_read_options());
    ASSERT_TRUE(h.ok()) << h.error().describe();
    Plan p = plan_domain(domain(hd("0x03", "0x00", "0x0")), *h);
    EXPECT_FALSE(p.blocked());
    ASSERT_EQ(count(p, Severity::Warning), 1);
    const auto warning = std::find_if(p.problems.begin(), p.problems.end(),
                                      [](const Problem& x) { return x.severity == Severity::Warning; });
    EXPECT_NE(warning->message.find("the hook hands the host's console and display to the guest: "
                                    "unbinds the framebuffer console (vtcon1)"),
              std::string::npos)
        << warning->message;

    Plan idle = plan_domain(domain(hd("0x03", "0x00", "0x0")), host());
    EXPECT_FALSE(idle.blocked());
    EXPECT_EQ(count(idle, Severity::Warning), 0);
}

TEST(Planner, SameSlotInAnotherGroupIsANoteOrInjectedOnRequest) {
    Plan note = plan_domain(domain(hd("0x03", "0x00", "0x0")), host());
    EXPECT_EQ(count(note, Severity::Note), 1);
    EXPECT_TRUE(note.edits.inject.empty());
    PlanOptions whole;
    whole.whole_slot = PlanOptions::WholeSlot::Inject;
    Plan p = plan_domain(domain(hd("0x03", "0x00", "0x0")), host(), whole);
    ASSERT_EQ(p.edits.inject.size(), 1u);
    EXPECT_EQ(p.edits.inject[0].source.str(), "0000:03:00.1");
    ASSERT_EQ(p.groups.size(), 2u);  // its own group is planned as well
    EXPECT_EQ(p.groups[1].group, 9);
    // A needed function of the same slot is never pulled in by --whole-slot.
    Plan lpss = plan_domain(domain(hd("0x00", "0x1e", "0x0")), host(), whole);
    EXPECT_TRUE(lpss.edits.inject.empty());
    EXPECT_EQ(count(lpss, Severity::Note), 1);
}

TEST(Planner, TwoRequestsInOneGroupOrOneListedTwiceNeverDuplicate) {
    Plan both = plan_domain(domain(hd("0x01", "0x00", "0x0") + hd("0x01", "0x00", "0x1")), host());
    ASSERT_EQ(both.groups.size(), 1u);
    EXPECT_EQ(both.groups[0].requested.size(), 2u);
    EXPECT_TRUE(both.edits.inject.empty());
    EXPECT_EQ(member(both, "01:00.1")->verdict, Verdict::Covered);
    Plan twice = plan_domain(domain(hd("0x01", "0x00", "0x0") + hd("1", "0", "0")), host());
    ASSERT_EQ(twice.edits.inject.size(), 1u);
    EXPECT_EQ(count(twice, Severity::Warning), 1);
    EXPECT_NE(twice.problems[0].message.find("more than once"), std::string::npos);
}

TEST(Planner, NoIommuGroupIsAnErrorWithAdvice) {
    FakeRoot root("host iommu=none\ndev 01:00.0 10de:13c2 0x030000 driver=nouveau\n");
    auto h = read_host(FsRoot(root.path()));
    ASSERT_TRUE(h.ok());
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x0")), *h);
    EXPECT_TRUE(p.blocked());
    EXPECT_NE(p.problems.back().message.find("intel_iommu=on"), std::string::npos);
}

TEST(Planner, GuestSlotIsSharedAndFunctionZeroIsMultifunction) {
    // Requested audio (function 1) at guest 05:00.1: the GPU joins at 05:00.0 with multifunction.
    const char* guest = "<address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x1'/>";
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x1", "yes", guest)), host());
    ASSERT_EQ(p.edits.inject.size(), 1u);
    ASSERT_TRUE(p.edits.inject[0].guest_address.has_value());
    EXPECT_EQ(p.edits.inject[0].guest_address->str(), "0000:05:00.0");
    EXPECT_TRUE(p.edits.inject[0].guest_multifunction);
    EXPECT_TRUE(p.edits.set_guest_multifunction.empty());
    // Requested GPU at guest 05:00.0: audio at 05:00.1, and the GPU's address gets multifunction.
    const char* guest0 = "<address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>";
    Plan q = plan_domain(domain(hd("0x01", "0x00", "0x0", "yes", guest0)), host());
    EXPECT_EQ(q.edits.inject[0].guest_address->str(), "0000:05:00.1");
    EXPECT_FALSE(q.edits.inject[0].guest_multifunction);
    ASSERT_EQ(q.edits.set_guest_multifunction.size(), 1u);
    EXPECT_EQ(q.edits.set_guest_multifunction[0].str(), "0000:01:00.0");
    // Without a guest address libvirt chooses one.
    Plan r = plan_domain(domain(hd("0x01", "0x00", "0x0")), host());
    EXPECT_FALSE(r.edits.inject[0].guest_address.has_value());
}

TEST(Planner, KvmHiddenForNvidiaDisplays) {
    // Requesting only the NVIDIA audio function still assigns the GPU: hide.
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x1")), host());
    EXPECT_TRUE(p.edits.ensure_kvm_hidden);
    // An AMD GPU: no.
    Plan amd = plan_domain(domain(hd("0x03", "0x00", "0x0")), host());
    EXPECT_FALSE(amd.edits.ensure_kvm_hidden);
    PlanOptions always;
    always.hide_kvm = PlanOptions::HideKvm::Always;
    EXPECT_TRUE(plan_domain(domain(hd("0x03", "0x00", "0x0")), host(), always).edits.ensure_kvm_hidden);
    PlanOptions never;
    never.hide_kvm = PlanOptions::HideKvm::Never;
    EXPECT_FALSE(plan_domain(domain(hd("0x01", "0x00", "0x0")), host(), never).edits.ensure_kvm_hidden);
    // Already on: nothing. Explicitly off: kept in auto mode, with a note.
    EXPECT_FALSE(
        plan_domain(domain(hd("0x01", "0x00", "0x0"), "<features><kvm><hidden state='on'/></kvm></features>"), host())
            .edits.ensure_kvm_hidden);
    Plan off =
        plan_domain(domain(hd("0x01", "0x00", "0x0"), "<features><kvm><hidden state='off'/></kvm></features>"), host());
    EXPECT_FALSE(off.edits.ensure_kvm_hidden);
    EXPECT_EQ(count(off, Severity::Note), 1);
    EXPECT_TRUE(plan_domain(domain(hd("0x01", "0x00", "0x0"), "<features><kvm><hidden state='off'/></kvm></features>"),
                            host(), always)
                    .edits.ensure_kvm_hidden);
}

// --hide-kvm auto by what the domain says of its guest OS: one test per
// decision, with its text.
std::string libosinfo(const char* id) {
    return std::string(
               "<metadata><libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>"
               "<libosinfo:os id='") +
           id + "'/></libosinfo:libosinfo></metadata>";
}

const Change* hide_kvm_change(const Plan& p) {
    for (const auto& c : p.changes)
        if (c.kind == Change::Kind::HideKvm) return &c;
    return nullptr;
}

TEST(PlannerHideKvm, WindowsByMetadataHides) {
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x0"), libosinfo("http://microsoft.com/win/11")), host());
    EXPECT_TRUE(p.edits.ensure_kvm_hidden);
    ASSERT_NE(hide_kvm_change(p), nullptr);
    EXPECT_EQ(hide_kvm_change(p)->description,
              "add <features><kvm><hidden state='on'/>: the domain assigns NVIDIA GPU 0000:01:00.0 to a Windows guest "
              "(libosinfo id http://microsoft.com/win/11, line 1), whose NVIDIA drivers before R465 stop with Code 43 "
              "when they see KVM");
    EXPECT_EQ(count(p, Severity::Note), 0);
}

TEST(PlannerHideKvm, WindowsByHypervHides) {
    Plan p = plan_domain(
        domain(hd("0x01", "0x00", "0x0"), "<features><hyperv><relaxed state='on'/></hyperv></features>"), host());
    EXPECT_TRUE(p.edits.ensure_kvm_hidden);
    ASSERT_NE(hide_kvm_change(p), nullptr);
    EXPECT_EQ(hide_kvm_change(p)->description,
              "add <features><kvm><hidden state='on'/>: the domain assigns NVIDIA GPU 0000:01:00.0 to a Windows guest "
              "(Hyper-V enlightenments in <features><hyperv>, line 1), whose NVIDIA drivers before R465 stop with "
              "Code 43 when they see KVM");
    Plan clock = plan_domain(domain(hd("0x01", "0x00", "0x0"),
                                    "<clock offset='localtime'><timer name='hypervclock' present='yes'/></clock>"),
                             host());
    ASSERT_NE(hide_kvm_change(clock), nullptr);
    EXPECT_NE(hide_kvm_change(clock)->description.find("a Windows guest (the hypervclock timer, line 1)"),
              std::string::npos);
}

TEST(PlannerHideKvm, UnknownGuestHides) {
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x0")), host());
    EXPECT_TRUE(p.edits.ensure_kvm_hidden);
    ASSERT_NE(hide_kvm_change(p), nullptr);
    EXPECT_EQ(hide_kvm_change(p)->description,
              "add <features><kvm><hidden state='on'/>: the domain assigns NVIDIA GPU 0000:01:00.0 and its guest OS "
              "is unknown (no libosinfo metadata and no Hyper-V enlightenments); a Windows guest's NVIDIA drivers "
              "before R465 stop with Code 43 when they see KVM (a Linux guest loses kvmclock: give it libosinfo "
              "metadata, or use --hide-kvm never)");
}

TEST(PlannerHideKvm, LinuxByMetadataDoesNotHideAndSaysWhy) {
    const Host h = host();
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x1"), libosinfo("http://ubuntu.com/ubuntu/22.04")), h);
    EXPECT_FALSE(p.edits.ensure_kvm_hidden);
    EXPECT_EQ(hide_kvm_change(p), nullptr);
    ASSERT_EQ(count(p, Severity::Note), 1);
    const Problem& note = p.problems.back();
    EXPECT_EQ(note.device, PciAddress::parse("0000:01:00.0").value());
    EXPECT_EQ(note.message, describe_device(*h.find(*PciAddress::parse("01:00.0"))) +
                                ": <kvm><hidden state='on'/> not added: the guest is not Windows (libosinfo id "
                                "http://ubuntu.com/ubuntu/22.04, line 1); hiding KVM hides its paravirtual interfaces, "
                                "kvmclock among them, which Linux guests rely on, and NVIDIA's drivers allow GeForce "
                                "passthrough since R465 (2021) (use --hide-kvm always to hide it anyway)");
    // No NVIDIA display device: nothing to say about KVM.
    Plan amd = plan_domain(domain(hd("0x03", "0x00", "0x0"), libosinfo("http://ubuntu.com/ubuntu/22.04")), h);
    for (const auto& pr : amd.problems) EXPECT_EQ(pr.message.find("kvm"), std::string::npos) << pr.message;
}

TEST(PlannerHideKvm, AlwaysHidesEvenInALinuxGuest) {
    PlanOptions always;
    always.hide_kvm = PlanOptions::HideKvm::Always;
    Plan p =
        plan_domain(domain(hd("0x01", "0x00", "0x0"), libosinfo("http://ubuntu.com/ubuntu/22.04")), host(), always);
    EXPECT_TRUE(p.edits.ensure_kvm_hidden);
    ASSERT_NE(hide_kvm_change(p), nullptr);
    EXPECT_EQ(hide_kvm_change(p)->description, "add <features><kvm><hidden state='on'/> (--hide-kvm always)");
    EXPECT_EQ(count(p, Severity::Note), 0);
}

TEST(PlannerHideKvm, NeverDoesNotHideAWindowsGuest) {
    PlanOptions never;
    never.hide_kvm = PlanOptions::HideKvm::Never;
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x0"), libosinfo("http://microsoft.com/win/10")), host(), never);
    EXPECT_FALSE(p.edits.ensure_kvm_hidden);
    EXPECT_EQ(hide_kvm_change(p), nullptr);
    EXPECT_TRUE(p.problems.empty());
}

TEST(PlannerHideKvm, ExistingOffIsKeptInAWindowsGuest) {
    Plan p = plan_domain(domain(hd("0x01", "0x00", "0x0"), libosinfo("http://microsoft.com/win/10") +
                                                               "<features><kvm><hidden state='off'/></kvm></features>"),
                         host());
    EXPECT_FALSE(p.edits.ensure_kvm_hidden);
    ASSERT_EQ(count(p, Severity::Note), 1);
    EXPECT_EQ(p.problems.back().message,
              "the domain sets <kvm><hidden state='off'/> explicitly; kept (use --hide-kvm always to turn it on for "
              "the NVIDIA driver)");
}

TEST(Planner, DomainsWithoutPciHostdevsNeedNothing) {
    Plan p = plan_domain(domain(""), host());
    EXPECT_TRUE(p.groups.empty());
    EXPECT_TRUE(p.problems.empty());
    EXPECT_TRUE(p.edits.empty());
}

// A bound platform function is host-critical whether it is a sibling or the
// device asked for: one rule (policy.hpp), the same verdict and reason.
TEST(Planner, BoundPlatformFunctionRequestedDirectlyIsBlockedAsASiblingIs) {
    const Host h = host();
    Plan direct = plan_domain(domain(hd("0x00", "0x1f", "0x0")), h);
    EXPECT_TRUE(direct.blocked());
    ASSERT_EQ(count(direct, Severity::Error), 1);
    EXPECT_NE(
        direct.problems[0].message.find("cannot leave the host: platform function bound to lpc_ich: host-critical"),
        std::string::npos)
        << direct.problems[0].message;
    EXPECT_TRUE(direct.edits.empty());

    Plan sibling = plan_domain(domain(hd("0x00", "0x1f", "0x3")), h);
    EXPECT_TRUE(sibling.blocked());
    const MemberPlan* m = member(sibling, "0000:00:1f.0");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->verdict, Verdict::Blocked);
    EXPECT_NE(direct.problems[0].message.find(m->reason), std::string::npos);
}

TEST(Planner, IdlePlatformFunctionRequestedDirectlyIsAllowed) {
    Plan p = plan_domain(domain(hd("0x00", "0x1f", "0x4")), host());
    EXPECT_FALSE(p.blocked());
}

// Left alone on purpose: an mdev parent and a vGPU function with its type set
// are passed as mediated devices or vGPUs, never themselves.
TEST(Planner, MdevParentAndVgpuFunctionBlockAsSiblingsAndAreRefusedAsRequests) {
    FakeRoot root(R"(
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:1b38 0x030200 group=1 driver=nvidia mdev=yes
dev 01:00.1 10de:0fb9 0x040300 group=1 driver=snd_hda_intel
dev 00:1c.0 8086:a110 0x060400 group=6 driver=pcieport bus=41
dev 41:00.4 10de:27b8 0x030200 group=2 driver=nvidia vgpu=557
dev 41:00.5 10de:27b8 0x030200 group=2 driver=nvidia vgpu=0
)");
    auto h = read_host(FsRoot(root.path()), hostdev::testing::test_read_options());
    ASSERT_TRUE(h.ok()) << h.error().describe();
    struct Case {
        const char* sibling_of;  // requested device whose sibling is left alone
        const char* left;
        const char* words;
    };
    for (const Case& c : {Case{"0x01 0x00 0x1", "0000:01:00.0",
                               "an mdev parent (mdev_supported_types): its mediated "
                               "devices are passed to guests instead"},
                          Case{"0x41 0x00 0x5", "0000:41:00.4", "vGPU type 557 set (nvidia/current_vgpu_type"}}) {
        SCOPED_TRACE(c.left);
        char bus[5], slot[5], fn[4];
        std::sscanf(c.sibling_of, "%4s %4s %3s", bus, slot, fn);
        Plan sibling = plan_domain(domain(hd(bus, slot, fn)), *h);
        EXPECT_TRUE(sibling.blocked());
        const MemberPlan* m = member(sibling, c.left);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(m->verdict, Verdict::Blocked);
        EXPECT_NE(m->reason.find(c.words), std::string::npos) << m->reason;
        EXPECT_NE(m->reason.find("left alone on purpose"), std::string::npos) << m->reason;

        const auto a = *PciAddress::parse(c.left);
        Plan direct = plan_domain(domain(hd(("0x" + hex(a.bus, 2)).c_str(), ("0x" + hex(a.slot, 2)).c_str(),
                                            ("0x" + hex(a.function, 1)).c_str())),
                                  *h);
        EXPECT_TRUE(direct.blocked());
        ASSERT_EQ(count(direct, Severity::Error), 1);
        EXPECT_NE(direct.problems[0].message.find("is left alone on purpose: it is "), std::string::npos)
            << direct.problems[0].message;
        EXPECT_NE(direct.problems[0].message.find(c.words), std::string::npos) << direct.problems[0].message;
    }
    // A vGPU-capable function with no type set (0) goes like any endpoint.
    EXPECT_FALSE(h->find(*PciAddress::parse("41:00.5"))->vgpu_type);
}
