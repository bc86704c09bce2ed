// The only file that spells the kernel's mount points. Everything else asks an
// FsRoot for its paths, so a fake or copied tree works exactly like "/".
#include "hostdev/base/fsroot.hpp"

namespace hostdev {

FsRoot::FsRoot(std::filesystem::path root) : root_(root.empty() ? std::filesystem::path("/") : std::move(root)) {
    // Normalize "dir/" to "dir" so joins and live_path() agree.
    auto s = root_.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    root_ = s;
}

std::filesystem::path FsRoot::join(std::string_view top, std::string_view rel) const {
    std::string s = root_.string();
    if (s != "/") s += '/';
    s += top;
    if (!rel.empty()) {
        if (rel.front() != '/') s += '/';
        s += rel;
    }
    return s;
}

std::filesystem::path FsRoot::sys(std::string_view rel) const { return join("sys", rel); }
std::filesystem::path FsRoot::proc(std::string_view rel) const { return join("proc", rel); }
std::filesystem::path FsRoot::dev(std::string_view rel) const { return join("dev", rel); }
std::filesystem::path FsRoot::run(std::string_view rel) const { return join("run", rel); }
std::filesystem::path FsRoot::etc(std::string_view rel) const { return join("etc", rel); }
std::filesystem::path FsRoot::lib(std::string_view rel) const { return join("lib", rel); }
std::filesystem::path FsRoot::boot(std::string_view rel) const { return join("boot", rel); }
std::filesystem::path FsRoot::efi(std::string_view rel) const { return join("efi", rel); }

std::filesystem::path FsRoot::pci_device(std::string_view addr) const {
    std::string rel = "bus/pci/devices/";
    rel += addr;
    return sys(rel);
}

std::string FsRoot::live_path(const std::filesystem::path& path) const {
    std::string p = path.string();
    std::string r = root_.string();
    if (r == "/") return p;
    if (p.size() >= r.size() && p.compare(0, r.size(), r) == 0 &&
        (p.size() == r.size() || p[r.size()] == '/'))
        return p.size() == r.size() ? std::string("/") : p.substr(r.size());
    return p;
}

}  // namespace hostdev
