// What the binder tests share: quick timeouts for the simulated kernel, and a
// detach run in a child process that is killed right after a given write, as
// a crash of the hook or of `hostdev detach` would leave the host.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "hostdev/binding/binder.hpp"
#include "support/fakeroot.hpp"
#include "support/simkernel.hpp"

namespace hostdev::testing {

// Timeouts that keep a test of a device that never binds short.
inline BinderOptions fast_binder_options(std::chrono::milliseconds wait = std::chrono::milliseconds(300)) {
    BinderOptions o;
    o.wait_timeout = wait;
    o.poll_interval = std::chrono::milliseconds(2);
    o.lock_timeout = std::chrono::milliseconds(20000);
    return o;
}

// Detaches `devices` for `owner` on `root` in a child process that is killed
// (SIGKILL) right after kernel write `k`; fails unless the child was killed.
inline ::testing::AssertionResult detach_killed_after_write(const FakeRoot& root, int k, const Owner& owner,
                                                            const std::vector<PciAddress>& devices,
                                                            const BinderOptions& options = fast_binder_options()) {
    const pid_t pid = ::fork();
    if (pid < 0) return ::testing::AssertionFailure() << "fork failed";
    if (pid == 0) {
        SimulatedKernel kernel(root.path(), root.spec());
        BinderOptions o = options;
        o.after_write = [k](int n) {
            if (n == k) ::kill(::getpid(), SIGKILL);
        };
        Binder b(FsRoot(root.path()), kernel, o);
        (void)b.detach(owner, devices);
        ::_exit(0);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return ::testing::AssertionFailure() << "waitpid failed";
    if (!WIFSIGNALED(status)) return ::testing::AssertionFailure() << "the child was not killed after write " << k;
    return ::testing::AssertionSuccess();
}

}  // namespace hostdev::testing
