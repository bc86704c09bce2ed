// hostdev status: who holds which devices, from the journals and sysfs.
#include <memory>

#include <nlohmann/json.hpp>

#include "binder_cli.hpp"
#include "commands.hpp"
#include "hostdev/base/json_reader.hpp"
#include "output.hpp"

namespace hostdev::cli {

namespace {

using nlohmann::ordered_json;

ordered_json name_or_null(const std::optional<std::string>& s) { return s ? ordered_json(*s) : ordered_json(nullptr); }

std::string as_json(const Session& s, const Binder::Survey& survey) {
    ordered_json j = ordered_json::array();
    for (const auto& h : survey.holdings) {
        ordered_json devs = ordered_json::array();
        for (const auto& d : h.devices)
            devs.push_back({{"address", d.device.str()},
                            {"group", d.group},
                            {"original_driver", name_or_null(d.original_driver)},
                            {"current_driver", name_or_null(d.current_driver)}});
        ordered_json e = {{"owner", h.owner.key},
                          {"name", h.owner.name},
                          {"state", h.state},
                          {"running", domain_running(s.root, h.owner)},
                          {"devices", devs}};
        if (h.handoff) e["handoff"] = *h.handoff;
        if (h.starting) e["starting"] = *h.starting;
        j.push_back(std::move(e));
    }
    ordered_json bad = ordered_json::array();
    for (const auto& u : survey.unreadable) {
        ordered_json devs = ordered_json::array();
        for (const auto& a : u.mentioned)
            devs.push_back({{"address", a.str()}, {"current_driver", name_or_null(s.binder.current_driver(a))}});
        bad.push_back({{"path", u.path.string()}, {"error", u.error.describe()}, {"devices", devs}});
    }
    const ordered_json doc{{"holdings", j}, {"unreadable", bad}};
    return json::to_text(doc);
}

std::string as_text(const Session& s, const Binder::Survey& survey) {
    std::string out;
    if (survey.holdings.empty() && survey.unreadable.empty())
        out = "no devices are held by hostdev (" + s.root.live_path(s.binder.journal_dir()) + ")\n";
    for (const auto& h : survey.holdings) {
        out += h.owner.describe() + ": " + h.state + (domain_running(s.root, h.owner) ? ", running" : ", not running") +
               (h.starting ? ", being started by " + *h.starting : std::string()) + "\n";
        for (const auto& d : h.devices)
            out += "  " + d.device.str() + " group " + std::to_string(d.group) + ": on " +
                   d.current_driver.value_or("no driver") + ", returns to " + d.original_driver.value_or("no driver") +
                   "\n";
        if (h.handoff) out += "  " + *h.handoff + "\n";
    }
    for (const auto& u : survey.unreadable) {
        out += "unreadable journal " + u.path.string() + ": " + u.error.describe() + "\n";
        for (const auto& a : u.mentioned)
            out += "  names " + a.str() + ", now on " + s.binder.current_driver(a).value_or("no driver") + "\n";
    }
    return out;
}

}  // namespace

void add_status_command(CLI::App& app, int& exit_code) {
    struct Options {
        BinderArgs args;
        std::string format = "text";
    };
    auto opt = std::make_shared<Options>();
    auto* cmd =
        app.add_subcommand("status", "Show which domain holds which devices, from hostdev's journals and sysfs");
    add_binder_options(*cmd, opt->args);
    cmd->add_option("--format", opt->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->footer(
        "Exit codes: 0 shown, 1 a journal cannot be read (named on stderr with what to do; every readable "
        "one is shown) or the output was not written.");
    cmd->callback([opt, &exit_code] {
        auto session = open_session(opt->args, exit_code);
        if (!session) return;
        auto survey = session->binder.survey();
        if (!survey) {
            print_error(survey.error().describe());
            exit_code = exits::tool::kFailure;
            return;
        }
        const std::string out = opt->format == "json" ? as_json(*session, *survey) : as_text(*session, *survey);
        for (const auto& u : survey->unreadable) print_error(u.describe());
        exit_code = emit(out, std::nullopt) && survey->unreadable.empty() ? exits::tool::kOk : exits::tool::kFailure;
    });
}

}  // namespace hostdev::cli
