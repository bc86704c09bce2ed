// hostdev reattach: return devices to the exact drivers they came from.
#include <memory>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_reattach_command(CLI::App& app, int& exit_code) {
    auto args = std::make_shared<BinderArgs>();
    auto* cmd =
        app.add_subcommand("reattach",
                           "Return devices detached by hostdev to their recorded original driver (devices that had "
                           "none stay unbound)");
    add_target_options(*cmd, *args);
    add_binder_options(*cmd, *args);
    cmd->footer(
        "With --domain FILE every device of that domain's journal returns; with ADDR... those devices.\n"
        "Exit codes: 0 every device is back, 1 some are not (all reported; the journal is kept).");
    cmd->callback([args, &exit_code] {
        auto target = resolve_target(*args);
        if (!target) {
            print_error(target.error().describe());
            exit_code = exits::tool::kUsage;
            return;
        }
        auto session = open_session(*args, exit_code);
        if (!session) return;
        auto r = args->domain_file ? session->binder.reattach(target->owner)
                                   : session->binder.reattach_devices(target->devices);
        if (!r) {
            print_error(r.error().describe());
            exit_code = exits::tool::kFailure;
            return;
        }
        exit_code = print_report(*r, "nothing to reattach");
    });
}

}  // namespace hostdev::cli
