#include "hostdev/binding/kernel_io.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

extern char** environ;

namespace hostdev {

Status SysfsKernelIo::write(const std::filesystem::path& path, std::string_view value) {
    // Opened inside the root (FsRoot): a link planted under --root DIR cannot
    // lead the write out of DIR. O_TRUNC changes nothing on sysfs; on a copied
    // tree it keeps a shorter value from leaving the tail of a longer one behind.
    auto fd = root_.open(path, O_WRONLY | O_TRUNC);
    if (!fd) return make_error("cannot open for writing", root_.live_path(path), fd.error().err);
    // sysfs takes one write per value; a short write is an error.
    ssize_t n;
    do {
        n = ::write(fd->get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return make_error("cannot write '" + std::string(value) + "' to", root_.live_path(path), errno);
    if (static_cast<std::size_t>(n) != value.size())
        return make_error("short write of '" + std::string(value) + "' to", root_.live_path(path), EIO);
    return ok_status();
}

Status SysfsKernelIo::load_module(std::string_view name) {
    if (!root_.is_live())
        return make_error("module " + std::string(name) + " is not loaded under " + root_.root().string() +
                          " (load it there; hostdev runs modprobe only on the live root)");
    // modprobe, waited for: no child is left behind.
    std::string mod(name);
    const char* argv[] = {"modprobe", "--", mod.c_str(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, "modprobe", nullptr, nullptr, const_cast<char* const*>(argv), environ);
    if (rc != 0) return make_error("cannot run modprobe " + mod, "", rc);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return make_error("cannot wait for modprobe " + mod, "", errno);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return make_error("modprobe " + mod + " failed (exit " +
                          std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    return ok_status();
}

}  // namespace hostdev
