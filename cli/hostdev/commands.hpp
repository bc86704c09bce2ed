// One function per subcommand, each in its own file: it adds the subcommand
// to the app and sets `exit_code` when it runs.
#pragma once

#include <CLI/CLI.hpp>

namespace hostdev::cli {

void add_groups_command(CLI::App& app, int& exit_code);
void add_snapshot_command(CLI::App& app, int& exit_code);
void add_detach_command(CLI::App& app, int& exit_code);
void add_reattach_command(CLI::App& app, int& exit_code);
void add_status_command(CLI::App& app, int& exit_code);
void add_recover_command(CLI::App& app, int& exit_code);
void add_doctor_command(CLI::App& app, int& exit_code);
void add_boot_config_command(CLI::App& app, int& exit_code);

}  // namespace hostdev::cli
