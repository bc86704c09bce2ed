// A libvirt connection for virt-hostdev: opening it (and explaining why it
// could not be opened), and the few calls virt-hostdev makes. Every failure
// becomes a hostdev::Error carrying libvirt's own message.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/base/result.hpp"
#include "hostdev/binding/hotplug.hpp"

namespace hostdev::virt {

// Initializes libvirt before any thread may open a connection, and installs a
// silent error handler: libvirt would otherwise print every error on stderr
// itself, and virt-hostdev prints them once, with context.
void init_libvirt();

// libvirt's message for the last failed call on this thread ("" when none).
std::string last_libvirt_message();

struct DomainFree {
    void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainRef = std::unique_ptr<virDomain, DomainFree>;

// What virt-hostdev reads of one domain.
struct DomainInfo {
    std::string name;
    std::string uuid;
    bool persistent = true;
    bool autostart = false;
    bool active = false;
    std::optional<std::string> xml;  // the inactive definition
    std::optional<Error> error;      // why the definition could not be read
};

class Connection {
public:
    enum class Access { ReadOnly, ReadWrite };

    // uri nullopt: libvirt's default (LIBVIRT_DEFAULT_URI, uri_default, or probing).
    // Connections may be opened on several threads at once; each is then
    // used by the thread that opened it only.
    // On failure the Error explains the URI, the daemon and its socket,
    // permissions, or ssh, as fits the URI.
    static Result<Connection> open(const std::optional<std::string>& uri, Access access);

    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    // The URI libvirt says it is connected to.
    [[nodiscard]] const std::string& uri() const { return uri_; }

    // Every node device: its name, and its XML or why it could not be read.
    struct NodeDeviceXml {
        std::string name;
        Result<std::string> xml;
    };
    // progress(done, total) is called after each device.
    Result<std::vector<NodeDeviceXml>> node_devices(
        const std::function<void(std::size_t, std::size_t)>& progress) const;
    Result<std::string> capabilities() const;

    // Every persistent (defined) domain.
    Result<std::vector<DomainRef>> persistent_domains() const;
    // A domain by name, else by UUID, as virsh finds it.
    Result<DomainRef> lookup(const std::string& name_or_uuid) const;
    static DomainInfo describe(virDomainPtr dom);

    // A network's definition by name (virNetworkLookupByName,
    // virNetworkGetXMLDesc): what a domain's <interface type='network'> uses.
    Result<std::string> network_xml(const std::string& name) const;

    // Defines (or redefines) a domain from XML, validated by libvirt against
    // its schema.
    Result<DomainRef> define(const std::string& xml) const;

    // Every domain, running or defined, transient ones too.
    Result<std::vector<DomainRef>> all_domains() const;
    // What a hot-plug reads of a domain: its state, its live definition when
    // it runs, its persistent one when it has one.
    static Result<HotplugDomain> hotplug_view(virDomainPtr dom);

private:
    // virConnectListAllDomains with these flags.
    Result<std::vector<DomainRef>> list_domains(unsigned int flags) const;
    friend class LibvirtHotplug;
    explicit Connection(virConnectPtr conn, std::string uri) : conn_(conn), uri_(std::move(uri)) {}
    virConnectPtr conn_ = nullptr;
    std::string uri_;
};

// The hot-plug calls (binding/hotplug.hpp) through libvirt, on one domain of
// a connection.
class LibvirtHotplug : public HotplugApi {
public:
    // unplug_wait: how long a live detach waits for the guest to release the
    // device (libvirt returns while the guest may still hold it).
    LibvirtHotplug(const Connection& conn, virDomainPtr dom, std::chrono::milliseconds unplug_wait)
        : conn_(conn), dom_(dom), unplug_wait_(unplug_wait) {}

    Status detach_node(const std::string& node_device) override;
    Status reattach_node(const std::string& node_device) override;
    Status attach_device(const std::string& domain, const std::string& xml, Definition definition) override;
    Status detach_device(const std::string& domain, const std::string& xml, Definition definition,
                         const PciAddress& source) override;

private:
    const Connection& conn_;
    virDomainPtr dom_;
    std::chrono::milliseconds unplug_wait_;
};

// The explanation for a connection that failed: what was tried and what to
// check, one hint per line. `uri` is what the user gave ("" for the default).
std::string explain_connect_failure(const std::string& uri, const std::string& libvirt_message);

}  // namespace hostdev::virt
