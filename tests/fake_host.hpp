// Reading a fake root in tests: the small pci.ids of tests/data, so names do
// not depend on the machine's database.
#pragma once

#include <gtest/gtest.h>

#include "golden.hpp"
#include "hostdev/host/sysfs.hpp"
#include "support/fakeroot.hpp"

namespace hostdev::testing {

inline ReadOptions test_read_options() {
    ReadOptions o;
    o.pci_ids = source_path("tests/data/pci.ids");
    return o;
}

inline Host read_fake_host(const FakeRoot& root) {
    auto host = read_host(FsRoot(root.path()), test_read_options());
    EXPECT_TRUE(host.ok()) << (host.ok() ? "" : host.error().describe());
    return host.ok() ? *host : Host{};
}

}  // namespace hostdev::testing
