// KernelIo: the one small interface through which hostdev changes the
// kernel's and the host's state. Every sysfs write, module load and unload,
// and every start and stop of a systemd unit (the display manager, for the
// single-GPU handoff) goes through it; reads go through FsRoot. The real implementation writes files under an FsRoot;
// tests use a simulated kernel (tests/support/simkernel.hpp) that reacts to the same writes the way Linux does.
#pragma once

#include <chrono>
#include <filesystem>
#include <string_view>

#include "hostdev/base/fsroot.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev {

class KernelIo {
public:
    virtual ~KernelIo() = default;
    // One write(2) of value to a sysfs attribute; path is the full path under
    // the root (FsRoot::sys(...)). The Error names the path and errno.
    virtual Status write(const std::filesystem::path& path, std::string_view value) = 0;
    // Loads a kernel module, as `modprobe NAME` does.
    virtual Status load_module(std::string_view name) = 0;
    // Unloads a kernel module that nothing uses, as `rmmod NAME` does, without
    // waiting for its users: an error (EAGAIN/EBUSY) while it is in use.
    virtual Status unload_module(std::string_view name) = 0;
    // `systemctl stop UNIT` / `systemctl start UNIT`, waited for at most
    // `timeout`: a systemctl still running then is killed and reaped (the
    // Error says so), so no child is left behind.
    virtual Status stop_unit(std::string_view unit, std::chrono::milliseconds timeout) = 0;
    virtual Status start_unit(std::string_view unit, std::chrono::milliseconds timeout) = 0;
};

// Writes the files for real, each opened inside the root (FsRoot::open), so
// no write leaves it. Module loading runs modprobe, unloading calls
// delete_module(2) with O_NONBLOCK, units go through systemctl (found in
// PATH): all only on the live root; on another root each reports that it
// must be done there.
class SysfsKernelIo final : public KernelIo {
public:
    explicit SysfsKernelIo(FsRoot root) : root_(std::move(root)) {}
    Status write(const std::filesystem::path& path, std::string_view value) override;
    Status load_module(std::string_view name) override;
    Status unload_module(std::string_view name) override;
    Status stop_unit(std::string_view unit, std::chrono::milliseconds timeout) override;
    Status start_unit(std::string_view unit, std::chrono::milliseconds timeout) override;

private:
    FsRoot root_;
};

}  // namespace hostdev
