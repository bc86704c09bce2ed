#include "hostdev/host/host_setup.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/host/host.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {

std::string_view to_string(InitramfsTool t) {
    switch (t) {
        case InitramfsTool::None: return "none";
        case InitramfsTool::InitramfsTools: return "initramfs-tools";
        case InitramfsTool::Dracut: return "dracut";
        case InitramfsTool::Mkinitcpio: return "mkinitcpio";
    }
    return "none";
}

std::optional<InitramfsTool> initramfs_tool_from_string(std::string_view text) {
    for (auto t :
         {InitramfsTool::None, InitramfsTool::InitramfsTools, InitramfsTool::Dracut, InitramfsTool::Mkinitcpio})
        if (to_string(t) == text) return t;
    return std::nullopt;
}

std::string_view to_string(Bootloader b) {
    switch (b) {
        case Bootloader::None: return "none";
        case Bootloader::Grub: return "grub";
        case Bootloader::SystemdBoot: return "systemd-boot";
    }
    return "none";
}

std::optional<Bootloader> bootloader_from_string(std::string_view text) {
    for (auto b : {Bootloader::None, Bootloader::Grub, Bootloader::SystemdBoot})
        if (to_string(b) == text) return b;
    return std::nullopt;
}

// ---------------------------------------------------------------- the reader

namespace {

namespace fs = std::filesystem;

class SetupReader {
public:
    SetupReader(const FsRoot& root, Host& host) : root_(root), host_(host) {}

    void read() {
        read_vfio_modules();
        read_vfio_variant_setup(root_, host_);
        if (!root_.exists(root_.etc())) return;  // a copied tree without /etc: unknown
        host_.libvirt_hook = find_hook();
        host_.initramfs_tool = initramfs_tool();
        read_bootloader();
    }

private:
    // Kernel module files of the running kernel under kernel/drivers/vfio,
    // and the vfio modules built in (modules.builtin).
    void read_vfio_modules() {
        if (!host_.kernel_release) return;
        const fs::path mods = root_.lib("modules/" + *host_.kernel_release);
        if (!root_.list_dir(mods)) return;
        Host::VfioModules v;
        module_files(mods / "kernel/drivers/vfio", 0, v.available);
        std::sort(v.available.begin(), v.available.end());
        v.available.erase(std::unique(v.available.begin(), v.available.end()), v.available.end());
        if (auto b = root_.read_file(mods / "modules.builtin", 8u << 20))
            v.builtin = parse::builtin_modules(*b, "kernel/drivers/vfio/");
        host_.vfio_modules = std::move(v);
    }

    // Kernel module files below dir (a few levels), by module name.
    void module_files(const fs::path& dir, int depth, std::vector<std::string>& out) {
        if (depth > 4) return;
        auto names = root_.list_dir(dir);
        if (!names) return;
        for (const auto& n : *names) {
            if (auto m = parse::module_file_name(n))
                out.push_back(*m);
            else
                module_files(dir / n, depth + 1, out);
        }
    }

    InitramfsTool initramfs_tool() const {
        if (root_.exists(root_.etc("dracut.conf")) || root_.exists(root_.etc("dracut.conf.d")))
            return InitramfsTool::Dracut;
        if (root_.exists(root_.etc("mkinitcpio.conf"))) return InitramfsTool::Mkinitcpio;
        if (root_.exists(root_.etc("initramfs-tools"))) return InitramfsTool::InitramfsTools;
        return InitramfsTool::None;
    }

    // systemd-boot when it has an entries directory, GRUB when /etc/default/grub exists.
    void read_bootloader() {
        host_.bootloader = Bootloader::None;
        for (const fs::path& dir :
             {root_.boot("loader/entries"), root_.efi("loader/entries"), root_.boot("efi/loader/entries")}) {
            auto entries = root_.list_dir(dir);
            if (!entries) continue;
            host_.bootloader = Bootloader::SystemdBoot;
            for (const auto& e : *entries)
                if (e.size() > 5 && e.compare(e.size() - 5, 5, ".conf") == 0)
                    host_.boot_entries.push_back(root_.live_path(dir / e));
        }
        std::sort(host_.boot_entries.begin(), host_.boot_entries.end());
        if (root_.exists(root_.etc("default/grub"))) host_.bootloader = Bootloader::Grub;
    }

    // An executable regular file at p (links followed inside the root): its
    // path under the root and its open descriptor.
    struct Executable {
        fs::path path;
        Fd fd;
    };
    std::optional<Executable> executable(const fs::path& p) const {
        auto real = root_.resolve(p);
        if (!real) return std::nullopt;
        // O_NONBLOCK: a FIFO planted there never blocks the reader.
        auto fd = root_.open(*real, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
        if (!fd) return std::nullopt;
        struct stat st {};
        if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) return std::nullopt;
        return Executable{*real, std::move(*fd)};
    }

