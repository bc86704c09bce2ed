#include "binding/transaction.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "hostdev/base/text.hpp"
#include "hostdev/host/gpu_holders.hpp"
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

Write action(Write::Kind kind, std::string what, std::string value, Write::Only only = Write::Only::Always) {
    Write w;
    w.kind = kind;
    w.what = std::move(what);
    w.value = std::move(value);
    w.only = only;
    return w;
}

Write checked(Write w, Write::Only only, fs::path check) {
    w.only = only;
    w.check = std::move(check);
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

namespace {

Step handoff_step(const journal::Handoff& h, int number, std::string what) {
    Step s;
    s.scope = Step::Scope::Handoff;
    s.number = number;
    s.device = h.gpu;
    s.what = std::move(what);
    return s;
}

// H5 / H6: modules unloaded in order, loaded again in reverse.
Step module_step(const journal::Handoff& h, int number, const std::vector<std::string>& modules) {
    Step s = handoff_step(h, number, "unload " + join(modules));
    for (const auto& m : modules) s.writes.push_back(action(Write::Kind::UnloadModule, "unload module " + m, m));
    for (auto m = modules.rbegin(); m != modules.rend(); ++m)
        s.undo.push_back(action(Write::Kind::LoadModule, "load module " + *m, *m, Write::Only::ModuleUnloaded));
    return s;
}

}  // namespace

HandoffSteps handoff_steps(const FsRoot& root, const journal::Handoff& h) {
    HandoffSteps out;
    if (h.stopped_unit) {
        Step s = handoff_step(h, 1, "stop the display manager " + *h.stopped_unit);
        s.writes.push_back(action(Write::Kind::StopUnit, "stop " + *h.stopped_unit, *h.stopped_unit));
        s.undo.push_back(
            action(Write::Kind::StartUnit, "start " + *h.stopped_unit, *h.stopped_unit, Write::Only::UnitInactive));
        out.before.push_back(std::move(s));
    }
    if (!h.nodes.empty()) {
        Step s = handoff_step(h, 2, "wait for the holders of " + join(h.nodes) + " to close");
        s.nodes = h.nodes;
        out.before.push_back(std::move(s));
    }
    if (!h.consoles.empty()) {
        Step s = handoff_step(h, 3, "unbind the framebuffer console");
        for (int c : h.consoles) {
            const fs::path bind = root.sys("class/vtconsole/vtcon" + std::to_string(c) + "/bind");
            s.writes.push_back(write_of("unbind vtcon" + std::to_string(c), bind, "0"));
        }
        for (auto c = h.consoles.rbegin(); c != h.consoles.rend(); ++c) {
            const fs::path bind = root.sys("class/vtconsole/vtcon" + std::to_string(*c) + "/bind");
            s.undo.push_back(
                checked(write_of("bind vtcon" + std::to_string(*c), bind, "1"), Write::Only::ReadsZero, bind));
        }
        out.before.push_back(std::move(s));
    }
    if (!h.firmware.empty()) {
        Step s = handoff_step(h, 4, "unbind the firmware framebuffer");
        const fs::path drivers = root.sys("bus/platform/drivers");
        for (const auto& f : h.firmware)
            s.writes.push_back(
                write_of("unbind " + f.device + " from " + f.driver, drivers / f.driver / "unbind", f.device));
        for (auto f = h.firmware.rbegin(); f != h.firmware.rend(); ++f)
            s.undo.push_back(
                checked(write_of("bind " + f->device + " to " + f->driver, drivers / f->driver / "bind", f->device),
                        Write::Only::PlatformUnbound, root.sys("bus/platform/devices/" + f->device)));
        out.before.push_back(std::move(s));
    }
    if (!h.modules_before.empty()) out.before.push_back(module_step(h, 5, h.modules_before));
    if (!h.modules_after.empty()) out.after.push_back(module_step(h, 6, h.modules_after));
    return out;
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

// One action through KernelIo: a sysfs write, a unit or a module.
Status Engine::act(const PciAddress& a, const std::string& what, const Write& w, const fs::path& path) {
    if (w.kind == Write::Kind::Sysfs) return write(a, what, path, w.value);
    const auto started = Clock::now();
    Status st = ok_status();
    switch (w.kind) {
        case Write::Kind::StopUnit: st = io_.stop_unit(w.value, opt_.gpu_release_timeout); break;
        case Write::Kind::StartUnit: st = io_.start_unit(w.value, opt_.gpu_release_timeout); break;
        case Write::Kind::LoadModule: st = io_.load_module(w.value); break;
        case Write::Kind::UnloadModule: st = io_.unload_module(w.value); break;
        case Write::Kind::Sysfs: break;
    }
    if (w.kind == Write::Kind::StopUnit || w.kind == Write::Kind::StartUnit)
        waits_.unit += std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    ++writes_;
    if (opt_.after_write) opt_.after_write(writes_);
    if (!st) return st.error().context(a.str() + ": " + what);
    return st;
}

Status Engine::apply(const Step& s, const Write& w, const std::string& label, std::vector<std::string>& warnings) {
    Status st = act(s.device, label + " (" + w.what + ")", w, w.path);
    if (st || !w.fallback_what) return st;
    warnings.push_back(st.error().describe() + "; " + *w.fallback_what + " instead");
    return act(s.device, label + " (" + *w.fallback_what + ")", w, w.fallback_path);
}

// H2: waits, bounded, until no process holds the step's nodes open; refused
// with every holder's pid and command when one stays. Never kills.
Status Engine::wait_for_holders(const Step& s) {
    const auto started = Clock::now();
    const auto deadline = started + opt_.gpu_release_timeout;
    auto poll = std::max(opt_.poll_interval, std::chrono::milliseconds(20));
    while (true) {
        auto held = processes_holding(root_, s.nodes);
        const auto now = Clock::now();
        waits_.holders = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
        if (held && held->empty()) return ok_status();
        if (now >= deadline) {
            if (!held)
                return make_error("cannot list the processes to see who holds " + join(s.nodes),
                                  root_.live_path(root_.proc()), EACCES);
            std::vector<std::string> who;
            std::vector<std::string> nodes;
            for (const auto& p : *held) {
                who.push_back(std::to_string(p.pid) + " (" + (p.comm.empty() ? "?" : p.comm) + ")");
                nodes.insert(nodes.end(), p.nodes.begin(), p.nodes.end());
            }
            std::sort(nodes.begin(), nodes.end());
            nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
            return make_refusal(join(who) + " still " + (who.size() == 1 ? "holds " : "hold ") + join(nodes) +
                                " open after " + std::to_string(opt_.gpu_release_timeout.count()) +
                                " ms (gpu_release_timeout_ms); hostdev never kills a process: close " +
                                (who.size() == 1 ? "it" : "them") +
                                " (or stop the service it belongs to) and start the guest again");
        }
        std::this_thread::sleep_for(poll);
    }
}

// Waits, bounded, until the device is on `driver` (nullopt: unbound) and, for
// a VFIO driver, its /dev/vfio/GROUP exists.
Status Engine::wait_for(const PciAddress& a, const std::optional<std::string>& driver, std::optional<int> group) {
    const auto started = Clock::now();
    struct Count {
        std::chrono::milliseconds& total;
        Clock::time_point since;
        ~Count() { total += std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since); }
    } count{waits_.drivers, started};
    const auto deadline = started + opt_.wait_timeout;
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

journal::Handoff* Engine::handoff_of(journal::Journal& j, const Step& s) {
    if (s.scope != Step::Scope::Handoff || !j.handoff) return nullptr;
    return &*j.handoff;
}

Status Engine::run(journal::Journal& j, const std::vector<Step>& plan, BindReport& report) {
    for (const Step& s : plan) {
        if (s.scope == Step::Scope::Handoff) {
            journal::Handoff* h = handoff_of(j, s);
            if (!h) return make_error(s.device.str() + ": the journal has no handoff (a planning error)");
            const std::string label = "handoff step H" + std::to_string(s.number);
            h->doing = s.number;
            HOSTDEV_TRY(save(j));
            Status st = s.number == 2 ? wait_for_holders(s) : ok_status();
            if (!st) st = st.error().context(s.device.str() + ": " + label + " (" + s.what + ")");
            for (std::size_t i = 0; st && i < s.writes.size(); ++i) st = apply(s, s.writes[i], label, report.warnings);
            if (!st) {
                // Still the step in progress: some of its actions may have had
                // an effect (a stop that timed out, the first of two consoles);
                // its undo applies where each did.
                (void)save(j);
                return st;
            }
            h->done.push_back(s.number);
            h->doing.reset();
            continue;
        }
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

bool Engine::applies(const Write& w, const PciAddress& device) const {
    switch (w.only) {
        case Write::Only::OnVfio: {
            const Live l = live(device);
            return l.driver && *l.driver == w.vfio;
        }
        case Write::Only::Unbound: return !live(device).driver;
        case Write::Only::ReadsZero: {
            auto t = root_.read_file(w.check, 64);
            return t && parse::trim(*t) == "0";
        }
        case Write::Only::PlatformUnbound: return root_.exists(w.check) && !root_.read_link(w.check / "driver");
        case Write::Only::ModuleUnloaded: {
            auto t = root_.read_file(root_.proc("modules"), 1U << 20);
            if (!t) return true;
            const auto mods = parse::loaded_modules(*t);
            return !std::binary_search(mods.begin(), mods.end(), parse::module_name(w.value));
        }
        case Write::Only::UnitInactive: return !root_.read_link(root_.run("systemd/units/invocation:" + w.value));
        case Write::Only::Always: break;
    }
    return true;
}

namespace {

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
            if (!applies(w, d.address)) continue;
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
    const auto since = Clock::now();
    j.state = std::string(journal::kRollingBack);
    if (auto st = save(j); !st) errors.push_back(st.error().describe());
    // H6 first: nvidia is loaded again before its GPU's undo binds it there.
    if (j.handoff) {
        const journal::Device* gpu = j.find(j.handoff->gpu);
        if (!gpu || in_open_transaction(*gpu)) give_back(j, /*after=*/true, report);
    }
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
    give_back_if_returned(j, report, since);
    return std::none_of(j.devices.begin(), j.devices.end(), in_open_transaction);
}

void Engine::give_back(journal::Journal& j, bool after, BindReport& report) {
    if (!j.handoff) return;
    journal::Handoff& h = *j.handoff;
    const HandoffSteps steps = handoff_steps(root_, h);
    const std::vector<Step>& mine = after ? steps.after : steps.before;
    std::vector<int> todo = h.done;
    if (h.doing) todo.push_back(*h.doing);
    for (auto n = todo.rbegin(); n != todo.rend(); ++n) {
        if ((*n == 6) != after) continue;
        auto s = std::find_if(mine.begin(), mine.end(), [&](const Step& x) { return x.number == *n; });
        if (s == mine.end()) continue;
        const std::string label = "give back H" + std::to_string(*n);
        for (const Write& w : s->undo) {
            if (!applies(w, s->device)) {
                if (w.only == Write::Only::PlatformUnbound && !root_.exists(w.check))
                    report.notes.push_back(h.gpu.str() + ": " + w.check.filename().string() +
                                           " is gone (the kernel removes the firmware framebuffer when a driver "
                                           "takes the GPU): its console does not come back");
                continue;
            }
            if (auto st = apply(*s, w, label, report.warnings); !st) report.warnings.push_back(st.error().describe());
        }
        if (h.doing && *h.doing == *n)
            h.doing.reset();
        else
            std::erase(h.done, *n);
        if (auto st = save(j); !st) report.warnings.push_back(st.error().describe());
    }
    if (!after && h.done.empty() && !h.doing) {
        j.handoff.reset();
        if (auto st = save(j); !st) report.warnings.push_back(st.error().describe());
    }
}

void Engine::give_back_if_returned(journal::Journal& j, BindReport& report, Clock::time_point since) {
    if (!j.handoff || j.find(j.handoff->gpu)) return;
    const PciAddress gpu = j.handoff->gpu;
    give_back(j, /*after=*/true, report);
    give_back(j, /*after=*/false, report);
    report.notes.push_back(gpu.str() + ": the host's console and display are given back: " + timing(since));
}

std::string Engine::timing(Clock::time_point since) const {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since);
    const auto waited = waits_.unit + waits_.holders + waits_.drivers;
    return "done in " + std::to_string(took.count()) + " ms, " + std::to_string(waited.count()) +
           " ms of it waiting (display manager " + std::to_string(waits_.unit.count()) + " ms, holders " +
           std::to_string(waits_.holders.count()) + " ms, drivers " + std::to_string(waits_.drivers.count()) + " ms)";
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
    const auto since = Clock::now();
    j.state = std::string(journal::kReattaching);
    if (auto st = save(j); !st) {
        errors.push_back(st.error().describe());
        return false;
    }
    if (j.handoff) give_back(j, /*after=*/true, report);  // nvidia loaded before its GPU binds
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
    give_back_if_returned(j, report, since);
    Status saved = left.empty() && !j.handoff ? dir_.remove(j.owner) : save(j);
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
