#pragma once
// Invalidation after unsafe requests, RFC 9111 §4.4.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/http/header_map.hpp"
#include "ghala/http/message.hpp"

namespace ghala::cache {

// An absolute http(s) URI reduced to what identifies a cached resource: scheme and host
// lower-cased, the default port made explicit, the fragment dropped, dot-segments removed.
struct AbsoluteUri {
  std::string scheme;          // "http" or "https"
  std::string host;            // lower-cased; IPv6 literals keep their brackets
  std::uint16_t port = 0;      // 80 / 443 when not written
  std::string path_and_query;  // "/a/b?x=1", never empty (at least "/")

  // RFC 6454 / RFC 9110 §4.3.1 origin: same scheme, host and port.
  bool same_origin(const AbsoluteUri& other) const noexcept {
    return scheme == other.scheme && host == other.host && port == other.port;
  }
  std::string to_string() const;  // port omitted when it is the scheme's default
  bool operator==(const AbsoluteUri&) const = default;
};

// Parses an absolute http or https URI; nullopt for other schemes, a missing or invalid host or
// port, or userinfo (never legitimate in http(s) URIs, RFC 9110 §4.2.4).
std::optional<AbsoluteUri> parse_absolute_uri(std::string_view text);

// RFC 3986 §5.2 reference resolution of `reference` (absolute, network-path "//h/p",
// absolute-path "/p", relative-path "p", query-only "?q") against `base`.
std::optional<AbsoluteUri> resolve_reference(const AbsoluteUri& base, std::string_view reference);

// §4.4: after a non-error response (2xx, 3xx) to an unsafe method (anything but GET, HEAD,
// OPTIONS, TRACE, including unknown methods), the target URI must be invalidated, and ghala
// also invalidates the URIs in Location and Content-Location when they have the target's origin
// (a different origin must never be invalidated: it would let one site purge another's
// objects). Empty for safe methods and error statuses. Unique, target first.
std::vector<AbsoluteUri> uris_to_invalidate(http::Method method, int status,
                                            const AbsoluteUri& target,
                                            const http::HeaderMap& response);

}  // namespace ghala::cache
