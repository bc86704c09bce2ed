// JSON form of the model, shared by snapshots and `groups --format json`.
// Internal to the library.
#pragma once

#include <nlohmann/json.hpp>

#include "hostdev/base/result.hpp"
#include "hostdev/host/host.hpp"

namespace hostdev::json_model {

nlohmann::ordered_json device(const PciDevice& d);
// Errors read "FILE: PATH.KEY: what" ("host.json: devices[3].vendor: expected
// a hexadecimal string"); absent and null optional keys are unknown.
Result<PciDevice> device_from(const nlohmann::json& j, const std::string& file, const std::string& path);

}  // namespace hostdev::json_model
