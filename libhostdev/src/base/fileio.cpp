#include "hostdev/base/fileio.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>

namespace hostdev::fileio {
namespace {

// Reads to the end or max_bytes, then closes fd.
Result<std::string> read_and_close(int fd, const std::filesystem::path& shown, std::size_t max_bytes) {
    auto r = read_fd(fd, shown, max_bytes);
    ::close(fd);
    return r;
}

}  // namespace

Result<std::string> read_fd(int fd, const std::filesystem::path& shown, std::size_t max_bytes) {
    std::string out;
    char buf[4096];
    while (out.size() < max_bytes) {
        std::size_t want = std::min(sizeof buf, max_bytes - out.size());
        ssize_t n = ::read(fd, buf, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error("cannot read", shown.string(), errno);
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error("cannot open", path.string(), errno);
    return read_and_close(fd, path, max_bytes);
}

Result<std::string> read_file_at(int dirfd, const char* name, const std::filesystem::path& shown,
                                 std::size_t max_bytes) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error("cannot open", (shown / name).string(), errno);
    auto r = read_attribute_fd(fd, shown, name, max_bytes);
    ::close(fd);
    return r;
}

Result<std::string> read_attribute_fd(int fd, const std::filesystem::path& shown, const char* name,
                                      std::size_t max_bytes) {
    // A sysfs attribute comes whole in one read (up to a page): a short read
    // is its end, which saves the second read that would return 0.
    char buf[4096];
    const std::size_t want = std::min(sizeof buf, max_bytes);
    ssize_t n;
    do {
        n = ::read(fd, buf, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return make_error("cannot read", (shown / name).string(), errno);
    std::string out(buf, static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) == want && want < max_bytes) {
        auto rest = read_fd(fd, shown / name, max_bytes - want);
        if (!rest) return rest.error();
        out += *rest;
    }
    return out;
}

Result<std::string> read_link(const std::filesystem::path& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) return make_error("cannot read link", path.string(), errno);
    return std::string(buf, static_cast<std::size_t>(n));
}

Result<std::string> read_link_at(int dirfd, const char* name, const std::filesystem::path& shown) {
    char buf[4096];
    ssize_t n = ::readlinkat(dirfd, name, buf, sizeof buf);
    if (n < 0) return make_error("cannot read link", (shown / name).string(), errno);
    return std::string(buf, static_cast<std::size_t>(n));
}

Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_error("cannot list directory", path.string(), errno);
    return list_dir_fd(fd, path);
}

Result<std::vector<std::string>> list_dir_fd(int fd, const std::filesystem::path& shown) {
    DIR* d = ::fdopendir(fd);
    if (!d) {
        int e = errno;
        ::close(fd);
        return make_error("cannot list directory", shown.string(), e);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n == "." || n == "..") continue;
        names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

bool exists(const std::filesystem::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode) {
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;

    std::random_device rd;
    std::string tmp = (dir / ("." + path.filename().string() + ".tmp-" + std::to_string(rd()))).string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error("cannot create temporary file", tmp, errno);
    auto fail = [&](const char* what, const std::string& p) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return make_error(what, p, e);
    };
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail("cannot write", tmp);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot set mode of", tmp);
    if (::fsync(fd) != 0) return fail("cannot fsync", tmp);
    if (::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot close", tmp, e);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot rename temporary file onto", path.string(), e);
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return ok_status();
}

// ---------------------------------------------------------------- files hostdev finds

namespace {

// "a FIFO", "a directory", ... for messages about a file that is not regular.
const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a regular file";
}

// Opens a file hostdev found by itself; the descriptor is a regular file.
Result<int> open_regular(const std::filesystem::path& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == ELOOP)
            return make_error("is a symbolic link, not a regular file (name the file itself)", path.string());
        return make_error("cannot open", path.string(), errno);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        return make_error("cannot stat", path.string(), e);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(std::string("is ") + kind_of(st.st_mode) + ", not a regular file", path.string(),
                          S_ISDIR(st.st_mode) ? EISDIR : 0);
    }
    return fd;
}

