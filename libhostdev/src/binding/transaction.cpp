#include "binding/transaction.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "hostdev/host/parse.hpp"

namespace hostdev::txn {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

Write write_of(std::string what, fs::path path, std::string value, Write::Only only = Write::Only::Always) {
    Write w;
    w.what = std::move(what);
    w.path = std::move(path);
    w.value = std::move(value);
    w.only = only;
    return w;
}

Write or_else(Write w, std::string what, fs::path path) {
    w.fallback_what = std::move(what);
    w.fallback_path = std::move(path);
    return w;
}

}  // namespace

std::string vfio_driver_of(const journal::Device& d) { return d.vfio_driver.value_or(std::string(kVfio)); }

std::vector<Step> steps_for(const FsRoot& root, const journal::Device& d) {
    const std::string a = d.address.str();
    const std::string vfio = vfio_driver_of(d);
    const fs::path override_path = root.pci_device(a) / "driver_override";
    // "\n" clears driver_override: it reads "(null)" again.
    const std::string original = d.original_override.value_or("\n");
    std::vector<Step> steps;
    steps.push_back({1,
                     d.address,
                     "set driver_override",
                     {write_of("set driver_override", override_path, vfio)},
                     {write_of("restore driver_override", override_path, original)}});
    if (d.original_driver) {
        const std::string& drv = *d.original_driver;
        // The original driver binds only when driver_override names it or
        // nothing; an override naming another driver is cleared for the bind
        // and put back by step 1's undo.
        const bool lets_bind = !d.original_override || *d.original_override == drv;
        steps.push_back({2,
                         d.address,
                         "unbind from " + drv,
                         {write_of("unbind from " + drv, root.pci_driver(drv) / "unbind", a)},
                         {write_of(lets_bind ? "restore driver_override" : "clear driver_override", override_path,
                                   lets_bind ? original : "\n", Write::Only::Unbound),
                          or_else(write_of("bind to " + drv, root.pci_driver(drv) / "bind", a, Write::Only::Unbound),
                                  "probe", root.pci_drivers_probe())}});
    }
    Write unbind = write_of("unbind from " + vfio, root.pci_driver(vfio) / "unbind", a, Write::Only::OnVfio);
    unbind.vfio = vfio;
    steps.push_back(
        {3,
         d.address,
         "probe",
         {or_else(write_of("probe", root.pci_drivers_probe(), a), "bind to " + vfio, root.pci_driver(vfio) / "bind")},
         {unbind}});
    steps.push_back({4, d.address, "wait for " + vfio, {}, {}, d.group});
    return steps;
}

bool in_open_transaction(const journal::Device& d) {
    const std::size_t steps = d.original_driver ? 3 : 2;
    return d.pending || d.doing || d.done.size() < steps;
}

Live Engine::live(const PciAddress& a) const {
    const fs::path dev = root_.pci_device(a.str());
    Live l;
    if (auto t = root_.read_link(dev / "driver")) l.driver = parse::link_basename(*t);
    if (auto o = root_.read_file(dev / "driver_override", 256)) l.override_ = parse::driver_override(*o);
    if (auto g = root_.read_link(dev / "iommu_group"))
        if (auto n = parse::iommu_group_link(*g)) l.group = *n;
    return l;
}

Status Engine::save(const journal::Journal& j) {
    if (auto st = dir_.save(j); !st) return st.error().context("cannot write journal");
    return ok_status();
}

// One write through KernelIo, counted for the test hook; the error names the
// device and what the write was for.
Status Engine::write(const PciAddress& a, const std::string& what, const fs::path& path, std::string_view value) {
    Status st = io_.write(path, value);
    ++writes_;
    if (opt_.after_write) opt_.after_write(writes_);
    if (!st) return st.error().context(a.str() + ": " + what);
    return st;
}

Status Engine::apply(const Step& s, const Write& w, const std::string& label, std::vector<std::string>& warnings) {
    Status st = write(s.device, label + " (" + w.what + ")", w.path, w.value);
    if (st || !w.fallback_what) return st;
    warnings.push_back(st.error().describe() + "; " + *w.fallback_what + " instead");
    return write(s.device, label + " (" + *w.fallback_what + ")", w.fallback_path, w.value);
}

