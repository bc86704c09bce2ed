// The readers of files hostdev did not write are total: for each class of bad
// input (wrong type, null, missing key, out-of-range / huge / negative number,
// duplicate key, wrong nesting, truncated input, binary garbage) a table of
// cases per reader, each an error value that names the file, the key or line
// and what to do, never an exception or a crash. Readers: the snapshot,
// hostdev.conf, pci.ids and the /proc and /sys text parsers.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_host.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/host/pciids.hpp"
#include "hostdev/host/snapshot.hpp"
#include "hostdev/output/format.hpp"

namespace fs = std::filesystem;
namespace parse = hostdev::parse;
using hostdev::parse_snapshot;
using hostdev::PciIds;
using nlohmann::json;

namespace {

bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------

// A snapshot with every kind of key: the cases change one thing in it.
json base_snapshot() {
    return json::parse(R"({
      "format": "hostdev-snapshot", "version": 1,
      "iommu": {"present": true, "units": ["dmar0"]},
      "kernel": {"cmdline": "intel_iommu=on", "cpu_vendor": "GenuineIntel", "release": "6.1.0",
                 "interrupt_remapping": true, "modules": ["vfio_pci"],
                 "vfio_modules": {"available": ["vfio_pci"], "builtin": []}, "framebuffers": [],
                 "driver_modules": {"nouveau": "nouveau"}},
      "setup": {"libvirt_hook": "", "initramfs": "dracut", "bootloader": "grub", "boot_entries": []},
      "groups": [{"group": 1}],
      "devices": [{"address": "0000:01:00.0", "vendor": "10de", "device": "13c2", "class": "0x030000",
                   "driver": "nouveau", "subsystem_vendor": "1043", "subsystem_device": "8508", "revision": "a1",
                   "header_type": 0, "kind": "endpoint", "vendor_name": "NVIDIA", "device_name": "GM204",
                   "class_name": "VGA", "driver_override": null, "iommu_group": 1, "boot_vga": false,
                   "reset_methods": ["flr"], "physfn": null, "virtfns": [], "parent_bridges": ["0000:00:01.0"],
                   "numa_node": 0, "roles": ["boot-vga"], "problems": []}],
      "warnings": []})");
}

struct SnapshotCase {
    const char* cls;
    const char* pointer;        // JSON pointer of the value changed
    std::optional<json> value;  // nullopt: the key is removed
    const char* expected;       // in the message after "t.json: "
};

const json kNull = json(nullptr);

