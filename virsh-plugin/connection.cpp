#include "connection.hpp"

#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "hostdev/domain/domain.hpp"

namespace hostdev::virt {
namespace {

void quiet_handler(void* /*user*/, virErrorPtr /*error*/) {}

// Frees a string libvirt allocated.
std::string take(char* s) {
    if (!s) return {};
    std::string out(s);
    std::free(s);
    return out;
}

Error libvirt_error(const std::string& what) {
    std::string msg = last_libvirt_message();
    return make_error(msg.empty() ? what : what + ": " + msg);
}

// The parts of a libvirt URI that decide how it connects:
// driver[+transport]://[user@]host[:port]/path[?query].
struct UriParts {
    std::string driver, transport, user, host, port, path, query;
};

// A query parameter's value, %XX decoded as libvirt decodes it ("" when absent).
std::string query_param(const std::string& query, const std::string& name) {
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = query.find_first_of("&;", start);
        if (end == std::string::npos) end = query.size();
        const std::string item = query.substr(start, end - start);
        if (item.rfind(name + "=", 0) == 0) {
            std::string raw = item.substr(name.size() + 1), out;
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                    std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
                    out += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
                    i += 2;
                } else {
                    out += raw[i];
                }
            }
            return out;
        }
        start = end + 1;
    }
    return {};
}

UriParts split_uri(const std::string& uri) {
    UriParts p;
    auto scheme_end = uri.find(':');
    if (scheme_end == std::string::npos) {
        p.driver = uri;  // an alias from libvirt.conf, or a bare driver name
        return p;
    }
    std::string scheme = uri.substr(0, scheme_end);
    auto plus = scheme.find('+');
    p.driver = scheme.substr(0, plus);
    if (plus != std::string::npos) p.transport = scheme.substr(plus + 1);
    std::string rest = uri.substr(scheme_end + 1);
    if (rest.rfind("//", 0) == 0) {
        rest = rest.substr(2);
        auto slash = rest.find('/');
        std::string authority = rest.substr(0, slash);
        rest = slash == std::string::npos ? std::string() : rest.substr(slash);
        if (auto at = authority.rfind('@'); at != std::string::npos) {
            p.user = authority.substr(0, at);
            authority = authority.substr(at + 1);
        }
        if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
            auto close = authority.find(']');
            p.host = authority.substr(0, close == std::string::npos ? std::string::npos : close + 1);
            if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
                p.port = authority.substr(close + 2);
        } else if (auto colon = authority.find(':'); colon != std::string::npos) {
            p.host = authority.substr(0, colon);
            p.port = authority.substr(colon + 1);
        } else {
            p.host = authority;
        }
    }
    const auto q = rest.find('?');
    p.path = rest.substr(0, q);
    if (q != std::string::npos) p.query = rest.substr(q + 1);
    return p;
}

struct SocketState {
    std::string path;
    bool exists = false;
    bool usable = false;  // may connect (write permission on a socket)
};

SocketState probe_socket(const std::string& path) {
    SocketState s{path, false, false};
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return s;
    s.exists = true;
    s.usable = ::access(path.c_str(), W_OK) == 0;
    return s;
}

}  // namespace

void init_libvirt() {
    virInitialize();
    virSetErrorFunc(nullptr, quiet_handler);
}

std::string last_libvirt_message() {
    virErrorPtr e = virGetLastError();
    if (!e || e->code == VIR_ERR_OK || !e->message) return {};
    return e->message;
}

