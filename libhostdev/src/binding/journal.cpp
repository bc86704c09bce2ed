#include "binding/journal.hpp"

#include <unistd.h>

#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "hostdev/base/fileio.hpp"

namespace hostdev::journal {

using nlohmann::json;
using nlohmann::ordered_json;

Device* Journal::find(const PciAddress& a) {
    for (auto& d : devices)
        if (d.address == a) return &d;
    return nullptr;
}

std::filesystem::path path_for(const std::filesystem::path& dir, const Owner& owner) {
    // The key is a validated UUID or "manual": never a name, never a path.
    return dir / (owner.key + ".json");
}

std::string serialize(const Journal& j) {
    ordered_json o;
    o["format"] = "hostdev-journal";
    o["version"] = 1;
    o["owner"] = {{"key", j.owner.key}, {"name", j.owner.name}};
    o["state"] = j.state;
    o["pid"] = static_cast<long>(::getpid());
    ordered_json devs = ordered_json::array();
    for (const auto& d : j.devices) {
        devs.push_back({{"address", d.address.str()},
                        {"group", d.group},
                        {"original_driver", d.original_driver ? ordered_json(*d.original_driver) : ordered_json(nullptr)},
                        {"original_override",
                         d.original_override ? ordered_json(*d.original_override) : ordered_json(nullptr)},
                        {"done", d.done}});
    }
    o["devices"] = devs;
    return o.dump(2) + "\n";
}

namespace {

// A whole number in int's range, as serialize() writes them: nlohmann's
// get<int>() converts a float or a huge number without a range check, which
// is undefined behaviour.
std::optional<int> small_int(const json& v) {
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return static_cast<int>(u);
    } else if (v.is_number_integer()) {
        const auto i = v.get<std::int64_t>();
        if (i >= std::numeric_limits<int>::min() && i <= std::numeric_limits<int>::max()) return static_cast<int>(i);
    }
    return std::nullopt;
}

}  // namespace

Result<Journal> parse(std::string_view text, const std::string& source) {
    json o = json::parse(text, nullptr, false);
    if (o.is_discarded() || !o.is_object() || !o.contains("format") || o["format"] != "hostdev-journal")
        return make_error("not a hostdev journal", source);
    try {
        Journal j;
        if (small_int(o.at("version")) != 1) return make_error("unsupported journal version", source);
        const auto& owner = o.at("owner");
        std::string key = owner.at("key").get<std::string>();
        std::string name = owner.value("name", "");
        if (key == "manual") {
            j.owner = Owner::manual();
        } else {
            auto d = Owner::domain(key, name);
            if (!d) return make_error("journal owner is not a UUID", source);
            j.owner = *d;
        }
        j.state = o.at("state").get<std::string>();
        for (const auto& d : o.at("devices")) {
            Device dev;
            auto a = PciAddress::parse(d.at("address").get<std::string>());
            if (!a) return make_error("bad device address in journal", source);
            dev.address = *a;
            if (auto g = d.find("group"); g != d.end()) {
                auto n = small_int(*g);
                if (!n) return make_error("journal device group is not a whole number within range", source);
                dev.group = *n;
            }
            if (!d.at("original_driver").is_null()) dev.original_driver = d.at("original_driver").get<std::string>();
            if (!d.at("original_override").is_null())
                dev.original_override = d.at("original_override").get<std::string>();
            if (auto done = d.find("done"); done != d.end()) {
                if (!done->is_array()) return make_error("journal device steps are not a list", source);
                for (const auto& step : *done) {
                    auto n = small_int(step);
                    if (!n) return make_error("journal device step is not a whole number within range", source);
                    dev.done.push_back(*n);
                }
            }
            j.devices.push_back(std::move(dev));
        }
        return j;
    } catch (const json::exception& e) {
        return make_error(std::string("malformed journal (") + e.what() + ")", source);
    }
}

Status save(const std::filesystem::path& dir, const Journal& j) {
    return fileio::write_file_atomic(path_for(dir, j.owner), serialize(j), 0600);
}

Status remove(const std::filesystem::path& dir, const Owner& owner) {
    auto p = path_for(dir, owner);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return make_error("cannot remove journal", p.string(), errno);
    return ok_status();
}

Result<std::vector<Journal>> load_all(const std::filesystem::path& dir) {
    std::vector<Journal> out;
    auto names = fileio::list_dir(dir);
    if (!names) {
        if (names.error().err == ENOENT) return out;
        return names.error();
    }
    for (const auto& n : *names) {
        if (n.size() < 6 || n.compare(n.size() - 5, 5, ".json") != 0 || n[0] == '.') continue;
        auto text = fileio::read_file(dir / n, 16u << 20);
        if (!text) return text.error();
        auto j = parse(*text, (dir / n).string());
        if (!j) return j.error();
        out.push_back(std::move(*j));
    }
    return out;
}

}  // namespace hostdev::journal
