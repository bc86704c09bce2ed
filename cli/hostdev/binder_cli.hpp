// Shared pieces of detach, reattach, status and recover: the target devices
// (addresses or a domain file), and the binder from the configuration.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/binding/binder.hpp"
#include "hostdev/binding/config.hpp"

namespace hostdev::cli {

struct BinderArgs {
    std::vector<std::string> addresses;
    std::optional<std::filesystem::path> domain_file;
    std::optional<std::filesystem::path> root;
    std::optional<std::filesystem::path> journal_dir;
};

// --root and --journal-dir on a command (both override the configuration file).
void add_binder_options(CLI::App& cmd, BinderArgs& args);
// ADDR... | --domain FILE
void add_target_options(CLI::App& cmd, BinderArgs& args);

struct Target {
    Owner owner;
    std::vector<PciAddress> devices;
    std::vector<DetachRequest> requests;  // the devices with a domain's <driver model> (detach)
};
// The owner and devices named on the command line; error text on failure.
Result<Target> resolve_target(const BinderArgs& args);
// Configuration with the command line's overrides applied.
Result<Config> effective_config(const BinderArgs& args);

// What a command works with: the configuration, its root, the real kernel
// I/O and a binder over them (not movable: the binder refers to the I/O).
struct Session {
    explicit Session(Config c);
    Config config;
    FsRoot root;
    SysfsKernelIo io;
    Binder binder;
};
// Opens a session, or prints why not and sets exit_code to the usage code.
std::unique_ptr<Session> open_session(const BinderArgs& args, int& exit_code);
// Prints the warnings (and unreadable journals, as errors) on stderr and one
// line per device on stdout ("ADDR: FROM -> TO (note)"), or `nothing` when no
// device moved. The exit code: failure when a journal could not be read.
int print_report(const BindReport& report, const char* nothing);

}  // namespace hostdev::cli
