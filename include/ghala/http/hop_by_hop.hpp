#pragma once
// Hop-by-hop fields (RFC 9110 §7.6.1): meaningful only for one connection, so a proxy removes
// them before forwarding a request upstream or a response downstream.

#include <string_view>

#include "ghala/http/header_map.hpp"

namespace ghala::http {

// True for the fixed hop-by-hop set: Connection, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding, Upgrade,
// HTTP2-Settings. Case-insensitive.
bool is_hop_by_hop(std::string_view name) noexcept;

// Removes the fixed set and every field named by a Connection option. Host and Content-Length are
// never removed because of a Connection option: a client could otherwise make the proxy forward
// a request without its Host or its body length ("Connection: close, Host"). Call it before
// adding the proxy's own fields (X-Forwarded-For, Via), so a client cannot name those either.
void strip_hop_by_hop(HeaderMap& headers);

}  // namespace ghala::http
