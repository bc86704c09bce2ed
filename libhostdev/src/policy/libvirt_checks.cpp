#include "hostdev/policy/libvirt_checks.hpp"

#include <set>

#include "hostdev/base/text.hpp"

namespace hostdev {

DomainAssignment assignment_of(std::string name, bool autostart, const FixResult& result, const Host& host) {
    DomainAssignment a;
    a.name = std::move(name);
    a.autostart = autostart;
    for (const auto& g : result.plan.groups) a.groups.push_back(g.group);
    if (result.domain) {
        for (const auto& h : result.domain->passthrough) {
            const PciDevice* dev = host.find(h.source);
            if (!dev || !dev->iommu_group) a.ungrouped.push_back(h.source);
        }
    }
    return a;
}

std::vector<Problem> host_use_problems(const Plan& plan, const LibvirtHost& lh) {
    std::vector<Problem> out;
    std::set<PciAddress> done;
    for (const auto& g : plan.groups) {
        for (const auto& m : g.members) {
            if (m.verdict != Verdict::Covered && m.verdict != Verdict::Injected) continue;
            if (!done.insert(m.address).second) continue;
            auto it = lh.uses.find(m.address);
            if (it == lh.uses.end()) continue;
            std::vector<std::string> what;
            for (const auto& u : it->second) {
                if (u.kind == HostUse::Kind::NetworkInterface)
                    what.push_back("network interface " + u.name);
                else if (u.kind == HostUse::Kind::Disk)
                    what.push_back("disk " + u.name);
            }
            if (what.empty()) continue;
            const PciDevice* d = lh.host.find(m.address);
            out.push_back(Problem{
                Severity::Warning, m.address,
                (d ? describe_device(*d) : m.address.str()) + " has the host's " + join_sentence(what) +
                    " (as libvirt shows it now) and leaves the host with the domain; libvirt does not show whether "
                    "the host needs " +
                    (what.size() == 1 ? "it" : "them") +
                    " (root filesystem, default route): check with hostdev-fix --host and a snapshot taken on the "
                    "host (hostdev snapshot)"});
        }
    }
    return out;
}

std::vector<std::vector<Problem>> cross_domain_problems(const std::vector<DomainAssignment>& domains) {
    std::vector<std::vector<Problem>> out(domains.size());
    for (std::size_t i = 0; i < domains.size(); ++i) {
        for (std::size_t j = i + 1; j < domains.size(); ++j) {
            const auto& a = domains[i];
            const auto& b = domains[j];
            std::set<int> ga(a.groups.begin(), a.groups.end());
            std::set<int> shared_groups;
            for (int g : b.groups)
                if (ga.count(g)) shared_groups.insert(g);
            std::set<PciAddress> da(a.ungrouped.begin(), a.ungrouped.end());
            std::set<PciAddress> shared_devices;
            for (const auto& d : b.ungrouped)
                if (da.count(d)) shared_devices.insert(d);
            if (shared_groups.empty() && shared_devices.empty()) continue;

            std::vector<std::string> what;
            if (!shared_groups.empty()) {
                std::vector<std::string> nums;
                for (int g : shared_groups) nums.push_back(std::to_string(g));
                what.push_back((shared_groups.size() == 1 ? "IOMMU group " : "IOMMU groups ") + join_sentence(nums));
            }
            if (!shared_devices.empty()) {
                std::vector<std::string> addrs;
                for (const auto& d : shared_devices) addrs.push_back(d.str());
                what.push_back((shared_devices.size() == 1 ? "device " : "devices ") + join_sentence(addrs));
            }
            const std::string shared = join_sentence(what);
            const bool both_autostart = a.autostart && b.autostart;
            std::optional<PciAddress> device;
            if (shared_groups.empty() && shared_devices.size() == 1) device = *shared_devices.begin();
            auto message = [&](const DomainAssignment& other) {
                std::string s = shared + " is also assigned by domain '" + other.name +
                                "': the two domains can never run at the same time";
                if (both_autostart)
                    s += "; both start automatically, so at every host boot the second one fails to start: turn "
                         "autostart off for one of them (virsh autostart --disable '" +
                         a.name + "' or '" + b.name + "')";
                return s;
            };
            const Severity sev = both_autostart ? Severity::Error : Severity::Warning;
            out[i].push_back(Problem{sev, device, message(b)});
            out[j].push_back(Problem{sev, device, message(a)});
        }
    }
    return out;
}

}  // namespace hostdev
