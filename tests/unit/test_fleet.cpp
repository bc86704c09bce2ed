// A fleet (virt-hostdev with several -c): the bounded runner that reads the
// hosts, each host's status and exit code, the summary and the combined
// reports.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "hostdev/base/exit_codes.hpp"
#include "hostdev/base/json_reader.hpp"
#include "hostdev/base/parallel.hpp"
#include "hostdev/policy/fleet.hpp"

using namespace hostdev;

namespace {

// Counts the tasks running at once and the most ever seen.
struct Concurrency {
    std::mutex m;
    std::condition_variable cv;
    int active = 0;
    int most = 0;
    void enter() {
        std::lock_guard<std::mutex> lock(m);
        most = std::max(most, ++active);
        cv.notify_all();
    }
    void leave() {
        std::lock_guard<std::mutex> lock(m);
        --active;
        cv.notify_all();
    }
    // Waits (bounded, so a runner that never overlaps fails instead of hanging)
    // until `n` tasks have been running at once.
    bool wait_for_most(int n) {
        std::unique_lock<std::mutex> lock(m);
        return cv.wait_for(lock, std::chrono::seconds(20), [&] { return most >= n; });
    }
};

}  // namespace

TEST(RunBounded, RunsEveryTaskOnceWithAtMostJobsAtATime) {
    constexpr std::size_t kTasks = 12;
    std::vector<std::atomic<int>> runs(kTasks);
    Concurrency c;
    run_bounded(kTasks, 3, [&](std::size_t i) {
        c.enter();
        // The first three wait for each other: the runner must run three at once.
        if (i < 3) {
            EXPECT_TRUE(c.wait_for_most(3)) << "task " << i << " never ran beside two others";
        }
        ++runs[i];
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        c.leave();
    });
    for (std::size_t i = 0; i < kTasks; ++i) EXPECT_EQ(runs[i].load(), 1) << "task " << i;
    EXPECT_EQ(c.most, 3);
}

TEST(RunBounded, NeverMoreThreadsThanTasks) {
    Concurrency c;
    std::vector<std::thread::id> ids(2);
    run_bounded(2, 8, [&](std::size_t i) {
        c.enter();
        ids[i] = std::this_thread::get_id();
        EXPECT_TRUE(c.wait_for_most(2));
        c.leave();
    });
    EXPECT_EQ(c.most, 2);
    EXPECT_NE(ids[0], ids[1]);
}

TEST(RunBounded, OneJobRunsInOrderOnTheCallingThread) {
    std::vector<std::size_t> order;
    std::vector<std::size_t> done;
    const auto self = std::this_thread::get_id();
    for (std::size_t jobs : {0u, 1u}) {
        order.clear();
        done.clear();
        run_bounded(
            4, jobs,
            [&](std::size_t i) {
                EXPECT_EQ(std::this_thread::get_id(), self);
                order.push_back(i);
            },
            [&](std::size_t i) { done.push_back(i); });
        EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3})) << "jobs " << jobs;
        EXPECT_EQ(done, order);
    }
    bool called = false;
    run_bounded(0, 4, [&](std::size_t) { called = true; });
    EXPECT_FALSE(called);
}

TEST(RunBounded, DoneFollowsCompletionWhileResultsKeepTheirIndex) {
    // Task 0 ends last: it waits until task 2 has been reported done.
    std::mutex m;
    std::condition_variable cv;
    bool two_done = false;
    std::vector<std::string> results(3);
    std::vector<std::size_t> done;
    run_bounded(
        3, 3,
        [&](std::size_t i) {
            if (i == 0) {
                std::unique_lock<std::mutex> lock(m);
                EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return two_done; }));
            }
            results[i] = "host " + std::to_string(i);
        },
        [&](std::size_t i) {
            done.push_back(i);
            if (i == 2) {
                std::lock_guard<std::mutex> lock(m);
                two_done = true;
                cv.notify_all();
            }
        });
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done.back(), 0u);
    EXPECT_EQ(results, (std::vector<std::string>{"host 0", "host 1", "host 2"}));
}

TEST(RunBounded, AThrowingTaskDoesNotStopTheOthers) {
    std::vector<std::atomic<int>> runs(6);
    try {
        run_bounded(6, 2, [&](std::size_t i) {
            ++runs[i];
            if (i == 3) throw std::runtime_error("three");
            if (i == 1) throw std::runtime_error("one");
        });
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "one");  // the lowest index
    }
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "task " << i;
}

TEST(Fleet, AnsweredHostsTakeTheirCommandsVerdict) {
    EXPECT_EQ(answered_host(FleetCommand::Check, "a", 0).status, HostStatus::Ok);
    EXPECT_EQ(answered_host(FleetCommand::Check, "a", 1).status, HostStatus::Fixable);
    EXPECT_EQ(answered_host(FleetCommand::Check, "a", 2).status, HostStatus::Blocked);
    EXPECT_EQ(answered_host(FleetCommand::Check, "a", 3).status, HostStatus::Invalid);
    EXPECT_EQ(answered_host(FleetCommand::Groups, "a", 0).status, HostStatus::Ok);
    HostOutcome h = answered_host(FleetCommand::Check, "qemu:///system", 2);
    EXPECT_EQ(h.uri, "qemu:///system");
    EXPECT_EQ(h.exit_code, 2);
    EXPECT_FALSE(h.error);
}

