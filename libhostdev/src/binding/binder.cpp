#include "hostdev/binding/binder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/policy/planner.hpp"
#include "hostdev/host/sysfs.hpp"
#include "binding/journal.hpp"

namespace hostdev {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kVfio = "vfio-pci";

// ---------------------------------------------------------------- Owner

Result<Owner> Owner::domain(std::string_view uuid, std::string_view name) {
    // libvirt accepts hex digits with dashes anywhere; keep the 32 digits and
    // write them canonically. Anything else cannot name a journal file.
    std::string hex;
    for (char c : uuid) {
        if (c == '-') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c)) || hex.size() == 32)
            return make_error("invalid domain UUID '" + std::string(uuid) + "'");
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 32) return make_error("invalid domain UUID '" + std::string(uuid) + "'");
    Owner o;
    o.key = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
            hex.substr(20);
    o.name = std::string(name);
    return o;
}

Owner Owner::manual() {
    Owner o;
    o.key = "manual";
    return o;
}

std::string Owner::describe() const {
    if (is_manual()) return "manual detach (hostdev detach)";
    return "domain '" + name + "' (" + key + ")";
}

// ---------------------------------------------------------------- helpers

namespace {

// Holds the binder's lock for its lifetime.
class Lock {
public:
    static Result<Lock> take(const fs::path& dir, std::chrono::milliseconds timeout) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return make_error("cannot create journal directory", dir.string(), ec.value());
        ::chmod(dir.c_str(), 0700);
        fs::path p = dir / "lock";
        int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return make_error("cannot open lock", p.string(), errno);
        const auto deadline = Clock::now() + timeout;
        while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) {
                int e = errno;
                ::close(fd);
                return make_error("cannot lock", p.string(), e);
            }
            if (Clock::now() >= deadline) {
                ::close(fd);
                return make_error("another hostdev run holds the lock; gave up after " +
                                      std::to_string(timeout.count()) + " ms",
                                  p.string(), EWOULDBLOCK);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return Lock(fd);
    }
    Lock(Lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Lock& operator=(Lock&&) = delete;
    ~Lock() {
        if (fd_ >= 0) ::close(fd_);
    }

private:
    explicit Lock(int fd) : fd_(fd) {}
    int fd_;
};

// The live state of one device, read fresh from sysfs.
struct Live {
    std::optional<std::string> driver;
    std::optional<std::string> override_;
    std::optional<int> group;
};

class Engine {
public:
    Engine(const FsRoot& root, KernelIo& io, const BinderOptions& opt, const fs::path& jdir)
        : root_(root), io_(io), opt_(opt), jdir_(jdir) {}

    fs::path dev_attr(const PciAddress& a, std::string_view attr) const {
        return root_.pci_device(a.str()) / std::string(attr);
    }
    fs::path driver_attr(std::string_view driver, std::string_view attr) const {
        return root_.pci_drivers() / std::string(driver) / std::string(attr);
    }

    Live live(const PciAddress& a) const {
        Live l;
        if (auto t = fileio::read_link(dev_attr(a, "driver"))) l.driver = parse::link_basename(*t);
        if (auto o = fileio::read_file(dev_attr(a, "driver_override"), 256)) l.override_ = parse::driver_override(*o);
        if (auto g = fileio::read_link(dev_attr(a, "iommu_group")))
            if (auto n = parse::iommu_group_link(*g)) l.group = *n;
        return l;
    }

    // One write through KernelIo, counted for the test hook; the error names
    // the device and what the write was for.
    Status write(const PciAddress& a, const std::string& what, const fs::path& path, std::string_view value) {
        Status st = io_.write(path, value);
        ++writes_;
        if (opt_.after_write) opt_.after_write(writes_);
        if (!st) {
            return st.error().context(a.str() + ": " + what);
        }
        return st;
    }

