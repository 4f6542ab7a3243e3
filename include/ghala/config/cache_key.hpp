#pragma once
// The primary cache key of a request (RFC 9111 §2: the target URI; ghala is one origin server's
// cache per Host, so the scheme is left out), with the query and extra request headers chosen
// by the request rule's `key:` options. The Vary secondary key is separate (cache/vary.hpp).
//
// Layout, for a person reading Cache-Status `key=` or a purge tool building a prefix:
//
//   HOST TARGET [ "\n" NAME ( "=" LEN ":" VALUE | "!" ) ]...
//
//   HOST    the Host header lower-cased, one trailing dot removed, port 80 and 443 dropped
//           (so http and https share objects), other ports kept in decimal: "example.com:8080",
//           "[::1]:8443". IPv6 literals lower-cased.
//   TARGET  the path exactly as received (percent-encoding kept, no dot-segment removal), then
//           "?" and the query as the options leave it (no "?" when nothing is left).
//   NAME    each key header, lower-case, in the order of the options; its value (all lines
//           joined with ", ") prefixed by its byte length, or "!" when absent (absent differs
//           from empty).
//
// The key is injective: HOST cannot contain '/', TARGET cannot contain '\n' (both are checked,
// see below), names are tokens and values carry their length, so two requests that differ
// after the documented normalisation never share a key. Requests that cannot be keyed that way
// (a target that is not origin-form, bytes outside printable ASCII, a malformed Host) get
// nullopt: the caller passes them to the origin uncached.

#include <optional>
#include <string>
#include <string_view>

#include "ghala/config/cache_rules.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::config {

// host: the Host header value as received (port allowed); target: the request-target.
std::optional<std::string> cache_key(const KeyOptions& options, std::string_view host,
                                     std::string_view target, const http::HeaderMap& request);

// With the request rule's options, or the defaults (query kept, no headers) when rule is null.
std::optional<std::string> cache_key(const CacheRule* rule, std::string_view host,
                                     std::string_view target, const http::HeaderMap& request);

// The HOST part alone (same rules): for purge tools that build keys from a URL's authority.
std::optional<std::string> cache_key_host(std::string_view host);

}  // namespace ghala::config
