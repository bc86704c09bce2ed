// hostdev recover: after a crash, kill or reboot, return what no running
// domain holds; with --retire, set one unreadable journal aside.
#include <memory>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hostdev::cli {

namespace {

// --retire FILE: what the journal may have held, then its new name.
int retire(Session& session, const std::filesystem::path& file) {
    auto r = session.binder.retire_journal(file);
    if (!r) {
        print_error(r.error().describe());
        return exits::tool::kFailure;
    }
    std::string out = r->journal.path.string() + ": " + r->journal.error.describe() + "\n";
    if (r->journal.mentioned.empty()) out += "  it names no PCI device\n";
    for (const auto& a : r->journal.mentioned)
        out += "  names " + a.str() + ", now on " + session.binder.current_driver(a).value_or("no driver") + "\n";
    out += "retired: " + r->now.string() + " (never read again)\n";
    return emit(out, std::nullopt) ? exits::tool::kOk : exits::tool::kFailure;
}

}  // namespace

void add_recover_command(CLI::App& app, int& exit_code) {
    struct Options {
        BinderArgs args;
        std::optional<std::filesystem::path> retire;
    };
    auto opt = std::make_shared<Options>();
    auto* cmd =
        app.add_subcommand("recover",
                           "Reconcile every journal with sysfs: finish interrupted detaches and reattaches, and return "
                           "the devices of domains that are not running");
    add_binder_options(*cmd, opt->args);
    cmd->add_option("--retire", opt->retire,
                    "Rename one unreadable journal to FILE.retired after printing the devices it names and their "
                    "drivers (check and return them by hand first; README: unreadable journals)")
        ->type_name("FILE");
    cmd->footer(
        "Exit codes: 0 done, 1 something could not be restored or a journal could not be read "
        "(every readable journal is still handled).");
    cmd->callback([opt, &exit_code] {
        auto session = open_session(opt->args, exit_code);
        if (!session) return;
        if (opt->retire) {
            exit_code = retire(*session, *opt->retire);
            return;
        }
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
