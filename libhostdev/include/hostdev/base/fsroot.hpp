// FsRoot: the one place that joins a root directory to the kernel's file
// systems, and the one place that resolves paths under it. Every reader and
// writer in hostdev takes an FsRoot; no other file spells "/sys", "/proc" or
// "/dev". A test points it at a fake tree, a user at a copied one; the
// default is "/".
//
// The root is a boundary (README "--root"): every path under it is resolved
// as a chroot would resolve it. An absolute symbolic link is taken from the
// root, and ".." never climbs above it, so no read or write of a command
// given --root leaves the root. The I/O methods below do this (openat2 with
// RESOLVE_IN_ROOT, or the same walk in user space where the kernel lacks
// it, before Linux 5.6); on the live root "/" they are plain POSIX calls.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/base/result.hpp"

namespace hostdev {

// An open file descriptor, closed when it goes out of scope.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    ~Fd();
    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] bool valid() const { return fd_ >= 0; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }

private:
    int fd_ = -1;
};

class FsRoot {
public:
    FsRoot();
    explicit FsRoot(std::filesystem::path root);

    [[nodiscard]] const std::filesystem::path& root() const { return root_; }
    [[nodiscard]] bool is_live() const { return root_ == "/"; }

    // ROOT/sys/REL, ROOT/proc/REL, ROOT/dev/REL, ROOT/run/REL, ROOT/etc/REL
    [[nodiscard]] std::filesystem::path sys(std::string_view rel = {}) const;
    [[nodiscard]] std::filesystem::path proc(std::string_view rel = {}) const;
    [[nodiscard]] std::filesystem::path dev(std::string_view rel = {}) const;
    [[nodiscard]] std::filesystem::path run(std::string_view rel = {}) const;
    [[nodiscard]] std::filesystem::path etc(std::string_view rel = {}) const;
    // ROOT/lib/REL (kernel modules), ROOT/boot/REL and ROOT/efi/REL (boot loader entries)
    [[nodiscard]] std::filesystem::path lib(std::string_view rel = {}) const;
    [[nodiscard]] std::filesystem::path boot(std::string_view rel = {}) const;
    [[nodiscard]] std::filesystem::path efi(std::string_view rel = {}) const;
    // ROOT/usr/REL (libraries: the installed libvirt's version)
    [[nodiscard]] std::filesystem::path usr(std::string_view rel = {}) const;

    // The path as it reads on a live host ("/sys/bus/pci/..."), for messages and
    // for --dry-run output, whatever the root is.
    [[nodiscard]] std::string live_path(const std::filesystem::path& path) const;

    // Well-known places.
    [[nodiscard]] std::filesystem::path pci_devices() const { return sys("bus/pci/devices"); }
    [[nodiscard]] std::filesystem::path pci_device(std::string_view addr) const;
    [[nodiscard]] std::filesystem::path pci_drivers() const { return sys("bus/pci/drivers"); }
    // ROOT/sys/bus/pci/drivers/NAME, and ROOT/sys/bus/pci/drivers_probe.
    [[nodiscard]] std::filesystem::path pci_driver(std::string_view name) const;
    [[nodiscard]] std::filesystem::path pci_drivers_probe() const { return sys("bus/pci/drivers_probe"); }
    [[nodiscard]] std::filesystem::path iommu_groups() const { return sys("kernel/iommu_groups"); }

    // ---- I/O inside the root --------------------------------------------
    // `path` is a full path under the root (as sys(), proc(), ... give it);
    // a path that is not below the root is refused with EXDEV. Errors name
    // the path as it reads on the host (live_path) and errno.

    // open(2) inside the root; O_CLOEXEC is always added.
    [[nodiscard]] Result<Fd> open(const std::filesystem::path& path, int flags, mode_t mode = 0) const;
    // The whole file, at most max_bytes.
    [[nodiscard]] Result<std::string> read_file(const std::filesystem::path& path,
                                                std::size_t max_bytes = 1 << 20) const;
    // The text of a symbolic link (the link itself is not followed; the
    // directories on the way to it are, inside the root).
    [[nodiscard]] Result<std::string> read_link(const std::filesystem::path& path) const;
    // Names in a directory, sorted, without "." and "..".
    [[nodiscard]] Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) const;
    // Is there an entry (the last component is not followed)?
    [[nodiscard]] bool exists(const std::filesystem::path& path) const;
    // Where the path leads with every link followed, as realpath(3) would
    // inside the root: a full path under the root ("ROOT/sys/devices/...").
    [[nodiscard]] Result<std::filesystem::path> resolve(const std::filesystem::path& path) const;
    // Where a link in the directory `link_dir` (a path under the root) whose
    // text is `target` leads, lexically, as a chroot would read it: an
    // absolute target starts at the root and ".." stops there. No system
    // call; for messages and for the live root's fast path.
    [[nodiscard]] std::filesystem::path link_target(const std::filesystem::path& link_dir,
                                                    std::string_view target) const;

    // The file `name` (one path component) in a directory `dirfd` that open()
    // gave, at most max_bytes, read as a sysfs attribute (one read when it
    // comes whole). Under a root other than "/" it is never reached through a
    // link that leads out of that directory (openat2 RESOLVE_BENEATH; without
    // openat2 a link there is refused), and it is opened without blocking.
    // `shown` names the directory in messages.
    [[nodiscard]] Result<std::string> read_file_at(int dirfd, const char* name, const std::filesystem::path& shown,
                                                   std::size_t max_bytes = 4096) const;

    // For tests: whether FsRoots made after the call use openat2(2). With
    // false they take the user-space walk, as on a kernel without openat2.
    static void use_openat2(bool enabled);

private:
    std::filesystem::path join(std::string_view top, std::string_view rel) const;
    // The part of `path` below the root ("sys/bus/..."), or an EXDEV error.
    Result<std::string> below_root(const std::filesystem::path& path) const;
    struct Handle;
    std::filesystem::path root_;
    std::shared_ptr<Handle> handle_;  // the root directory, opened on first use
};

}  // namespace hostdev
