// hostdev-gen-server: prints the fake-host spec (format: tests/support/fakeroot.hpp)
// of a large synthetic two-socket server with exactly N PCI functions, for the
// topology benchmark. The output is deterministic: the same N gives the same
// bytes.
//
// Layout:
//   - domain 0000, root bus 00: host bridge 00:00.0, LPC 00:1f.0 and SMBus 00:1f.4
//     (one group), an xHCI controller with the host keyboard, a root port with
//     the BMC's PCIe-to-PCI bridge and its boot VGA;
//   - then root complexes (a root bus with up to 8 root ports each, one IOMMU
//     unit each) holding, in a repeating pattern:
//       * PCIe switches (upstream port + 4 downstream ports) with a GPU behind
//         each downstream port: VGA function 0 and HDMI audio function 1 in one
//         group;
//       * NVMe drives, one per root port, one group each;
//       * dual-port SR-IOV NICs (ixgbe with 63 VFs per port, i40e with 64), one
//         group per physical and per virtual function, every fourth VF unbound;
//   - when the buses of domain 0000 run out, domain 0001 continues (second socket);
//   - the last component is cut to size (a NIC with fewer VFs, or an empty root
//     port) so that the total is exactly N.
// Every bridge gets its own secondary bus; buses are handed out depth first, so
// each bridge's subordinate range is contiguous.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

constexpr int kMinFunctions = 16;
constexpr int kMaxBus = 0xff;
constexpr int kRootPortsPerComplex = 8;
constexpr int kGpusPerSwitch = 4;
constexpr int kFirstVfSlot = 2;                         // VFs start at BB:02.0
constexpr int kMaxVfsPerBus = (32 - kFirstVfSlot) * 8;  // 240

struct Gpu {
    const char* vga;    // vendor:device of function 0
    const char* audio;  // vendor:device of function 1
    const char* subsys;
    const char* rev;
};
constexpr std::array<Gpu, 2> kGpus = {{
    {"10de:1e07", "10de:10f7", "10de:12fa", "a1"},  // TU102 [GeForce RTX 2080 Ti Rev. A]
    {"10de:2204", "10de:1aef", "10de:1454", "a1"},  // GA102 [GeForce RTX 3090]
}};

struct Nic {
    const char* pf;
    const char* vf;
    const char* pf_driver;
    const char* vf_driver;
    int vfs_per_port;
    const char* rev;
};
constexpr Nic kIxgbe = {"8086:10fb", "8086:10ed", "ixgbe", "ixgbevf", 63, "01"};  // 82599ES
constexpr Nic kI40e = {"8086:1572", "8086:154c", "i40e", "iavf", 64, "02"};       // X710

struct Nvme {
    const char* id;
    const char* subsys;
};
constexpr std::array<Nvme, 2> kNvmes = {{
    {"144d:a824", "144d:a809"},  // Samsung PM173X
    {"8086:0a54", "8086:4802"},  // Intel P4510
}};

// Skylake-SP root ports A..D, repeated.
constexpr std::array<const char*, 4> kRootPortIds = {"8086:2030", "8086:2031", "8086:2032", "8086:2033"};

// A NIC's VFs (and the filler's, fewer than 2 * 64 + 3) fit on its bus.
static_assert(2 * 64 + 3 <= kMaxVfsPerBus);

enum class Kind { GpuSwitch, Nvme, NicIxgbe, NicI40e };

// The repeating pattern of components; 304 functions and 22 secondary buses per
// round.
constexpr std::array<Kind, 12> kPattern = {
    Kind::GpuSwitch, Kind::Nvme, Kind::Nvme, Kind::NicIxgbe, Kind::Nvme, Kind::Nvme,
    Kind::GpuSwitch, Kind::Nvme, Kind::Nvme, Kind::NicI40e,  Kind::Nvme, Kind::Nvme,
};