    // Waits, bounded, until the device is on `driver` (nullopt: unbound) and,
    // for vfio-pci, its /dev/vfio/GROUP exists.
    Status wait_for(const PciAddress& a, const std::optional<std::string>& driver, std::optional<int> group) {
        const auto deadline = Clock::now() + opt_.wait_timeout;
        while (true) {
            Live l = live(a);
            bool ok = l.driver == driver;
            if (ok && driver && *driver == kVfio && group)
                ok = fileio::exists(root_.dev("vfio/" + std::to_string(*group)));
            if (ok) return ok_status();
            if (Clock::now() >= deadline) {
                std::string want = driver ? *driver : "no driver";
                if (driver && *driver == kVfio && group && l.driver == driver)
                    return make_error(a.str() + ": waited " + std::to_string(opt_.wait_timeout.count()) + " ms for " +
                                          root_.live_path(root_.dev("vfio/" + std::to_string(*group))),
                                      "", ETIMEDOUT);
                return make_error(a.str() + ": waited " + std::to_string(opt_.wait_timeout.count()) + " ms for " +
                                      want + ", the device is on " + l.driver.value_or("no driver"),
                                  root_.live_path(dev_attr(a, "driver")), ETIMEDOUT);
            }
            std::this_thread::sleep_for(opt_.poll_interval);
        }
    }

    Status save(const journal::Journal& j) {
        if (auto st = journal::save(jdir_, j); !st) {
            return st.error().context("cannot write journal");
        }
        return ok_status();
    }

    // Brings one device back to its recorded driver and override. Idempotent:
    // a device already back needs no write.
    Status restore(const journal::Device& d, std::vector<std::string>& warnings) {
        const PciAddress& a = d.address;
        Live l = live(a);
        if (l.override_ != d.original_override) {
            if (auto st = write(a, "restore driver_override", dev_attr(a, "driver_override"),
                                d.original_override.value_or("\n"));
                !st)
                return st;
        }
        if (l.driver && *l.driver == kVfio && (!d.original_driver || *d.original_driver != kVfio)) {
            if (auto st = write(a, "unbind from vfio-pci", driver_attr(kVfio, "unbind"), a.str()); !st) return st;
            l.driver.reset();
        }
        if (!d.original_driver) {
            if (l.driver)
                warnings.push_back(a.str() + ": had no driver before, is now on " + *l.driver + "; left as is");
            return ok_status();
        }
        if (l.driver) {
            if (*l.driver != *d.original_driver)
                warnings.push_back(a.str() + ": was on " + *d.original_driver + ", is now on " + *l.driver +
                                   "; left as is");
            return ok_status();
        }
        Status bound = write(a, "bind to " + *d.original_driver, driver_attr(*d.original_driver, "bind"), a.str());
        if (!bound) {
            warnings.push_back(bound.error().describe() + "; probing instead");
            if (auto st = write(a, "probe", root_.sys("bus/pci/drivers_probe"), a.str()); !st) return st;
        }
        return wait_for(a, d.original_driver, std::nullopt);
    }

    // Returns every device of a journal to its recorded driver, going on past
    // failures (each one added to errors). The journal is removed when every
    // device is back, else kept with the ones that are not. True when all are back.
    bool return_all(journal::Journal& j, const std::string& note, BindReport& report,
                    std::vector<std::string>& errors) {
        j.state = "reattaching";
        if (auto st = save(j); !st) {
            errors.push_back(st.error().describe());
            return false;
        }
        std::vector<journal::Device> left;
        for (const auto& d : j.devices) {
            auto before = live(d.address).driver;
            if (auto st = restore(d, report.warnings); !st) {
                errors.push_back(st.error().describe());
                left.push_back(d);
                continue;
            }
            report.devices.push_back({d.address, before, live(d.address).driver,
                                      d.original_driver ? note : join_note(note, "had no driver; stays unbound")});
        }
        j.devices = left;
        Status saved = left.empty() ? journal::remove(jdir_, j.owner) : save(j);
        if (!saved) errors.push_back(saved.error().describe());
        return left.empty() && saved;
    }

