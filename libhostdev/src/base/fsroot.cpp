// The only file that spells the kernel's mount points, and the only one that
// resolves paths under a root. Everything else asks an FsRoot for its paths
// and its I/O, so a fake or copied tree works exactly like "/" and nothing
// under it can lead outside it.
#include "hostdev/base/fsroot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "hostdev/base/fileio.hpp"

namespace hostdev {

namespace fs = std::filesystem;

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {
std::atomic<bool> g_use_openat2{true};  // false only in tests (FsRoot::use_openat2)
}  // namespace

void FsRoot::use_openat2(bool enabled) { g_use_openat2 = enabled; }

// The root directory, opened once (thread-safe: the sysfs reader uses threads).
struct FsRoot::Handle {
    std::once_flag once;
    Fd dir;
    int open_errno = 0;
    std::atomic<bool> have_openat2{g_use_openat2.load()};

    int get(const fs::path& root) {
        std::call_once(once, [&] {
            int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) open_errno = errno;
            dir = Fd(fd);
        });
        return dir.get();
    }
};

FsRoot::FsRoot() : root_("/"), handle_(std::make_shared<Handle>()) {}

FsRoot::FsRoot(fs::path root)
    : root_(root.empty() ? fs::path("/") : std::move(root)), handle_(std::make_shared<Handle>()) {
    // Normalize "dir/" to "dir" so joins and live_path() agree.
    auto s = root_.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    root_ = s;
}

fs::path FsRoot::join(std::string_view top, std::string_view rel) const {
    std::string s = root_.string();
    if (s != "/") s += '/';
    s += top;
    if (!rel.empty()) {
        if (rel.front() != '/') s += '/';
        s += rel;
    }
    return s;
}

fs::path FsRoot::sys(std::string_view rel) const { return join("sys", rel); }
fs::path FsRoot::proc(std::string_view rel) const { return join("proc", rel); }
fs::path FsRoot::dev(std::string_view rel) const { return join("dev", rel); }
fs::path FsRoot::run(std::string_view rel) const { return join("run", rel); }
fs::path FsRoot::etc(std::string_view rel) const { return join("etc", rel); }
fs::path FsRoot::lib(std::string_view rel) const { return join("lib", rel); }
fs::path FsRoot::boot(std::string_view rel) const { return join("boot", rel); }
fs::path FsRoot::efi(std::string_view rel) const { return join("efi", rel); }
fs::path FsRoot::usr(std::string_view rel) const { return join("usr", rel); }

fs::path FsRoot::pci_device(std::string_view addr) const {
    std::string rel = "bus/pci/devices/";
    rel += addr;
    return sys(rel);
}

fs::path FsRoot::pci_driver(std::string_view name) const {
    std::string rel = "bus/pci/drivers/";
    rel += name;
    return sys(rel);
}

std::string FsRoot::live_path(const fs::path& path) const {
    std::string p = path.string();
    std::string r = root_.string();
    if (r == "/") return p;
    if (p.size() >= r.size() && p.compare(0, r.size(), r) == 0 && (p.size() == r.size() || p[r.size()] == '/'))
        return p.size() == r.size() ? std::string("/") : p.substr(r.size());
    return p;
}

// ---------------------------------------------------------------- I/O

namespace {

// Splits a relative path into its components, leaving out empty ones and ".".
std::vector<std::string> components(std::string_view rel) {
    std::vector<std::string> out;
    while (!rel.empty()) {
        std::size_t slash = rel.find('/');
        std::string_view c = rel.substr(0, slash);
        if (!c.empty() && c != ".") out.emplace_back(c);
        rel.remove_prefix(slash == std::string_view::npos ? rel.size() : slash + 1);
    }
    return out;
}

std::string joined(const std::vector<std::string>& parts) {
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : "/") + p;
    return s.empty() ? std::string(".") : s;
}

