// Journals of the binder: one JSON file per owner under the journal directory,
// written atomically and fsync'd, read back after a crash. Internal.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hostdev/binding/binder.hpp"

namespace hostdev::journal {

struct Device {
    PciAddress address;
    int group = -1;
    std::optional<std::string> original_driver;
    std::optional<std::string> original_override;
    std::vector<int> done;  // completed detach steps (1..3)
};

struct Journal {
    Owner owner;
    std::string state;  // "detaching", "detached", "rolling-back", "reattaching"
    std::vector<Device> devices;

    Device* find(const PciAddress& a);
};

std::filesystem::path path_for(const std::filesystem::path& dir, const Owner& owner);
std::string serialize(const Journal& j);
Result<Journal> parse(std::string_view text, const std::string& source);
Status save(const std::filesystem::path& dir, const Journal& j);
Status remove(const std::filesystem::path& dir, const Owner& owner);
// Every journal in the directory; unreadable ones are errors naming the file.
Result<std::vector<Journal>> load_all(const std::filesystem::path& dir);

}  // namespace hostdev::journal
