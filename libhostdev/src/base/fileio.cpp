#include "hostdev/base/fileio.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

std::filesystem::path resolve_link_lexically(const std::filesystem::path& link_dir, std::string_view target) {
    std::filesystem::path p = (!target.empty() && target.front() == '/')
                                  ? std::filesystem::path(target)
                                  : link_dir / std::filesystem::path(target);
    return p.lexically_normal();
}

}  // namespace hostdev::fileio
