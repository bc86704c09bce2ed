// virt-hostdev's subcommands and what they share.
#pragma once

#include "output.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "hostdev/policy/planner.hpp"

namespace hostdev::virt {

struct GlobalOptions {
    std::optional<std::string> uri;
    std::optional<std::filesystem::path> pci_ids;
};

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
