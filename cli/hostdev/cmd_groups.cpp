// hostdev groups: the IOMMU groups with every member, as text, JSON or dot.
#include <memory>

#include "commands.hpp"
#include "host_source.hpp"
#include "hostdev/output/format.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_groups_command(CLI::App& app, int& exit_code) {
    struct Options {
        HostSource source;
        std::string format = "text";
        std::optional<std::filesystem::path> out;
    };
    auto opt = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("groups", "List IOMMU groups and their devices (like lspci -nn, per group)");
    add_host_options(*cmd, opt->source);
    cmd->add_option("--format", opt->format, "Output format: text, json or dot (Graphviz)")
        ->check(CLI::IsMember({"text", "json", "dot"}))
        ->capture_default_str();
    cmd->add_option("-o,--output", opt->out,
                    "Write to FILE instead of standard output (a file is replaced atomically, keeping its "
                    "owner and mode; a device or FIFO is written to)")
        ->type_name("FILE");
    cmd->footer(
        "JSON keys per device (stable): address, vendor, device, class, driver; see README for the rest.\n"
        "Render dot output with: hostdev groups --format dot | dot -Tsvg > groups.svg");
    cmd->callback([opt, &exit_code] {
        auto host = open_host(opt->source);
        if (!host) {
            print_error(host.error().describe());
            exit_code = exits::tool::kFailure;
            return;
        }
        auto format = output_format_from_string(opt->format).value_or(OutputFormat::Text);
        // The text listing carries the warnings itself; other formats keep stdout machine-readable.
        if (format != OutputFormat::Text)
            for (const auto& w : host->warnings) print_warning(w);
        exit_code = emit(format_groups(*host, format), opt->out) ? exits::tool::kOk : exits::tool::kFailure;
    });
}

}  // namespace hostdev::cli