// The chroot walk in user space: `rel` resolved component by component from
// the root directory `rootfd`, absolute links restarting at the root and ".."
// stopping there. follow_last: whether a link in the last component is
// followed. Gives the resolved relative path (no links left in it, but for
// the last component when not followed).
Result<std::string> walk(int rootfd, std::string_view rel, bool follow_last) {
    std::vector<std::string> done;
    std::vector<std::string> todo = components(rel);
    std::reverse(todo.begin(), todo.end());  // a stack: next component at the back
    int links = 0;
    while (!todo.empty()) {
        std::string c = std::move(todo.back());
        todo.pop_back();
        if (c == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        done.push_back(c);
        const bool last = todo.empty();
        struct stat st {};
        if (::fstatat(rootfd, joined(done).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT && last) return joined(done);  // a file to create
            return make_error("", "", errno);
        }
        if (!S_ISLNK(st.st_mode) || (last && !follow_last)) continue;
        if (++links > 40) return make_error("", "", ELOOP);
        char buf[PATH_MAX];
        ssize_t n = ::readlinkat(rootfd, joined(done).c_str(), buf, sizeof buf);
        if (n < 0) return make_error("", "", errno);
        std::string_view target(buf, static_cast<std::size_t>(n));
        done.pop_back();
        if (!target.empty() && target.front() == '/') done.clear();
        auto more = components(target);
        for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_back(*it);
    }
    return joined(done);
}

// How often a lookup the kernel refused with EAGAIN is tried again. Under
// RESOLVE_IN_ROOT and RESOLVE_BENEATH the kernel refuses a lookup through
// ".." with EAGAIN when anything on the system was renamed or mounted while it
// ran (it cannot then prove that ".." stayed inside); sysfs links are full of
// "..", and libvirtd and every atomic writer rename files all the time.
constexpr int kOpenat2Attempts = 64;

// openat2(2) with `resolve`; -1 with ENOSYS (and `supported` cleared) on a
// kernel older than 5.6, which has no openat2. EAGAIN and EINTR are tried
// again, up to kOpenat2Attempts times; then EAGAIN is returned.
int openat2_or_enosys(int dirfd, const char* rel, int flags, mode_t mode, std::uint64_t resolve,
                      std::atomic<bool>& supported) {
    if (!supported) {
        errno = ENOSYS;
        return -1;
    }
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    long fd = -1;
    for (int attempt = 1; attempt <= kOpenat2Attempts; ++attempt) {
        fd = ::syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) break;
        if (attempt % 8 == 0) std::this_thread::yield();  // let the renamer finish
    }
    if (fd < 0 && errno == ENOSYS) supported = false;
    return static_cast<int>(fd);
}

int openat2_in_root(int rootfd, const std::string& rel, int flags, mode_t mode, std::atomic<bool>& supported) {
    int fd = openat2_or_enosys(rootfd, rel.c_str(), flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, supported);
    // The user-space walk resolves the same way and never races with renames.
    if (fd >= 0 || (errno != ENOSYS && errno != EAGAIN)) return fd;
    auto resolved = walk(rootfd, rel, (flags & O_NOFOLLOW) == 0);
    if (!resolved) {
        errno = resolved.error().err;
        return -1;
    }
    return ::openat(rootfd, resolved->c_str(), flags | O_NOFOLLOW, mode);
}

}  // namespace

Result<std::string> FsRoot::below_root(const fs::path& path) const {
    const std::string p = path.string();
    const std::string r = root_.string();
    if (r == "/") {
        if (p.empty() || p.front() != '/') return make_error("not an absolute path", p, EXDEV);
        return p.substr(1);
    }
    if (p == r) return std::string(".");
    if (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/') return p.substr(r.size() + 1);
    return make_error("outside the root " + r, p, EXDEV);
}

Result<Fd> FsRoot::open(const fs::path& path, int flags, mode_t mode) const {
    flags |= O_CLOEXEC;
    if (is_live()) {
        int fd = ::open(path.c_str(), flags, mode);
        if (fd < 0) return make_error("cannot open", path.string(), errno);
        return Fd(fd);
    }
    auto rel = below_root(path);
    if (!rel) return rel.error();
    int rootfd = handle_->get(root_);
    if (rootfd < 0) return make_error("cannot open the root directory", root_.string(), handle_->open_errno);
    int fd = openat2_in_root(rootfd, *rel, flags, mode, handle_->have_openat2);
    if (fd < 0) return make_error("cannot open", live_path(path), errno);
    return Fd(fd);
}

Result<std::string> FsRoot::read_file(const fs::path& path, std::size_t max_bytes) const {
    if (is_live()) return fileio::read_file(path, max_bytes);
    auto fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!fd) return fd.error();
    return fileio::read_fd(fd->get(), live_path(path), max_bytes);
}

