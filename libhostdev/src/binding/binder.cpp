// What the binder moves and who may hold it; the steps and their execution
// are the transaction engine's (transaction.hpp).
#include "hostdev/binding/binder.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "binding/transaction.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/host_setup.hpp"
#include "hostdev/host/parse.hpp"
#include "hostdev/host/sysfs.hpp"
#include "hostdev/policy/handoff.hpp"
#include "hostdev/policy/planner.hpp"

namespace hostdev {

namespace fs = std::filesystem;

BinderOptions binder_options(const Config& config) {
    BinderOptions o;
    if (config.journal_dir) o.journal_dir = *config.journal_dir;
    o.wait_timeout = config.wait_timeout;
    o.lock_timeout = config.lock_timeout;
    o.vfio_variants = config.vfio_variant_drivers;
    o.single_gpu_handoff = config.single_gpu_handoff;
    o.gpu_release_timeout = config.gpu_release_timeout;
    o.display_manager = config.display_manager;
    return o;
}

std::vector<DetachRequest> detach_requests(const std::vector<PassthroughDevice>& devices,
                                           const std::vector<DevicePin>& pins) {
    std::vector<DetachRequest> out;
    for (const auto& p : devices) {
        if (std::any_of(out.begin(), out.end(), [&](const DetachRequest& r) { return r.device == p.source; })) continue;
        auto pin = std::find_if(pins.begin(), pins.end(), [&](const DevicePin& x) { return x.address == p.source; });
        out.push_back({p.source, p.driver_model, pin == pins.end() ? std::nullopt : std::optional(*pin)});
    }
    std::sort(out.begin(), out.end(),
              [](const DetachRequest& a, const DetachRequest& b) { return a.device < b.device; });
    return out;
}

namespace {

Result<Host> read_current_host(const FsRoot& root, VariantMode mode, const std::vector<DetachRequest>& requested) {
    ReadOptions o;
    o.names = ReadOptions::Names::Skip;
    o.readiness = ReadOptions::Readiness::Skip;  // doctor's facts: not needed to move devices
    o.serials = ReadOptions::Serials::Skip;      // only pinned devices' serials are compared
    auto host = read_host(root, o);
    if (!host) return host;
    // modules.alias and libvirt's version choose each device's VFIO driver.
    if (mode != VariantMode::No) read_vfio_variant_setup(root, *host);
    std::vector<PciAddress> pinned;
    for (const auto& r : requested)
        if (r.pin && !r.pin->identity.serials.empty()) pinned.push_back(r.device);
    if (!pinned.empty()) read_serials(root, *host, pinned);
    return host;
}

std::vector<DetachRequest> plain(const std::vector<PciAddress>& requested) {
    std::vector<DetachRequest> out;
    for (const auto& a : requested) out.push_back({a, std::nullopt});
    return out;
}

// The devices that must go to a VFIO driver for `requested`, by the sibling policy.
Result<std::vector<const PciDevice*>> devices_to_move(const FsRoot& root, Host& host,
                                                      const std::vector<DetachRequest>& requested) {
    Domain d;
    for (const auto& r : requested) {
        PassthroughDevice h;
        h.source = r.device;
        d.passthrough.push_back(h);
        if (r.pin) d.pins.push_back(*r.pin);
    }
    PlanOptions po;
    po.hide_kvm = PlanOptions::HideKvm::Never;
    Plan plan = plan_domain(d, host, po);
    if (plan.blocked()) {
        // Only a refusal needs device names and every serial (the user reads
        // it, and where a pinned device is now): load them now and word the
        // plan again.
        resolve_names(host, std::nullopt);
        if (!d.pins.empty()) read_serials(root, host, {});
        plan = plan_domain(d, host, po);
        std::vector<std::string> msg;
        for (const auto& p : plan.problems)
            if (p.severity == Severity::Error) msg.push_back(p.message);
        return make_refusal("refused, nothing changed: " + join(msg, "; "));
    }
    std::vector<const PciDevice*> out;
    std::set<PciAddress> seen;
    for (const auto& g : plan.groups)
        for (const auto& m : g.members)
            if ((m.verdict == Verdict::Covered || m.verdict == Verdict::Injected) && seen.insert(m.address).second)
                if (const PciDevice* dev = host.find(m.address)) out.push_back(dev);
    return out;
}

bool held_by_readable(const journal::Contents& c, const PciAddress& a) {
    return std::any_of(c.journals.begin(), c.journals.end(), [&](const journal::Journal& j) { return j.find(a); });
}

bool on_vfio(const PciDevice& d, const Host& host) {
    return (d.driver && is_vfio_driver(*d.driver, host)) ||
           (d.driver_override && is_vfio_driver(*d.driver_override, host));
}

// Each moving device's VFIO driver: its own request's <driver model>, none for a sibling.
std::map<PciAddress, std::string> vfio_drivers(const Host& host, const std::vector<const PciDevice*>& moves,
                                               const std::vector<DetachRequest>& requested, VariantMode mode) {
    std::map<PciAddress, std::string> out;
    for (const PciDevice* d : moves) {
        std::optional<std::string> model;
        for (const auto& r : requested)
            if (r.device == d->address) model = r.driver_model;
        out[d->address] = choose_vfio_driver(*d, model, host, mode).driver;
    }
    return out;
}

// Ownership: a group held by another owner cannot be taken; nor, while a
// journal cannot be read, a group it could hold (a device on vfio-pci, or
// bound for it, that no readable journal holds, or one the file names).
Status check_holders(const journal::Contents& c, const Owner& owner, const std::vector<const PciDevice*>& moves,
                     const Host& host) {
    for (const auto& j : c.journals) {
        if (j.owner.key == owner.key) continue;
        for (const PciDevice* d : moves)
            for (const auto& held : j.devices)
                if (held.address == d->address || (d->iommu_group && held.group == *d->iommu_group))
                    return make_refusal("refused, nothing changed: IOMMU group " + std::to_string(held.group) + " (" +
                                        held.address.str() + ") is held by " + j.owner.describe() +
                                        "; stop it first, or run `hostdev recover` if it is not running");
    }
    for (const auto& u : c.unreadable) {
        if (u.path.filename() == journal::file_name(owner))
            return make_refusal("refused, nothing changed: the journal of " + owner.describe() +
                                " cannot be read: " + u.describe());
        for (const PciDevice* d : moves) {
            const bool named = std::find(u.mentioned.begin(), u.mentioned.end(), d->address) != u.mentioned.end();
            if (held_by_readable(c, d->address) || !(named || on_vfio(*d, host))) continue;
            return make_refusal("refused, nothing changed: IOMMU group " +
                                (d->iommu_group ? std::to_string(*d->iommu_group) : std::string("?")) + " (" +
                                d->address.str() + (on_vfio(*d, host) ? ", on a VFIO driver" : "") +
                                ") may be held by a journal that cannot be read: " + u.describe());
        }
    }
    return ok_status();
}

// The single-GPU handoff of the devices that will move (policy/handoff.hpp):
// what holds a display device is read only when one moves (a bounded scan of
// proc), never otherwise. A refusal: nothing may be written.
struct GpuHandoff {
    std::optional<journal::Handoff> record;
    std::vector<std::string> notes;  // the plan in sentences
};

Result<GpuHandoff> plan_gpu_handoff(const FsRoot& root, Host& host, const std::vector<const PciDevice*>& moves,
                                    const BinderOptions& o) {
    std::vector<PciAddress> moving;
    bool display = false;
    for (const PciDevice* d : moves) {
        if (d->driver && is_vfio_driver(*d->driver, host)) continue;  // it moved before
        moving.push_back(d->address);
        display = display || d->is_display();
    }
    if (!display) return GpuHandoff{};
    GpuHolderOptions go;
    go.display_manager = o.display_manager;
    host.gpu_holders = read_gpu_holders(root, go);
    if (auto t = root.read_file(root.proc("modules"), 1U << 20)) host.loaded_modules = parse::loaded_modules(*t);
    const HandoffPlan plan = plan_handoff(host, moving, HandoffSettings{o.single_gpu_handoff, o.gpu_release_timeout});
    if (plan.refusal) return make_refusal("refused, nothing changed: " + *plan.refusal);
    if (!plan.handoff) return GpuHandoff{};
    const Handoff& h = *plan.handoff;
    journal::Handoff r;
    r.gpu = h.gpu;
    r.stopped_unit = h.stop_unit;
    r.nodes = h.nodes;
    r.consoles = h.consoles;
    for (const auto& f : h.firmware) r.firmware.push_back({f.name, f.driver.value_or("")});
    r.modules_before = h.modules_before;
    r.modules_after = h.modules_after;
    return GpuHandoff{std::move(r), describe_handoff(h)};
}

// The journal of this detach and the plan of its steps, derived once.
struct Prepared {
    journal::Journal journal;
    std::vector<txn::Step> plan;
    BindReport report;
};

// The handoff's steps around the devices' steps: H1-H5 first, H6 last.
Status add_handoff(const FsRoot& root, Prepared& p, GpuHandoff handoff) {
    if (!handoff.record) return ok_status();
    if (p.journal.handoff)
        return make_error(handoff.record->gpu.str() + ": the journal of " + p.journal.owner.describe() +
                          " holds a handoff already (run `hostdev recover`)");
    const txn::HandoffSteps steps = txn::handoff_steps(root, *handoff.record);
    p.plan.insert(p.plan.begin(), steps.before.begin(), steps.before.end());
    p.plan.insert(p.plan.end(), steps.after.begin(), steps.after.end());
    p.journal.handoff = std::move(handoff.record);
    p.report.notes.insert(p.report.notes.end(), handoff.notes.begin(), handoff.notes.end());
    return ok_status();
}

// Records every device's original state (a device on a VFIO driver that this
// owner's journal holds keeps its record; one on a VFIO driver that no journal
// holds is not recorded) and plans its steps to its VFIO driver.
Prepared prepare(const FsRoot& root, const Owner& owner, const Host& host, const std::vector<const PciDevice*>& moves,
                 const std::map<PciAddress, std::string>& drivers, std::optional<journal::Journal> mine) {
    Prepared p{mine ? std::move(*mine)
                    : journal::Journal{owner, std::string(journal::kDetaching), {}, std::nullopt, std::nullopt},
               {},
               {}};
    p.journal.owner.name = owner.name;
    for (const PciDevice* dev : moves) {
        journal::Device* jd = p.journal.find(dev->address);
        if (dev->driver && is_vfio_driver(*dev->driver, host)) {
            const std::string on = "already on " + *dev->driver;
            p.report.devices.push_back(
                {dev->address, jd ? jd->original_driver : dev->driver, dev->driver, jd ? on : on + "; not recorded"});
            continue;
        }
        journal::Device fresh{dev->address, dev->iommu_group.value_or(-1), dev->driver, dev->driver_override, {}, {},
                              true,         drivers.at(dev->address)};
        if (jd && (jd->original_driver != dev->driver || jd->original_override != dev->driver_override))
            p.report.warnings.push_back(
                dev->address.str() + ": recorded on " + jd->original_driver.value_or("no driver") + ", found on " +
                dev->driver.value_or("no driver") + " (returned behind hostdev's back); it will return to " +
                dev->driver.value_or("no driver"));
        if (jd)
            *jd = fresh;
        else
            p.journal.devices.push_back(fresh);
        auto steps = txn::steps_for(root, fresh);
        p.plan.insert(p.plan.end(), steps.begin(), steps.end());
    }
    return p;
}

// The path a write really opens, for --dry-run: resolved inside the root (the
// attribute itself, else its directory).
fs::path really(const FsRoot& root, const fs::path& p) {
    if (auto r = root.resolve(p)) return *r;
    if (auto dir = root.resolve(p.parent_path())) return *dir / p.filename();
    return p;
}

// The VFIO drivers the pending devices go to whose driver directory is missing, in order.
std::vector<std::string> modules_to_load(const FsRoot& root, const journal::Journal& j) {
    std::vector<std::string> out;
    for (const auto& d : j.devices) {
        const std::string v = txn::vfio_driver_of(d);
        if (d.pending && !root.exists(root.pci_driver(v)) && std::find(out.begin(), out.end(), v) == out.end())
            out.push_back(v);
    }
    return out;
}

// Loads the VFIO drivers of the pending devices (vfio-pci first when any goes there).
Status load_vfio_drivers(txn::Engine& eng, const journal::Journal& j) {
    std::set<std::string> seen;
    for (const auto& d : j.devices)
        if (const std::string v = txn::vfio_driver_of(d); d.pending && seen.insert(v).second)
            HOSTDEV_TRY(eng.ensure_vfio_loaded(v));
    return ok_status();
}

void warn_unreadable(const journal::Contents& c, BindReport& report) {
    for (const auto& u : c.unreadable) report.warnings.push_back(u.describe());
}

}  // namespace

// ---------------------------------------------------------------- Binder

Binder::Binder(FsRoot root, KernelIo& io, BinderOptions options)
    : root_(std::move(root)),
      io_(io),
      options_(std::move(options)),
      journal_dir_(options_.journal_dir.empty() ? root_.run("hostdev") : options_.journal_dir) {}

Result<std::vector<PlannedWrite>> Binder::plan_detach(const std::vector<PciAddress>& requested,
                                                      const Owner& owner) const {
    return plan_detach(plain(requested), owner);
}

Result<std::vector<PlannedWrite>> Binder::plan_detach(const std::vector<DetachRequest>& requested,
                                                      const Owner& owner) const {
    auto host = read_current_host(root_, options_.vfio_variants, requested);
    if (!host) return host.error();
    auto moves = devices_to_move(root_, *host, requested);
    if (!moves) return moves.error();
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    auto contents = dir->read_all();
    if (!contents) return contents.error();
    HOSTDEV_TRY(check_holders(*contents, owner, *moves, *host));
    std::optional<journal::Journal> mine;
    for (const auto& j : contents->journals)
        if (j.owner.key == owner.key) mine = j;
    auto handoff = plan_gpu_handoff(root_, *host, *moves, options_);
    if (!handoff) return handoff.error();
    const auto drivers = vfio_drivers(*host, *moves, requested, options_.vfio_variants);
    Prepared p = prepare(root_, owner, *host, *moves, drivers, std::move(mine));
    HOSTDEV_TRY(add_handoff(root_, p, std::move(*handoff)));
    std::vector<PlannedWrite> out;
    for (const auto& m : modules_to_load(root_, p.journal))
        out.push_back({0, PciAddress{}, "load module " + m, "modprobe", m, {}});
    for (const auto& s : p.plan) {
        if (s.scope == txn::Step::Scope::Handoff && s.writes.empty())
            out.push_back({s.number,
                           s.device,
                           s.what,
                           {},
                           {},
                           "wait up to " + std::to_string(options_.gpu_release_timeout.count()) + " ms for " +
                               join(s.nodes) + " to be closed"});
        for (const auto& w : s.writes) {
            std::string command;
            if (w.kind == txn::Write::Kind::StopUnit) command = "systemctl stop " + w.value;
            if (w.kind == txn::Write::Kind::UnloadModule) command = "rmmod " + w.value;
            const fs::path path = w.kind == txn::Write::Kind::Sysfs ? really(root_, w.path) : fs::path();
            out.push_back({s.number, s.device, w.what, path, w.value, command});
        }
    }
    return out;
}

namespace {

// After an unwind: the devices held from before stay (state detached); the
// journal goes when nothing is left; one with devices not back is kept for
// `hostdev recover`.
Status settle(const journal::Directory& dir, journal::Journal& j, bool all_back) {
    if (!all_back) return dir.save(j);
    if (j.devices.empty()) return dir.remove(j.owner);
    j.state = std::string(journal::kDetached);
    return dir.save(j);
}

// The failure of a detach, after unwinding what it did.
Error roll_back(txn::Engine& eng, const journal::Directory& dir, journal::Journal& j, Error failure) {
    BindReport undone;
    std::vector<std::string> errors;
    const bool handoff = j.handoff.has_value();
    const bool all = eng.unwind(j, undone, errors);
    if (auto st = settle(dir, j, all); !st) errors.push_back(st.error().describe());
    if (errors.empty()) {
        // Nothing written (vfio-pci could not be loaded): nothing to roll back.
        if (eng.writes() > 0)
            failure.message += handoff ? "; rolled back: every device is on its original driver and the host has "
                                         "its console and display again"
                                       : "; rolled back: every device is on its original driver";
        if (!undone.warnings.empty()) failure.message += " (" + join(undone.warnings, "; ") + ")";
    } else {
        failure.message += "; ROLLBACK INCOMPLETE (journal kept for `hostdev recover`): " + join(errors, "; ");
    }
    return failure;
}

// An interrupted detach or reattach of the same owner is brought back first,
// as `recover` would, so this detach starts from the recorded originals.
Status finish_interrupted(txn::Engine& eng, const journal::Directory& dir, std::optional<journal::Journal>& mine,
                          BindReport& report) {
    if (!mine || mine->state == journal::kDetached) return ok_status();
    const std::string who = mine->owner.describe();
    std::vector<std::string> errors;
    if (mine->state == journal::kReattaching) {
        if (eng.return_all(*mine, "an interrupted reattach, finished", report, errors)) mine.reset();
    } else {
        const bool all = eng.unwind(*mine, report, errors);
        if (auto st = settle(dir, *mine, all); !st) errors.push_back(st.error().describe());
        if (all && mine->devices.empty()) mine.reset();
    }
    if (errors.empty()) return ok_status();
    return make_error("an earlier detach of " + who +
                      " was interrupted and cannot be undone (run `hostdev recover`): " + join(errors, "; "));
}

}  // namespace

Result<BindReport> Binder::detach(const Owner& owner, const std::vector<PciAddress>& requested) {
    return detach(owner, plain(requested));
}

Result<BindReport> Binder::detach(const Owner& owner, const std::vector<DetachRequest>& requested,
                                  std::optional<journal::Starter> starting) {
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::Yes);
    if (!dir) return dir.error();
    auto lock = dir->lock(options_.lock_timeout);
    if (!lock) return lock.error();
    auto host = read_current_host(root_, options_.vfio_variants, requested);
    if (!host) return host.error();
    auto moves = devices_to_move(root_, *host, requested);
    if (!moves) return moves.error();
    auto contents = dir->read_all();
    if (!contents) return contents.error();
    HOSTDEV_TRY(check_holders(*contents, owner, *moves, *host));