std::string explain_connect_failure(const std::string& uri, const std::string& libvirt_message) {
    std::string out = "cannot connect to " + (uri.empty() ? std::string("libvirt's default URI") : uri);
    if (!libvirt_message.empty()) out += ": " + libvirt_message;
    auto hint = [&](const std::string& h) { out += "\n  hint: " + h; };
    if (uri.empty()) {
        hint(
            "no -c URI given: libvirt chose one from LIBVIRT_DEFAULT_URI, uri_default in libvirt.conf, or the running "
            "daemons; give one, e.g. -c qemu:///system");
        return out;
    }
    const UriParts p = split_uri(uri);
    if (p.driver == "test") {
        hint("the test driver takes test:///default or test:///ABSOLUTE/PATH/node.xml (a readable node file)");
        return out;
    }
    const bool remote = !p.host.empty() && p.host != "localhost" && p.transport != "unix";
    if (p.transport == "ssh" || p.transport == "libssh" || p.transport == "libssh2") {
        const std::string target = (p.user.empty() ? "" : p.user + "@") + p.host;
        const std::string keyfile = query_param(p.query, "keyfile");
        const std::string port_flag = p.port.empty() ? "" : "-p " + p.port + " ";
        // What ssh itself said, when libvirt passed it on: the cause, and what to do about it.
        if (libvirt_message.find("Permission denied (publickey") != std::string::npos) {
            hint(p.host + " refused the key: " +
                 (keyfile.empty()
                      ? "ssh offered the default keys of the user running virt-hostdev (~/.ssh/id_*, ssh-agent), "
                        "and none is"
                      : "the key " + keyfile + " (keyfile= in the URI) is not") +
                 " in the authorized_keys of " + (p.user.empty() ? "the remote user" : p.user) + " on " + p.host +
                 ". Add its public half there (ssh-copy-id " + port_flag +
                 (keyfile.empty() ? "" : "-i " + keyfile + ".pub ") + target + "), or give " +
                 (keyfile.empty() ? "" : "another ") + "key that is in the URI: ?keyfile=PATH" +
                 (p.user == "root" ? "; for root, sshd's PermitRootLogin must allow keys (prohibit-password)" : ""));
        } else if (libvirt_message.find("Host key verification failed") != std::string::npos) {
            hint("the host key of " + p.host + (p.port.empty() ? "" : " port " + p.port) +
                 " is unknown or has changed in the known_hosts of the user running virt-hostdev (ssh finds it in "
                 "the home directory passwd gives, not $HOME): check its fingerprint and add it (ssh-keyscan " +
                 port_flag + p.host + " >> ~/.ssh/known_hosts), or connect once by hand with ssh");
        } else if (libvirt_message.find("Connection refused") != std::string::npos) {
            hint("nothing accepts connections on " + p.host + " port " + (p.port.empty() ? "22" : p.port) +
                 ": is sshd running there, and listening on that port?");
        }
        hint("libvirt runs ssh to " + target + (p.port.empty() ? "" : " (port " + p.port + ")") + ": `ssh " +
             port_flag + (keyfile.empty() ? "" : "-i " + keyfile + " ") + target +
             " true` must succeed without a prompt (CI has no terminal: use a key or ssh-agent, and make the host "
             "key known by connecting once by hand)");
        hint("on " + p.host +
             ", libvirt must be installed and running (libvirtd, or virtqemud on hosts with modular "
             "daemons): systemctl status libvirtd virtqemud");
        hint("the remote user must be allowed to use " + p.driver + "://" + p.path +
             ": root, or a member of the libvirt group there");
        return out;
    }
    if (p.transport == "tls" || p.transport == "tcp" || (remote && p.transport.empty())) {
        hint("a " + (p.transport.empty() ? std::string("tls") : p.transport) + " connection needs " + p.host +
             "'s daemon to listen on the network (virtproxyd-tls.socket, or libvirtd --listen) and, for TLS, "
             "certificates on both sides; qemu+ssh://" +
             p.host + "/system is usually simpler");
        return out;
    }
    // A local daemon, reached through its UNIX socket.
    const bool session = p.path == "/session";
    std::string dir;
    if (session) {
        const char* runtime = std::getenv("XDG_RUNTIME_DIR");
        dir = runtime && *runtime ? std::string(runtime) + "/libvirt" : std::string();
    } else {
        dir = "/run/libvirt";
    }
    std::vector<SocketState> sockets;
    if (!dir.empty()) {
        const std::string daemon = "virt" + p.driver + "d";
        for (const std::string& name :
             {daemon + "-sock", daemon + "-sock-ro", std::string("libvirt-sock"), std::string("libvirt-sock-ro")})
            sockets.push_back(probe_socket(dir + "/" + name));
    }
    bool any = false, usable = false;
    std::string denied;
    for (const auto& s : sockets) {
        any = any || s.exists;
        usable = usable || s.usable;
        if (s.exists && !s.usable && denied.empty()) denied = s.path;
    }
    if (!any) {
        hint(std::string("no libvirt daemon socket in ") + (dir.empty() ? "$XDG_RUNTIME_DIR/libvirt" : dir) +
             ": the daemon is not running. Start it: " +
             (session ? "it starts by itself for your user unless autostart is off (virtqemud --daemon)"
                      : "systemctl start libvirtd (or virtqemud.socket on hosts with modular daemons)"));
    } else if (!usable) {
        hint("the daemon is running but " + denied +
             " is not writable for you (permission denied): run as root, or "
             "join the libvirt group (usermod -aG libvirt $USER, then log in again), or use qemu:///session for "
             "your own domains");
    }
    if (!session && ::geteuid() != 0)
        hint("not running as root: " + uri + " needs root, membership of the libvirt group, or a polkit rule");
    return out;
}

