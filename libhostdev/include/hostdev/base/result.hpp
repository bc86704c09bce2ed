// Result<T>: the low tier of hostdev's error handling. Library functions that can
// fail on bad input or I/O return a Result; front ends turn errors into messages
// and exit codes. An Error names what failed, the path involved and errno.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hostdev {

struct Error {
    std::string message;  // what went wrong, in words
    std::string path;     // file involved, if any
    int err = 0;          // errno, if any
    // Refused: a policy said no before anything changed (blocked group, a
    // group held by another owner). Failed: something went wrong on the way.
    enum class Kind { Failed, Refused } kind = Kind::Failed;

    // The same error (path, errno, kind) with what was being done in front:
    // "cannot write journal: <message>".
    [[nodiscard]] Error context(std::string_view what) const {
        Error e = *this;
        e.message = message.empty() ? std::string(what) : std::string(what) + ": " + message;
        return e;
    }
    // The same error (path, errno, kind) with another message, for a reader
    // that knows better words than the primitive it called.
    [[nodiscard]] Error reworded(std::string words) const {
        Error e = *this;
        e.message = std::move(words);
        return e;
    }

    // "message: path: strerror(errno)" with the empty parts left out.
    [[nodiscard]] std::string describe() const {
        std::string s = message;
        if (!path.empty()) s += (s.empty() ? "" : ": ") + path;
        if (err != 0) s += std::string(s.empty() ? "" : ": ") + std::strerror(err);
        return s;
    }
};

inline Error make_error(std::string message, std::string path = {}, int err = 0) {
    return Error{std::move(message), std::move(path), err, Error::Kind::Failed};
}
inline Error make_refusal(std::string message) { return Error{std::move(message), {}, 0, Error::Kind::Refused}; }

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
    Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

    [[nodiscard]] bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    [[nodiscard]] const Error& error() const { return std::get<1>(v_); }

    template <class U>
    T value_or(U&& fallback) const {
        return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

private:
    std::variant<T, Error> v_;
};

// In the spirit of ccache's TRY: evaluate a Result or Status and return its
// error from the enclosing function when it failed.
#define HOSTDEV_TRY(expr)                                             \
    do {                                                              \
        auto&& hostdev_try_result_ = (expr);                          \
        if (!hostdev_try_result_) return hostdev_try_result_.error(); \
    } while (false)

// Result<void>
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace hostdev
