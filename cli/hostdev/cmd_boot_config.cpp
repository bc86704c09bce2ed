// hostdev boot-config: print (or, with --write, write) what binds the whole
// IOMMU groups of devices to vfio-pci at boot: /etc/modprobe.d/vfio.conf, the
// kernel command line with the bootloader step, the initramfs modules.
// Exit codes: 0 done, 1 writing failed (the root as before), 2 blocked,
// 3 invalid input, 64 usage.
#include <cstdio>
#include <ctime>
#include <memory>

#include "commands.hpp"
#include "host_source.hpp"
#include "hostdev/base/fileio.hpp"
#include "hostdev/binding/config.hpp"
#include "hostdev/domain/domain.hpp"
#include "hostdev/setup/bootconfig.hpp"
#include "output.hpp"

namespace hostdev::cli {

namespace {

// The inputs named on the command line; errors are invalid input (exit 3).
Result<std::vector<BootConfigInput>> read_inputs(const std::vector<std::filesystem::path>& domain_files,
                                                 const std::vector<std::string>& addresses) {
    std::vector<BootConfigInput> inputs;
    for (const auto& file : domain_files) {
        auto text = fileio::read_file(file, kMaxDomainXmlBytes + 1);
        if (!text) {
            return text.error().reworded("cannot read domain definition");
        }
        auto domain = parse_domain_xml(*text, file.string());
        if (!domain) return domain.error();
        if (domain->passthrough.empty())
            return make_error(
                file.string() +
                ": the domain has no PCI <hostdev> or <interface type='hostdev'>: nothing to bind at boot");
        inputs.push_back(BootConfigInput{file.string(), std::move(*domain)});
    }
    if (!addresses.empty()) {
        BootConfigInput in;
        in.source = "command line";
        int n = 0;
        for (const auto& s : addresses) {
            auto a = PciAddress::parse(s);
            if (!a) return make_error("'" + s + "': " + a.error().message);
            PassthroughDevice h;
            h.source = *a;
            h.managed = true;
            h.line = ++n;  // keeps the order given
            in.domain.passthrough.push_back(h);
        }
        inputs.push_back(std::move(in));
    }
    if (inputs.empty()) return make_error("name the devices (ADDR...) or domain definitions (--domain FILE...)");
    return inputs;
}

struct BootConfigArgs {
    HostSource source;
    std::vector<std::string> addresses;
    std::vector<std::filesystem::path> domains;
    std::string initramfs = "auto";
    bool write = false;
    bool whole_slot = false;
};

// What --write did, file by file, and what is left to do by hand.
std::string written_summary(const FsRoot& root, const std::vector<WrittenFile>& written) {
    std::string out = "\nWritten under " + root.root().string() + ":\n";
    for (const auto& w : written) {
        switch (w.action) {
            case WrittenFile::Action::Created: out += "  created   " + w.path + "\n"; break;
            case WrittenFile::Action::Replaced: out += "  replaced  " + w.path + " (backup: " + w.backup + ")\n"; break;
            case WrittenFile::Action::Unchanged: out += "  unchanged " + w.path + "\n"; break;
        }
    }
    return out + "Still to do: the kernel command line (step 2), then run the initramfs command (step 3) and reboot.\n";
}

// The command itself; returns its exit code (exits::boot_config).
int run_boot_config(const BootConfigArgs& args) {
    auto inputs = read_inputs(args.domains, args.addresses);
    if (!inputs) {
        print_error(inputs.error().describe());
        return exits::boot_config::kInvalid;
    }
    if (args.write && args.source.snapshot) {
        print_error("--write writes under a root (--root DIR, default /), not into a host snapshot");
        return exits::boot_config::kInvalid;
    }
    auto host = open_host(args.source);
    if (!host) {
        print_error(host.error().describe());
        return exits::boot_config::kInvalid;
    }
    BootConfigOptions options;
    if (args.initramfs != "auto") options.initramfs = initramfs_tool_from_string(args.initramfs);
    if (args.whole_slot) options.whole_slot = PlanOptions::WholeSlot::Inject;
    // Which devices go to a VFIO variant driver (left to the hook): as the hook
    // of the system under --root decides, from that system's configuration. An
    // unreadable configuration is the hook's to report; auto then.
    if (auto conf = load_config(FsRoot(args.source.root.value_or("/"))))
        options.vfio_variants = conf->vfio_variant_drivers;
    const BootConfig config = plan_boot_config(*inputs, *host, options);
    if (config.blocked()) {
        std::fputs(boot_config_explanation(config, *host).c_str(), stderr);
        return exits::boot_config::kBlocked;
    }
    std::string out = format_boot_config(config, *host);
    if (args.write) {
        const FsRoot root(args.source.root.value_or("/"));
        auto written = write_boot_config(config, root, backup_stamp(std::time(nullptr)));
        if (!written) {
            emit(out, std::nullopt);
            print_error("nothing written: " + written.error().describe());
            return exits::boot_config::kWriteFailed;
        }
        out += written_summary(root, *written);
    }
    return emit(out, std::nullopt) ? exits::boot_config::kOk : exits::boot_config::kWriteFailed;
}

}  // namespace

void add_boot_config_command(CLI::App& app, int& exit_code) {
    auto opt = std::make_shared<BootConfigArgs>();
    auto* cmd = app.add_subcommand(
        "boot-config",
        "Print (or write) the configuration that binds the devices' whole IOMMU groups to vfio-pci at boot: "
        "modprobe.d/vfio.conf, kernel command line, initramfs modules");
    auto* addrs = cmd->add_option("ADDR", opt->addresses, "PCI addresses (DDDD:BB:SS.F or BB:SS.F)");
    // No existence check here: an unreadable definition is invalid input (exit 3), as in hostdev-fix.
    auto* doms = cmd->add_option("--domain", opt->domains,
                                 "libvirt domain definitions: their PCI hostdevs and hostdev interfaces")
                     ->type_name("FILE");
    addrs->excludes(doms);
    add_host_options(*cmd, opt->source);
    cmd->add_flag("--whole-slot", opt->whole_slot,
                  "Also bind functions of the same slot that sit in another IOMMU group");
    cmd->add_option("--initramfs", opt->initramfs,
                    "Initramfs tool to configure: auto (the one the host uses), initramfs-tools, dracut or mkinitcpio")
        ->check(CLI::IsMember({"auto", "initramfs-tools", "dracut", "mkinitcpio"}))
        ->capture_default_str();
    cmd->add_flag("--write", opt->write,
                  "Write the files under the root (ROOT/etc/...) atomically, keeping FILE.hostdev-backup-STAMP of "
                  "each file replaced; the bootloader configuration is never edited");
    cmd->footer(
        "A vendor:device ID shared with a device that stays on the host is never put in ids= or vfio-pci.ids=;\n"
        "such devices are bound by address (driver_override) instead.\n"
        "Exit codes: 0 done, 1 writing failed (every file put back), 2 blocked (a group member cannot leave\n"
        "the host, a device is missing), 3 invalid input (unreadable or invalid domain, bad address,\n"
        "unreadable host), 64 usage.");
    cmd->callback([opt, &exit_code] { exit_code = run_boot_config(*opt); });
}

}  // namespace hostdev::cli
