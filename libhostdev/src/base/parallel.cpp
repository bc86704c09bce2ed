#include "hostdev/base/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace hostdev {

void run_bounded(std::size_t count, std::size_t jobs, const std::function<void(std::size_t)>& task,
                 const std::function<void(std::size_t)>& done) {
    std::vector<std::exception_ptr> failures(count);
    std::mutex done_mutex;
    auto run_one = [&](std::size_t i) {
        try {
            task(i);
        } catch (...) {
            failures[i] = std::current_exception();
        }
        if (done) {
            std::lock_guard<std::mutex> lock(done_mutex);
            try {
                done(i);
            } catch (...) {
                if (!failures[i]) failures[i] = std::current_exception();
            }
        }
    };
    const std::size_t threads = std::min(std::max<std::size_t>(jobs, 1), count);
    if (threads <= 1) {
        for (std::size_t i = 0; i < count; ++i) run_one(i);
    } else {
        std::atomic<std::size_t> next{0};
        auto worker = [&] {
            for (std::size_t i = next++; i < count; i = next++) run_one(i);
        };
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (std::size_t t = 0; t < threads; ++t) {
            try {
                pool.emplace_back(worker);
            } catch (const std::system_error&) {
                break;  // no more threads to be had: those running take the rest
            }
        }
        if (pool.empty()) worker();
        for (auto& t : pool) t.join();
    }
    for (const auto& f : failures)
        if (f) std::rethrow_exception(f);
}

}  // namespace hostdev