    txn::Engine eng(root_, io_, options_, *dir);
    std::optional<journal::Journal> mine;
    for (auto& j : contents->journals)
        if (j.owner.key == owner.key) mine = std::move(j);
    BindReport early;
    warn_unreadable(*contents, early);
    const bool interrupted = mine && mine->state != journal::kDetached;
    HOSTDEV_TRY(finish_interrupted(eng, *dir, mine, early));
    if (interrupted) {  // devices moved back: plan from the host as it is now
        host = read_current_host(root_, options_.vfio_variants, requested);
        if (!host) return host.error();
        moves = devices_to_move(root_, *host, requested);
        if (!moves) return moves.error();
    }
    auto handoff = plan_gpu_handoff(root_, *host, *moves, options_);
    if (!handoff) return handoff.error();
    Prepared p = prepare(root_, owner, *host, *moves, vfio_drivers(*host, *moves, requested, options_.vfio_variants),
                         std::move(mine));
    HOSTDEV_TRY(add_handoff(root_, p, std::move(*handoff)));
    p.report.warnings.insert(p.report.warnings.begin(), early.warnings.begin(), early.warnings.end());
    if (p.plan.empty()) return p.report;  // everything on vfio-pci already: nothing to record
    if (starting && !owner.is_manual()) p.journal.starting = std::move(starting);
    p.journal.state = std::string(journal::kDetaching);
    HOSTDEV_TRY(eng.save(p.journal));