    int writes() const { return writes_; }

private:
    static std::string join_note(const std::string& a, const std::string& b) { return a.empty() ? b : a + "; " + b; }

    const FsRoot& root_;
    KernelIo& io_;
    const BinderOptions& opt_;
    const fs::path& jdir_;
    int writes_ = 0;
};

Result<Host> read_current_host(const FsRoot& root) {
    ReadOptions o;
    o.names = ReadOptions::Names::Skip;
    o.readiness = ReadOptions::Readiness::Skip;  // doctor's facts: not needed to move devices
    return read_host(root, o);
}

// The devices that must go to vfio-pci for `requested`, by the sibling policy.
Result<std::vector<const PciDevice*>> devices_to_move(Host& host, const std::vector<PciAddress>& requested) {
    Domain d;
    for (const auto& a : requested) {
        PciHostdev h;
        h.source = a;
        d.pci_hostdevs.push_back(h);
    }
    PlanOptions po;
    po.hide_kvm = PlanOptions::HideKvm::Never;
    Plan plan = plan_domain(d, host, po);
    if (plan.blocked()) {
        // Only a refusal needs device names (the user reads it): load them now
        // and word the plan again.
        resolve_names(host, std::nullopt);
        plan = plan_domain(d, host, po);
        std::string msg;
        for (const auto& p : plan.problems)
            if (p.severity == Severity::Error) msg += (msg.empty() ? "" : "; ") + p.message;
        return make_refusal("refused, nothing changed: " + msg);
    }
    std::vector<const PciDevice*> out;
    std::set<PciAddress> seen;
    for (const auto& g : plan.groups)
        for (const auto& m : g.members)
            if ((m.verdict == Verdict::Covered || m.verdict == Verdict::Injected) && seen.insert(m.address).second)
                if (const PciDevice* dev = host.find(m.address)) out.push_back(dev);
    return out;
}

std::string join_errors(const std::vector<std::string>& v) { return join(v, "; "); }

}  // namespace

// ---------------------------------------------------------------- Binder

Binder::Binder(FsRoot root, KernelIo& io, BinderOptions options)
    : root_(std::move(root)), io_(io), options_(std::move(options)),
      journal_dir_(options_.journal_dir.empty() ? root_.run("hostdev") : options_.journal_dir) {}

Result<std::vector<PlannedWrite>> Binder::plan_detach(const std::vector<PciAddress>& requested) const {
    auto host = read_current_host(root_);
    if (!host) return host.error();
    auto moves = devices_to_move(*host, requested);
    if (!moves) return moves.error();
    std::vector<PlannedWrite> out;
    if (!fileio::exists(root_.pci_drivers() / std::string(kVfio)))
        out.push_back({0, PciAddress{}, "load module vfio-pci", "modprobe", "vfio-pci"});
    for (const PciDevice* d : *moves) {
        if (d->driver && *d->driver == kVfio) continue;
        const std::string a = d->address.str();
        out.push_back({1, d->address, "set driver_override", root_.pci_device(a) / "driver_override", std::string(kVfio)});
        if (d->driver)
            out.push_back({2, d->address, "unbind from " + *d->driver, root_.pci_drivers() / *d->driver / "unbind", a});
        out.push_back({3, d->address, "probe", root_.sys("bus/pci/drivers_probe"), a});
    }
    return out;
}

