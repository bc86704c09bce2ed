// Shared command-line options of every command that reads a host.
#pragma once

#include <CLI/CLI.hpp>

#include "hostdev/host/host_source.hpp"

namespace hostdev::cli {

// Adds --root DIR, --host FILE (exclusive) and --pci-ids FILE to a command.
void add_host_options(CLI::App& cmd, HostSource& source);

}  // namespace hostdev::cli
