// Bounded concurrency: a number of independent tasks on at most N threads at
// once (virt-hostdev's fleet: one host per task, one libvirt connection per
// thread).
#pragma once

#include <cstddef>
#include <functional>

namespace hostdev {

// Runs task(0) ... task(count - 1), each exactly once, on at most `jobs`
// threads at a time (0 counts as 1; never more threads than tasks), and
// returns when every task has ended. Each task runs wholly on one thread.
// With one job (or one task) they run in order on the calling thread.
// done(i), when given, is called after task i ends, one call at a time, in the
// order the tasks end. A task that throws does not stop the others: once all
// have ended, the exception of the lowest such index is rethrown here.
void run_bounded(std::size_t count, std::size_t jobs, const std::function<void(std::size_t)>& task,
                 const std::function<void(std::size_t)>& done = {});

}  // namespace hostdev