const std::vector<SnapshotCase> kSnapshotCases = {
    {"wrong type", "/format", json(1), "not a hostdev snapshot"},
    {"wrong type", "/version", json("1"), "snapshot has no integer \"version\""},
    {"wrong type", "/version", json(1.0), "snapshot has no integer \"version\""},
    {"wrong type", "/iommu", json::array(), "malformed snapshot: iommu: expected an object"},
    {"wrong type", "/iommu/present", json("yes"), "malformed snapshot: iommu.present: expected true or false"},
    {"wrong type", "/iommu/units", json("dmar0"), "malformed snapshot: iommu.units: expected a list of strings"},
    {"wrong type", "/kernel", json("x"), "malformed snapshot: kernel: expected an object"},
    {"wrong type", "/kernel/cmdline", json(5), "malformed snapshot: kernel.cmdline: expected a string"},
    {"wrong type", "/kernel/interrupt_remapping", json("yes"), "kernel.interrupt_remapping: expected true or false"},
    {"wrong type", "/kernel/modules", json::array({1}), "kernel.modules: expected a list of strings"},
    {"wrong type", "/kernel/vfio_modules/builtin", json::object(), "kernel.vfio_modules.builtin: expected a list"},
    {"wrong type", "/kernel/driver_modules/nouveau", json(1), "kernel.driver_modules.nouveau: expected a string"},
    {"wrong type", "/setup/initramfs", json(true), "setup.initramfs: expected a string"},
    {"wrong type", "/setup/bootloader", json("lilo"), "setup.bootloader: unknown boot loader 'lilo'"},
    {"wrong type", "/groups", json::object(), "malformed snapshot: groups: expected a list"},
    {"wrong type", "/groups/0/group", json("1"), "groups[0].group: expected a whole number"},
    {"wrong type", "/devices", json::object(), "snapshot has no \"devices\" list"},
    {"wrong type", "/devices/0/vendor", json(4318), "devices[0].vendor: expected a hexadecimal string"},
    {"wrong type", "/devices/0/driver", json(false), "devices[0].driver: expected a string"},
    {"wrong type", "/devices/0/iommu_group", json("1"), "devices[0].iommu_group: expected a whole number"},
    {"wrong type", "/devices/0/iommu_group", json(1.5), "devices[0].iommu_group: expected a whole number"},
    {"wrong type", "/devices/0/boot_vga", json(0), "devices[0].boot_vga: expected true or false"},
    {"wrong type", "/devices/0/roles", json("boot-vga"), "devices[0].roles: expected a list of strings"},
    {"wrong type", "/devices/0/roles/0", json("gpu"), "devices[0].roles: unknown host role 'gpu'"},
    {"wrong type", "/devices/0/virtfns", json::array({1}), "devices[0].virtfns: expected a list of strings"},
    {"wrong type", "/devices/0/reset_methods/0", kNull, "devices[0].reset_methods: expected a list of strings"},
    {"wrong type", "/devices/0/address", json("01:00"), "devices[0].address: invalid PCI address"},
    {"null", "/format", kNull, "not a hostdev snapshot"},
    {"null", "/version", kNull, "snapshot has no integer \"version\""},
    {"null", "/iommu", kNull, "malformed snapshot: iommu: missing (expected an object)"},
    {"null", "/iommu/present", kNull, "malformed snapshot: iommu.present: missing"},
    {"null", "/devices", kNull, "snapshot has no \"devices\" list"},
    {"null", "/devices/0", kNull, "devices[0]: expected an object"},
    {"null", "/devices/0/vendor", kNull, "devices[0].vendor: missing (expected a hexadecimal string)"},
    {"null", "/devices/0/address", kNull, "devices[0].address: missing"},
    {"null", "/groups/0/group", kNull, "groups[0].group: missing"},
    {"missing key", "/format", std::nullopt, "not a hostdev snapshot"},
    {"missing key", "/version", std::nullopt, "snapshot has no integer \"version\""},
    {"missing key", "/iommu", std::nullopt, "malformed snapshot: iommu: missing"},
    {"missing key", "/iommu/present", std::nullopt, "malformed snapshot: iommu.present: missing"},
    {"missing key", "/devices", std::nullopt, "snapshot has no \"devices\" list"},
    {"missing key", "/devices/0/address", std::nullopt, "devices[0].address: missing"},
    {"missing key", "/devices/0/class", std::nullopt, "devices[0].class: missing"},
    {"missing key", "/groups/0/group", std::nullopt, "groups[0].group: missing"},
    {"out of range", "/version", json(0), "snapshot version 0 is not supported"},
    {"out of range", "/version", json(-1), "snapshot version -1 is not supported"},
    {"out of range", "/version", json(2), "snapshot version 2 is not supported"},
    {"out of range", "/version", json(18446744073709551615ULL), "snapshot version 18446744073709551615"},
    {"out of range", "/devices/0/iommu_group", json(-1), "devices[0].iommu_group: out of range"},
    {"out of range", "/devices/0/iommu_group", json(2147483648LL), "devices[0].iommu_group: out of range"},
    {"out of range", "/devices/0/iommu_group", json(18446744073709551615ULL), "devices[0].iommu_group: out of range"},
    {"out of range", "/devices/0/header_type", json(128), "devices[0].header_type: out of range"},
    {"out of range", "/devices/0/header_type", json(-1), "devices[0].header_type: out of range"},
    {"out of range", "/devices/0/numa_node", json(-2), "devices[0].numa_node: out of range"},
    {"out of range", "/devices/0/numa_node", json(1LL << 40), "devices[0].numa_node: out of range"},
    {"out of range", "/devices/0/vendor", json("10000"), "devices[0].vendor: expected a hexadecimal string up to ffff"},
    {"out of range", "/devices/0/class", json("0x1000000"), "devices[0].class: expected a hexadecimal string"},
    {"out of range", "/devices/0/revision", json("100"), "devices[0].revision: expected a hexadecimal string"},
    {"out of range", "/devices/0/vendor", json("-1"), "devices[0].vendor: expected a hexadecimal string"},
    {"out of range", "/devices/0/address", json("0000:01:20.0"), "devices[0].address: invalid PCI address"},
    {"out of range", "/groups/0/group", json(-1), "groups[0].group: out of range"},
    {"out of range", "/groups/0/group", json(4294967296LL), "groups[0].group: out of range"},
    {"out of range", "/groups/0/group", json(1e10), "groups[0].group: expected a whole number"},
    {"wrong nesting", "/kernel/release", json::object({{"a", 1}}), "kernel.release: expected a string"},
    {"wrong nesting", "/iommu/present", json::array({true}), "iommu.present: expected true or false"},
    {"wrong nesting", "/devices/0", json::array({json::object()}), "devices[0]: expected an object"},
    {"wrong nesting", "/groups/0", json::array({1}), "groups[0]: expected an object"},
    {"wrong nesting", "/kernel/vfio_modules", json::array(), "kernel.vfio_modules: expected an object"},
};

