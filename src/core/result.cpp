#include "ghala/core/result.hpp"

namespace ghala {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Invalid:
      return "invalid";
    case ErrorKind::NotFound:
      return "not_found";
    case ErrorKind::Denied:
      return "denied";
    case ErrorKind::Io:
      return "io";
    case ErrorKind::Timeout:
      return "timeout";
    case ErrorKind::Refused:
      return "refused";
    case ErrorKind::Limit:
      return "limit";
    case ErrorKind::Internal:
      return "internal";
  }
  return "unknown";
}

}  // namespace ghala
