// hostdev doctor: is this host ready for PCI passthrough? One verdict per
// check, with the fix in words. Exit 0 all ok, 1 warnings, 2 errors.
#include <memory>

#include "commands.hpp"
#include "host_source.hpp"
#include "hostdev/setup/doctor.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_doctor_command(CLI::App& app, int& exit_code) {
    struct Options {
        HostSource source;
        std::string format = "text";
    };
    auto opt = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "doctor",
        "Check that the host is ready for PCI passthrough (IOMMU, interrupt remapping, ACS override, vfio "
        "modules, resets, boot display, identical devices, the libvirt hook)");
    add_host_options(*cmd, opt->source);
    cmd->add_option("--format", opt->format, "Output format: text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->footer(
        "Check ids: iommu, interrupt-remapping, acs-override, vfio-modules, device-reset, device-boot-vga,\n"
        "device-shared-ids, libvirt-hook (see README).\n"
        "Exit codes: 0 every check ok, 1 warnings, 2 errors (or the host cannot be read), 64 usage.");
    cmd->callback([opt, &exit_code] {
        auto host = open_host(opt->source);
        if (!host) {
            print_error(host.error().describe());
            exit_code = exits::doctor::kErrors;
            return;
        }
        // The checks cover the missing IOMMU; other reading problems go to stderr.
        const std::string no_iommu = no_iommu_advice(*host);
        for (const auto& w : host->warnings)
            if (w != no_iommu) print_warning(w);
        const DoctorReport report = run_doctor(*host);
        const std::string text = opt->format == "json" ? format_doctor_json(report) : format_doctor_text(report);
        exit_code = emit(text, std::nullopt) ? report.exit_code() : exits::doctor::kErrors;
    });
}

}  // namespace hostdev::cli