Result<std::string> FsRoot::read_file_at(int dirfd, const char* name, const fs::path& shown,
                                         std::size_t max_bytes) const {
    if (is_live()) return fileio::read_file_at(dirfd, name, shown, max_bytes);
    const std::string_view n(name);
    if (n.empty() || n == "." || n == ".." || n.find('/') != std::string_view::npos)
        return make_error("not a file name", (shown / n).string(), EINVAL);
    // One component: RESOLVE_BENEATH only matters when it is a link, and
    // without openat2 a link is not followed at all.
    const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    int fd = openat2_or_enosys(dirfd, name, flags, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, handle_->have_openat2);
    if (fd < 0 && errno == ENOSYS) fd = ::openat(dirfd, name, flags | O_NOFOLLOW);
    if (fd < 0) return make_error("cannot open", (shown / n).string(), errno);
    const Fd owned(fd);
    return fileio::read_attribute_fd(fd, shown, name, max_bytes);
}

fs::path FsRoot::link_target(const fs::path& link_dir, std::string_view target) const {
    // Folded in one string, component by component (the sysfs reader calls
    // this once per device): ".." drops the last component, never the root.
    std::string out;
    auto append = [&out](std::string_view rel) {
        while (!rel.empty()) {
            const std::size_t slash = rel.find('/');
            const std::string_view c = rel.substr(0, slash);
            rel.remove_prefix(slash == std::string_view::npos ? rel.size() : slash + 1);
            if (c.empty() || c == ".") continue;
            if (c == "..") {
                const std::size_t last = out.rfind('/');
                out.erase(last == std::string::npos ? 0 : last);
                continue;
            }
            out += '/';
            out += c;
        }
    };
    if (target.empty() || target.front() != '/')
        if (auto rel = below_root(link_dir)) append(*rel);
    append(target);
    if (out.empty()) return root_;
    return root_ == "/" ? fs::path(out) : fs::path(root_.string() + out);
}

Result<std::string> FsRoot::read_link(const fs::path& path) const {
    if (is_live()) return fileio::read_link(path);
    auto dir = open(path.parent_path(), O_PATH | O_DIRECTORY);
    if (!dir) return make_error("cannot read link", live_path(path), dir.error().err);
    return fileio::read_link_at(dir->get(), path.filename().c_str(), live_path(path.parent_path()));
}

Result<std::vector<std::string>> FsRoot::list_dir(const fs::path& path) const {
    if (is_live()) return fileio::list_dir(path);
    auto dir = open(path, O_RDONLY | O_DIRECTORY);
    if (!dir) return make_error("cannot list directory", live_path(path), dir.error().err);
    return fileio::list_dir_fd(dir->release(), live_path(path));
}

bool FsRoot::exists(const fs::path& path) const {
    if (is_live()) return fileio::exists(path);
    if (path == root_) return true;
    auto dir = open(path.parent_path(), O_PATH | O_DIRECTORY);
    if (!dir) return false;
    struct stat st {};
    return ::fstatat(dir->get(), path.filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<fs::path> FsRoot::resolve(const fs::path& path) const {
    if (is_live()) {
        char buf[PATH_MAX];
        if (!::realpath(path.c_str(), buf)) return make_error("cannot resolve", path.string(), errno);
        return fs::path(buf);
    }
    auto rel = below_root(path);
    if (!rel) return rel.error();
    int rootfd = handle_->get(root_);
    if (rootfd < 0) return make_error("cannot open the root directory", root_.string(), handle_->open_errno);
    auto resolved = walk(rootfd, *rel, /*follow_last=*/true);
    if (!resolved) return make_error("cannot resolve", live_path(path), resolved.error().err);
    struct stat st {};
    if (::fstatat(rootfd, resolved->c_str(), &st, 0) != 0) return make_error("cannot resolve", live_path(path), errno);
    return *resolved == "." ? root_ : root_ / *resolved;
}

}  // namespace hostdev
