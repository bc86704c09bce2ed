// The libvirt qemu hook's decisions, apart from its executable (hooks/main.cpp).
#include "hostdev/binding/hook.hpp"

#include <algorithm>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include "base/xml_scan.hpp"
#include "hostdev/base/exit_codes.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/binding/binder.hpp"
#include "hostdev/domain/domain.hpp"

namespace hostdev {
namespace {

constexpr int kRefuse = exits::hook::kRefused;

// libvirt shows the hook's stderr to the user as part of one error message:
// keep it to one line.
std::string one_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\n') {
            out += "; ";
        } else if (c == '\r' || c == '\t') {
            out += ' ';
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            out += '?';
        } else {
            out += c;
        }
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
    return out;
}

struct Call {
    std::string name;  // domain name as libvirt passed it
    std::string op, subop;
};

void fail_line(HookResult& r, const Call& call, std::string_view reason) {
    r.stderr_text = "hostdev: " + one_line(call.name) + ": " + one_line(reason);
    r.log.push_back(r.stderr_text);
}

std::string driver_text(const std::optional<std::string>& driver) {
    return driver ? *driver : std::string("(no driver)");
}

void log_outcomes(HookResult& r, const BindReport& report) {
    for (const auto& d : report.devices) {
        std::string line = d.device.str() + ": " + driver_text(d.from) + " -> " + driver_text(d.to);
        if (!d.note.empty()) line += " (" + d.note + ")";
        r.log.push_back(std::move(line));
    }
    for (const auto& n : report.notes) r.log.push_back(one_line(n));
    for (const auto& w : report.warnings) r.log.push_back("warning: " + one_line(w));
}

Result<Domain> parse(std::string_view xml) { return parse_domain_xml(xml, "domain XML on stdin"); }

std::optional<Owner> owner_of(const Domain& domain, const Call& call, std::string& problem) {
    if (domain.uuid.empty()) {
        problem = "no uuid in the domain XML: hostdev keys its journal by the domain's UUID";
        return std::nullopt;
    }
    auto owner = Owner::domain(domain.uuid, domain.name.empty() ? call.name : domain.name);
    if (!owner) {
        problem = owner.error().describe();
        return std::nullopt;
    }
    return std::move(owner).value();
}

// prepare begin, and start begin: detach the whole groups of every PCI
// passthrough device of the domain for its owner, journaled. At start begin
// the XML also names each device libvirt gave an <interface type='network'>
// from a hostdev network's pool (README "Hostdev networks"); libvirt has
// detached that device itself by then, so it is found on vfio-pci and not
// recorded, and only the rest of its group moves. Devices this owner already
// holds are on vfio-pci: nothing is written for them twice.
HookResult detach_groups(const Call& call, std::string_view xml, const Config& config, KernelIo& io, int caller_pid) {
    HookResult r;
    const std::string step = call.op + " " + call.subop;
    auto domain = parse(xml);
    if (!domain) {
        r.exit_code = kRefuse;
        fail_line(r, call, "cannot read the domain XML: " + domain.error().describe());
        return r;
    }
    if (domain->passthrough.empty()) {
        r.log.push_back(step + ": no PCI hostdev, nothing to do");
        return r;
    }
    std::string problem;
    auto owner = owner_of(*domain, call, problem);
    if (!owner) {
        r.exit_code = kRefuse;
        fail_line(r, call, problem);
        return r;
    }
    const FsRoot root(config.root);
    Binder binder(root, io, binder_options(config));
    // The daemon starting the domain, for recover until "started" (journal.hpp).
    std::optional<journal::Starter> starting;
    if (caller_pid > 1) starting = journal::starter_of(root, caller_pid);
    auto report = binder.detach(*owner, detach_requests(domain->passthrough, domain->pins), std::move(starting));
    if (!report) {
        r.exit_code = kRefuse;
        fail_line(r, call, report.error().describe());
        return r;
    }
    log_outcomes(r, *report);
    r.log.push_back(step + ": " + std::to_string(report->devices.size()) + " device(s) on VFIO drivers for " +
                    owner->describe());
    return r;
}

// Is there any journal at all (readable or not)? Cheap: one directory
// listing, no entry opened.
bool any_journal(const Config& config) {
    const FsRoot root(config.root);
    auto dir = journal::Directory::open(root, config.journal_dir.value_or(root.run("hostdev")),
                                        journal::Directory::Create::No);
    return dir && dir->any();
}