TEST(Fleet, FailedHostsExitAsAFailedConnection) {
    HostOutcome u = failed_host(FleetCommand::Check, "qemu+ssh://a/system", Reach::NotConnected, "cannot connect");
    EXPECT_EQ(u.status, HostStatus::Unreachable);
    EXPECT_EQ(u.exit_code, exits::fix::kInvalid);
    EXPECT_EQ(u.error, "cannot connect");
    HostOutcome f = failed_host(FleetCommand::Groups, "qemu+ssh://b/system", Reach::Connected, "no node devices");
    EXPECT_EQ(f.status, HostStatus::Failed);
    EXPECT_EQ(f.exit_code, exits::virt::kFailure);
    EXPECT_EQ(to_string(HostStatus::Unreachable), "unreachable");
    EXPECT_EQ(to_string(HostStatus::Failed), "failed");
}

TEST(Fleet, TheExitCodeIsTheHighestOfAnyHost) {
    std::vector<HostOutcome> hosts = {answered_host(FleetCommand::Check, "a", 1),
                                      answered_host(FleetCommand::Check, "b", 2),
                                      answered_host(FleetCommand::Check, "c", 0)};
    FleetSummary s = summarize(hosts);
    EXPECT_EQ(s.exit_code, 2);
    EXPECT_EQ(s.hosts, 3u);
    EXPECT_EQ(s.count(HostStatus::Ok), 1u);
    EXPECT_EQ(s.count(HostStatus::Fixable), 1u);
    EXPECT_EQ(s.count(HostStatus::Blocked), 1u);
    EXPECT_EQ(s.count(HostStatus::Unreachable), 0u);
    // Unreachable (3) outranks blocked.
    hosts.insert(hosts.begin(), failed_host(FleetCommand::Check, "d", Reach::NotConnected, "down"));
    s = summarize(hosts);
    EXPECT_EQ(s.exit_code, 3);
    EXPECT_EQ(s.count(HostStatus::Unreachable), 1u);
    EXPECT_EQ(summarize({}).exit_code, 0);
}

TEST(Fleet, JsonReportKeepsTheOrderGivenAndStableKeys) {
    HostOutcome a = answered_host(FleetCommand::Check, "qemu:///system", 1);
    a.report = nlohmann::ordered_json{{"uri", "qemu:///system"}, {"domains", nlohmann::ordered_json::array()}};
    HostOutcome b = failed_host(FleetCommand::Check, "qemu+ssh://kvm2/system", Reach::NotConnected,
                                "cannot connect to qemu+ssh://kvm2/system: refused\n  hint: do this");
    const std::string text = json::to_text(fleet_report({b, a}));
    EXPECT_EQ(text,
              "{\n"
              "  \"hosts\": [\n"
              "    {\n"
              "      \"uri\": \"qemu+ssh://kvm2/system\",\n"
              "      \"status\": \"unreachable\",\n"
              "      \"exit_code\": 3,\n"
              "      \"error\": \"cannot connect to qemu+ssh://kvm2/system: refused\\n  hint: do this\"\n"
              "    },\n"
              "    {\n"
              "      \"uri\": \"qemu:///system\",\n"
              "      \"status\": \"fixable\",\n"
              "      \"exit_code\": 1,\n"
              "      \"report\": {\n"
              "        \"uri\": \"qemu:///system\",\n"
              "        \"domains\": []\n"
              "      }\n"
              "    }\n"
              "  ],\n"
              "  \"summary\": {\n"
              "    \"hosts\": 2,\n"
              "    \"ok\": 0,\n"
              "    \"fixable\": 1,\n"
              "    \"blocked\": 0,\n"
              "    \"invalid\": 0,\n"
              "    \"unreachable\": 1,\n"
              "    \"failed\": 0,\n"
              "    \"exit_code\": 3\n"
              "  }\n"
              "}\n");
}

TEST(Fleet, TextNamesEachHostBeforeItsReport) {
    HostOutcome a = answered_host(FleetCommand::Check, "qemu:///system", 0);
    a.text = "plain: ok, nothing to change\nqemu:///system: 1 domain: 1 ok\n";
    HostOutcome b = failed_host(FleetCommand::Check, "qemu+ssh://kvm2/system", Reach::NotConnected,
                                "cannot connect to qemu+ssh://kvm2/system: refused\n  hint: do this");
    HostOutcome c = answered_host(FleetCommand::Check, "qemu+ssh://kvm3/system", 2);
    c.text = "usb: blocked, nothing written\nqemu+ssh://kvm3/system: 1 domain: 1 blocked";  // no final newline
    EXPECT_EQ(fleet_text({a, b, c}),
              "== qemu:///system\n"
              "plain: ok, nothing to change\n"
              "qemu:///system: 1 domain: 1 ok\n"
              "\n"
              "== qemu+ssh://kvm2/system\n"
              "error: cannot connect to qemu+ssh://kvm2/system: refused\n"
              "  hint: do this\n"
              "\n"
              "== qemu+ssh://kvm3/system\n"
              "usb: blocked, nothing written\n"
              "qemu+ssh://kvm3/system: 1 domain: 1 blocked\n"
              "\n"
              "fleet: 3 hosts: 1 ok, 1 blocked, 1 unreachable\n");
    EXPECT_EQ(summary_line(summarize({a})), "fleet: 1 host: 1 ok");
    EXPECT_EQ(summary_line(summarize({})), "fleet: 0 hosts");
}
