#pragma once
// Socket addresses as written in the config: "127.0.0.1:8080", "[::1]:8080", "localhost:8080",
// and for upstream servers also "http://127.0.0.1:9000". Hosts must be literal IP addresses or
// "localhost": ghala resolves no names at load time, so a config means the same thing on every
// machine and a reload never blocks on DNS.

#include <string_view>

#include "ghala/config/config.hpp"
#include "ghala/core/result.hpp"

namespace ghala::config {

// host:port, port 0-65535 required; port 0 lets the OS pick a free port (tests read it back).
// The error message says what to write instead.
Result<SocketAddress> parse_listen_address(std::string_view text);

// host:port or http://host[:port][/], port 1-65535; the port defaults to 80 with http://. https://
// is refused with a message (TLS to origins is not supported yet), as are paths, queries and
// credentials.
Result<SocketAddress> parse_upstream_url(std::string_view text);

}  // namespace ghala::config