// Waits, bounded, until the device is on `driver` (nullopt: unbound) and, for
// a VFIO driver, its /dev/vfio/GROUP exists.
Status Engine::wait_for(const PciAddress& a, const std::optional<std::string>& driver, std::optional<int> group) {
    const auto deadline = Clock::now() + opt_.wait_timeout;
    const bool vfio = driver && is_vfio_driver(*driver) && group;
    const fs::path node = vfio ? root_.dev("vfio/" + std::to_string(*group)) : fs::path();
    const std::string waited = "waited " + std::to_string(opt_.wait_timeout.count()) + " ms for ";
    while (true) {
        Live l = live(a);
        const bool on = l.driver == driver;
        if (on && (!vfio || root_.exists(node))) return ok_status();
        if (Clock::now() >= deadline) {
            if (on) return make_error(waited + root_.live_path(node), "", ETIMEDOUT);
            return make_error(
                waited + driver.value_or("no driver") + ", the device is on " + l.driver.value_or("no driver"),
                root_.live_path(root_.pci_device(a.str()) / "driver"), ETIMEDOUT);
        }
        std::this_thread::sleep_for(opt_.poll_interval);
    }
}

Status Engine::run(journal::Journal& j, const std::vector<Step>& plan, BindReport& report) {
    for (const Step& s : plan) {
        journal::Device* d = j.find(s.device);
        if (!d) return make_error(s.device.str() + ": not in the journal (a planning error)");
        const std::string label = "step " + std::to_string(s.number);
        if (s.writes.empty()) {
            const auto group = s.group >= 0 ? std::optional<int>(s.group) : std::nullopt;
            const std::string vfio = vfio_driver_of(*d);
            if (auto st = wait_for(s.device, vfio, group); !st)
                return st.error().context(s.device.str() + ": " + label + " (" + s.what + ")");
            report.devices.push_back({s.device, d->original_driver, vfio, ""});
            continue;
        }
        d->doing = s.number;
        HOSTDEV_TRY(save(j));
        for (const Write& w : s.writes) {
            if (auto st = apply(s, w, label, report.warnings); !st) {
                d->doing.reset();  // the write failed: the step had no effect
                return st;
            }
        }
        d->done.push_back(s.number);
        d->doing.reset();
    }
    return ok_status();
}

bool Engine::is_back(const journal::Device& d) const {
    const Live l = live(d.address);
    return l.driver == d.original_driver && l.override_ == d.original_override;
}

namespace {

bool applies(const Write& w, const Live& l) {
    switch (w.only) {
        case Write::Only::OnVfio: return l.driver && *l.driver == w.vfio;
        case Write::Only::Unbound: return !l.driver;
        case Write::Only::Always: break;
    }
    return true;
}

std::string shown(const std::optional<std::string>& v, const char* none) { return v ? *v : none; }

}  // namespace

// The undo writes of the device's steps, last step first; the journal forgets
// each step once undone (saved), so a run killed here continues in recover.
// A failed undo write stops this device's unwinding (what is left is still a
// prefix of its steps, as the journal requires) and is returned.
std::optional<Error> Engine::unwind_device(journal::Journal& j, journal::Device& d, BindReport& report) {
    std::vector<int> todo = d.done;
    if (d.doing) todo.push_back(*d.doing);
    const std::vector<Step> steps = steps_for(root_, d);
    for (auto n = todo.rbegin(); n != todo.rend(); ++n) {
        auto s = std::find_if(steps.begin(), steps.end(), [&](const Step& x) { return x.number == *n; });
        const std::string label = "undo step " + std::to_string(*n);
        for (const Write& w : s->undo) {
            if (!applies(w, live(d.address))) continue;
            if (auto st = apply(*s, w, label, report.warnings); !st) return st.error();
        }
        if (d.doing && *d.doing == *n)
            d.doing.reset();
        else
            d.done.pop_back();
        if (auto st = save(j); !st) report.warnings.push_back(st.error().describe());
    }
    return std::nullopt;
}

