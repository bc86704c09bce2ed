// Snapshot: the whole host model as a versioned JSON document and back, so CI
// can check domains against a host it does not have. Format documented in
// README.md ("Snapshot format"); readers refuse newer versions by name.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "hostdev/base/result.hpp"
#include "hostdev/host/host.hpp"

namespace hostdev {

inline constexpr int kSnapshotVersion = 1;
inline constexpr std::string_view kSnapshotFormat = "hostdev-snapshot";

std::string write_snapshot(const Host& host);
// `source` names the document in errors (a file name).
Result<Host> parse_snapshot(std::string_view text, std::string_view source);
Result<Host> load_snapshot(const std::filesystem::path& path);

}  // namespace hostdev