// The message of a snapshot that must not read: it names the file and says
// what to do (take the snapshot again, or use a matching hostdev).
std::string snapshot_error(std::string_view text) {
    auto r = parse_snapshot(text, "t.json");
    if (r.ok()) return "(accepted)";
    const std::string m = r.error().message;
    EXPECT_EQ(m.rfind("t.json: ", 0), 0U) << m;
    EXPECT_TRUE(has(m, "`hostdev snapshot") || has(m, "use a matching hostdev")) << m;
    EXPECT_TRUE(parse::valid_utf8(m)) << m;
    return m;
}

}  // namespace

TEST(TotalSnapshot, TheBaseReads) {
    auto r = parse_snapshot(base_snapshot().dump(), "t.json");
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_EQ(r->devices.size(), 1U);
    EXPECT_EQ(r->devices[0].numa_node, 0);
}

TEST(TotalSnapshot, EveryBadValueIsAnErrorNamingTheKey) {
    for (const auto& c : kSnapshotCases) {
        json j = base_snapshot();
        const json::json_pointer ptr(c.pointer);
        if (c.value) {
            j[ptr] = *c.value;
        } else {
            j[ptr.parent_pointer()].erase(ptr.back());
        }
        const std::string m = snapshot_error(j.dump());
        EXPECT_TRUE(has(m, c.expected)) << c.cls << " " << c.pointer << ": " << m;
    }
}

// Optional facts that are absent or null are unknown, as in a snapshot written
// before they existed.
TEST(TotalSnapshot, AbsentAndNullOptionalKeysAreUnknown) {
    for (const char* p :
         {"/kernel", "/setup", "/groups", "/warnings", "/kernel/release", "/kernel/modules",
          "/kernel/interrupt_remapping", "/setup/bootloader", "/devices/0/driver", "/devices/0/iommu_group",
          "/devices/0/numa_node", "/devices/0/roles", "/devices/0/subsystem_vendor", "/devices/0/header_type"}) {
        const json::json_pointer ptr(p);
        json removed = base_snapshot();
        removed[ptr.parent_pointer()].erase(ptr.back());
        json nulled = base_snapshot();
        nulled[ptr] = nullptr;
        for (const json& j : {removed, nulled}) {
            auto r = parse_snapshot(j.dump(), "t.json");
            EXPECT_TRUE(r.ok()) << p << ": " << r.error().describe();
        }
    }
    json j = base_snapshot();
    j["kernel"]["release"] = nullptr;
    j["devices"][0]["driver"] = nullptr;
    j["devices"][0]["numa_node"] = -1;  // how sysfs spells "none"
    auto r = parse_snapshot(j.dump(), "t.json");
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_FALSE(r->kernel_release);
    EXPECT_FALSE(r->devices[0].driver);
    EXPECT_FALSE(r->devices[0].numa_node);
}

TEST(TotalSnapshot, DuplicateKeysAndDevices) {
    EXPECT_TRUE(has(snapshot_error(R"({"format":"hostdev-snapshot","format":"x","version":1})"),
                    "the key \"format\" appears twice"));
    std::string text = base_snapshot().dump();
    const std::string vendor = "\"vendor\":\"10de\"";
    text.insert(text.find(vendor), vendor + ",");
    EXPECT_TRUE(has(snapshot_error(text), "the key \"vendor\" appears twice"));
    json j = base_snapshot();
    j["devices"].push_back(j["devices"][0]);
    j["devices"][1]["address"] = "01:00.0";
    EXPECT_TRUE(has(snapshot_error(j.dump()), "device 0000:01:00.0 is listed twice"));
}

TEST(TotalSnapshot, WrongNestingOfTheDocument) {
    EXPECT_TRUE(has(snapshot_error("[]"), "not a hostdev snapshot"));
    EXPECT_TRUE(has(snapshot_error("\"hostdev-snapshot\""), "not a hostdev snapshot"));
    EXPECT_TRUE(has(snapshot_error("null"), "not a hostdev snapshot"));
    std::string deep = base_snapshot().dump();
    deep.insert(deep.size() - 1, ",\"x\":" + std::string(100, '[') + std::string(100, ']'));
    EXPECT_TRUE(has(snapshot_error(deep), "nested deeper than 32 levels"));
}

TEST(TotalSnapshot, TruncatedInput) {
    const std::string text = base_snapshot().dump(2);
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{20}, text.size() / 2, text.size() - 1}) {
        const std::string m = snapshot_error(text.substr(0, cut));
        EXPECT_TRUE(has(m, "not a JSON document")) << cut << ": " << m;
    }
}

TEST(TotalSnapshot, BinaryGarbage) {
    const std::string garbage[] = {std::string("\xff\xfe\x00\x01", 4), std::string(1, '\0'), "\x1b[2J",
                                   base_snapshot().dump() + " trailing"};
    for (const auto& g : garbage) EXPECT_TRUE(has(snapshot_error(g), "not a JSON document")) << g;
    // Bytes that are not UTF-8 inside a string.
    std::string text = base_snapshot().dump();
    text.replace(text.find("NVIDIA"), 6, "\xff\xfe\xc3(");
    EXPECT_TRUE(has(snapshot_error(text), "not a JSON document"));
}

