#pragma once
// Which header fields a stored response keeps (RFC 9111 §3.1) and how a 304 or a HEAD response
// updates them (§3.2, §4.3.4).

#include <span>
#include <string>
#include <string_view>

#include "ghala/http/header_map.hpp"

namespace ghala::cache {

// §3.1: fields a cache must not store. Hop-by-hop fields (http::is_hop_by_hop: Connection,
// Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, ...), the fields that Connection
// names, and the proxy-specific Proxy-Authenticate, Proxy-Authentication-Info and
// Proxy-Authorization.
bool is_never_stored(std::string_view name) noexcept;

// The response's fields as they are to be stored: §3.1 exclusions, the fields listed by
// Connection, and `omit` (lower-case names from Storability::omit_fields). Order and duplicates
// of the rest are kept.
http::HeaderMap headers_to_store(const http::HeaderMap& response,
                                 std::span<const std::string> omit);

// §3.2: fields a newer response (a 304, or a HEAD response, §4.3.5) must not change in a stored
// response: everything is_never_stored() names, Content-Length (the stored body is the one that
// was received), and the fields that describe how the stored bytes are encoded, which ghala's
// stored body depends on: Content-Encoding and Content-Range ("header fields that the cache's
// stored response depends upon").
bool is_update_exempt(std::string_view name) noexcept;

// §3.2: each field of `update` (except the exempt ones, the ones Connection names, and `omit`)
// replaces every stored line of that name; the other stored fields stay as they were.
template <http::ReadableHeaders H>
http::HeaderMap updated_headers(const H& stored, const http::HeaderMap& update,
                                std::span<const std::string> omit);

}  // namespace ghala::cache
