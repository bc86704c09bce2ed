#include "hostdev/base/json_reader.hpp"

#include <set>

namespace hostdev::json {

using nlohmann::json;

Result<json> parse_strict(std::string_view text, std::string_view source) {
    // The parser callback sees every key: one set of keys per open object
    // finds a repeated key, and the depth it reports bounds the nesting.
    std::vector<std::set<std::string>> keys;
    std::optional<std::string> problem;
    auto check = [&](int depth, json::parse_event_t event, json& parsed) {
        if (problem) return false;
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (depth >= kMaxDepth) {
                    problem = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
                    return false;
                }
                if (event == json::parse_event_t::object_start) keys.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!keys.empty()) keys.pop_back();
                break;
            case json::parse_event_t::key:
                if (!keys.empty() && parsed.is_string() && !keys.back().insert(parsed.get<std::string>()).second) {
                    problem = "the key \"" + parsed.get<std::string>() + "\" appears twice in one object";
                    return false;
                }
                break;
            default: break;
        }
        return true;
    };
    json j = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
    if (problem) return make_error(std::string(source) + ": " + *problem);
    if (j.is_discarded()) return make_error(std::string(source) + ": not a JSON document");
    return j;
}

namespace {
std::string dotted(std::string_view path, std::string_view key) {
    if (path.empty()) return std::string(key);
    if (key.empty()) return std::string(path);
    return std::string(path) + "." + std::string(key);
}
}  // namespace

Fields::Fields(const json& value, std::string file, std::string path) : file_(std::move(file)), path_(std::move(path)) {
    if (value.is_object())
        value_ = &value;
    else
        error_ =
            make_error(file_ + ": " + (path_.empty() ? std::string("the document") : path_) + ": expected an object");
}

std::string Fields::where(std::string_view key) const { return file_ + ": " + dotted(path_, key); }

void Fields::fail(std::string_view key, std::string_view what) {
    if (!error_) error_ = make_error(where(key) + ": " + std::string(what));
}

void Fields::absorb(const Fields& inner) {
    if (!error_ && inner.error_) error_ = inner.error_;
}

const json* Fields::get(std::string_view key) const {
    if (!value_) return nullptr;
    auto it = value_->find(key);
    if (it == value_->end() || it->is_null()) return nullptr;
    return &*it;
}

bool Fields::has(std::string_view key) const { return get(key) != nullptr; }

const json* Fields::member(std::string_view key, Need need, std::string_view expected) {
    const json* v = get(key);
    if (!v && need == Need::Required && value_) fail(key, "missing (expected " + std::string(expected) + ")");
    return v;
}

std::optional<std::string> Fields::string(std::string_view key, Need need) {
    const json* v = member(key, need, "a string");
    if (!v) return std::nullopt;
    if (!v->is_string()) {
        fail(key, "expected a string");
        return std::nullopt;
    }
    return v->get<std::string>();
}

namespace {

std::optional<std::int64_t> whole_number(const json& v, std::int64_t min, std::int64_t max, std::string& why) {
    std::int64_t n = 0;
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max)) {
            why = "out of range (at most " + std::to_string(max) + ")";
            return std::nullopt;
        }
        n = static_cast<std::int64_t>(u);
    } else if (v.is_number_integer()) {
        n = v.get<std::int64_t>();
    } else {
        why = "expected a whole number";
        return std::nullopt;
    }
    if (n < min || n > max) {
        why = "out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")";
        return std::nullopt;
    }
    return n;
}

}  // namespace

std::optional<std::int64_t> Fields::integer(std::string_view key, std::int64_t min, std::int64_t max, Need need) {
    const json* v = member(key, need, "a whole number");
    if (!v) return std::nullopt;
    std::string why;
    auto n = whole_number(*v, min, max, why);
    if (!n) fail(key, why);
    return n;
}

std::optional<bool> Fields::boolean(std::string_view key, Need need) {
    const json* v = member(key, need, "true or false");
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
        fail(key, "expected true or false");
        return std::nullopt;
    }
    return v->get<bool>();
}

std::optional<std::vector<std::string>> Fields::strings(std::string_view key, Need need) {
    const json* v = member(key, need, "a list of strings");
    if (!v) return std::nullopt;
    if (!v->is_array()) {
        fail(key, "expected a list of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    out.reserve(v->size());
    for (const auto& e : *v) {
        if (!e.is_string()) {
            fail(key, "expected a list of strings");
            return std::nullopt;
        }
        out.push_back(e.get<std::string>());
    }
    return out;
}

std::optional<std::vector<std::int64_t>> Fields::integers(std::string_view key, std::int64_t min, std::int64_t max,
                                                          Need need) {
    const json* v = member(key, need, "a list of whole numbers");
    if (!v) return std::nullopt;
    if (!v->is_array()) {
        fail(key, "expected a list of whole numbers");
        return std::nullopt;
    }
    std::vector<std::int64_t> out;
    out.reserve(v->size());
    for (const auto& e : *v) {
        std::string why;
        auto n = whole_number(e, min, max, why);
        if (!n) {
            fail(key, why);
            return std::nullopt;
        }
        out.push_back(*n);
    }
    return out;
}

std::optional<Fields> Fields::object(std::string_view key, Need need) {
    const json* v = member(key, need, "an object");
    if (!v) return std::nullopt;
    if (!v->is_object()) {
        fail(key, "expected an object");
        return std::nullopt;
    }
    return Fields(*v, file_, dotted(path_, key));
}

const json* Fields::array(std::string_view key, Need need) {
    const json* v = member(key, need, "a list");
    if (!v) return nullptr;
    if (!v->is_array()) {
        fail(key, "expected a list");
        return nullptr;
    }
    return v;
}

std::string element(std::string_view path, std::string_view key, std::size_t index) {
    return dotted(path, key) + "[" + std::to_string(index) + "]";
}

std::string to_text(const nlohmann::ordered_json& document) {
    return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace hostdev::json
