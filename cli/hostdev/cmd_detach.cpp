// hostdev detach: move whole IOMMU groups to vfio-pci, as a transaction.
#include <memory>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_detach_command(CLI::App& app, int& exit_code) {
    struct Options {
        BinderArgs args;
        bool dry_run = false;
    };
    auto opt = std::make_shared<Options>();
    auto* cmd =
        app.add_subcommand("detach",
                           "Move the whole IOMMU groups of devices to vfio-pci (bridges and unbound platform functions "
                           "stay); refuses when a group member is needed by the host");
    add_target_options(*cmd, opt->args);
    add_binder_options(*cmd, opt->args);
    cmd->add_flag("--dry-run", opt->dry_run,
                  "Print each planned write as `write PATH VALUE` (the file it would really open, links resolved "
                  "inside the root) and change nothing");
    cmd->footer("Exit codes: 0 done, 1 failed (rolled back), 2 refused (blocked), 64 usage.");
    cmd->callback([opt, &exit_code] {
        auto target = resolve_target(opt->args);
        if (!target) {
            print_error(target.error().describe());
            exit_code = exits::tool::kUsage;
            return;
        }
        auto session = open_session(opt->args, exit_code);
        if (!session) return;
        if (opt->dry_run) {
            auto plan = session->binder.plan_detach(target->requests, target->owner);
            if (!plan) {
                print_error(plan.error().describe());
                exit_code = plan.error().kind == Error::Kind::Refused ? exits::tool::kRefused : exits::tool::kFailure;
                return;
            }
            std::string out;
            for (const auto& w : *plan)
                out += !w.command.empty() ? w.command + "\n"
                       : w.step == 0      ? "modprobe " + w.value + "\n"
                                          : "write " + session->root.live_path(w.path) + " " + w.value + "\n";
            exit_code = emit(out, std::nullopt) ? exits::tool::kOk : exits::tool::kFailure;
            return;
        }
        auto r = session->binder.detach(target->owner, target->requests);
        if (!r) {
            print_error(r.error().describe());
            exit_code = r.error().kind == Error::Kind::Refused ? exits::tool::kRefused : exits::tool::kFailure;
            return;
        }
        exit_code = print_report(*r, "nothing to detach: every device is on a VFIO driver already");
    });
}

}  // namespace hostdev::cli