Result<BindReport> Binder::detach(const Owner& owner, const std::vector<PciAddress>& requested) {
    auto lock = Lock::take(journal_dir_, options_.lock_timeout);
    if (!lock) return lock.error();
    auto host = read_current_host(root_);
    if (!host) return host.error();
    auto moves = devices_to_move(*host, requested);
    if (!moves) return moves.error();

    // Ownership: a group held by another owner cannot be taken.
    auto journals = journal::load_all(journal_dir_);
    if (!journals) return journals.error();
    std::optional<journal::Journal> mine;
    for (auto& j : *journals) {
        if (j.owner.key == owner.key) {
            mine = std::move(j);
            continue;
        }
        for (const PciDevice* d : *moves)
            for (const auto& held : j.devices)
                if (held.address == d->address || (d->iommu_group && held.group == *d->iommu_group))
                    return make_refusal("refused, nothing changed: IOMMU group " + std::to_string(held.group) + " (" + held.address.str() +
                                      ") is held by " + j.owner.describe() +
                                      "; stop it first, or run `hostdev recover` if it is not running");
    }

    Engine eng(root_, io_, options_, journal_dir_);
    journal::Journal j = mine ? std::move(*mine) : journal::Journal{owner, "detaching", {}};
    j.owner.name = owner.name;
    j.state = "detaching";
    BindReport report;
    // Record every device's original state before the first write. A device
    // the journal already holds keeps its recorded original.
    std::vector<PciAddress> order;
    for (const PciDevice* d : *moves) {
        order.push_back(d->address);
        if (j.find(d->address)) continue;
        if (d->driver && *d->driver == kVfio) {
            report.devices.push_back({d->address, d->driver, d->driver, "already on vfio-pci; not recorded"});
            order.pop_back();
            continue;
        }
        journal::Device jd;
        jd.address = d->address;
        jd.group = d->iommu_group.value_or(-1);
        jd.original_driver = d->driver;
        jd.original_override = d->driver_override;
        j.devices.push_back(jd);
    }
    if (order.empty()) return report;  // everything already on vfio-pci: nothing to record
    if (auto st = eng.save(j); !st) return st.error();

    // vfio-pci must be there before anything moves.
    if (!fileio::exists(root_.pci_drivers() / std::string(kVfio))) {
        Status st = io_.load_module("vfio-pci");
        if (st) {
            const auto deadline = Clock::now() + options_.wait_timeout;
            while (!fileio::exists(root_.pci_drivers() / std::string(kVfio)) && Clock::now() < deadline)
                std::this_thread::sleep_for(options_.poll_interval);
        }
        if (!st || !fileio::exists(root_.pci_drivers() / std::string(kVfio))) {
            if (!mine) (void)journal::remove(journal_dir_, owner);
            return make_error("vfio-pci is not available: " +
                              (st ? root_.live_path(root_.pci_drivers() / std::string(kVfio)) + " did not appear"
                                  : st.error().describe()) +
                              "; nothing changed");
        }
    }

    struct Done {
        PciAddress device;
        int step;
        std::optional<std::string> from;  // driver unbound at step 2
    };
    std::vector<Done> done;
    auto record = [&](const PciAddress& a, int step) -> Status {
        if (journal::Device* jd = j.find(a)) jd->done.push_back(step);
        return eng.save(j);
    };

    auto run = [&]() -> Status {
        for (const auto& a : order) {
            journal::Device* jd = j.find(a);
            Live l = eng.live(a);
            if (l.driver && *l.driver == kVfio) {
                report.devices.push_back({a, jd ? jd->original_driver : l.driver, l.driver, "already on vfio-pci"});
                continue;
            }
            // Step 1: driver_override.
            if (auto st = eng.write(a, "step 1 (set driver_override)", eng.dev_attr(a, "driver_override"), kVfio); !st)
                return st;
            done.push_back({a, 1, std::nullopt});
            if (auto st = record(a, 1); !st) return st;
            // Step 2: unbind from the current driver.
            if (l.driver) {
                if (auto st = eng.write(a, "step 2 (unbind from " + *l.driver + ")", eng.driver_attr(*l.driver, "unbind"),
                                        a.str());
                    !st)
                    return st;
                done.push_back({a, 2, l.driver});
                if (auto st = record(a, 2); !st) return st;
            }
            // Step 3: probe; vfio-pci/bind when drivers_probe cannot be written.
            Status probed = eng.write(a, "step 3 (probe)", root_.sys("bus/pci/drivers_probe"), a.str());
            if (!probed) {
                report.warnings.push_back(probed.error().describe() + "; binding vfio-pci directly");
                if (auto st = eng.write(a, "step 3 (bind to vfio-pci)", eng.driver_attr(kVfio, "bind"), a.str()); !st)
                    return st;
            }
            done.push_back({a, 3, std::nullopt});
            if (auto st = record(a, 3); !st) return st;
            // Step 4: wait for the driver and the group's device node.
            if (auto st = eng.wait_for(a, std::string(kVfio), l.group); !st) {
                Error e = st.error();
                e.message = a.str() + ": step 4 (wait for vfio-pci): " + e.message.substr(a.str().size() + 2);
                return e;
            }
            report.devices.push_back({a, jd ? jd->original_driver : l.driver, std::string(kVfio), ""});
        }
        return ok_status();
    };

    Status st = run();
    if (st) {
        j.state = "detached";
        if (auto s = eng.save(j); !s) return s.error();
        return report;
    }

    // Failure: undo the completed steps in reverse, then check every device.
    j.state = "rolling-back";
    (void)eng.save(j);
    std::vector<std::string> undo_errors;
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
        journal::Device* jd = j.find(it->device);
        if (!jd) continue;
        const PciAddress& a = it->device;
        Status u = ok_status();
        switch (it->step) {
            case 3:
                if (eng.live(a).driver == std::optional<std::string>(std::string(kVfio)))
                    u = eng.write(a, "undo step 3 (unbind from vfio-pci)", eng.driver_attr(kVfio, "unbind"), a.str());
                break;
            case 2: {
                u = eng.write(a, "undo step 2 (restore driver_override)", eng.dev_attr(a, "driver_override"),
                              jd->original_override.value_or("\n"));
                if (u && !eng.live(a).driver) {
                    u = eng.write(a, "undo step 2 (bind to " + *it->from + ")", eng.driver_attr(*it->from, "bind"), a.str());
                    if (!u) u = eng.write(a, "undo step 2 (probe)", root_.sys("bus/pci/drivers_probe"), a.str());
                }
                break;
            }
            case 1:
                u = eng.write(a, "undo step 1 (restore driver_override)", eng.dev_attr(a, "driver_override"),
                              jd->original_override.value_or("\n"));
                break;
        }
        if (!u) undo_errors.push_back(u.error().describe());
    }
    // Verify, and drop from the journal what is back.
    std::vector<journal::Device> still;
    for (const auto& d : j.devices) {
        bool touched = std::any_of(done.begin(), done.end(), [&](const Done& x) { return x.device == d.address; });
        if (!touched && !mine) continue;
        Live l = eng.live(d.address);
        if (touched && (l.driver != d.original_driver || l.override_ != d.original_override)) {
            // One more try through the reattach path, which waits.
            std::vector<std::string> w;
            if (auto r = eng.restore(d, w); !r) undo_errors.push_back(r.error().describe());
            l = eng.live(d.address);
        }
        if (touched && (l.driver != d.original_driver || l.override_ != d.original_override)) {
            undo_errors.push_back(d.address.str() + ": not restored: on " + l.driver.value_or("no driver") +
                                  ", was on " + d.original_driver.value_or("no driver"));
            still.push_back(d);
        } else if (!touched && mine) {
            still.push_back(d);  // held from before this run
        }
    }
    Error e = st.error();
    if (undo_errors.empty()) {
        e.message += "; rolled back: every device is on its original driver";
        if (still.empty()) (void)journal::remove(journal_dir_, owner);
        else {
            j.devices = still;
            j.state = "detached";
            (void)eng.save(j);
        }
    } else {
        e.message += "; ROLLBACK INCOMPLETE (journal kept for `hostdev recover`): " + join_errors(undo_errors);
        j.devices = still;
        (void)eng.save(j);
    }
    return e;
}

