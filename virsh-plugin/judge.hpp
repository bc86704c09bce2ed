// What check and fix share: the host as libvirt shows it, and every defined
// domain judged by hostdev-fix's pipeline (fix_domain) with the warnings only
// a connection can give (host uses libvirt shows, domains competing for a
// group).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "hostdev/domain/schema.hpp"
#include "hostdev/host/nodedev.hpp"
#include "hostdev/policy/fix.hpp"
#include "hostdev/policy/libvirt_checks.hpp"

namespace hostdev::virt {

// One line of progress on stderr, rewritten in place; only when stderr is a
// terminal and there is more than one item.
class Progress {
public:
    explicit Progress(bool enabled);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void update(const std::string& what, std::size_t done, std::size_t total);
    void clear();

private:
    bool enabled_ = false;
    bool shown_ = false;
};

// The host from the connection's node devices, with names resolved from the
// local pci.ids where libvirt gives none (class names always).
Result<LibvirtHost> read_libvirt_host(const Connection& conn, const std::optional<std::filesystem::path>& pci_ids,
                                      Progress& progress);

// The same, or why not on stderr (nullopt).
std::optional<LibvirtHost> read_host_or_report(const Connection& conn,
                                               const std::optional<std::filesystem::path>& pci_ids);

// The connection, or why not on stderr (nullopt).
std::optional<Connection> open_or_report(const std::optional<std::string>& uri, Connection::Access access);

// libvirt's schemas from `dir` (--schema-dir) or the installed ones, or why
// not on stderr (null).
std::shared_ptr<const SchemaValidator> schemas_or_report(const std::optional<std::filesystem::path>& dir);

struct JudgedDomain {
    DomainInfo info;
    FixResult result;
};

// Judges every persistent domain, plus `extra` (domains named by the user,
// which may be transient), and adds the checks across domains and the pools
// of the hostdev networks they use (each network read once from `conn`). A
// domain whose definition cannot be read is invalid. Sorted by name.
std::vector<JudgedDomain> judge_domains(const Connection& conn, std::vector<DomainRef> domains, const LibvirtHost& host,
                                        const SchemaValidator& validator, const PlanOptions& options,
                                        Progress& progress);

// A judged domain with no definition: a name that was not found, for example.
JudgedDomain invalid_domain(const std::string& name, const Error& error);

// The report of one domain: "domain", "status", "autostart", "active", then
// fix_report's keys (uuid, groups, changes, problems).
nlohmann::ordered_json domain_report(const JudgedDomain& d, const Host& host);
// The explanation of one domain in words, one line per fact, each line
// starting with the domain's name.
std::string domain_explanation(const JudgedDomain& d, const Host& host);

}  // namespace hostdev::virt
