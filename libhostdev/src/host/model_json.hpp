// JSON form of the model, shared by snapshots and `groups --format json`.
// Internal to the library.
#pragma once

#include <nlohmann/json.hpp>

#include "hostdev/base/json_reader.hpp"
#include "hostdev/base/result.hpp"
#include "hostdev/host/host.hpp"

namespace hostdev::json_model {

nlohmann::ordered_json device(const PciDevice& d);
// Errors read "FILE: PATH.KEY: what" ("host.json: devices[3].vendor: expected
// a hexadecimal string"); absent and null optional keys are unknown.
Result<PciDevice> device_from(const nlohmann::json& j, const std::string& file, const std::string& path);

// Host::gpu_holders (gpu_holders.hpp): each fact an optional key, absent
// (a snapshot from before it existed) is unknown.
nlohmann::ordered_json gpu_holders(const GpuHolders& h);
GpuHolders gpu_holders_from(json::Fields& f);

}  // namespace hostdev::json_model
