#pragma once
// Socket addresses as written in the config: "127.0.0.1:8080", "[::1]:8080", and for upstream
// servers also "http://127.0.0.1:9000" and host names ("http://origin.example.com:8080").
// Listeners take literal IP addresses only (a socket binds to an address, and "localhost" may be
// 127.0.0.1, ::1 or both depending on the machine). Parsing never resolves a name: the loader
// checks the syntax only (RFC 1123), and names are resolved when a snapshot is built, off the
// worker loops (config/resolve.hpp, server/upstream_dns.hpp).

#include <cstdint>
#include <string>
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
// A host may be a literal address or an RFC 1123 host name (see is_host_name).
Result<SocketAddress> parse_upstream_url(std::string_view text);

// RFC 1123 host name syntax: labels of letters, digits and '-' (not at either end), 1-63
// characters, 253 in all, an optional final '.', and a last label that is not all digits.
bool is_host_name(std::string_view text);
// A literal IPv4 or IPv6 address (without brackets).
bool is_ip_literal(std::string_view text);
// "10.0.0.5:8080" or "[2001:db8::1]:8080".
std::string address_text(std::string_view ip, std::uint16_t port);

}  // namespace ghala::config