Status write_all(int fd, std::string_view content, const std::string& shown) {
    while (!content.empty()) {
        ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error("cannot write", shown, errno);
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok_status();
}

}  // namespace

Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes) {
    auto fd = open_regular(path, O_RDONLY, 0);
    if (!fd) return fd.error();
    return read_and_close(*fd, path, max_bytes);
}

Status append_regular_file(const std::filesystem::path& path, std::string_view text, unsigned mode) {
    auto fd = open_regular(path, O_WRONLY | O_APPEND | O_CREAT, static_cast<mode_t>(mode));
    if (!fd) return fd.error();
    auto st = write_all(*fd, text, path.string());
    if (::close(*fd) != 0 && st) return make_error("cannot write", path.string(), errno);
    return st;
}

// ---------------------------------------------------------------- outputs

namespace {

// What an output path is, once its links are followed.
struct Destination {
    enum class Kind { NewFile, Regular, Direct, OwnFd } kind = Kind::NewFile;
    std::string path;   // the file itself, links followed
    struct stat st {};  // Regular and Direct
    int fd = -1;        // OwnFd: this process's descriptor
};

// "/proc/PID/fd" (or a thread's fd directory) of this process: the directory
// behind /dev/fd and /dev/stdout, whose entries are our own descriptors.
bool is_own_fd_dir(std::string_view dir) {
    const std::string mine = "/proc/" + std::to_string(::getpid()) + "/";
    if (dir.substr(0, mine.size()) != mine) return dir == "/proc/self/fd" || dir == "/proc/thread-self/fd";
    dir.remove_prefix(mine.size());
    if (dir == "fd") return true;
    if (dir.substr(0, 5) != "task/") return false;
    const std::size_t slash = dir.find('/', 5);
    return slash != std::string_view::npos && dir.substr(slash) == "/fd";
}

std::optional<int> fd_number(const std::string& name) {
    if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::atoi(name.c_str());
}

// Follows `path` link by link (at most 40), each directory taken as realpath
// gives it, to what it finally names.
Result<Destination> destination_of(const std::filesystem::path& path) {
    std::string cur = path.string();
    for (int hop = 0; hop < 40; ++hop) {
        const std::filesystem::path p(cur);
        const std::string name = p.filename().string();
        if (name.empty() || name == "." || name == "..") return make_error("cannot write", cur, EISDIR);
        const std::filesystem::path dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
        char real[PATH_MAX];
        if (!::realpath(dir.c_str(), real)) return make_error("cannot write into the directory", dir.string(), errno);
        const std::string rdir = real;
        Destination d;
        if (auto n = fd_number(name); n && is_own_fd_dir(rdir)) {
            d.kind = Destination::Kind::OwnFd;
            d.fd = *n;
            d.path = path.string();
            return d;
        }
        d.path = (rdir == "/" ? std::string() : rdir) + "/" + name;
        if (::lstat(d.path.c_str(), &d.st) != 0) {
            if (errno == ENOENT) return d;  // a new file
            return make_error("cannot write", d.path, errno);
        }
        if (S_ISLNK(d.st.st_mode)) {
            char buf[PATH_MAX];
            ssize_t n = ::readlink(d.path.c_str(), buf, sizeof buf - 1);
            if (n < 0) return make_error("cannot read link", d.path, errno);
            const std::string target(buf, static_cast<std::size_t>(n));
            cur = !target.empty() && target.front() == '/' ? target : rdir + "/" + target;
            continue;
        }
        if (S_ISREG(d.st.st_mode)) {
            d.kind = Destination::Kind::Regular;
        } else if (S_ISCHR(d.st.st_mode) || S_ISFIFO(d.st.st_mode)) {
            d.kind = Destination::Kind::Direct;
        } else {
            return make_error(std::string("is ") + kind_of(d.st.st_mode) +
                                  ": hostdev writes to a regular file, a FIFO or a character device",
                              d.path, S_ISDIR(d.st.st_mode) ? EISDIR : 0);
        }
        return d;
    }
    return make_error("cannot write", path.string(), ELOOP);
}

Status write_direct(const Destination& d, std::string_view content) {
    if (d.kind == Destination::Kind::OwnFd) {
        if (d.fd == 1 && std::fflush(stdout) != 0) return make_error("cannot write", d.path, errno);
        return write_all(d.fd, content, d.path);
    }
    int fd = ::open(d.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return make_error("cannot open", d.path, errno);
    auto st = write_all(fd, content, d.path);
    if (::close(fd) != 0 && st) return make_error("cannot write", d.path, errno);
    return st;
}

// The temporary files of `name` in `dir`: ".NAME.tmp-PID-N".
std::string temporary_prefix(const std::string& name) { return "." + name + ".tmp-"; }

// Removes the temporary files a killed run left for this target: its own
// (same user), whose process is gone.
void remove_stale_temporaries(const std::string& dir, const std::string& name) {
    const std::string prefix = temporary_prefix(name);
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        const std::string_view n = e->d_name;
        if (n.size() <= prefix.size() || n.substr(0, prefix.size()) != prefix) continue;
        const std::string rest(n.substr(prefix.size()));
        const std::size_t dash = rest.find('-');
        if (dash == std::string::npos || dash == 0) continue;
        auto pid = fd_number(rest.substr(0, dash));
        if (!pid || *pid <= 0 || (::kill(*pid, 0) == 0 || errno != ESRCH)) continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}

// A regular file (or a new one) replaced by a temporary file in its directory.
Status replace_file(const Destination& d, std::string_view content) {
    const std::filesystem::path target(d.path);
    const std::string dir = target.parent_path().string();
    const std::string name = target.filename().string();
    remove_stale_temporaries(dir, name);
    std::random_device rd;
    const std::string tmp =
        dir + "/" + temporary_prefix(name) + std::to_string(::getpid()) + "-" + std::to_string(rd());
    const bool exists = d.kind == Destination::Kind::Regular;
    // A new file gets 0666 less the umask; a replacement starts private and
    // takes the original's owner, group and mode below.
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, exists ? 0600 : 0666);
    if (fd < 0) return make_error("cannot create a temporary file in", dir, errno);
    auto fail = [&](Error e) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return e;
    };
    if (auto st = write_all(fd, content, tmp); !st) return fail(st.error());
    if (exists) {
        if ((d.st.st_uid != ::geteuid() || d.st.st_gid != ::getegid()) && ::fchown(fd, d.st.st_uid, d.st.st_gid) != 0)
            return fail(make_error("cannot keep the owner (uid " + std::to_string(d.st.st_uid) + ", gid " +
                                       std::to_string(d.st.st_gid) + ") of the file it replaces, nothing written",
                                   d.path, errno));
        if (::fchmod(fd, d.st.st_mode & 07777) != 0) return fail(make_error("cannot set the mode of", tmp, errno));
    }
    if (::fsync(fd) != 0) return fail(make_error("cannot write", tmp, errno));
    if (::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot write", tmp, e);
    }
    if (::rename(tmp.c_str(), d.path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot rename a temporary file onto", d.path, e);
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return ok_status();
}

}  // namespace

Status write_output(const std::filesystem::path& path, std::string_view content, std::vector<std::string>* notes) {
    auto d = destination_of(path);
    if (!d) return d.error();
    if (d->kind == Destination::Kind::Direct || d->kind == Destination::Kind::OwnFd) return write_direct(*d, content);
    HOSTDEV_TRY(replace_file(*d, content));
    if (notes && d->kind == Destination::Kind::Regular && d->st.st_nlink > 1)
        notes->push_back(d->path + " had " + std::to_string(d->st.st_nlink) +
                         " hard links: it was replaced, so it is now a file of its own and its other names keep "
                         "the old content (as sed -i does)");
    return ok_status();
}

std::filesystem::path resolve_link_lexically(const std::filesystem::path& link_dir, std::string_view target) {
    std::filesystem::path p = (!target.empty() && target.front() == '/') ? std::filesystem::path(target)
                                                                         : link_dir / std::filesystem::path(target);
    return p.lexically_normal();
}

}  // namespace hostdev::fileio