// What the issue reproduced: `hostdev-fix --host f.json` with {"format":1}
// aborted with an uncaught json::type_error.
TEST(TotalSnapshot, FormatOfTheWrongTypeIsAnError) {
    EXPECT_TRUE(has(snapshot_error(R"({"format":1})"), "not a hostdev snapshot"));
    EXPECT_TRUE(has(snapshot_error(R"({"format":null})"), "not a hostdev snapshot"));
    EXPECT_TRUE(
        has(snapshot_error(R"({"format":"hostdev-snapshot","version":1,"iommu":1})"), "iommu: expected an object"));
}

// ---------------------------------------------------------------------------
// hostdev.conf
// ---------------------------------------------------------------------------

namespace {

// The message of a hostdev.conf that must not read: "hostdev.conf:LINE: ...",
// one short line of valid UTF-8 whatever the file holds.
std::string config_error(std::string_view text) {
    auto r = hostdev::parse_config(text, "hostdev.conf");
    if (r.ok()) return "(accepted)";
    const std::string m = r.error().message;
    EXPECT_EQ(m.rfind("hostdev.conf:", 0), 0U) << m;
    EXPECT_TRUE(parse::valid_utf8(m)) << parse::quote(m, 400);
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_LT(m.size(), 400U) << m;
    return m;
}

struct ConfigCase {
    const char* cls;
    std::string value;
    const char* expected;
};

const char* const kPathKeys[] = {"root", "journal_dir", "log_file"};
const char* const kTimeoutKeys[] = {"wait_timeout_ms", "lock_timeout_ms"};

const std::vector<ConfigCase> kPathCases = {
    {"wrong type", "run/hostdev", "wants an absolute path, got 'run/hostdev'"},
    {"wrong type", "./x", "wants an absolute path, got './x'"},
    {"wrong type", "~/x", "wants an absolute path"},
    {"binary garbage", std::string("/srv/\0x", 7), "holds a NUL byte"},
    {"binary garbage", "\xff\xfe", "wants an absolute path, got '\\xff\\xfe'"},
    {"huge", "/" + std::string(5000, 'a'), "is longer than 4095 bytes"},
};

const std::vector<ConfigCase> kTimeoutCases = {
    {"wrong type", "abc", "wants a whole number of milliseconds"},
    {"wrong type", "1.5", "wants a whole number of milliseconds"},
    {"wrong type", "1e3", "wants a whole number of milliseconds"},
    {"wrong type", "0x10", "wants a whole number of milliseconds"},
    {"wrong type", "10 ms", "got '10 ms'"},
    {"null", "", "got ''"},
    {"negative", "-1", "got '-1'"},
    {"negative", "+5", "got '+5'"},
    {"huge", "86400001", "from"},
    {"huge", "99999999999999999999999", "got '99999999999999999999999'"},
    {"binary garbage", std::string("5\0", 2), "got '5\\x00'"},
    {"binary garbage", "\x1b[2J", "got '\\x1b[2J'"},
};

}  // namespace

TEST(TotalConfig, EveryKeyRefusesEveryBadValue) {
    for (const char* key : kPathKeys) {
        for (const auto& c : kPathCases) {
            const std::string m = config_error("# header\n" + std::string(key) + " = " + c.value + "\n");
            EXPECT_EQ(m.rfind("hostdev.conf:2: " + std::string(key), 0), 0U) << c.cls << ": " << m;
            EXPECT_TRUE(has(m, c.expected)) << key << " " << c.cls << ": " << m;
        }
    }
    for (const char* key : kTimeoutKeys) {
        for (const auto& c : kTimeoutCases) {
            const std::string m = config_error(std::string(key) + "=" + c.value);
            EXPECT_EQ(m.rfind("hostdev.conf:1: " + std::string(key) + " wants a whole number", 0), 0U) << m;
            EXPECT_TRUE(has(m, c.expected)) << key << " " << c.cls << ": " << m;
        }
    }
    // Empty is "none" where the key has a default, and an error where it has not.
    EXPECT_TRUE(has(config_error("root =\n"), "root wants an absolute path, got ''"));
    EXPECT_TRUE(hostdev::parse_config("journal_dir =\nlog_file =\n", "hostdev.conf").ok());
    EXPECT_TRUE(has(config_error("wait_timeout_ms = 0\n"), "from 1 to"));
    EXPECT_TRUE(hostdev::parse_config("lock_timeout_ms = 0\n", "hostdev.conf").ok());
}

