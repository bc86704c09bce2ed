// Where a command gets its host: a live or copied root (--root), or a snapshot
// (--host). One function so every command accepts both the same way.
#pragma once

#include <filesystem>
#include <optional>

#include "hostdev/base/result.hpp"
#include "hostdev/host/host.hpp"

namespace hostdev {

struct HostSource {
    std::optional<std::filesystem::path> root;      // default "/"
    std::optional<std::filesystem::path> snapshot;  // exclusive with root
    std::optional<std::filesystem::path> pci_ids;   // names database for roots
};

Result<Host> open_host(const HostSource& source);

}  // namespace hostdev
