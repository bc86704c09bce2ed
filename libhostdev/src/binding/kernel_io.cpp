#include "hostdev/binding/kernel_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

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

Status SysfsKernelIo::unload_module(std::string_view name) {
    const std::string mod(name);
    if (!root_.is_live())
        return make_error("module " + mod + " is not unloaded under " + root_.root().string() +
                          " (hostdev unloads modules only on the live root)");
    // delete_module(2) with O_NONBLOCK, as rmmod: refused at once while in use.
    if (::syscall(SYS_delete_module, mod.c_str(), O_NONBLOCK) != 0) {
        const int err = errno;
        const bool busy = err == EAGAIN || err == EWOULDBLOCK || err == EBUSY;
        return make_error("cannot unload module " + mod + (busy ? " (it is in use)" : ""), "", err);
    }
    return ok_status();
}

namespace {

// `systemctl VERB UNIT`, bounded: killed and reaped when it outlives `timeout`.
Status systemctl(const FsRoot& root, const char* verb, std::string_view unit, std::chrono::milliseconds timeout) {
    const std::string u(unit);
    const std::string what = std::string("systemctl ") + verb + " " + u;
    if (!root.is_live())
        return make_error(what + " is not run for " + root.root().string() +
                          " (hostdev starts and stops units only on the live root)");
    const char* argv[] = {"systemctl", verb, "--", u.c_str(), nullptr};
    pid_t pid = 0;
    if (int rc = posix_spawnp(&pid, "systemctl", nullptr, nullptr, const_cast<char* const*>(argv), environ); rc != 0)
        return make_error("cannot run " + what, "", rc);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (true) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return make_error("cannot wait for " + what, "", errno);
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return make_error(what + " did not finish within " + std::to_string(timeout.count()) +
                                  " ms (gpu_release_timeout_ms); that systemctl was killed",
                              "", ETIMEDOUT);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return make_error(what + " failed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    return ok_status();
}

}  // namespace

Status SysfsKernelIo::stop_unit(std::string_view unit, std::chrono::milliseconds timeout) {
    return systemctl(root_, "stop", unit, timeout);
}

Status SysfsKernelIo::start_unit(std::string_view unit, std::chrono::milliseconds timeout) {
    return systemctl(root_, "start", unit, timeout);
}

}  // namespace hostdev