TEST(TotalConfig, EveryKeySetTwiceIsAnError) {
    for (const char* line :
         {"root = /", "journal_dir = /run/x", "log_file = /var/log/h", "wait_timeout_ms = 5", "lock_timeout_ms = 5"}) {
        const std::string m = config_error(std::string(line) + "\n\n" + line + "\n");
        EXPECT_TRUE(has(m, "hostdev.conf:3: '")) << m;
        EXPECT_TRUE(has(m, "' is set twice")) << m;
    }
}

TEST(TotalConfig, MalformedLines) {
    EXPECT_TRUE(has(config_error("= /srv\n"), "hostdev.conf:1: missing key before '='"));
    EXPECT_TRUE(has(config_error("root\n"), "hostdev.conf:1: expected 'key = value', got 'root'"));
    EXPECT_TRUE(has(config_error("root = /\nwait_timeout_ms"), "hostdev.conf:2: expected 'key = value'"));
    EXPECT_TRUE(has(config_error("[section]\n"), "expected 'key = value'"));
    EXPECT_TRUE(has(config_error(std::string("ro\0ot = /\n", 10)), "unknown key 'ro\\x00ot'"));
    // A NUL byte alone, or a file that is all garbage.
    EXPECT_TRUE(has(config_error(std::string(1, '\0')), "hostdev.conf:1: expected 'key = value', got '\\x00'"));
    EXPECT_TRUE(has(config_error("\xff\xfe\xfd\n"), "got '\\xff\\xfe\\xfd'"));
}

TEST(TotalConfig, VeryLongLinesGiveShortMessages) {
    const std::string long_key(1 << 20, 'k');
    EXPECT_TRUE(has(config_error(long_key + " = 1\n"), "unknown key 'kkkk"));
    EXPECT_TRUE(has(config_error("wait_timeout_ms = " + std::string(1 << 20, '9') + "\n"), "'..."));
    EXPECT_TRUE(has(config_error(std::string(1 << 20, 'x')), "expected 'key = value'"));
    // A long comment is a comment.
    EXPECT_TRUE(hostdev::parse_config("# " + std::string(1 << 20, 'c') + "\nroot = /\n", "hostdev.conf").ok());
}

// ---------------------------------------------------------------------------
// pci.ids
// ---------------------------------------------------------------------------

namespace {

struct PciIdsCase {
    const char* cls;
    std::string line;
    const char* expected;  // in first_problem()
};

const std::vector<PciIdsCase> kPciIdsCases = {
    {"truncated", "10d", "pci.ids:3: expected a 4-digit hex vendor id and a name, got '10d'"},
    {"truncated", "10de", "expected a 4-digit hex vendor id and a name"},
    {"truncated", "10de  ", "expected a 4-digit hex vendor id and a name"},
    {"truncated", "\t13c", "expected a 4-digit hex device id and a name, got '13c'"},
    {"truncated", "\t13c2", "expected a 4-digit hex device id and a name"},
    {"truncated", "C 0", "expected 'C', a 2-digit hex class and a name"},
    {"truncated", "C 03", "expected 'C', a 2-digit hex class and a name"},
    {"bad hex", "10dg  NVIDIA", "got '10dg  NVIDIA'"},
    {"bad hex", "\tzzzz  GM204", "got 'zzzz  GM204'"},
    {"bad hex", "C zz  Display", "got 'C zz  Display'"},
    {"bad hex", "-1  Vendor", "got '-1  Vendor'"},
    {"bad hex", "10de1  NVIDIA", "got '10de1  NVIDIA'"},
    {"binary garbage", "\xff\xfe\x01", "got '\\xff\\xfe\\x01'"},
    {"binary garbage", std::string("\0\0", 2), "got '\\x00\\x00'"},
};

}  // namespace

// A bad line is skipped and named (file and line); every good line still gives
// its name, so one bad line does not take all names away.
TEST(TotalPciIds, EveryMalformedLineIsSkippedAndNamed) {
    for (const auto& c : kPciIdsCases) {
        const std::string text =
            "# pci.ids\n8086  Intel Corporation\n" + c.line + "\n10de  NVIDIA Corporation\n\t13c2  GM204\n";
        PciIds ids = PciIds::parse(text, nullptr, "pci.ids");
        EXPECT_EQ(ids.skipped_lines(), 1U) << c.cls << " " << parse::quote(c.line);
        EXPECT_TRUE(has(ids.first_problem(), c.expected)) << ids.first_problem();
        EXPECT_TRUE(has(ids.first_problem(), "reinstall package pci.ids, or set HOSTDEV_PCI_IDS"));
        EXPECT_TRUE(parse::valid_utf8(ids.first_problem()));
        EXPECT_EQ(ids.vendor(0x8086), "Intel Corporation");
        EXPECT_EQ(ids.device(0x10de, 0x13c2), "GM204");
    }
    PciIds clean = PciIds::parse("10de  NVIDIA Corporation\n\t13c2  GM204\n");
    EXPECT_EQ(clean.skipped_lines(), 0U);
    EXPECT_EQ(clean.first_problem(), "");
}

