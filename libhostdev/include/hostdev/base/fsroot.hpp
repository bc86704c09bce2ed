// FsRoot: the one place that joins a root directory to the kernel's file
// systems. Every reader and writer in hostdev takes an FsRoot; no other file
// spells "/sys", "/proc" or "/dev". A test points it at a fake tree, a user at
// a copied one; the default is "/".
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace hostdev {

class FsRoot {
public:
    FsRoot() : root_("/") {}
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

    // The path as it reads on a live host ("/sys/bus/pci/..."), for messages and
    // for --dry-run output, whatever the root is.
    [[nodiscard]] std::string live_path(const std::filesystem::path& path) const;

    // Well-known places.
    [[nodiscard]] std::filesystem::path pci_devices() const { return sys("bus/pci/devices"); }
    [[nodiscard]] std::filesystem::path pci_device(std::string_view addr) const;
    [[nodiscard]] std::filesystem::path pci_drivers() const { return sys("bus/pci/drivers"); }
    [[nodiscard]] std::filesystem::path iommu_groups() const { return sys("kernel/iommu_groups"); }

private:
    std::filesystem::path join(std::string_view top, std::string_view rel) const;
    std::filesystem::path root_;
};

}  // namespace hostdev