bool Engine::unwind(journal::Journal& j, BindReport& report, std::vector<std::string>& errors) {
    j.state = std::string(journal::kRollingBack);
    if (auto st = save(j); !st) errors.push_back(st.error().describe());
    std::vector<PciAddress> back;
    for (auto it = j.devices.rbegin(); it != j.devices.rend(); ++it) {
        journal::Device& d = *it;
        if (!in_open_transaction(d)) continue;
        const auto before = live(d.address).driver;
        const auto failed = unwind_device(j, d, report);
        if (failed || !is_back(d)) {
            // The safety net, never silent: one restore through the reattach path.
            const Live l = live(d.address);
            report.warnings.push_back(d.address.str() +
                                      ": final restore: " + (failed ? failed->describe() + "; " : std::string()) +
                                      "the undo left it on " + shown(l.driver, "no driver") + " with driver_override " +
                                      shown(l.override_, "(null)") + "; restoring it through the reattach path");
            if (auto st = restore(d, report.warnings); !st) errors.push_back(st.error().describe());
        }
        if (!is_back(d)) {
            errors.push_back(d.address.str() + ": not restored: on " + shown(live(d.address).driver, "no driver") +
                             ", was on " + shown(d.original_driver, "no driver"));
            continue;
        }
        report.devices.push_back({d.address, before, d.original_driver, ""});
        back.push_back(d.address);
    }
    std::erase_if(j.devices, [&](const journal::Device& d) {
        return std::find(back.begin(), back.end(), d.address) != back.end();
    });
    return std::none_of(j.devices.begin(), j.devices.end(), in_open_transaction);
}

Status Engine::restore(const journal::Device& d, std::vector<std::string>& warnings) {
    const PciAddress& a = d.address;
    const std::string addr = a.str();
    Live l = live(a);
    if (l.override_ != d.original_override) {
        HOSTDEV_TRY(write(a, "restore driver_override", root_.pci_device(addr) / "driver_override",
                          d.original_override.value_or("\n")));
    }
    // Off whichever VFIO driver it is on (libvirt may have moved it from one to another).
    if (l.driver && is_vfio_driver(*l.driver) && l.driver != d.original_driver) {
        HOSTDEV_TRY(write(a, "unbind from " + *l.driver, root_.pci_driver(*l.driver) / "unbind", addr));
        l.driver.reset();
    }
    if (!d.original_driver) {
        if (l.driver) warnings.push_back(addr + ": had no driver before, is now on " + *l.driver + "; left as is");
        return ok_status();
    }
    if (l.driver) {
        if (*l.driver != *d.original_driver)
            warnings.push_back(addr + ": was on " + *d.original_driver + ", is now on " + *l.driver + "; left as is");
        return ok_status();
    }
    Status bound = write(a, "bind to " + *d.original_driver, root_.pci_driver(*d.original_driver) / "bind", addr);
    if (!bound) {
        warnings.push_back(bound.error().describe() + "; probing instead");
        HOSTDEV_TRY(write(a, "probe", root_.pci_drivers_probe(), addr));
    }
    if (auto st = wait_for(a, d.original_driver, std::nullopt); !st) return st.error().context(addr);
    return ok_status();
}

bool Engine::return_all(journal::Journal& j, const std::string& note, BindReport& report,
                        std::vector<std::string>& errors) {
    j.state = std::string(journal::kReattaching);
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
        std::string n = note;
        if (!d.original_driver) n = n.empty() ? "had no driver; stays unbound" : n + "; had no driver; stays unbound";
        report.devices.push_back({d.address, before, live(d.address).driver, n});
    }
    j.devices = left;
    Status saved = left.empty() ? dir_.remove(j.owner) : save(j);
    if (!saved) errors.push_back(saved.error().describe());
    return left.empty() && saved;
}

Status Engine::ensure_vfio_loaded(const std::string& driver) {
    const fs::path dir = root_.pci_driver(driver);
    if (root_.exists(dir)) return ok_status();
    Status st = io_.load_module(driver);
    if (st) {
        const auto deadline = Clock::now() + opt_.wait_timeout;
        while (!root_.exists(dir) && Clock::now() < deadline) std::this_thread::sleep_for(opt_.poll_interval);
    }
    if (st && root_.exists(dir)) return ok_status();
    return make_error(driver + " is not available: " +
                      (st ? root_.live_path(dir) + " did not appear" : st.error().describe()) + "; nothing changed");
}

}  // namespace hostdev::txn