TEST(TotalPciIds, NamesAreCleanAndBounded) {
    const std::string huge(100000, 'N');
    PciIds ids = PciIds::parse("10de  " + huge +
                               "\n\t13c2  GM\xff\xfe"
                               "204\x1b[2J\n1234  Caf\xc3\xa9\r\n"
                               "C 03  Display\x7f\n\t00  VGA\xed\xa0\x80\n");
    EXPECT_EQ(ids.vendor(0x10de).size(), PciIds::kMaxNameBytes);
    EXPECT_EQ(ids.device(0x10de, 0x13c2), "GM??204?[2J");
    EXPECT_EQ(ids.vendor(0x1234), "Caf\xc3\xa9");  // UTF-8 kept, the CR of CRLF dropped
    EXPECT_EQ(ids.class_name(0x0301), "Display?");
    EXPECT_EQ(ids.class_name(0x0300), "VGA???");  // a UTF-16 surrogate is not UTF-8
    // Cut at a character, never inside one.
    std::string accents;
    for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";
    PciIds cut = PciIds::parse("10de  " + accents + "\n");
    EXPECT_EQ(cut.vendor(0x10de).size(), PciIds::kMaxNameBytes);
    EXPECT_TRUE(parse::valid_utf8(cut.vendor(0x10de)));
}

TEST(TotalPciIds, AbsurdSizes) {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path file = fs::path(tmp && *tmp ? tmp : "/tmp") / ("hostdev-pciids-" + std::to_string(::getpid()));
    // A sparse file one byte larger than the limit: no disk, no real data.
    int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(PciIds::kMaxFileBytes + 1)), 0);
    ::close(fd);
    auto r = PciIds::load(file);
    fs::remove(file);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(has(r.error().describe(), "larger than 64 MiB")) << r.error().describe();
    EXPECT_TRUE(has(r.error().describe(), file.string()));
    // A line of a megabyte, and a file of nothing but newlines.
    PciIds ids = PciIds::parse("10de  NVIDIA\n\t" + std::string(1 << 20, 'f') + "\n" + std::string(1 << 20, '\n'));
    EXPECT_EQ(ids.skipped_lines(), 1U);
    EXPECT_LT(ids.first_problem().size(), 300U);
    EXPECT_EQ(ids.vendor(0x10de), "NVIDIA");
}

// ---------------------------------------------------------------------------
// /proc and /sys text
// ---------------------------------------------------------------------------

namespace {

struct NumberCase {
    const char* cls;
    std::string text;
};

// Values no attribute may hold; each is an error whose message quotes the
// text escaped (a message may go into JSON).
const std::vector<NumberCase> kBadHex = {
    {"empty", ""},
    {"truncated", "0x"},
    {"negative", "-1"},
    {"negative", "0x-1"},
    {"bad hex", "0x1g"},
    {"huge", "0x100000000"},
    {"huge", "ffffffffffffffffffff"},
    {"garbage", "\xff\xfe"},
    {"garbage", std::string("0x10de\0junk", 11)},
    {"two values", "0x10de 0x13c2"},
    {"sign", "+10de"},
};
const std::vector<NumberCase> kBadInt = {
    {"empty", ""},
    {"huge", "9223372036854775808"},
    {"huge", "-9223372036854775809"},
    {"float", "1.5"},
    {"float", "1e3"},
    {"sign", "+1"},
    {"hex", "0x10"},
    {"garbage", "\xff"},
    {"two values", "1 2"},
};

}  // namespace

TEST(TotalKernelText, NumbersRefuseEveryBadValue) {
    for (const auto& c : kBadHex) {
        auto r = parse::sysfs_hex(c.text, 0xffffffff);
        ASSERT_FALSE(r.ok()) << c.cls << " " << parse::quote(c.text);
        EXPECT_TRUE(parse::valid_utf8(r.error().message)) << r.error().message;
        EXPECT_TRUE(has(r.error().message, "not a hexadecimal number: '")) << r.error().message;
    }
    EXPECT_EQ(parse::sysfs_hex("\xff\xfe").error().message, "not a hexadecimal number: '\\xff\\xfe'");
    EXPECT_EQ(parse::sysfs_hex("0x10000", 0xffff).error().message, "value out of range: '0x10000'");
    for (const auto& c : kBadInt) {
        auto r = parse::sysfs_int(c.text);
        ASSERT_FALSE(r.ok()) << c.cls << " " << parse::quote(c.text);
        EXPECT_TRUE(parse::valid_utf8(r.error().message)) << r.error().message;
    }
    EXPECT_EQ(*parse::sysfs_int("-9223372036854775808\n"), std::numeric_limits<long>::min());
}

