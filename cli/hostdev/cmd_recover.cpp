// hostdev recover: after a crash, kill or reboot, return what no running
// domain holds.
#include <memory>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_recover_command(CLI::App& app, int& exit_code) {
    auto args = std::make_shared<BinderArgs>();
    auto* cmd = app.add_subcommand(
        "recover", "Reconcile every journal with sysfs: finish interrupted detaches and reattaches, and return "
                   "the devices of domains that are not running");
    add_binder_options(*cmd, *args);
    cmd->callback([args, &exit_code] {
        auto config = effective_config(*args);
        if (!config) {
            print_error(config.error().describe());
            exit_code = kExitUsage;
            return;
        }
        FsRoot root(config->root);
        SysfsKernelIo io(root);
        Binder binder(root, io, binder_options(*config));
        auto r = binder.recover([&](const Owner& o) { return domain_running(root, o); });
        if (!r) {
            print_error(r.error().describe());
            exit_code = kExitFailure;
            return;
        }
        for (const auto& w : r->warnings) print_warning(w);
        std::string out;
        for (const auto& d : r->devices)
            out += d.device.str() + ": " + d.from.value_or("no driver") + " -> " + d.to.value_or("no driver") + " (" +
                   d.note + ")\n";
        if (r->devices.empty()) out = "nothing to recover\n";
        exit_code = emit(out, std::nullopt) ? kExitOk : kExitFailure;
    });
}

}  // namespace hostdev::cli
