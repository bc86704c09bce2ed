#include "binder_cli.hpp"

#include "hostdev/base/fileio.hpp"
#include "hostdev/domain/domain.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_binder_options(CLI::App& cmd, BinderArgs& args) {
    cmd.add_option("--root", args.root, "Host root directory (default: root= in hostdev.conf, else /)")
        ->type_name("DIR")
        ->check(CLI::ExistingDirectory);
    cmd.add_option("--journal-dir", args.journal_dir, "Where journals live (default: ROOT/run/hostdev)")
        ->type_name("DIR");
}

void add_target_options(CLI::App& cmd, BinderArgs& args) {
    auto* addrs = cmd.add_option("ADDR", args.addresses, "PCI addresses (DDDD:BB:SS.F or BB:SS.F)");
    auto* dom =
        cmd.add_option("--domain", args.domain_file,
                       "A libvirt domain definition: its PCI hostdevs and hostdev interfaces, owned by its UUID")
            ->type_name("FILE")
            ->check(CLI::ExistingFile);
    addrs->excludes(dom);
}

Result<Target> resolve_target(const BinderArgs& args) {
    Target t{Owner::manual(), {}};
    if (args.domain_file) {
        auto text = fileio::read_file(*args.domain_file, kMaxDomainXmlBytes + 1);
        if (!text) return text.error();
        auto d = parse_domain_xml(*text, args.domain_file->string());
        if (!d) return d.error();
        auto owner = Owner::domain(d->uuid, d->name);
        if (!owner)
            return make_error(args.domain_file->string() + ": the domain has no valid <uuid>, which names its journal");
        t.owner = *owner;
        for (const auto& h : d->passthrough) t.devices.push_back(h.source);
        t.requests = detach_requests(d->passthrough, d->pins);
        return t;
    }
    if (args.addresses.empty()) return make_error("name devices (ADDR...) or a domain (--domain FILE)");
    for (const auto& s : args.addresses) {
        auto a = PciAddress::parse(s);
        if (!a) return a.error();
        t.devices.push_back(*a);
        t.requests.push_back({*a, std::nullopt});
    }
    return t;
}

Result<Config> effective_config(const BinderArgs& args) {
    auto c = load_config();
    if (!c) return c.error();
    if (args.root) {
        c->root = *args.root;
        if (!args.journal_dir) c->journal_dir.reset();
    }
    if (args.journal_dir) c->journal_dir = *args.journal_dir;
    return c;
}

Session::Session(Config c)
    : config(std::move(c)), root(config.root), io(root), binder(root, io, hostdev::binder_options(config)) {}

std::unique_ptr<Session> open_session(const BinderArgs& args, int& exit_code) {
    auto config = effective_config(args);
    if (!config) {
        print_error(config.error().describe());
        exit_code = exits::tool::kUsage;
        return nullptr;
    }
    return std::make_unique<Session>(std::move(*config));
}

int print_report(const BindReport& report, const char* nothing) {
    for (const auto& n : report.notes) print_note(n);
    for (const auto& w : report.warnings) print_warning(w);
    for (const auto& u : report.unreadable) print_error(u);
    std::string out;
    for (const auto& d : report.devices)
        out += d.device.str() + ": " + d.from.value_or("no driver") + " -> " + d.to.value_or("no driver") +
               (d.note.empty() ? "" : " (" + d.note + ")") + "\n";
    if (report.devices.empty()) out = std::string(nothing) + "\n";
    if (!emit(out, std::nullopt)) return exits::tool::kFailure;
    return report.unreadable.empty() ? exits::tool::kOk : exits::tool::kFailure;
}

}  // namespace hostdev::cli