TEST(TotalKernelText, IommuGroupLinks) {
    for (const char* bad : {"", "../kernel/iommu_groups/", "../kernel/iommu_groups/-1", "../groups/2147483648",
                            "../groups/1x", "../groups/\xff", "../groups/+1", "13/.."}) {
        auto r = parse::iommu_group_link(bad);
        ASSERT_FALSE(r.ok()) << parse::quote(bad);
        EXPECT_TRUE(parse::valid_utf8(r.error().message));
    }
    EXPECT_EQ(*parse::iommu_group_link("../../../kernel/iommu_groups/2147483647/"), 2147483647);
    // A link target of a page is quoted short.
    EXPECT_LT(parse::iommu_group_link(std::string(4096, 'x')).error().message.size(), 400U);
}

TEST(TotalKernelText, ConfigSpaceOfEverySize) {
    for (std::size_t n : {0, 1, 15}) EXPECT_FALSE(parse::config_header(std::string(n, '\xff')).ok()) << n;
    for (std::size_t n : {16, 0x2f, 0x30, 64, 256, 4096, 1 << 20}) {
        auto h = parse::config_header(std::string(n, '\xff'));
        ASSERT_TRUE(h.ok()) << n;
        EXPECT_EQ(h->header_type, 0x7f);  // the multifunction bit is never the layout
        EXPECT_TRUE(h->multifunction);
        EXPECT_EQ(h->subsystem_vendor, 0);  // type 0x7f is not type 0
    }
    std::string type0(0x2f, '\0');  // one byte short of the subsystem ids
    EXPECT_EQ(parse::config_header(type0)->subsystem_device, 0);
}

TEST(TotalKernelText, MountinfoLines) {
    const char* const bad[] = {
        "28 1 259:2 / /",                                 // truncated
        "28 1 259:2 / / rw shared:1 ext4 /dev/sda1 rw",   // no " - " separator
        "28 1 x:y / / rw - ext4 /dev/sda1 rw",            // bad major:minor
        "28 1 259 / / rw - ext4 /dev/sda1 rw",            // no colon
        "28 1 99999999999:2 / / rw - ext4 /dev/sda1 rw",  // huge major
        "28 1 -1:2 / / rw - ext4 /dev/sda1 rw",           // negative major
        "\xff\xfe / \x01",                                // garbage
    };
    for (const char* line : bad) EXPECT_FALSE(parse::root_mount(line)) << parse::quote(line);
    // Octal escapes of mountinfo are decoded; a bad escape stays as written.
    auto m = parse::root_mount("1 0 8:1 / / rw - ext4 /dev/disk\\040one\\134 rw\n2 0 8:2 / /x rw - x y z\n");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->source, "/dev/disk one\\");
    EXPECT_EQ(parse::root_mount("1 0 8:1 / / rw - ext4 /dev/a\\9\\04 rw")->source, "/dev/a\\9\\04");
    // Only the fstype, no source: still the root mount, source unknown.
    EXPECT_EQ(parse::root_mount("1 0 8:1 / / rw - ext4")->fstype, "ext4");
}

TEST(TotalKernelText, RouteTablesOfGarbage) {
    EXPECT_TRUE(parse::default_route_interfaces("").empty());
    EXPECT_TRUE(parse::default_route_interfaces("Iface\tDestination\n").empty());          // header only
    EXPECT_TRUE(parse::default_route_interfaces("h\neno1 00000000 0 0 0 0 0\n").empty());  // truncated
    EXPECT_TRUE(parse::default_route_interfaces("h\n\xff\xfe\x00\n").empty());
    EXPECT_EQ(parse::default_route_interfaces("h\neno1 00000000 0 0 0 0 0 00000000\neno1 00000000 0 0 0 0 0 00000000"),
              std::vector<std::string>{"eno1"});
    EXPECT_TRUE(parse::default_route_interfaces_v6("00000000000000000000000000000000 00 0 0 0 0 0 0 0\n").empty());
    EXPECT_TRUE(parse::default_route_interfaces_v6("00000000000000000000000000000000 00 0 0 0 0 0 0 0 lo\n").empty());
}

TEST(TotalKernelText, ProcFilesOfGarbage) {
    const std::string garbage[] = {"",  "\n\n\n",    std::string("\0\0\0", 3), "\xff\xfe\xfd",
                                   ":", "   :   \n", std::string(1 << 16, 'x')};
    for (const auto& g : garbage) {
        EXPECT_EQ(parse::cpu_vendor(g), "") << parse::quote(g);
        EXPECT_FALSE(parse::interrupt_remapping(g)) << parse::quote(g);
        EXPECT_TRUE(parse::firmware_framebuffers(g).empty());
        EXPECT_TRUE(parse::builtin_modules(g, "kernel/drivers/vfio/").empty());
        EXPECT_FALSE(parse::input_is_keyboard(g));
        EXPECT_FALSE(parse::kernel_version(g));
        EXPECT_TRUE(parse::pci_addresses_in_path(g).empty());
    }
    EXPECT_EQ(parse::cpu_vendor("vendor_id\n"), "");                     // truncated: no colon
    EXPECT_FALSE(parse::interrupt_remapping("  0:   35   0\n"));         // counts only, no chip
    EXPECT_FALSE(parse::input_is_keyboard("1" + std::string(17, '0')));  // more than 64 bits
    EXPECT_TRUE(parse::pci_addresses_in_path("/sys/devices/zzzz:zz:zz.z/0000:00:1f.6:pcie001").empty());
    // A line whose first word is not a module name is not a module line.
    EXPECT_EQ(parse::loaded_modules("\n \nvfio_pci 1 0\n\xff\xfe 1\nsnd-hda\n../x 1\n"),
              (std::vector<std::string>{"snd_hda", "vfio_pci"}));
    EXPECT_FALSE(parse::root_mount("28 1 8x:1 / / rw - ext4 /dev/sda1 rw"));  // junk after the major
}

