// /etc/hostdev/hostdev.conf: settings of the hook and the commands.
//   # comment
//   root = /                     # host root directory
//   journal_dir = /run/hostdev   # where journals and the lock live
//   wait_timeout_ms = 10000      # per device, for a driver change to show
//   lock_timeout_ms = 60000
//   log_file =                   # optional: one line per hook call appended here
//   vfio_variant_drivers = auto  # auto | yes | no: VFIO variant drivers (policy/vfio_driver.hpp)
//   display_manager = gdm3.service  # UNIT | none: the display manager (host/gpu_holders.hpp);
//                                # unset: the unit display-manager.service links to
//   single_gpu_handoff = yes     # yes | no: hand the host's console and display GPU to a
//                                # guest (policy/handoff.hpp); no refuses such a GPU
//   gpu_release_timeout_ms = 10000  # the display manager's stop and the wait for the
//                                # GPU's holders to close, each
// The path is overridable with HOSTDEV_CONFIG. A missing file means defaults.
// log_file, like the configuration itself, is used only as a regular file.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/policy/vfio_driver.hpp"

namespace hostdev {

struct Config {
    std::filesystem::path root = "/";
    std::optional<std::filesystem::path> journal_dir;  // default ROOT/run/hostdev
    std::chrono::milliseconds wait_timeout{10000};
    std::chrono::milliseconds lock_timeout{60000};
    std::optional<std::filesystem::path> log_file;
    VariantMode vfio_variant_drivers = VariantMode::Auto;
    // A service unit or "none" (GpuHolderOptions::display_manager); nullopt: unset.
    std::optional<std::string> display_manager;
    bool single_gpu_handoff = true;
    std::chrono::milliseconds gpu_release_timeout{10000};
};

// Pure parser; errors name the line ("hostdev.conf:3: unknown key 'rot'").
Result<Config> parse_config(std::string_view text, std::string_view source);
// $HOSTDEV_CONFIG, else /etc/hostdev/hostdev.conf.
std::filesystem::path config_path();
// Reads config_path(); a missing file gives the defaults. It is read only as
// a regular file (opened with O_NOFOLLOW|O_NONBLOCK, checked with fstat): a
// symbolic link, a directory or a FIFO there is an error that says so.
Result<Config> load_config();
// The configuration of the system under `root`: load_config() for the live
// root, else the root's own etc/hostdev/hostdev.conf, read inside the root
// under the same rules (never the live host's file, never $HOSTDEV_CONFIG).
Result<Config> load_config(const FsRoot& root);

}  // namespace hostdev
