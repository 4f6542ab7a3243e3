#pragma once
// The Cache-Status response field, RFC 9211: one Structured Field List member (RFC 8941 §3.1)
// per cache, e.g. `ghala; hit; ttl=123` or `ghala; fwd=uri-miss; stored`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ghala::cache {

// RFC 9211 §2.2 fwd values.
enum class Forward : std::uint8_t {
  None,      // hit (or nothing forwarded)
  Bypass,    // configured not to use the cache for this request
  Method,    // the request method's semantics required forwarding
  UriMiss,   // nothing stored for the URI
  VaryMiss,  // stored responses for the URI, but none matched the Vary'd request fields
  Miss,      // not in cache, without distinguishing the two above
  Request,   // the request's semantics required forwarding (e.g. client no-cache)
  Stale,     // a stored response was stale and was validated (or refetched)
  Partial,   // a partial response was stored
};
std::string_view to_string(Forward f) noexcept;

struct CacheStatus {
  std::string cache = "ghala";  // the cache's name: an sf-token if it is one, else an sf-string
  bool hit = false;
  Forward fwd = Forward::None;
  std::optional<int> fwd_status;    // status of the forwarded response
  std::optional<std::int64_t> ttl;  // remaining freshness; negative when serving stale
  bool stored = false;
  bool collapsed = false;             // the forwarded request was coalesced with others
  std::optional<std::string> key;     // the cache key (only when debugging: it reveals the URL)
  std::optional<std::string> detail;  // sf-token if it is one, else an sf-string
};

// The list member for `status`. Strings are escaped; bytes outside printable ASCII, which an
// sf-string cannot carry, become '?'. Integers are clamped to the 15 digits RFC 8941 allows.
std::string format_cache_status(const CacheStatus& status);
// The same, appended to out (no string of its own: every response carries one).
void format_cache_status(const CacheStatus& status, std::string& out);

// RFC 9211 §2: a cache appends its member after those of the caches before it (upstream first).
std::string append_cache_status(std::string_view existing, const CacheStatus& status);

// RFC 8941 §3.3.4 token: ( ALPHA / "*" ) *( tchar / ":" / "/" ).
bool is_sf_token(std::string_view s) noexcept;

}  // namespace ghala::cache