TEST(TotalKernelText, KernelVersions) {
    for (const char* bad : {"-1.2", "6.-1", "6", "6.", ".1", "x.y", "99999999999.1", "6.99999999999", "+6.1", " 6.1"})
        EXPECT_FALSE(parse::kernel_version(bad)) << bad;
    EXPECT_EQ(parse::kernel_version("6.1.0-18-amd64"), (std::pair{6, 1}));
    EXPECT_EQ(parse::kernel_version("2147483647.0"), (std::pair{2147483647, 0}));
}

TEST(TotalKernelText, QuoteEscapesAndCuts) {
    EXPECT_EQ(parse::quote("vfio-pci"), "'vfio-pci'");
    EXPECT_EQ(parse::quote(std::string("a\0b\n'\\\x7f\xc3\xa9", 9)), "'a\\x00b\\x0a\\x27\\x5c\\x7f\\xc3\\xa9'");
    EXPECT_EQ(parse::quote(std::string(100, 'a'), 4), "'aaaa'...");
    EXPECT_EQ(parse::quote("abcd", 4), "'abcd'");
}

TEST(TotalKernelText, Utf8Validity) {
    EXPECT_TRUE(parse::valid_utf8(""));
    EXPECT_TRUE(parse::valid_utf8("GM204 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    EXPECT_FALSE(parse::valid_utf8("\xff"));
    EXPECT_FALSE(parse::valid_utf8("\xc3"));              // truncated
    EXPECT_FALSE(parse::valid_utf8("\xe2\x82"));          // truncated
    EXPECT_FALSE(parse::valid_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
    EXPECT_FALSE(parse::valid_utf8("\xc0\x80"));          // an overlong NUL
    EXPECT_FALSE(parse::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_EQ(parse::utf8_char_length("\xe2\x82\xac!"), 3U);
    EXPECT_EQ(parse::utf8_char_length(""), 0U);
}

// A root copied from elsewhere may hold names that are not UTF-8 (a driver
// link, an IOMMU unit, /proc/cpuinfo): `groups --format json` aborted on
// them with an uncaught json::type_error. Listings and snapshots now write
// such bytes as U+FFFD, and the snapshot reads back.
TEST(TotalKernelText, NamesThatAreNotUtf8UnderARootAreListed) {
    hostdev::testing::FakeRoot root(
        "host cpu=GenuineIntel\n"
        "dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01\n"
        "dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau\n");
    const fs::path dev = root.device_dir("01:00.0");
    fs::remove(dev / "driver");
    fs::create_directory_symlink(
        "../../../../bus/pci/drivers/nouv\xff"
        "eau",
        dev / "driver");
    fs::create_directory(root.path() / "sys/class/iommu/dmar\xfe");
    { std::ofstream(root.path() / "proc/cpuinfo") << "vendor_id\t: Genuine\xffIntel\n"; }
    hostdev::Host host = hostdev::testing::read_fake_host(root);
    ASSERT_TRUE(host.find(*hostdev::PciAddress::parse("01:00.0")));
    EXPECT_EQ(host.find(*hostdev::PciAddress::parse("01:00.0"))->driver,
              "nouv\xff"
              "eau");
    const std::string listing = hostdev::format_groups_json(host);
    EXPECT_TRUE(parse::valid_utf8(listing));
    EXPECT_TRUE(has(listing,
                    "\"driver\": \"nouv\xef\xbf\xbd"
                    "eau\""))
        << listing;
    EXPECT_TRUE(has(listing, "dmar\xef\xbf\xbd")) << listing;
    const std::string snap = hostdev::write_snapshot(host);
    EXPECT_TRUE(parse::valid_utf8(snap));
    EXPECT_TRUE(has(snap, "Genuine\xef\xbf\xbdIntel"));
    auto back = parse_snapshot(snap, "snap.json");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(back->find(*hostdev::PciAddress::parse("01:00.0"))->driver,
              "nouv\xef\xbf\xbd"
              "eau");
}