HookResult release(const Call& call, std::string_view xml, const Config& config, KernelIo& io) {
    HookResult r;  // always exit 0: libvirt ignores failures here
    auto domain = parse(xml);
    if (!domain) {
        fail_line(r, call,
                  "cannot read the domain XML, devices not returned: " + domain.error().describe() +
                      " (run 'hostdev recover')");
        return r;
    }
    std::string problem;
    auto owner = owner_of(*domain, call, problem);
    if (!owner) {
        // Without a UUID prepare refused: nothing can be held for this domain.
        r.log.push_back("release end: " + one_line(problem) + ", nothing to return");
        return r;
    }
    Binder binder(FsRoot(config.root), io, binder_options(config));
    auto report = binder.reattach(*owner);
    if (!report) {
        fail_line(r, call, "devices not all returned to the host: " + report.error().describe());
        return r;
    }
    log_outcomes(r, *report);
    r.log.push_back("release end: " + std::to_string(report->devices.size()) + " device(s) returned for " +
                    owner->describe());
    return r;
}

// started begin (and reconnect begin): the domain's QEMU runs, so its journal
// forgets the daemon that was starting it. Never fails the step.
void forget_starter(HookResult& r, const std::string& step, const Owner& owner, Binder& binder) {
    if (auto st = binder.launched(owner); !st)
        r.log.push_back(step + ": warning: cannot mark " + owner.describe() +
                        " as launched in its journal: " + one_line(st.error().describe()));
}

// The owner of the domain, for a step that never fails (started, reconnect):
// a domain XML or a UUID that cannot be read is logged, and nullopt.
std::optional<Owner> logged_owner(HookResult& r, const std::string& step, const Call& call, std::string_view xml) {
    auto domain = parse(xml);
    if (!domain) {
        r.log.push_back(step + ": cannot read the domain XML: " + one_line(domain.error().describe()));
        return std::nullopt;
    }
    std::string problem;
    auto owner = owner_of(*domain, call, problem);
    if (!owner) r.log.push_back(step + ": " + one_line(problem));
    return owner;
}

HookResult started(const Call& call, std::string_view xml, const Config& config, KernelIo& io) {
    HookResult r;  // always exit 0: the guest runs already
    auto owner = logged_owner(r, "started begin", call, xml);
    if (!owner) return r;
    Binder binder(FsRoot(config.root), io, binder_options(config));
    forget_starter(r, "started begin", *owner, binder);
    return r;
}

HookResult reconnect(const Call& call, std::string_view xml, const Config& config, KernelIo& io) {
    HookResult r;  // always exit 0: a failed reconnect kills the running guest
    auto owner = logged_owner(r, "reconnect begin", call, xml);
    if (!owner) return r;
    Binder binder(FsRoot(config.root), io, binder_options(config));
    forget_starter(r, "reconnect begin", *owner, binder);
    auto survey = binder.survey();
    if (!survey) {
        r.log.push_back("reconnect begin: cannot read the journals: " + one_line(survey.error().describe()));
        return r;
    }
    for (const auto& u : survey->unreadable) r.log.push_back("reconnect begin: warning: " + one_line(u.describe()));
    const Binder::Holding* mine = nullptr;
    for (const auto& h : survey->holdings) {
        if (h.owner.key == owner->key) mine = &h;
    }
    if (mine == nullptr) {
        const auto& bad = survey->unreadable;
        const bool unreadable = std::any_of(bad.begin(), bad.end(), [&](const journal::Unreadable& u) {
            return u.path.filename() == journal::file_name(*owner);
        });
        r.log.push_back(unreadable ? "reconnect begin: the journal of " + owner->describe() + " cannot be read (above)"
                                   : "reconnect begin: no devices held for " + owner->describe());
        return r;
    }
    std::size_t off = 0;
    for (const auto& d : mine->devices) {
        const bool on_vfio = d.current_driver && is_vfio_driver(*d.current_driver);
        std::string line = d.device.str() + ": ";
        if (on_vfio) {
            line += "on " + *d.current_driver;
        } else {
            ++off;
            line += "NOT on a VFIO driver (driver: " + driver_text(d.current_driver) + ")";
        }
        line += ", group " + std::to_string(d.group) + ", journal state " + d.state;
        r.log.push_back(std::move(line));
    }
    r.log.push_back(
        "reconnect begin: " + owner->describe() + " holds " + std::to_string(mine->devices.size()) +
        " device(s), journal state " + mine->state +
        (off == 0 ? std::string(", all on VFIO drivers") : ", " + std::to_string(off) + " not on a VFIO driver"));
    return r;
}

}  // namespace

