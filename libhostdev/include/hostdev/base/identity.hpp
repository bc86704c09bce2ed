// What a PCI device *is*, whatever bus address it has now: the fields a
// domain's pin records (README "Device pins") and the host model shows. A
// field the source could not read is nullopt: unknown, never a mismatch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/pci_address.hpp"

namespace hostdev {

// Serial numbers a PCI function may have. Each is nullopt when the device has
// none or the host cannot show it (config space beyond 64 bytes needs root; an
// NVMe serial needs the nvme driver, a MAC a network driver bound).
struct DeviceSerials {
    // PCIe Device Serial Number extended capability, as lspci -vv prints it:
    // the upper dword first, bytes high to low: "00-1b-21-ff-ff-a1-b2-c3".
    std::optional<std::string> dsn;
    // An NVMe controller's serial number (sysfs nvme/nvmeN/serial, blanks trimmed).
    std::optional<std::string> nvme;
    // The permanent MAC of a network interface of the function (sysfs
    // net/IF/address where addr_assign_type is 0), lower case.
    std::optional<std::string> mac;

    [[nodiscard]] bool empty() const { return !dsn && !nvme && !mac; }
    bool operator==(const DeviceSerials&) const = default;
};

// The identity fields, in the order messages list them.
enum class IdentityField { Vendor, Device, Subsystem, Class, Revision, SlotPath, Serial };
std::string_view to_string(IdentityField field);  // "vendor", "device", "subsystem", "class", "revision",
                                                  // "slot path", "serial"

struct DeviceIdentity {
    std::optional<std::uint16_t> vendor;
    std::optional<std::uint16_t> device;
    // Subsystem vendor and device: both known or both unknown.
    std::optional<std::uint16_t> subsystem_vendor;
    std::optional<std::uint16_t> subsystem_device;
    std::optional<std::uint32_t> class_code;  // 24 bits
    std::optional<std::uint8_t> revision;
    // The chain of device.function numbers from the root complex down to the
    // device (slot_path below); it does not change when bus numbers do.
    std::optional<std::string> slot_path;
    DeviceSerials serials;

    bool operator==(const DeviceIdentity&) const = default;
};

// The slot path of `device` whose parent bridges are `parents_nearest_first`:
// the root bus as DDDD:BB, then SS.F of every bridge from the top down, then
// the device's own SS.F: "0000:00/1c.4/00.0" for 0000:03:00.0 behind the root
// port 0000:00:1c.4; "0000:00/1f.3" for a device on the root bus.
std::string slot_path(const PciAddress& device, const std::vector<PciAddress>& parents_nearest_first);

// How a pinned identity compares with what a host shows.
struct IdentityComparison {
    std::vector<IdentityField> differ;        // pinned, shown by the host, and different
    std::vector<IdentityField> not_compared;  // pinned, but the host does not show it
    [[nodiscard]] bool matches() const { return differ.empty(); }
};
// Serials count as one field: they differ when a kind of serial is known on
// both sides with different values, and are not compared when the pin has
// serials and none of their kinds is known on the host.
IdentityComparison compare_identity(const DeviceIdentity& pinned, const DeviceIdentity& actual);

// Same vendor, device, subsystem and class wherever both sides know them (a
// device of the same model): the test for "where is the pinned device now".
bool same_model(const DeviceIdentity& pinned, const DeviceIdentity& actual);
// A kind of serial known on both sides with the same value.
bool same_serial(const DeviceIdentity& pinned, const DeviceIdentity& actual);

// One field's value in words ("10de", "1043:8508", "030000", "a1",
// "0000:00/01.0/00.0", "dsn 00-1b-..."); "unknown" when not known.
std::string identity_value(const DeviceIdentity& id, IdentityField field);
// The identity in words: "10de:13c2 subsystem 1043:8508 class 030000 rev a1
// slot path 0000:00/01.0/00.0 dsn 00-1b-21-ff-ff-a1-b2-c3" (unknown fields left out).
std::string describe_identity(const DeviceIdentity& id);

}  // namespace hostdev
