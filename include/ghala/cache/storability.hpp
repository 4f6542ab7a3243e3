#pragma once
// May a shared cache store this response? RFC 9111 §3 (with §3.5 for Authorization and
// §5.2.2.3 for must-understand), plus ghala's documented policy choices.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/cache/cache_control.hpp"
#include "ghala/cache/policy.hpp"
#include "ghala/http/header_map.hpp"
#include "ghala/http/message.hpp"

namespace ghala::cache {

// The first reason a response is not stored, in the order the checks run. Named for logs and
// for Cache-Status `detail=` (see to_string).
enum class NotStored : std::uint8_t {
  No,              // it is storable
  Method,          // only GET responses are stored
  Status,          // not a final status, or one ghala never stores (206, 304)
  MustUnderstand,  // must-understand on a status ghala does not implement
  NoStore,         // response no-store
  RequestNoStore,  // request no-store (only with ClientDirectives::Honour)
  Private,         // unqualified private
  Authorization,   // request had Authorization, response lacks public/s-maxage/must-revalidate
  VaryAny,         // Vary: * can never be reused (§4.1), so storing it only wastes space
  SetCookie,       // Set-Cookie without an origin directive that strips it (policy)
  NoFreshness,     // no explicit freshness, not heuristically cacheable, not public
};
std::string_view to_string(NotStored reason) noexcept;

struct Storability {
  NotStored reason = NotStored::No;
  // Fields to drop before storing: private="..." (§5.2.2.7: a shared cache MUST NOT store
  // them) and no-cache="..." (§5.2.2.4: reusable if they are excluded, so ghala never keeps
  // them). Lower-case, sorted, unique.
  std::vector<std::string> omit_fields;
  bool storable() const noexcept { return reason == NotStored::No; }
};

// Status codes whose caching requirements ghala implements (RFC 9110 §15 codes, except 206
// and 304, which ghala never stores: it fetches whole objects and answers ranges and
// conditionals itself). Used for must-understand.
bool is_understood_status(int status) noexcept;

struct StoreFacts {
  http::Method method = http::Method::Get;
  bool request_has_authorization = false;
  RequestDirectives request;
  int status = 200;
  ResponseDirectives response;  // the effective directives (targeted field or Cache-Control)
  bool has_expires = false;     // an Expires field that counts (not overridden by a targeted field)
  bool vary_any = false;        // Vary contains "*"
  bool has_set_cookie = false;
};

Storability storability(const StoreFacts& facts, const CachePolicy& policy);

// Gathers the facts from the request and response heads and the effective directives.
StoreFacts store_facts(const http::RequestHead& request, const http::ResponseHead& response,
                       const ResponseDirectives& effective, bool use_expires);

}  // namespace ghala::cache