// ---------------------------------------------------------------- the fast path

namespace {

using detail::ScanElement;

// The raw value of an attribute, nullopt when absent. A value holding a
// reference (&#112;ci) is not decoded here: `maybe` tells the caller.
std::optional<std::string_view> raw_attr(const ScanElement& e, std::string_view xml, std::string_view name) {
    const auto* a = e.attr(name);
    if (a == nullptr) return std::nullopt;
    return xml.substr(a->value_begin, a->value_end - a->value_begin);
}

// Whether an attribute is `want`: a value with a reference counts, so that
// the parser, which decodes it, decides.
bool attr_may_be(const ScanElement& e, std::string_view xml, std::string_view name, std::string_view want) {
    auto v = raw_attr(e, xml, name);
    return v && (*v == want || v->find('&') != std::string_view::npos);
}

// <hostdev mode='subsystem' type='pci'>; libvirt's default mode is subsystem.
bool is_pci_hostdev(const ScanElement& e, std::string_view xml) {
    return (!e.attr("mode") || attr_may_be(e, xml, "mode", "subsystem")) && attr_may_be(e, xml, "type", "pci");
}

// <interface type='hostdev'>: an SR-IOV VF or any PCI NIC, a PCI hostdev to libvirt.
bool is_hostdev_interface(const ScanElement& e, std::string_view xml) { return attr_may_be(e, xml, "type", "hostdev"); }

// The elements of a domain that pass a host PCI device through: a child of
// <domain>'s child `parent`, named `name`, for which `matches` holds. One
// line per kind of element.
struct PassthroughElement {
    std::string_view parent;
    std::string_view name;
    bool (*matches)(const ScanElement&, std::string_view xml);
};
constexpr PassthroughElement kPassthroughElements[] = {
    {"devices", "hostdev", is_pci_hostdev},
    {"devices", "interface", is_hostdev_interface},
};

bool passes_pci_through(std::string_view xml) {
    // An element name is never spelled by a reference: without "<hostdev"
    // or "<interface" (each kind's name) in the text there is no such element.
    const bool named = std::any_of(
        std::begin(kPassthroughElements), std::end(kPassthroughElements),
        [&](const PassthroughElement& k) { return xml.find("<" + std::string(k.name)) != std::string_view::npos; });
    if (!named) return false;
    const detail::XmlSkeleton doc = detail::scan_xml(xml, kMaxDomainXmlDepth);
    if (doc.error.kind != detail::ScanError::Kind::none) return true;  // the parser refuses it, with the line
    if (doc.elements.empty() || doc.elements[0].name != "domain") return false;
    for (const ScanElement& e : doc.elements) {
        if (e.depth != 3) continue;
        const std::string_view parent = doc.elements[static_cast<std::size_t>(e.parent)].name;
        for (const auto& k : kPassthroughElements)
            if (e.name == k.name && parent == k.parent && k.matches(e, xml)) return true;
    }
    return false;
}

// The lifecycle steps the hook acts on, from argv (NAME OPERATION SUBOP).
enum class Step { Prepare, Start, Started, Release, Reconnect, Other };

Step step_of(const std::vector<std::string>& args) {
    if (args.size() < 3) return Step::Other;
    if (args[1] == "prepare" && args[2] == "begin") return Step::Prepare;
    if (args[1] == "start" && args[2] == "begin") return Step::Start;
    if (args[1] == "started" && args[2] == "begin") return Step::Started;
    if (args[1] == "release" && args[2] == "end") return Step::Release;
    if (args[1] == "reconnect" && args[2] == "begin") return Step::Reconnect;
    return Step::Other;
}

HookResult usage() {
    HookResult r;
    r.exit_code = kRefuse;
    r.stderr_text = "hostdev: usage: hostdev-hook NAME OPERATION SUBOP [EXTRA] (domain XML on stdin)";
    return r;
}

}  // namespace

bool hook_can_skip(std::string_view domain_xml) { return !passes_pci_through(domain_xml); }

