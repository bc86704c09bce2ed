// The serial parsers of kernel text on literals: the PCIe Device Serial
// Number in config space, an NVMe controller's serial, a permanent MAC.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "hostdev/host/parse.hpp"

using namespace hostdev;

namespace {

// Config space of `size` bytes with dwords written little endian.
struct Config {
    std::string bytes;
    explicit Config(std::size_t size) : bytes(size, '\0') {}
    Config& put32(std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
        return *this;
    }
    // An extended capability header: id, version 1, next offset.
    Config& cap(std::size_t at, std::uint16_t id, std::size_t next) {
        return put32(at, id | (1u << 16) | (static_cast<std::uint32_t>(next) << 20));
    }
};

constexpr std::uint16_t kDsn = 0x0003;  // PCI_EXT_CAP_ID_DSN
constexpr std::uint16_t kAer = 0x0001;  // PCI_EXT_CAP_ID_ERR

}  // namespace

// ---- parse::device_serial_number ---------------------------------------

TEST(DeviceSerialNumber, AtTheFirstExtendedCapability) {
    Config c(4096);
    c.cap(0x100, kDsn, 0).put32(0x104, 0xffa1b2c3).put32(0x108, 0x001b21ff);
    EXPECT_EQ(parse::device_serial_number(c.bytes), "00-1b-21-ff-ff-a1-b2-c3");
}

TEST(DeviceSerialNumber, AfterAnotherCapability) {
    Config c(4096);
    c.cap(0x100, kAer, 0x140).cap(0x140, 0x000b, 0x1c0).cap(0x1c0, kDsn, 0);
    c.put32(0x1c4, 0x04030201).put32(0x1c8, 0x08070605);
    EXPECT_EQ(parse::device_serial_number(c.bytes), "08-07-06-05-04-03-02-01");
}

TEST(DeviceSerialNumber, NoneInTheList) {
    Config c(4096);
    c.cap(0x100, kAer, 0x140).cap(0x140, 0x000b, 0);
    EXPECT_EQ(parse::device_serial_number(c.bytes), std::nullopt);
    EXPECT_EQ(parse::device_serial_number(Config(4096).bytes), std::nullopt);  // an empty list
}

TEST(DeviceSerialNumber, LoopsEndTheWalk) {
    Config self(4096);
    self.cap(0x100, kAer, 0x100);
    EXPECT_EQ(parse::device_serial_number(self.bytes), std::nullopt);
    Config two(4096);
    two.cap(0x100, kAer, 0x140).cap(0x140, 0x000b, 0x100).cap(0x180, kDsn, 0);
    EXPECT_EQ(parse::device_serial_number(two.bytes), std::nullopt);
}

TEST(DeviceSerialNumber, BadNextOffsets) {
    // Below 0x100 (into the standard header), beyond the buffer.
    Config low(4096);
    low.cap(0x100, kAer, 0x40).cap(0x40, kDsn, 0);
    EXPECT_EQ(parse::device_serial_number(low.bytes), std::nullopt);
    Config beyond(512);
    beyond.cap(0x100, kAer, 0x400);
    EXPECT_EQ(parse::device_serial_number(beyond.bytes), std::nullopt);
    // All ones (a device gone): no list.
    Config gone(4096);
    gone.put32(0x100, 0xffffffff);
    EXPECT_EQ(parse::device_serial_number(gone.bytes), std::nullopt);
}

TEST(DeviceSerialNumber, TruncatedAndShortBuffers) {
    Config c(4096);
    c.cap(0x100, kDsn, 0).put32(0x104, 1).put32(0x108, 2);
    EXPECT_EQ(parse::device_serial_number(c.bytes.substr(0, 0x10a)), std::nullopt);  // upper dword cut
    EXPECT_EQ(parse::device_serial_number(c.bytes.substr(0, 0x10c)), "00-00-00-02-00-00-00-01");
    EXPECT_EQ(parse::device_serial_number(c.bytes.substr(0, 256)), std::nullopt);  // no extended space
    EXPECT_EQ(parse::device_serial_number(c.bytes.substr(0, 64)), std::nullopt);   // read without root
    EXPECT_EQ(parse::device_serial_number(""), std::nullopt);
}

TEST(DeviceSerialNumber, LongestChainIsBounded) {
    // Every dword a capability pointing at the next one: 960 hops, no DSN.
    Config c(4096);
    for (std::size_t at = 0x100; at < 0x1000; at += 4) c.cap(at, kAer, at + 4 < 0x1000 ? at + 4 : 0);
    EXPECT_EQ(parse::device_serial_number(c.bytes), std::nullopt);
    // The last dword is a DSN header whose dwords are beyond the space.
    c.cap(0xffc, kDsn, 0);
    EXPECT_EQ(parse::device_serial_number(c.bytes), std::nullopt);
}

// ---- parse::nvme_serial, parse::permanent_mac --------------------------

TEST(NvmeSerial, TrimsBlanksAndTheNewline) {
    EXPECT_EQ(parse::nvme_serial("S4EWNX0R123456      \n"), "S4EWNX0R123456");
    EXPECT_EQ(parse::nvme_serial("  PHKS7 1A\n"), "PHKS7 1A");
    EXPECT_EQ(parse::nvme_serial("                    \n"), std::nullopt);
    EXPECT_EQ(parse::nvme_serial(""), std::nullopt);
    EXPECT_EQ(parse::nvme_serial("AB\001CD\n"), std::nullopt);
    EXPECT_EQ(parse::nvme_serial("S\xc3\xa9rie\n"), std::nullopt);
    EXPECT_EQ(parse::nvme_serial(std::string(65, 'A')), std::nullopt);
}

TEST(PermanentMac, OnlyAPermanentAddress) {
    EXPECT_EQ(parse::permanent_mac("00:1B:21:A1:b2:c3\n", "0\n"), "00:1b:21:a1:b2:c3");
    EXPECT_EQ(parse::permanent_mac("00:1b:21:a1:b2:c3\n", "1\n"), std::nullopt);  // random
    EXPECT_EQ(parse::permanent_mac("00:1b:21:a1:b2:c3\n", "3\n"), std::nullopt);  // set by user space
    EXPECT_EQ(parse::permanent_mac("00:1b:21:a1:b2:c3\n", ""), std::nullopt);
    EXPECT_EQ(parse::permanent_mac("00:00:00:00:00:00\n", "0\n"), std::nullopt);
    EXPECT_EQ(parse::permanent_mac("00:1b:21:a1:b2\n", "0\n"), std::nullopt);
    EXPECT_EQ(parse::permanent_mac("00-1b-21-a1-b2-c3\n", "0\n"), std::nullopt);
    EXPECT_EQ(parse::permanent_mac("0g:1b:21:a1:b2:c3\n", "0\n"), std::nullopt);
    EXPECT_EQ(parse::permanent_mac("80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c\n", "0\n"),
              std::nullopt);  // InfiniBand
}
