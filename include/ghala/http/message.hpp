#pragma once
// The HTTP/1.1 message model shared by the client side, the upstream side and the cache.

#include <cstdint>
#include <string>
#include <string_view>

#include "ghala/http/header_map.hpp"

namespace ghala::http {

enum class Method : std::uint8_t {
  Get,
  Head,
  Post,
  Put,
  Delete,
  Options,
  Patch,
  Trace,
  Connect,
  Other
};

Method method_from_string(std::string_view s) noexcept;
std::string_view to_string(Method m) noexcept;
// RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE are idempotent.
bool is_idempotent(Method m) noexcept;
// RFC 9110 §9.2.1: GET, HEAD, OPTIONS, TRACE are safe.
bool is_safe(Method m) noexcept;

// How a message body is delimited (RFC 9112 §6.3).
enum class BodyFraming : std::uint8_t { None, ContentLength, Chunked, UntilClose };

struct RequestHead {
  Method method = Method::Get;
  std::string method_text;                  // as received (for Method::Other)
  std::string target;                       // request-target as received (origin-form: path?query)
  std::string_view path() const noexcept;   // target up to '?'
  std::string_view query() const noexcept;  // after '?', without it; empty if none
  int version_minor = 1;                    // HTTP/1.x
  HeaderMap headers;
  BodyFraming framing = BodyFraming::None;
  std::uint64_t content_length = 0;        // when framing == ContentLength
  bool keep_alive = true;                  // after Connection and version rules
  bool expect_continue = false;            // Expect: 100-continue
  std::string_view host() const noexcept;  // Host header without port, lower-cased by the parser
  // Back to a default-constructed head, keeping the memory of its strings and fields: a
  // keep-alive connection parses one head after another into the same object.
  void reset() noexcept;
};

struct ResponseHead {
  int status = 200;
  std::string reason;
  int version_minor = 1;
  HeaderMap headers;
  BodyFraming framing = BodyFraming::None;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  // As RequestHead::reset().
  void reset() noexcept;
};

std::string_view reason_phrase(int status) noexcept;

// RFC 9110 §6.4.1 / RFC 9112 §6.3: responses to HEAD, 1xx, 204 and 304 never have a body.
inline bool response_has_no_body(Method request_method, int status) noexcept {
  return request_method == Method::Head || (status >= 100 && status < 200) || status == 204 ||
         status == 304;
}

}  // namespace ghala::http