Result<Connection> Connection::open(const std::optional<std::string>& uri, Access access) {
    const unsigned flags = access == Access::ReadOnly ? VIR_CONNECT_RO : 0;
    virConnectPtr conn = virConnectOpenAuth(uri ? uri->c_str() : nullptr, virConnectAuthPtrDefault, flags);
    if (!conn) return make_error(explain_connect_failure(uri.value_or(""), last_libvirt_message()));
    std::string actual = take(virConnectGetURI(conn));
    if (actual.empty()) actual = uri.value_or("");
    return Connection(conn, std::move(actual));
}

Connection::Connection(Connection&& other) noexcept : conn_(other.conn_), uri_(std::move(other.uri_)) {
    other.conn_ = nullptr;
}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        if (conn_) virConnectClose(conn_);
        conn_ = other.conn_;
        uri_ = std::move(other.uri_);
        other.conn_ = nullptr;
    }
    return *this;
}

Connection::~Connection() {
    if (conn_) virConnectClose(conn_);
}

Result<std::vector<Connection::NodeDeviceXml>> Connection::node_devices(
    const std::function<void(std::size_t, std::size_t)>& progress) const {
    // All node devices (flags 0), not only VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV:
    // the devices below the PCI functions (interfaces, disks, USB and the
    // SCSI chain up to them) give the host uses, and the PCI functions are
    // told apart by their XML. Flags 0 is also what every version of the
    // test driver lists with.
    virNodeDevicePtr* devs = nullptr;
    const int n = virConnectListAllNodeDevices(conn_, &devs, 0);
    if (n < 0) return libvirt_error("cannot list the node devices of " + uri_);
    std::vector<NodeDeviceXml> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const char* name = virNodeDeviceGetName(devs[i]);
        std::string shown = name ? name : "(unnamed)";
        char* xml = virNodeDeviceGetXMLDesc(devs[i], 0);
        if (xml)
            out.push_back(NodeDeviceXml{shown, take(xml)});
        else
            out.push_back(NodeDeviceXml{shown, libvirt_error("cannot read node device " + shown)});
        virNodeDeviceFree(devs[i]);
        if (progress) progress(static_cast<std::size_t>(i + 1), static_cast<std::size_t>(n));
    }
    std::free(devs);
    return out;
}

Result<std::string> Connection::capabilities() const {
    char* caps = virConnectGetCapabilities(conn_);
    if (!caps) return libvirt_error("cannot read the capabilities of " + uri_);
    return take(caps);
}

Result<std::vector<DomainRef>> Connection::list_domains(unsigned int flags) const {
    virDomainPtr* doms = nullptr;
    const int n = virConnectListAllDomains(conn_, &doms, flags);
    if (n < 0) return libvirt_error("cannot list the domains of " + uri_);
    std::vector<DomainRef> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out.emplace_back(doms[i]);
    std::free(doms);
    return out;
}

Result<std::vector<DomainRef>> Connection::persistent_domains() const {
    return list_domains(VIR_CONNECT_LIST_DOMAINS_PERSISTENT);
}

Result<DomainRef> Connection::lookup(const std::string& name_or_uuid) const {
    if (virDomainPtr d = virDomainLookupByName(conn_, name_or_uuid.c_str())) return DomainRef(d);
    std::string by_name = last_libvirt_message();
    if (name_or_uuid.size() == VIR_UUID_STRING_BUFLEN - 1 || name_or_uuid.size() == 32) {
        if (virDomainPtr d = virDomainLookupByUUIDString(conn_, name_or_uuid.c_str())) return DomainRef(d);
    }
    return make_error("no domain named '" + name_or_uuid + "' on " + uri_ + (by_name.empty() ? "" : ": " + by_name) +
                      " (list them with: virsh -c " + uri_ + " list --all)");
}

DomainInfo Connection::describe(virDomainPtr dom) {
    DomainInfo info;
    if (const char* name = virDomainGetName(dom)) info.name = name;
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(dom, uuid) == 0) info.uuid = uuid;
    info.persistent = virDomainIsPersistent(dom) == 1;
    int autostart = 0;
    if (virDomainGetAutostart(dom, &autostart) == 0) info.autostart = autostart != 0;
    info.active = virDomainIsActive(dom) == 1;
    if (char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE))
        info.xml = take(xml);
    else
        info.error = libvirt_error("cannot read the definition of domain '" + info.name + "'");
    return info;
}

Result<std::string> Connection::network_xml(const std::string& name) const {
    virNetworkPtr net = virNetworkLookupByName(conn_, name.c_str());
    if (!net) return libvirt_error("no network named '" + name + "' on " + uri_);
    char* xml = virNetworkGetXMLDesc(net, 0);
    virNetworkFree(net);
    if (!xml) return libvirt_error("cannot read the definition of network '" + name + "'");
    return take(xml);
}