int cost(Kind kind) {
    switch (kind) {
        case Kind::GpuSwitch: return 2 + 3 * kGpusPerSwitch;  // root port, upstream, per GPU: port+2
        case Kind::Nvme: return 2;
        case Kind::NicIxgbe: return 1 + 2 + 2 * kIxgbe.vfs_per_port;
        case Kind::NicI40e: return 1 + 2 + 2 * kI40e.vfs_per_port;
    }
    return 0;
}

// Secondary buses a component needs (its root port's included).
int buses(Kind kind) {
    switch (kind) {
        case Kind::GpuSwitch: return 2 + kGpusPerSwitch;
        case Kind::Nvme:
        case Kind::NicIxgbe:
        case Kind::NicI40e: return 1;
    }
    return 0;
}

std::string addr(int domain, int bus, int slot, int function) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, slot, function);
    return buf;
}

std::string hex2(int value) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02x", value);
    return buf;
}

class Generator {
public:
    explicit Generator(int functions) : remaining_(functions) {}

    std::string run() {
        chipset();
        std::size_t step = 0;
        while (remaining_ > 0) {
            const Kind kind = kPattern[step % kPattern.size()];
            ++step;
            if (cost(kind) <= remaining_) {
                component(kind);
            } else {
                filler();
            }
        }
        std::ostringstream out;
        out << "# Synthetic two-socket server for the topology benchmark, made by\n"
            << "# hostdev-gen-server: " << emitted_ << " PCI functions, " << next_group_ << " IOMMU groups, "
            << complexes_ << " root complexes.\n";
        out << "host cpu=GenuineIntel cmdline=\"BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 "
               "root=UUID=2f6a0c4e-8d3b-4f7e-9a51-0c7d2e9b4a18 ro quiet intel_iommu=on iommu=pt\" iommu=";
        for (int i = 0; i < complexes_; ++i) out << (i ? "," : "") << "dmar" << i;
        out << "\n\n" << body_.str();
        return out.str();
    }

private:
    // One spec line; counts it.
    void dev(const std::string& address, const char* ids, const char* cls, const std::string& keys) {
        body_ << "dev " << address << ' ' << ids << ' ' << cls;
        if (!keys.empty()) body_ << ' ' << keys;
        body_ << " numa=" << numa_ << '\n';
        ++emitted_;
        --remaining_;
    }

    int new_group() { return next_group_++; }

    int new_bus() { return next_bus_++; }

    // Makes room for a root port whose subtree needs `need` buses: a new root
    // complex (root bus) when the current one has all its ports or the buses
    // would pass ff; in the next domain when a root bus and `need` buses do not
    // fit in this one.
    void ensure_root_port_slot(int need) {
        const bool full = ports_in_complex_ >= kRootPortsPerComplex;
        if (!full && next_bus_ + need - 1 <= kMaxBus) return;
        if (next_bus_ + need > kMaxBus) {  // a root bus and `need` buses do not fit
            ++domain_;
            next_bus_ = 0;
            numa_ = 1;
        }
        root_bus_ = new_bus();
        ports_in_complex_ = 0;
        ++complexes_;
        body_ << "\n# root complex " << complexes_ - 1 << ": " << addr(domain_, root_bus_, 0, 0).substr(0, 7)
              << " (socket " << numa_ << ")\n";
    }

    // A root port on the current root complex with a fresh secondary bus; returns
    // that bus.
    int root_port(int need_buses) {
        ensure_root_port_slot(need_buses);
        const int slot = ports_in_complex_++;
        const int bus = new_bus();
        dev(addr(domain_, root_bus_, slot, 0), kRootPortIds[static_cast<std::size_t>(slot) % 4], "0x060400",
            "group=" + std::to_string(new_group()) + " driver=pcieport rev=04 bus=" + hex2(bus));
        return bus;
    }

