// Reading JSON that hostdev did not write in this run (snapshots, journals):
// every reader is total. A document that is not JSON, repeats a key, nests
// deeper than any hostdev file does, or holds a value of the wrong type, a
// null where a value is needed, a missing key or a number out of range gives
// an Error that names the file and the key path (`host.json: devices[3].vendor:
// expected a hexadecimal string`), never an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hostdev/base/result.hpp"

namespace hostdev::json {

// Deeper than any file hostdev writes (a snapshot nests four levels).
inline constexpr int kMaxDepth = 32;

// Parses `text`; `source` names it in errors. Duplicate keys in one object,
// nesting beyond kMaxDepth and anything after the document are errors.
Result<nlohmann::json> parse_strict(std::string_view text, std::string_view source);

enum class Need { Required, Optional };

// Typed access to the members of one JSON object. Each getter returns a
// fallback (nullopt, 0, empty) and records the first error; the caller checks
// error() once at the end. A null member counts as absent.
class Fields {
public:
    // Errors read "FILE: PATH.KEY: what" ("host.json: devices[3].vendor:
    // expected a hexadecimal string"); PATH is empty for the document itself.
    // A value that is not an object is itself the first error.
    Fields(const nlohmann::json& value, std::string file, std::string path = {});

    [[nodiscard]] const std::optional<Error>& error() const { return error_; }
    [[nodiscard]] bool ok() const { return !error_; }
    [[nodiscard]] const std::string& file() const { return file_; }
    [[nodiscard]] const std::string& path() const { return path_; }
    // "FILE: PATH.KEY" (or "FILE: KEY" at the top), for messages.
    [[nodiscard]] std::string where(std::string_view key) const;
    // Records an error about a key (the first one wins).
    void fail(std::string_view key, std::string_view what);
    // Takes over the first error of a nested reader.
    void absorb(const Fields& inner);

    [[nodiscard]] bool has(std::string_view key) const;  // present and not null
    std::optional<std::string> string(std::string_view key, Need need = Need::Optional);
    // A whole number within [min, max]; floats, strings and booleans are errors.
    std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                        Need need = Need::Optional);
    std::optional<bool> boolean(std::string_view key, Need need = Need::Optional);
    std::optional<std::vector<std::string>> strings(std::string_view key, Need need = Need::Optional);
    std::optional<std::vector<std::int64_t>> integers(std::string_view key, std::int64_t min, std::int64_t max,
                                                      Need need = Need::Optional);
    // A member that must be an object (a nested reader) or an array.
    std::optional<Fields> object(std::string_view key, Need need = Need::Optional);
    const nlohmann::json* array(std::string_view key, Need need = Need::Optional);
    // The raw member, or nullptr when absent or null.
    [[nodiscard]] const nlohmann::json* get(std::string_view key) const;

private:
    const nlohmann::json* value_ = nullptr;  // the object, or nullptr when it is not one
    std::string file_, path_;
    std::optional<Error> error_;
    const nlohmann::json* member(std::string_view key, Need need, std::string_view expected);
};

// The path of element `index` of the array `key` below `path`: "devices[3]".
std::string element(std::string_view path, std::string_view key, std::size_t index);

// A document as hostdev writes every JSON output: two-space indent and a
// final newline. Bytes that are not UTF-8 (a name read from a copied root)
// become U+FFFD instead of failing the output.
std::string to_text(const nlohmann::ordered_json& document);

}  // namespace hostdev::json
