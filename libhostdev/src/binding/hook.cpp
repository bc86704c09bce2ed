// The libvirt qemu hook's decisions, apart from its executable (hooks/main.cpp).
#include "hostdev/binding/hook.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "hostdev/binding/binder.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/base/fsroot.hpp"

namespace hostdev {
namespace {

constexpr int kRefuse = 1;

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

HookResult prepare(const Call& call, std::string_view xml, const Config& config, KernelIo& io) {
    HookResult r;
    auto domain = parse(xml);
    if (!domain) {
        r.exit_code = kRefuse;
        fail_line(r, call, "cannot read the domain XML: " + domain.error().describe());
        return r;
    }
    if (domain->pci_hostdevs.empty()) {
        r.log.push_back("prepare begin: no PCI hostdev, nothing to do");
        return r;
    }
    std::string problem;
    auto owner = owner_of(*domain, call, problem);
    if (!owner) {
        r.exit_code = kRefuse;
        fail_line(r, call, problem);
        return r;
    }
    std::vector<PciAddress> requested;
    requested.reserve(domain->pci_hostdevs.size());
    for (const auto& h : domain->pci_hostdevs) requested.push_back(h.source);
    std::sort(requested.begin(), requested.end());
    requested.erase(std::unique(requested.begin(), requested.end()), requested.end());

    Binder binder(FsRoot(config.root), io, binder_options(config));
    auto report = binder.detach(*owner, requested);
    if (!report) {
        r.exit_code = kRefuse;
        fail_line(r, call, report.error().describe());
        return r;
    }
    log_outcomes(r, *report);
    r.log.push_back("prepare begin: " + std::to_string(report->devices.size()) +
                    " device(s) on vfio-pci for " + owner->describe());
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
        fail_line(r, call, "cannot read the domain XML, devices not returned: " + domain.error().describe() +
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

HookResult reconnect(const Call& call, std::string_view xml, const Config& config, KernelIo& io) {
    HookResult r;  // always exit 0: a failed reconnect kills the running guest
    auto domain = parse(xml);
    if (!domain) {
        r.log.push_back("reconnect begin: cannot read the domain XML: " + one_line(domain.error().describe()));
        return r;
    }
    std::string problem;
    auto owner = owner_of(*domain, call, problem);
    if (!owner) {
        r.log.push_back("reconnect begin: " + one_line(problem));
        return r;
    }
    Binder binder(FsRoot(config.root), io, binder_options(config));
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
        const bool on_vfio = d.current_driver && *d.current_driver == "vfio-pci";
        std::string line = d.device.str() + ": ";
        if (on_vfio) {
            line += "on vfio-pci";
        } else {
            ++off;
            line += "NOT on vfio-pci (driver: " + driver_text(d.current_driver) + ")";
        }
        line += ", group " + std::to_string(d.group) + ", journal state " + d.state;
        r.log.push_back(std::move(line));
    }
    r.log.push_back("reconnect begin: " + owner->describe() + " holds " + std::to_string(mine->devices.size()) +
                    " device(s), journal state " + mine->state +
                    (off == 0 ? std::string(", all on vfio-pci")
                              : ", " + std::to_string(off) + " not on vfio-pci"));
    return r;
}

}  // namespace

bool hook_can_skip(std::string_view domain_xml) {
    return domain_xml.find("<hostdev") == std::string_view::npos;
}

HookResult run_hook(const std::vector<std::string>& args, std::string_view domain_xml, const Config& config,
                    KernelIo& io) {
    if (args.size() < 3) {
        HookResult r;
        r.exit_code = 1;
        r.stderr_text = "hostdev: usage: hostdev-hook NAME OPERATION SUBOP [EXTRA] (domain XML on stdin)";
        return r;
    }
    const Call call{args[0], args[1], args[2]};
    if (call.op == "prepare" && call.subop == "begin") {
        if (hook_can_skip(domain_xml)) return {};
        return prepare(call, domain_xml, config, io);
    }
    if (call.op == "release" && call.subop == "end") {
        // A domain whose last hostdev was hot-unplugged has none in its XML
        // any more but may still hold its group: look at the journals (no
        // sysfs, no lock) before skipping.
        if (hook_can_skip(domain_xml) && !any_journal(config)) return {};
        return release(call, domain_xml, config, io);
    }
    if (call.op == "reconnect" && call.subop == "begin") {
        if (hook_can_skip(domain_xml)) return {};
        return reconnect(call, domain_xml, config, io);
    }
    // migrate and restore: libvirt takes anything on stdout as replacement
    // XML; print nothing so the domain stays as it is. Every other operation:
    // nothing to do.
    return {};
}

}  // namespace hostdev