    const auto started = std::chrono::steady_clock::now();
    Status st = load_vfio_drivers(eng, p.journal);
    if (st) st = eng.run(p.journal, p.plan, p.report);
    if (!st) return roll_back(eng, *dir, p.journal, st.error());
    p.journal.state = std::string(journal::kDetached);
    for (auto& d : p.journal.devices) d.pending = false;
    HOSTDEV_TRY(eng.save(p.journal));
    if (p.journal.handoff)
        p.report.notes.push_back(p.journal.handoff->gpu.str() +
                                 ": the host's console and display are handed over: " + eng.timing(started));
    return p.report;
}

namespace {

// One readable journal in recover.
// `starting`: the daemon that prepared the domain and has not called
// "started" yet is still alive.
void recover_one(txn::Engine& eng, const journal::Directory& dir, journal::Journal& j, bool running, bool starting,
                 BindReport& report, std::vector<std::string>& errors) {
    const std::string note = "recovered for " + j.owner.describe();
    if (j.state == journal::kDetached && running) {
        report.warnings.push_back(j.owner.describe() + " is running and holds " + std::to_string(j.devices.size()) +
                                  " device(s); kept");
        return;
    }
    if (j.state == journal::kDetached && starting) {
        report.warnings.push_back(j.owner.describe() + " is being started by " + j.starting->describe() +
                                  " (prepared, its QEMU not launched yet) and holds " +
                                  std::to_string(j.devices.size()) +
                                  " device(s); kept: the daemon runs the domain or calls release (should that start "
                                  "hang, stop it with virsh destroy, or return the devices with hostdev reattach)");
        return;
    }
    if (j.state == journal::kDetached || j.state == journal::kReattaching) {
        eng.return_all(j, note, report, errors);
        return;
    }
    // An interrupted detach or rollback: unwound from its steps.
    BindReport undone;
    const bool all = eng.unwind(j, undone, errors);
    for (auto& d : undone.devices) d.note = "rolled back: interrupted detach of " + j.owner.describe();
    report.devices.insert(report.devices.end(), undone.devices.begin(), undone.devices.end());
    report.warnings.insert(report.warnings.end(), undone.warnings.begin(), undone.warnings.end());
    if (!all || j.devices.empty() || running) {
        if (auto st = settle(dir, j, all); !st) errors.push_back(st.error().describe());
        return;
    }
    eng.return_all(j, note, report, errors);  // held from before, by a domain that is gone
}

}  // namespace