    void chipset() {
        root_bus_ = new_bus();  // 00
        complexes_ = 1;
        ports_in_complex_ = 0;
        body_ << "# root complex 0: 0000:00 (socket 0), chipset\n";
        const int platform = new_group();
        dev(addr(0, 0, 0x00, 0), "8086:2020", "0x060000", "group=" + std::to_string(platform) + " rev=04");
        dev(addr(0, 0, 0x1f, 0), "8086:a1c1", "0x060100",
            "group=" + std::to_string(platform) + " driver=lpc_ich rev=09");
        dev(addr(0, 0, 0x1f, 4), "8086:a1a3", "0x0c0500",
            "group=" + std::to_string(platform) + " driver=i801_smbus rev=09");
        dev(addr(0, 0, 0x14, 0), "8086:a1af", "0x0c0330",
            "group=" + std::to_string(new_group()) + " driver=xhci_hcd rev=09 role=keyboard");
        // BMC: root port 00:1c.0 -> ASPEED PCIe-to-PCI bridge -> AST2500 VGA (boot VGA).
        const int port_bus = new_bus();
        dev(addr(0, 0, 0x1c, 0), "8086:a190", "0x060400",
            "group=" + std::to_string(new_group()) + " driver=pcieport rev=f9 bus=" + hex2(port_bus));
        const int bmc_bus = new_bus();
        const int bmc_group = new_group();
        dev(addr(0, port_bus, 0, 0), "1a03:1150", "0x060400",
            "group=" + std::to_string(bmc_group) + " rev=04 bus=" + hex2(bmc_bus));
        dev(addr(0, bmc_bus, 0, 0), "1a03:2000", "0x030000",
            "group=" + std::to_string(bmc_group) + " driver=ast rev=41 subsys=15d9:1b95 boot_vga=1");
        // Root ports of bus 00 start at slot 1 (slot 0 is the host bridge).
        ports_in_complex_ = 1;
    }

    void component(Kind kind) {
        switch (kind) {
            case Kind::GpuSwitch: gpu_switch(); break;
            case Kind::Nvme: nvme(); break;
            case Kind::NicIxgbe: nic_ports(kIxgbe, {kIxgbe.vfs_per_port, kIxgbe.vfs_per_port}); break;
            case Kind::NicI40e: nic_ports(kI40e, {kI40e.vfs_per_port, kI40e.vfs_per_port}); break;
        }
    }

    // Whatever is left (less than the next component): an empty hot-plug root
    // port for one function, else a NIC with as many VFs as needed.
    void filler() {
        if (remaining_ == 1) {
            body_ << "# empty hot-plug slot\n";
            root_port(1);
            return;
        }
        const Nic& model = (nics_ % 2 == 0) ? kIxgbe : kI40e;
        if (remaining_ - 2 <= model.vfs_per_port) {
            nic_ports(model, {remaining_ - 2});
        } else {
            const int vfs = remaining_ - 3;
            nic_ports(model, {vfs - vfs / 2, vfs / 2});
        }
    }

    void gpu_switch() {
        const int up_bus = root_port(buses(Kind::GpuSwitch));
        const int down_bus = new_bus();
        const std::size_t sw = static_cast<std::size_t>(switches_++);
        body_ << "# PCIe switch " << sw << " with " << kGpusPerSwitch << " GPUs\n";
        dev(addr(domain_, up_bus, 0, 0), "10b5:8747", "0x060400",
            "group=" + std::to_string(new_group()) + " driver=pcieport rev=ca bus=" + hex2(down_bus));
        for (int i = 0; i < kGpusPerSwitch; ++i) {
            const int gpu_bus = new_bus();
            dev(addr(domain_, down_bus, 8 + i, 0), "10b5:8747", "0x060400",
                "group=" + std::to_string(new_group()) + " driver=pcieport rev=ca bus=" + hex2(gpu_bus));
            const Gpu& gpu = kGpus[(sw + static_cast<std::size_t>(i)) % kGpus.size()];
            const std::string group = std::to_string(new_group());
            dev(addr(domain_, gpu_bus, 0, 0), gpu.vga, "0x030000",
                "group=" + group + " driver=nouveau rev=" + gpu.rev + " subsys=" + gpu.subsys + " reset=bus");
            dev(addr(domain_, gpu_bus, 0, 1), gpu.audio, "0x040300",
                "group=" + group + " driver=snd_hda_intel rev=" + gpu.rev + " subsys=" + gpu.subsys + " reset=bus");
        }
    }

