// virt-hostdev's subcommands and what they share.
#pragma once

#include "output.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hostdev/policy/planner.hpp"

namespace hostdev::virt {

struct GlobalOptions {
    std::vector<std::string> uris;  // -c, in the order given; none: libvirt's default
    std::optional<std::filesystem::path> pci_ids;
    unsigned jobs = 4;  // --jobs: hosts read at once when several -c are given
    // The one URI of a single-host run (nullopt: libvirt's default).
    [[nodiscard]] std::optional<std::string> uri() const {
        return uris.empty() ? std::nullopt : std::optional<std::string>(uris.front());
    }
    [[nodiscard]] bool fleet() const { return uris.size() > 1; }
};

// For a command that works on one connection only (fix, snapshot): false
// when several -c were given, with "WHAT: give one -c, not N[, and ADVICE]"
// on stderr.
bool single_connection_or_report(const GlobalOptions& global, std::string_view what, std::string_view advice = {});

// hostdev-fix's planning options, spelled as hostdev-fix spells them.
struct JudgeOptions {
    std::string hide_kvm = "auto";
    bool whole_slot = false;
    std::string pin = "auto";
    bool relocate = false, repin = false;  // fix only
    std::optional<std::filesystem::path> schema_dir;
    [[nodiscard]] PlanOptions plan() const;
};
void add_judge_options(CLI::App& cmd, JudgeOptions& options);
// fix's --relocate and --repin, as hostdev-fix has them.
void add_follow_options(CLI::App& cmd, JudgeOptions& options);

// Messages ("virt-hostdev: error: ...") and output, shared with hostdev's CLI.
using cli::emit;
using cli::print_error;
using cli::print_note;
using cli::print_warning;

void add_check_command(CLI::App& app, const GlobalOptions& global, int& exit_code);
void add_fix_command(CLI::App& app, const GlobalOptions& global, int& exit_code);
void add_groups_command(CLI::App& app, const GlobalOptions& global, int& exit_code);
void add_snapshot_command(CLI::App& app, const GlobalOptions& global, int& exit_code);
void add_attach_command(CLI::App& app, const GlobalOptions& global, int& exit_code);
void add_detach_command(CLI::App& app, const GlobalOptions& global, int& exit_code);

}  // namespace hostdev::virt
