// hostdev reattach: return devices to the exact drivers they came from.
#include <memory>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_reattach_command(CLI::App& app, int& exit_code) {
    auto args = std::make_shared<BinderArgs>();
    auto* cmd = app.add_subcommand(
        "reattach", "Return devices detached by hostdev to their recorded original driver (devices that had "
                    "none stay unbound)");
    add_target_options(*cmd, *args);
    add_binder_options(*cmd, *args);
    cmd->footer("With --domain FILE every device of that domain's journal returns; with ADDR... those devices.\n"
                "Exit codes: 0 every device is back, 1 some are not (all reported; the journal is kept).");
    cmd->callback([args, &exit_code] {
        auto target = resolve_target(*args);
        auto config = effective_config(*args);
        if (!target || !config) {
            print_error(!target ? target.error().describe() : config.error().describe());
            exit_code = kExitUsage;
            return;
        }
        FsRoot root(config->root);
        SysfsKernelIo io(root);
        Binder binder(root, io, binder_options(*config));
        auto r = args->domain_file ? binder.reattach(target->owner) : binder.reattach_devices(target->devices);
        if (!r) {
            print_error(r.error().describe());
            exit_code = kExitFailure;
            return;
        }
        for (const auto& w : r->warnings) print_warning(w);
        std::string out;
        for (const auto& d : r->devices)
            out += d.device.str() + ": " + d.from.value_or("no driver") + " -> " + d.to.value_or("no driver") +
                   (d.note.empty() ? "" : " (" + d.note + ")") + "\n";
        if (r->devices.empty()) out = "nothing to reattach\n";
        exit_code = emit(out, std::nullopt) ? kExitOk : kExitFailure;
    });
}

}  // namespace hostdev::cli