Result<DomainRef> Connection::define(const std::string& xml) const {
    virDomainPtr d = virDomainDefineXMLFlags(conn_, xml.c_str(), VIR_DOMAIN_DEFINE_VALIDATE);
    if (!d) return libvirt_error("libvirt refused the new definition");
    return DomainRef(d);
}

Result<std::vector<DomainRef>> Connection::all_domains() const { return list_domains(0); }

Result<HotplugDomain> Connection::hotplug_view(virDomainPtr dom) {
    HotplugDomain d;
    if (const char* name = virDomainGetName(dom)) d.name = name;
    d.active = virDomainIsActive(dom) == 1;
    d.persistent = virDomainIsPersistent(dom) == 1;
    int autostart = 0;
    if (d.persistent && virDomainGetAutostart(dom, &autostart) == 0) d.autostart = autostart != 0;
    if (d.active) {
        char* xml = virDomainGetXMLDesc(dom, 0);
        if (!xml) return libvirt_error("cannot read the live definition of domain '" + d.name + "'");
        d.live_xml = take(xml);
    }
    if (d.persistent) {
        char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (!xml) return libvirt_error("cannot read the definition of domain '" + d.name + "'");
        d.config_xml = take(xml);
    }
    return d;
}

namespace {

unsigned affect_flag(Definition d) { return d == Definition::Live ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG; }

// libvirt's message for a failed call, or the call's name.
Status failed(const char* call) {
    std::string msg = last_libvirt_message();
    return make_error(msg.empty() ? std::string(call) + " failed" : msg);
}

struct NodeDeviceFree {
    void operator()(virNodeDevicePtr d) const { virNodeDeviceFree(d); }
};
using NodeDeviceRef = std::unique_ptr<virNodeDevice, NodeDeviceFree>;

Result<NodeDeviceRef> node_device(virConnectPtr conn, const std::string& name) {
    virNodeDevicePtr d = virNodeDeviceLookupByName(conn, name.c_str());
    if (!d) return failed("virNodeDeviceLookupByName").error();
    return NodeDeviceRef(d);
}

}  // namespace

Status LibvirtHotplug::detach_node(const std::string& node) {
    auto d = node_device(conn_.conn_, node);
    if (!d) return d.error();
    if (virNodeDeviceDetachFlags(d->get(), "vfio", 0) < 0) return failed("virNodeDeviceDetachFlags");
    return ok_status();
}

Status LibvirtHotplug::reattach_node(const std::string& node) {
    auto d = node_device(conn_.conn_, node);
    if (!d) return d.error();
    if (virNodeDeviceReAttach(d->get()) < 0) return failed("virNodeDeviceReAttach");
    return ok_status();
}

Status LibvirtHotplug::attach_device(const std::string& /*domain*/, const std::string& xml, Definition definition) {
    if (virDomainAttachDeviceFlags(dom_, xml.c_str(), affect_flag(definition)) < 0)
        return failed("virDomainAttachDeviceFlags");
    return ok_status();
}

Status LibvirtHotplug::detach_device(const std::string& /*domain*/, const std::string& xml, Definition definition,
                                     const PciAddress& source) {
    if (virDomainDetachDeviceFlags(dom_, xml.c_str(), affect_flag(definition)) < 0)
        return failed("virDomainDetachDeviceFlags");
    if (definition == Definition::Config) return ok_status();
    // libvirt returns once it has asked the guest (after a few seconds of
    // waiting at most); the device leaves the live definition when the
    // guest's OS acknowledges the unplug. Nothing may return to the host
    // before that.
    const auto deadline = std::chrono::steady_clock::now() + unplug_wait_;
    while (true) {
        if (virDomainIsActive(dom_) == 0) return ok_status();  // the guest stopped: QEMU let go
        char* text = virDomainGetXMLDesc(dom_, 0);
        if (!text) return failed("virDomainGetXMLDesc");
        const std::string live = take(text);
        auto d = parse_domain_xml(live, "the live definition");
        if (!d) return d.error();
        const bool there = std::any_of(d->passthrough.begin(), d->passthrough.end(),
                                       [&](const PassthroughDevice& p) { return p.source == source; });
        if (!there) return ok_status();
        if (std::chrono::steady_clock::now() >= deadline)
            return make_error("the guest has not released it after " +
                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(unplug_wait_).count()) +
                              " s (--timeout): libvirt has asked it to, and it leaves when the guest's OS "
                              "acknowledges the unplug (a guest without a running OS never does)");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace hostdev::virt
