#pragma once
// Result<T>: a value or an Error, for operations that fail for reasons outside our control
// (network bytes, config files, the file system, origins). Impossible states use assert instead.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ghala {

enum class ErrorKind {
  Invalid,   // malformed input (config, HTTP, cached data)
  NotFound,  // a file, key or name that does not exist
  Denied,    // not allowed (path escape, permission)
  Io,        // an OS-level failure
  Timeout,
  Refused,  // connection refused or reset
  Limit,    // a configured limit was exceeded
  Internal,
};

const char* to_string(ErrorKind kind) noexcept;

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  T value_or(T fallback) const { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message)};
}

}  // namespace ghala
