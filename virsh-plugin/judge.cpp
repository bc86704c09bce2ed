#include "judge.hpp"

#include "commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "hostdev/host/sysfs.hpp"

namespace hostdev::virt {

Progress::Progress(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { clear(); }

void Progress::update(const std::string& what, std::size_t done, std::size_t total) {
    if (!enabled_ || total < 2) return;
    std::fprintf(stderr, "\r\033[Kvirt-hostdev: %s %zu/%zu", what.c_str(), done, total);
    std::fflush(stderr);
    shown_ = true;
}

void Progress::clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
}

std::optional<LibvirtHost> read_host_or_report(const Connection& conn,
                                               const std::optional<std::filesystem::path>& pci_ids) {
    Progress progress(true);
    auto host = read_libvirt_host(conn, pci_ids, progress);
    if (!host) {
        print_error(host.error().describe());
        return std::nullopt;
    }
    return std::move(*host);
}

std::optional<Connection> open_or_report(const std::optional<std::string>& uri, Connection::Access access) {
    auto conn = Connection::open(uri, access);
    if (!conn) {
        print_error(conn.error().describe());
        return std::nullopt;
    }
    return std::move(*conn);
}

std::shared_ptr<const SchemaValidator> schemas_or_report(const std::optional<std::filesystem::path>& dir) {
    auto validator = SchemaValidator::load(dir.value_or(SchemaValidator::default_dir()));
    if (!validator) {
        print_error(validator.error().describe());
        return nullptr;
    }
    return *validator;
}

Result<LibvirtHost> read_libvirt_host(const Connection& conn, const std::optional<std::filesystem::path>& pci_ids,
                                      Progress& progress) {
    auto listed = conn.node_devices(
        [&](std::size_t done, std::size_t total) { progress.update("reading node devices", done, total); });
    progress.clear();
    if (!listed) return listed.error();
    std::vector<Result<NodeDevice>> devices;
    devices.reserve(listed->size());
    for (const auto& nd : *listed) {
        if (nd.xml)
            devices.push_back(parse_nodedev_xml(*nd.xml, nd.name));
        else
            devices.push_back(nd.xml.error());
    }
    std::string cpu_vendor;
    if (auto caps = conn.capabilities()) cpu_vendor = cpu_vendor_from_capabilities(*caps);
    LibvirtHost lh = host_from_node_devices(devices, cpu_vendor);
    if (lh.host.devices.empty())
        lh.host.warnings.push_back("libvirt shows no PCI device on " + conn.uri() +
                                   " (its node-device driver may be missing: package libvirt-daemon-driver-nodedev "
                                   "or the node device daemon virtnodedevd)");
    resolve_names(lh.host, pci_ids);
    return lh;
}

namespace {}  // namespace

JudgedDomain invalid_domain(const std::string& name, const Error& error) {
    JudgedDomain d;
    d.info.name = name;
    d.result.file = name;
    d.result.status = FixStatus::Invalid;
    d.result.problems.push_back(Problem{Severity::Error, std::nullopt, error.describe()});
    return d;
}

namespace {

// The networks a domain uses that `networks` does not hold yet, read from the
// connection; one that cannot be read stays out (its domains get a note).
void read_used_networks(const Connection& conn, const Domain& domain, Networks& networks,
                        std::set<std::string>& tried) {
    for (const auto& i : domain.network_interfaces) {
        if (!tried.insert(i.network).second) continue;
        auto xml = conn.network_xml(i.network);
        if (!xml) continue;
        auto net = parse_network_xml(*xml, "network " + i.network);
        // A network without a name cannot be what the domain names: it stays out too.
        if (net && add_network(networks, std::move(*net), "network " + i.network)) continue;
    }
}

}  // namespace

std::vector<JudgedDomain> judge_domains(const Connection& conn, std::vector<DomainRef> domains, const LibvirtHost& lh,
                                        const SchemaValidator& validator, const PlanOptions& options,
                                        Progress& progress) {
    Networks networks;
    std::set<std::string> tried;
    const std::string hint =
        "it could not be read from " + conn.uri() + " (virsh -c " + conn.uri() + " net-list --all)";
    std::vector<JudgedDomain> out;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < domains.size(); ++i) {
        progress.update("reading domains", i + 1, domains.size());
        DomainInfo info = Connection::describe(domains[i].get());
        if (!seen.insert(info.uuid.empty() ? info.name : info.uuid).second) continue;
        JudgedDomain d;
        if (!info.xml) {
            d = invalid_domain(info.name, info.error.value_or(make_error("no definition")));
            d.info = std::move(info);
            out.push_back(std::move(d));
            continue;
        }
        d.result = fix_domain(*info.xml, info.name, lh.host, &validator, options);
        add_problems(d.result, host_use_problems(d.result.plan, lh));
        if (d.result.domain) read_used_networks(conn, *d.result.domain, networks, tried);
        add_network_problems(d.result, networks, lh.host, hint);
        d.info = std::move(info);
        out.push_back(std::move(d));
    }
    progress.clear();
    std::sort(out.begin(), out.end(), [](const JudgedDomain& a, const JudgedDomain& b) {
        return std::tie(a.info.name, a.info.uuid) < std::tie(b.info.name, b.info.uuid);
    });
    std::vector<DomainAssignment> assignments;
    assignments.reserve(out.size());
    for (const auto& d : out) assignments.push_back(assignment_of(d.info.name, d.info.autostart, d.result, lh.host));
    auto cross = cross_domain_problems(assignments);
    for (std::size_t i = 0; i < out.size(); ++i) add_problems(out[i].result, std::move(cross[i]));
    return out;
}

nlohmann::ordered_json domain_report(const JudgedDomain& d, const Host& host) {
    nlohmann::ordered_json j;
    j["domain"] = d.info.name;
    j["status"] = std::string(to_string(d.result.status));
    j["autostart"] = d.info.autostart;
    j["active"] = d.info.active;
    nlohmann::ordered_json rep = fix_report(d.result, host);
    if (rep["uuid"].is_null() && !d.info.uuid.empty()) rep["uuid"] = d.info.uuid;
    for (auto it = rep.begin(); it != rep.end(); ++it) {
        if (it.key() == "file" || it.key() == "domain" || it.key() == "status") continue;
        j[it.key()] = it.value();
    }
    return j;
}

std::string domain_explanation(const JudgedDomain& d, const Host& host) {
    // fix_explanation names each line "FILE (DOMAIN)": here the domain's name
    // alone says it.
    FixResult shown = d.result;
    shown.file = d.info.name;
    if (shown.domain) shown.domain->name.clear();
    return fix_explanation(shown, host);
}

}  // namespace hostdev::virt