    static bool names_hostdev(const std::string& s) { return s.find("hostdev") != std::string::npos; }

    bool runs_hostdev(const fs::path& p) const {
        auto exe = executable(p);
        if (!exe) return false;
        if (names_hostdev(p.filename().string()) || names_hostdev(exe->path.filename().string())) return true;
        auto text = fileio::read_fd(exe->fd.get(), root_.live_path(exe->path), 32u << 20);
        return text && text->find("hostdev-hook") != std::string::npos;
    }

    // The hostdev hook: an executable in hooks/qemu.d named for hostdev (or
    // linking to hostdev-hook, or a wrapper that runs it), or hooks/qemu
    // itself being or running hostdev-hook.
    std::string find_hook() const {
        const fs::path dir = root_.etc("libvirt/hooks/qemu.d");
        if (auto names = root_.list_dir(dir))
            for (const auto& n : *names)
                if (runs_hostdev(dir / n)) return root_.live_path(dir / n);
        const fs::path legacy = root_.etc("libvirt/hooks/qemu");
        if (runs_hostdev(legacy)) return root_.live_path(legacy);
        return "";
    }

    const FsRoot& root_;
    Host& host_;
};

}  // namespace

void read_host_setup(const FsRoot& root, Host& host) { SetupReader(root, host).read(); }

std::optional<std::string> read_kernel_release(const FsRoot& root) {
    auto r = root.read_file(root.proc("sys/kernel/osrelease"), 256);
    if (!r) return std::nullopt;
    std::string rel(parse::trim(*r));
    // One path component: it names lib/modules/REL.
    if (rel.empty() || rel.find('/') != std::string::npos || rel == "." || rel == "..") return std::nullopt;
    return rel;
}

std::string LibvirtVersion::str() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(micro);
}

namespace {

// The directories a distribution installs libvirt.so.0 in: the multiarch ones
// (usr/lib/x86_64-linux-gnu, ...), usr/lib64, usr/lib, lib64.
std::vector<fs::path> library_dirs(const FsRoot& root) {
    std::vector<fs::path> dirs;
    if (auto names = root.list_dir(root.usr("lib"))) {
        std::vector<std::string> sorted = *names;
        std::sort(sorted.begin(), sorted.end());
        for (const auto& n : sorted)
            if (n.find("-linux-") != std::string::npos) dirs.push_back(root.usr("lib/" + n));
    }
    for (const fs::path& d : {root.usr("lib64"), root.usr("lib"), root.lib(), root.root() / "lib64"}) dirs.push_back(d);
    return dirs;
}

LibvirtVersion from(const parse::Version3& v) { return {v.major, v.minor, v.micro}; }

// The file name of libvirt.so.0.MAJOR*1000+MINOR.MICRO (the highest, should
// several architectures be installed); else the Version of libvirt.pc.
std::optional<LibvirtVersion> libvirt_version(const FsRoot& root) {
    std::optional<LibvirtVersion> best;
    const auto dirs = library_dirs(root);
    for (const auto& dir : dirs)
        if (auto names = root.list_dir(dir))
            for (const auto& n : *names)
                if (auto v = parse::libvirt_soname_version(n); v && (!best || from(*v) > *best)) best = from(*v);
    if (best) return best;
    std::vector<fs::path> pcs{root.usr("share/pkgconfig/libvirt.pc")};
    for (const auto& dir : dirs) pcs.push_back(dir / "pkgconfig" / "libvirt.pc");
    for (const auto& pc : pcs)
        if (auto text = root.read_file(pc, 64 * 1024))
            if (auto v = parse::pkgconfig_version(*text)) return from(*v);
    return std::nullopt;
}

}  // namespace

void read_vfio_variant_setup(const FsRoot& root, Host& host) {
    host.libvirt_version = libvirt_version(root);
    if (!host.kernel_release) host.kernel_release = read_kernel_release(root);
    if (!host.kernel_release) return;
    const fs::path file = root.lib("modules/" + *host.kernel_release + "/modules.alias");
    auto text = root.read_file(file, 64u << 20);
    if (!text) {
        if (text.error().err != ENOENT) host.warnings.push_back(text.error().describe());
        return;  // unknown
    }
    auto aliases = parse::vfio_pci_aliases(*text);
    for (const auto& s : aliases.skipped)
        host.warnings.push_back(root.live_path(file) + ": " + s + "; the line is ignored");
    std::vector<VfioAlias> out;
    for (auto& a : aliases.vfio_pci) out.push_back({std::move(a.pattern), std::move(a.module)});
    host.vfio_variant_aliases = std::move(out);
}

}  // namespace hostdev
