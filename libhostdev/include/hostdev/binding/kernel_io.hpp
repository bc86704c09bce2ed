// KernelIo: the one small interface through which hostdev changes the
// kernel's state. Every sysfs write and module load goes through it; reads go
// through FsRoot. The real implementation writes files under an FsRoot; tests
// use a simulated kernel (tests/support/simkernel.hpp) that reacts to the same
// writes the way Linux does.
#pragma once

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
};

// Writes the files for real, each opened inside the root (FsRoot::open), so
// no write leaves it. Module loading runs modprobe (only on the live root; on
// another root it reports that the module must be loaded there).
class SysfsKernelIo final : public KernelIo {
public:
    explicit SysfsKernelIo(FsRoot root) : root_(std::move(root)) {}
    Status write(const std::filesystem::path& path, std::string_view value) override;
    Status load_module(std::string_view name) override;

private:
    FsRoot root_;
};

}  // namespace hostdev