Status Binder::launched(const Owner& owner) {
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    if (!dir->exists()) return ok_status();
    auto lock = dir->lock(options_.lock_timeout);
    if (!lock) return lock.error();
    auto j = dir->read(owner);
    if (!j) return j.error();
    if (!*j || !(*j)->starting) return ok_status();
    (*j)->starting.reset();
    return dir->save(**j);
}

Result<BindReport> Binder::reattach(const Owner& owner) {
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    if (!dir->exists()) return BindReport{};
    auto lock = dir->lock(options_.lock_timeout);
    if (!lock) return lock.error();
    auto j = dir->read(owner);
    if (!j) return j.error();
    if (!*j) return BindReport{};
    txn::Engine eng(root_, io_, options_, *dir);
    BindReport report;
    std::vector<std::string> errors;
    const bool complete = (*j)->state == journal::kDetached || (*j)->state == journal::kReattaching;
    if (complete)
        eng.return_all(**j, "", report, errors);
    else  // a detach that did not finish
        recover_one(eng, *dir, **j, /*running=*/false, /*starting=*/false, report, errors);
    if (errors.empty()) return report;
    return make_error("not every device came back (journal kept): " + join(errors, "; "));
}

Result<BindReport> Binder::reattach_devices(const std::vector<PciAddress>& devices) {
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    std::optional<journal::Lock> lock;
    if (dir->exists()) {
        auto l = dir->lock(options_.lock_timeout);
        if (!l) return l.error();
        lock.emplace(std::move(*l));
    }
    auto contents = dir->read_all();
    if (!contents) return contents.error();
    txn::Engine eng(root_, io_, options_, *dir);
    BindReport report;
    std::vector<std::string> errors;
    for (const auto& a : devices) {
        auto j = std::find_if(contents->journals.begin(), contents->journals.end(),
                              [&](const journal::Journal& x) { return x.find(a); });
        if (j == contents->journals.end()) {
            errors.push_back(a.str() + ": no journal holds it (it was not detached by hostdev)");
            continue;
        }
        const journal::Device d = *j->find(a);
        const auto since = std::chrono::steady_clock::now();
        // The handoff's H6 first: nvidia is loaded before its GPU binds there.
        if (j->handoff && j->handoff->gpu == a) eng.give_back(*j, /*after=*/true, report);
        auto before = eng.live(a).driver;
        if (auto st = eng.restore(d, report.warnings); !st) {
            errors.push_back(st.error().describe());
            continue;
        }
        report.devices.push_back({a, before, eng.live(a).driver, ""});
        std::erase_if(j->devices, [&](const journal::Device& x) { return x.address == a; });
        eng.give_back_if_returned(*j, report, since);
        Status saved = j->devices.empty() && !j->handoff ? dir->remove(j->owner) : eng.save(*j);
        if (!saved) errors.push_back(saved.error().describe());
    }
    for (const auto& u : contents->unreadable) report.warnings.push_back(u.describe());
    if (!errors.empty()) return make_error(join(errors, "; "));
    return report;
}

