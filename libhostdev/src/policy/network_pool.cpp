#include "hostdev/policy/network_pool.hpp"

#include <set>

#include "hostdev/policy/policy.hpp"

namespace hostdev {
namespace {

constexpr std::string_view kVfio = "vfio-pci";

class PoolJudge {
public:
    PoolJudge(const Network& network, const Host& host) : net_(network), host_(host) {}

    std::vector<Problem> run() {
        if (net_.pfs.empty() && net_.addresses.empty())
            add(Severity::Error, std::nullopt,
                "network '" + net_.name + "' forwards in hostdev mode (line " + std::to_string(net_.forward_line) +
                    " of its definition) but has no <pf> and no <address>: libvirt has no device to give");
        std::vector<PciAddress> pool;
        for (const auto& pf : net_.pfs) add_virtual_functions(pf, pool);
        for (const auto& a : net_.addresses) pool.push_back(a.address);
        std::set<PciAddress> seen;
        for (const auto& a : pool)
            if (seen.insert(a).second) judge(a);
        return std::move(problems_);
    }

private:
    void add(Severity s, std::optional<PciAddress> d, std::string msg) {
        problems_.push_back(Problem{s, d, std::move(msg)});
    }
    [[nodiscard]] std::string in_pool() const { return " in the pool of network '" + net_.name + "'"; }

    // <pf dev=...>: the pool is the virtual functions of that interface's device.
    void add_virtual_functions(const NetworkPf& pf, std::vector<PciAddress>& pool) {
        const PciDevice* d = host_.find_netdev(pf.dev);
        if (!d) {
            add(Severity::Error, std::nullopt,
                "network '" + net_.name + "': pf dev '" + pf.dev + "' (line " + std::to_string(pf.line) +
                    " of its definition) is not a network interface of any PCI device on this host; libvirt cannot "
                    "start a domain on it (check the name; a host snapshot taken before hostdev recorded interface "
                    "names has none: take it again)");
            return;
        }
        if (d->virtfns.empty()) {
            add(Severity::Error, d->address,
                describe_device(*d) + ", pf dev '" + pf.dev + "' of network '" + net_.name +
                    "', has no SR-IOV virtual functions: libvirt has no device to give (create them through the "
                    "PF's sriov_numvfs)");
            return;
        }
        pool.insert(pool.end(), d->virtfns.begin(), d->virtfns.end());
    }

    void judge(const PciAddress& a) {
        const PciDevice* d = host_.find(a);
        if (!d) {
            add(Severity::Error, a,
                a.str() + in_pool() +
                    " is not on this host: no such PCI device (check the network's <address>, "
                    "or the host snapshot)");
            return;
        }
        if (auto refusal = refusal_of_request(*d)) {
            add(Severity::Error, a, *refusal + " (it is" + in_pool() + ")");
            return;
        }
        const IommuGroup* g = host_.group_of(a);
        if (!g) {
            add(Severity::Error, a, describe_device(*d) + in_pool() + " has no IOMMU group: it cannot be assigned");
            return;
        }
        for (const auto& other : g->members)
            if (other != a) judge_sibling(*d, g->number, other);
    }

    void judge_sibling(const PciDevice& d, int group, const PciAddress& other) {
        const std::string shares =
            describe_device(d) + in_pool() + " shares IOMMU group " + std::to_string(group) + " with ";
        const PciDevice* m = host_.find(other);
        if (!m) {
            add(Severity::Error, d.address,
                shares + other.str() + ", which the host does not describe: a domain given this device cannot start");
            return;
        }
        const Departure dep = departure_of(*m);
        if (dep.kind == Departure::Kind::Blocked) {
            add(Severity::Error, d.address,
                shares + describe_device(*m) + ", which cannot leave the host (" + dep.reason +
                    "): a domain given this device cannot start; take it out of the pool");
        } else if (dep.kind == Departure::Kind::Goes && m->driver && *m->driver != kVfio) {
            add(Severity::Warning, d.address,
                shares + describe_device(*m) + " (on " + *m->driver +
                    "): libvirt detaches only the device it gives the domain; the hostdev hook moves the rest of "
                    "the group to vfio-pci at 'start begin' and returns it at release (without the hook QEMU "
                    "refuses the group as not viable)");
        }
    }

    const Network& net_;
    const Host& host_;
    std::vector<Problem> problems_;
};

}  // namespace

Status add_network(Networks& networks, Network network, std::string_view file) {
    std::string name = network.name;
    if (name.empty()) return make_error(std::string(file) + ": the network definition has no <name>");
    auto [it, fresh] = networks.emplace(name, std::move(network));
    if (!fresh) return make_error(std::string(file) + ": network '" + name + "' is given twice");
    return ok_status();
}

std::vector<Problem> judge_network_pools(const Domain& domain, const Networks& networks, const Host& host,
                                         std::string_view not_given_hint) {
    std::vector<Problem> out;
    std::set<std::string, std::less<>> judged;
    for (const auto& i : domain.network_interfaces) {
        if (!judged.insert(i.network).second) continue;
        auto it = networks.find(i.network);
        if (it == networks.end()) {
            out.push_back(Problem{Severity::Note, std::nullopt,
                                  "network '" + i.network + "' (interface on line " + std::to_string(i.line) +
                                      ") not given: its pool was not checked; " + std::string(not_given_hint)});
            continue;
        }
        if (!it->second.is_hostdev()) continue;
        auto found = PoolJudge(it->second, host).run();
        out.insert(out.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
    }
    return out;
}

}  // namespace hostdev