HookResult run_hook(const std::vector<std::string>& args, std::string_view domain_xml, const Config& config,
                    KernelIo& io, int caller_pid) {
    if (args.size() < 3) return usage();
    const Call call{args[0], args[1], args[2]};
    switch (step_of(args)) {
        case Step::Prepare:
        case Step::Start:
            if (hook_can_skip(domain_xml)) return {};
            return detach_groups(call, domain_xml, config, io, caller_pid);
        case Step::Started:
            if (hook_can_skip(domain_xml) || !any_journal(config)) return {};
            return started(call, domain_xml, config, io);
        case Step::Release:
            // A domain whose last hostdev was hot-unplugged has none in its XML
            // any more but may still hold its group: look at the journals (no
            // sysfs, no lock) before skipping.
            if (hook_can_skip(domain_xml) && !any_journal(config)) return {};
            return release(call, domain_xml, config, io);
        case Step::Reconnect:
            if (hook_can_skip(domain_xml)) return {};
            return reconnect(call, domain_xml, config, io);
        case Step::Other: break;
    }
    // migrate and restore: libvirt takes anything on stdout as replacement
    // XML; print nothing so the domain stays as it is. Every other operation:
    // nothing to do.
    return {};
}

// ---------------------------------------------------------------- the process

namespace {

std::string printable(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out.empty() ? std::string("-") : out;
}

// "<time> NAME OP SUBOP rc": one line per call, for log_file.
std::string log_line(const std::vector<std::string>& args, int rc) {
    char when[64] = "-";
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    if (localtime_r(&now, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
    std::string line = when;
    for (std::size_t i = 0; i < 3; ++i) line += ' ' + printable(i < args.size() ? std::string_view(args[i]) : "");
    return line + ' ' + std::to_string(rc) + '\n';
}

// Steps whose failure must stop the start: the groups are not all on vfio-pci.
bool refuses(Step step) { return step == Step::Prepare || step == Step::Start; }

// The refusal or complaint of the front itself (input too large, bad
// configuration): one line; only a refused prepare or start exits non-zero.
HookResult complaint(const std::vector<std::string>& args, std::string_view reason) {
    HookResult r;
    r.exit_code = refuses(step_of(args)) ? exits::hook::kRefused : exits::hook::kOk;
    r.stderr_text = "hostdev: " + one_line(args.empty() ? "" : args[0]) + ": " + one_line(reason);
    r.log.push_back(r.stderr_text);
    return r;
}

HookOutcome outcome_of(const HookResult& r, const std::vector<std::string>& args) {
    HookOutcome o;
    o.exit_code = r.exit_code;
    o.stderr_text = r.stderr_text;
    for (const auto& line : r.log)
        o.syslog.push_back({line == r.stderr_text ? HookLogLevel::Error : HookLogLevel::Info, line});
    o.log_line = log_line(args, r.exit_code);
    return o;
}

// The log_file line is best effort: a configuration that cannot be read is
// a syslog warning, never a failure.
void add_log_file(HookOutcome& o, const Result<Config>& config) {
    if (!config) {
        o.syslog.push_back({HookLogLevel::Warning, "no log_file line: " + one_line(config.error().describe())});
        return;
    }
    o.log_file = config->log_file;
}

}  // namespace

HookOutcome run_hook(const HookInvocation& call, KernelIo* io) {
    const auto& args = call.args;
    if (args.size() < 3) return outcome_of(usage(), args);
    const Step step = step_of(args);
    // Decided from argv and the domain's elements before anything is read.
    // (release also has work when the domain's last hostdev was hot-unplugged:
    // run_hook looks for a journal then.)
    const bool nothing =
        step == Step::Other || (call.xml_complete && step != Step::Release && hook_can_skip(call.domain_xml));
    if (nothing) {
        HookOutcome o = outcome_of(HookResult{}, args);
        add_log_file(o, load_config());
        return o;
    }
    if (!call.xml_complete) {
        HookOutcome o = outcome_of(complaint(args, "the domain XML on stdin is larger than " +
                                                       std::to_string(kMaxHookStdinBytes >> 20) + " MiB"),
                                   args);
        add_log_file(o, load_config());
        return o;
    }
    auto config = load_config();
    if (!config) return outcome_of(complaint(args, "bad configuration: " + config.error().describe()), args);
    HookOutcome o;
    if (io != nullptr) {
        o = outcome_of(run_hook(args, call.domain_xml, *config, *io, call.caller_pid), args);
    } else {
        SysfsKernelIo kernel{FsRoot(config->root)};
        o = outcome_of(run_hook(args, call.domain_xml, *config, kernel, call.caller_pid), args);
    }
    add_log_file(o, config);
    return o;
}

HookOutcome hook_outcome_of_exception(const std::vector<std::string>& args, std::string_view what) {
    std::string reason = "internal error: " + std::string(what.empty() ? "unknown exception" : what);
    if (refuses(step_of(args))) reason += " (run 'hostdev status' to see what is held)";
    return outcome_of(complaint(args, reason), args);
}

}  // namespace hostdev