Result<Binder::Survey> Binder::survey() const {
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    auto contents = dir->read_all();
    if (!contents) return contents.error();
    Survey out;
    for (const auto& j : contents->journals) {
        Holding h{j.owner, j.state, {}, std::nullopt, std::nullopt};
        if (journal::being_started(root_, j)) h.starting = j.starting->describe();
        for (const auto& d : j.devices)
            h.devices.push_back({d.address, d.group, d.original_driver, current_driver(d.address), j.state});
        if (j.handoff) {
            const journal::Handoff& x = *j.handoff;
            std::vector<std::string> took;
            if (x.stopped_unit) took.push_back(*x.stopped_unit + " stopped");
            for (int c : x.consoles) took.push_back("vtcon" + std::to_string(c) + " unbound");
            for (const auto& f : x.firmware) took.push_back(f.device + " unbound from " + f.driver);
            std::vector<std::string> mods = x.modules_before;
            mods.insert(mods.end(), x.modules_after.begin(), x.modules_after.end());
            if (!mods.empty()) took.push_back(join(mods) + " unloaded");
            h.handoff = x.gpu.str() + ": the host's console and display are handed over" +
                        (took.empty() ? std::string() : " (" + join(took) + ")") + "; they come back at release";
        }
        out.holdings.push_back(std::move(h));
    }
    out.unreadable = std::move(contents->unreadable);
    return out;
}

