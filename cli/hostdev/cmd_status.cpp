// hostdev status: who holds which devices, from the journals and sysfs.
#include <memory>

#include <nlohmann/json.hpp>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace hostdev::cli {

void add_status_command(CLI::App& app, int& exit_code) {
    struct Options {
        BinderArgs args;
        std::string format = "text";
    };
    auto opt = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("status", "Show which domain holds which devices, from hostdev's journals and sysfs");
    add_binder_options(*cmd, opt->args);
    cmd->add_option("--format", opt->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    cmd->callback([opt, &exit_code] {
        auto session = open_session(opt->args, exit_code);
        if (!session) return;
        const FsRoot& root = session->root;
        const Binder& binder = session->binder;
        auto st = binder.status();
        if (!st) {
            print_error(st.error().describe());
            exit_code = exits::tool::kFailure;
            return;
        }
        std::string out;
        if (opt->format == "json") {
            nlohmann::ordered_json j = nlohmann::ordered_json::array();
            for (const auto& h : *st) {
                nlohmann::ordered_json devs = nlohmann::ordered_json::array();
                for (const auto& d : h.devices)
                    devs.push_back({{"address", d.device.str()},
                                    {"group", d.group},
                                    {"original_driver", d.original_driver ? nlohmann::ordered_json(*d.original_driver) : nullptr},
                                    {"current_driver", d.current_driver ? nlohmann::ordered_json(*d.current_driver) : nullptr}});
                j.push_back({{"owner", h.owner.key},
                             {"name", h.owner.name},
                             {"state", h.state},
                             {"running", domain_running(root, h.owner)},
                             {"devices", devs}});
            }
            out = nlohmann::ordered_json{{"holdings", j}}.dump(2) + "\n";
        } else {
            if (st->empty()) out = "no devices are held by hostdev (" + root.live_path(binder.journal_dir()) + ")\n";
            for (const auto& h : *st) {
                out += h.owner.describe() + ": " + h.state + (domain_running(root, h.owner) ? ", running" : ", not running") + "\n";
                for (const auto& d : h.devices)
                    out += "  " + d.device.str() + " group " + std::to_string(d.group) + ": on " +
                           d.current_driver.value_or("no driver") + ", returns to " +
                           d.original_driver.value_or("no driver") + "\n";
            }
        }
        exit_code = emit(out, std::nullopt) ? exits::tool::kOk : exits::tool::kFailure;
    });
}

}  // namespace hostdev::cli
