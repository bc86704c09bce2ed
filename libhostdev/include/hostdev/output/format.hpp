// Output formats of the host model: the `hostdev groups` listing as text,
// JSON (stable keys, see README "groups --format json") and Graphviz dot.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hostdev/host/host.hpp"

namespace hostdev {

enum class OutputFormat { Text, Json, Dot };
std::optional<OutputFormat> output_format_from_string(std::string_view s);

// One device as `lspci -nn` prints it:
// "01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GM204 [GeForce GTX 970] [10de:13c2] (rev a1)".
enum class AddressStyle { Short, Full };
std::string lspci_line(const PciDevice& d, AddressStyle style);
// Full addresses when any device is outside PCI domain 0, as lspci does.
AddressStyle address_style_for(const Host& host);

std::string format_groups_text(const Host& host);
std::string format_groups_json(const Host& host);
std::string format_groups_dot(const Host& host);
std::string format_groups(const Host& host, OutputFormat format);

}  // namespace hostdev