Result<BindReport> Binder::reattach(const Owner& owner) {
    auto lock = Lock::take(journal_dir_, options_.lock_timeout);
    if (!lock) return lock.error();
    auto text = fileio::read_file(journal::path_for(journal_dir_, owner), 16u << 20);
    if (!text) {
        if (text.error().err == ENOENT) return BindReport{};
        return text.error();
    }
    auto j = journal::parse(*text, journal::path_for(journal_dir_, owner).string());
    if (!j) return j.error();
    Engine eng(root_, io_, options_, journal_dir_);
    BindReport report;
    std::vector<std::string> errors;
    if (eng.return_all(*j, "", report, errors)) return report;
    return make_error("not every device came back (journal kept): " + join_errors(errors));
}

Result<BindReport> Binder::reattach_devices(const std::vector<PciAddress>& devices) {
    auto lock = Lock::take(journal_dir_, options_.lock_timeout);
    if (!lock) return lock.error();
    auto journals = journal::load_all(journal_dir_);
    if (!journals) return journals.error();
    Engine eng(root_, io_, options_, journal_dir_);
    BindReport report;
    std::vector<std::string> errors;
    for (const auto& a : devices) {
        bool found = false;
        for (auto& j : *journals) {
            auto it = std::find_if(j.devices.begin(), j.devices.end(), [&](const journal::Device& d) { return d.address == a; });
            if (it == j.devices.end()) continue;
            found = true;
            auto before = eng.live(a).driver;
            if (auto st = eng.restore(*it, report.warnings); !st) {
                errors.push_back(st.error().describe());
                break;
            }
            report.devices.push_back({a, before, eng.live(a).driver, ""});
            j.devices.erase(it);
            Status saved = j.devices.empty() ? journal::remove(journal_dir_, j.owner) : eng.save(j);
            if (!saved) errors.push_back(saved.error().describe());
            break;
        }
        if (!found) errors.push_back(a.str() + ": no journal holds it (it was not detached by hostdev)");
    }
    if (!errors.empty()) return make_error(join_errors(errors));
    return report;
}

