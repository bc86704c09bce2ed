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
        auto session = open_session(*args, exit_code);
        if (!session) return;
        const FsRoot& root = session->root;
        auto r = session->binder.recover([&](const Owner& o) { return domain_running(root, o); });
        if (!r) {
            print_error(r.error().describe());
            exit_code = exits::tool::kFailure;
            return;
        }
        exit_code = print_report(*r, "nothing to recover");
    });
}

}  // namespace hostdev::cli
