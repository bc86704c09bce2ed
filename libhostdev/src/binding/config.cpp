// hostdev.conf: "key = value" lines, '#' comments, whitespace trimmed.
#include "hostdev/binding/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <set>
#include <string>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/fsroot.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {
namespace {

constexpr std::size_t kMaxConfigBytes = 1U << 20;
constexpr long long kMaxTimeoutMs = 24LL * 3600 * 1000;  // one day
constexpr std::size_t kMaxPathBytes = 4095;              // PATH_MAX less its NUL

// Values are quoted escaped and cut short: the file may hold anything.
std::string quoted(std::string_view text) { return parse::quote(text); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// A '#' at the start of the line or after whitespace starts a comment, so a
// path such as "/srv/vm#1" stays whole.
std::string_view strip_comment(std::string_view line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) return line.substr(0, i);
    }
    return line;
}

Error line_error(std::string_view source, std::size_t line, const std::string& what) {
    return make_error(std::string(source) + ":" + std::to_string(line) + ": " + what);
}

Result<std::chrono::milliseconds> parse_ms(std::string_view value, std::string_view key, long long min) {
    long long n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < min || n > kMaxTimeoutMs) {
        return make_error(std::string(key) + " wants a whole number of milliseconds from " + std::to_string(min) +
                          " to " + std::to_string(kMaxTimeoutMs) + ", got " + quoted(value));
    }
    return std::chrono::milliseconds(n);
}

Result<std::filesystem::path> parse_abs_path(std::string_view value, std::string_view key) {
    if (value.find('\0') != std::string_view::npos) {
        return make_error(std::string(key) + " holds a NUL byte, which no path can (" + quoted(value) + ")");
    }
    if (value.empty() || value.front() != '/') {
        return make_error(std::string(key) + " wants an absolute path, got " + quoted(value));
    }
    if (value.size() > kMaxPathBytes) {
        return make_error(std::string(key) + " is longer than " + std::to_string(kMaxPathBytes) +
                          " bytes, more than any path can be (" + quoted(value) + ")");
    }
    return std::filesystem::path(std::string(value));
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source) {
    Config config;
    std::set<std::string, std::less<>> seen;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);

        line = trim(strip_comment(line));
        if (line.empty()) continue;
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            return line_error(source, line_no, "expected 'key = value', got " + quoted(line));
        }
        const std::string_view key = trim(line.substr(0, eq));
        const std::string_view value = trim(line.substr(eq + 1));
        if (key.empty()) return line_error(source, line_no, "missing key before '='");
        if (seen.count(key) != 0) {
            return line_error(source, line_no, "'" + std::string(key) + "' is set twice");
        }

        if (key == "root") {
            auto p = parse_abs_path(value, key);
            if (!p) return line_error(source, line_no, p.error().message);
            config.root = std::move(*p);
        } else if (key == "journal_dir") {
            if (value.empty()) {
                config.journal_dir.reset();  // the default, under the root
            } else {
                auto p = parse_abs_path(value, key);
                if (!p) return line_error(source, line_no, p.error().message);
                config.journal_dir = std::move(*p);
            }
        } else if (key == "log_file") {
            if (value.empty()) {
                config.log_file.reset();
            } else {
                auto p = parse_abs_path(value, key);
                if (!p) return line_error(source, line_no, p.error().message);
                config.log_file = std::move(*p);
            }
        } else if (key == "wait_timeout_ms") {
            auto ms = parse_ms(value, key, 1);
            if (!ms) return line_error(source, line_no, ms.error().message);
            config.wait_timeout = *ms;
        } else if (key == "lock_timeout_ms") {
            auto ms = parse_ms(value, key, 0);
            if (!ms) return line_error(source, line_no, ms.error().message);
            config.lock_timeout = *ms;
        } else if (key == "vfio_variant_drivers") {
            auto m = variant_mode_from_string(value);
            if (!m)
                return line_error(source, line_no,
                                  "vfio_variant_drivers must be auto, yes or no, got " + quoted(value));
            config.vfio_variant_drivers = *m;
        } else if (key == "display_manager") {
            if (value != "none" && !parse::valid_unit_name(value)) {
                const std::string unit = std::string(value) + ".service";
                const bool bare = !value.empty() && parse::valid_unit_name(unit);
                return line_error(source, line_no,
                                  "display_manager must be none or a service unit such as gdm3.service, got " +
                                      quoted(value) + (bare ? " (did you mean " + unit + "?)" : ""));
            }
            config.display_manager = value;
        } else if (key == "single_gpu_handoff") {
            if (value != "yes" && value != "no")
                return line_error(source, line_no, "single_gpu_handoff must be yes or no, got " + quoted(value));
            config.single_gpu_handoff = value == "yes";
        } else if (key == "gpu_release_timeout_ms") {
            auto ms = parse_ms(value, key, 1);
            if (!ms) return line_error(source, line_no, ms.error().message);
            config.gpu_release_timeout = *ms;
        } else {
            return line_error(source, line_no,
                              "unknown key " + quoted(key) +
                                  " (known: root, journal_dir, wait_timeout_ms, lock_timeout_ms, log_file, "
                                  "vfio_variant_drivers, display_manager, single_gpu_handoff, gpu_release_timeout_ms)");
        }
        seen.emplace(key);
    }
    return config;
}

std::filesystem::path config_path() {
    const char* env = std::getenv("HOSTDEV_CONFIG");
    if (env != nullptr && *env != '\0') return env;
    return FsRoot{}.etc("hostdev/hostdev.conf");
}

namespace {

// The configuration from a file's text as read (a missing file gives the
// defaults); `what_to_do` ends the message of a file that cannot be read.
Result<Config> config_from(Result<std::string> text, const std::string& shown, std::string_view what_to_do) {
    if (!text) {
        if (text.error().err == ENOENT) return Config{};
        return text.error().context(std::string("cannot read the configuration (") + std::string(what_to_do) + ")");
    }
    if (text->size() > kMaxConfigBytes) return make_error("configuration file larger than 1 MiB", shown, EFBIG);
    return parse_config(*text, shown);
}

}  // namespace

Result<Config> load_config() {
    const std::filesystem::path path = config_path();
    // A file hostdev finds by itself: used only as a regular file, never
    // through a link, and a FIFO there cannot block the hook.
    return config_from(fileio::read_regular_file(path, kMaxConfigBytes + 1), path.string(),
                       "fix it or set HOSTDEV_CONFIG");
}

Result<Config> load_config(const FsRoot& root) {
    if (root.is_live()) return load_config();
    const std::filesystem::path path = root.etc("hostdev/hostdev.conf");
    const std::string shown = root.live_path(path);
    // As load_config: a regular file only, never through a link, never blocking.
    auto read = [&]() -> Result<std::string> {
        auto fd = root.open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
        if (!fd) return fd.error();
        struct stat st {};
        if (::fstat(fd->get(), &st) != 0) return make_error("cannot stat", shown, errno);
        if (!S_ISREG(st.st_mode)) return make_error("not a regular file", shown, EINVAL);
        return fileio::read_fd(fd->get(), shown, kMaxConfigBytes + 1);
    };
    return config_from(read(), shown, "fix the root's etc/hostdev/hostdev.conf");
}

}  // namespace hostdev