Result<std::vector<Binder::Holding>> Binder::status() const {
    auto journals = journal::load_all(journal_dir_);
    if (!journals) return journals.error();
    Engine eng(root_, io_, options_, journal_dir_);
    std::vector<Holding> out;
    for (const auto& j : *journals) {
        Holding h{j.owner, j.state, {}};
        for (const auto& d : j.devices)
            h.devices.push_back({d.address, d.group, d.original_driver, eng.live(d.address).driver, j.state});
        out.push_back(std::move(h));
    }
    return out;
}

Result<BindReport> Binder::recover(const std::function<bool(const Owner&)>& is_running) {
    auto lock = Lock::take(journal_dir_, options_.lock_timeout);
    if (!lock) return lock.error();
    auto journals = journal::load_all(journal_dir_);
    if (!journals) return journals.error();
    Engine eng(root_, io_, options_, journal_dir_);
    BindReport report;
    std::vector<std::string> errors;
    for (auto& j : *journals) {
        const bool complete = j.state == "detached";
        if (complete && (j.owner.is_manual() || is_running(j.owner))) {
            report.warnings.push_back(j.owner.describe() + " is running and holds " + std::to_string(j.devices.size()) +
                                      " device(s); kept");
            continue;
        }
        // An interrupted detach, an interrupted reattach, or a domain that is
        // gone: every device goes back to its recorded driver.
        eng.return_all(j, "recovered for " + j.owner.describe(), report, errors);
    }
    if (!errors.empty()) return make_error("recover could not restore everything: " + join_errors(errors));
    return report;
}

bool domain_running(const FsRoot& root, const Owner& owner) {
    if (owner.is_manual()) return true;
    auto pids = fileio::list_dir(root.proc());
    if (!pids) return false;
    const std::string needle = std::string("-uuid") + '\0' + owner.key + '\0';
    for (const auto& p : *pids) {
        if (p.empty() || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        auto cmd = fileio::read_file(root.proc(p + "/cmdline"), 256 * 1024);
        if (cmd && (cmd->find(needle) != std::string::npos)) return true;
    }
    return false;
}

}  // namespace hostdev
