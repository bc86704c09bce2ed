// JSON form of the model, shared by snapshots and `groups --format json`.
// Internal to the library.
#pragma once

#include <nlohmann/json.hpp>

#include "hostdev/host/host.hpp"
#include "hostdev/base/result.hpp"

namespace hostdev::json_model {

nlohmann::ordered_json device(const PciDevice& d);
// `where` prefixes errors ("host.json: devices[3]").
Result<PciDevice> device_from(const nlohmann::json& j, const std::string& where);

}  // namespace hostdev::json_model