    void nvme() {
        const int bus = root_port(1);
        const Nvme& model = kNvmes[static_cast<std::size_t>(nvmes_) % kNvmes.size()];
        std::string keys =
            "group=" + std::to_string(new_group()) + " driver=nvme rev=00 subsys=" + model.subsys + " reset=flr";
        if (nvmes_ == 0) keys += " role=root-fs";
        ++nvmes_;
        dev(addr(domain_, bus, 0, 0), model.id, "0x010802", keys);
    }

    // A NIC with one physical function per entry of vfs (its VF count). PFs are
    // functions 0.. of slot 0; the VFs of all ports follow from slot 02 on.
    void nic_ports(const Nic& model, const std::vector<int>& vfs) {
        const int bus = root_port(1);
        const int nic = nics_++;
        body_ << "# SR-IOV NIC " << nic << " (" << model.pf_driver << ")\n";
        int vf_index = 0;
        for (std::size_t port = 0; port < vfs.size(); ++port) {
            const std::string pf = addr(domain_, bus, 0, static_cast<int>(port));
            std::string keys = "group=" + std::to_string(new_group()) + " driver=" + model.pf_driver +
                               " rev=" + model.rev + " reset=flr";
            if (nic == 0 && port == 0) keys += " role=default-route net=ens1f0";
            dev(pf, model.pf, "0x020000", keys);
            for (int v = 0; v < vfs[port]; ++v, ++vf_index) {
                const std::string vf = addr(domain_, bus, kFirstVfSlot + vf_index / 8, vf_index % 8);
                std::string vf_keys =
                    "group=" + std::to_string(new_group()) + " rev=" + model.rev + " reset=flr physfn=" + pf;
                if (v % 4 != 3) vf_keys += std::string(" driver=") + model.vf_driver;
                dev(vf, model.vf, "0x020000", vf_keys);
            }
        }
    }

    std::ostringstream body_;
    int remaining_;
    int emitted_ = 0;
    int domain_ = 0;
    int numa_ = 0;
    int next_bus_ = 0;
    int root_bus_ = 0;
    int ports_in_complex_ = 0;
    int complexes_ = 0;
    int next_group_ = 0;
    int switches_ = 0;
    int nvmes_ = 0;
    int nics_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Prints the fake-host spec of a large synthetic server (GPUs behind PCIe switches, NVMe "
        "drives, SR-IOV NICs) with exactly N PCI functions; lay it out with hostdev-fakeroot."};
    int functions = 4096;
    std::string output;
    app.add_option("--functions,-n", functions, "number of PCI functions")
        ->check(CLI::Range(kMinFunctions, 65536))
        ->capture_default_str();
    app.add_option("-o,--output", output, "write the spec to FILE instead of stdout");
    CLI11_PARSE(app, argc, argv);

    const std::string spec = Generator(functions).run();
    if (output.empty()) {
        std::cout << spec;
        std::cout.flush();
        if (!std::cout) {
            std::cerr << "hostdev-gen-server: cannot write to standard output\n";
            return 1;
        }
        return 0;
    }
    std::ofstream file(output, std::ios::binary | std::ios::trunc);
    file << spec;
    file.close();
    if (!file) {
        std::cerr << "hostdev-gen-server: cannot write " << output
                  << ": check that its directory exists and is writable\n";
        return 1;
    }
    return 0;
}