Result<std::vector<Binder::Holding>> Binder::status() const {
    auto s = survey();
    if (!s) return s.error();
    return std::move(s->holdings);
}

std::optional<std::string> Binder::current_driver(const PciAddress& device) const {
    auto t = root_.read_link(root_.pci_device(device.str()) / "driver");
    if (!t) return std::nullopt;
    return parse::link_basename(*t);
}

Result<BindReport> Binder::recover(const std::function<bool(const Owner&)>& is_running) {
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    if (!dir->exists()) return BindReport{};
    auto lock = dir->lock(options_.lock_timeout);
    if (!lock) return lock.error();
    auto contents = dir->read_all();
    if (!contents) return contents.error();
    txn::Engine eng(root_, io_, options_, *dir);
    BindReport report;
    std::vector<std::string> errors;
    for (auto& j : contents->journals)
        recover_one(eng, *dir, j, j.owner.is_manual() || is_running(j.owner), journal::being_started(root_, j), report,
                    errors);
    for (const auto& u : contents->unreadable) report.unreadable.push_back(u.describe());
    if (!errors.empty())
        return make_error("recover could not restore everything: " + join(errors, "; ") +
                          (report.unreadable.empty() ? "" : "; " + join(report.unreadable, "; ")));
    return report;
}

namespace {

// Is `dir` the directory `d` (spelled with or without a trailing slash, relative or not)?
bool same_dir(const fs::path& dir, const fs::path& d) {
    auto norm = [](const fs::path& p) {
        std::string s = fs::absolute(p).lexically_normal().string();
        while (s.size() > 1 && s.back() == '/') s.pop_back();
        return s;
    };
    return norm(dir) == norm(d);
}

}  // namespace

Result<Binder::Retired> Binder::retire_journal(const fs::path& file) {
    const fs::path parent = file.parent_path();
    if (!parent.empty() && !same_dir(parent, journal_dir_) && !same_dir(parent, root_.live_path(journal_dir_)))
        return make_error(file.string() + " is not in the journal directory " + journal_dir_.string());
    auto dir = journal::Directory::open(root_, journal_dir_, journal::Directory::Create::No);
    if (!dir) return dir.error();
    if (!dir->exists()) return make_error("no journal directory", journal_dir_.string(), ENOENT);
    auto lock = dir->lock(options_.lock_timeout);
    if (!lock) return lock.error();
    auto what = dir->inspect(file.filename().string());
    if (!what) return what.error();
    auto now = dir->retire(file.filename().string());
    if (!now) return now.error();
    return Retired{std::move(*what), journal_dir_ / *now};
}

}  // namespace hostdev
