// Hop-by-hop field removal, RFC 9110 §7.6.1 (Connection) and RFC 9112 §9.6 / §7 (TE, Trailer,
// Transfer-Encoding, which describe one connection's framing).
//
// Beyond the fields RFC 9110 lists, the fixed set includes:
//   - Keep-Alive and Proxy-Connection: legacy HTTP/1.0 connection fields, commonly sent without
//     being named in Connection.
//   - Proxy-Authenticate and Proxy-Authorization: addressed to the next proxy, not the origin.
//     A reverse proxy is the client's "next proxy", so credentials meant for it must never reach
//     the origin, and an origin's proxy challenge is meaningless to end users.
//   - HTTP2-Settings: only valid alongside "Upgrade: h2c" on that one connection (RFC 7540
//     §3.2.1), and ghala never forwards upgrades.
#include "ghala/http/hop_by_hop.hpp"

#include <array>
#include <string>
#include <vector>

namespace ghala::http {

namespace {

constexpr std::array<std::string_view, 10> kHopByHop = {"Connection",
                                                        "Keep-Alive",
                                                        "Proxy-Connection",
                                                        "Proxy-Authenticate",
                                                        "Proxy-Authorization",
                                                        "TE",
                                                        "Trailer",
                                                        "Transfer-Encoding",
                                                        "Upgrade",
                                                        "HTTP2-Settings"};

// Fields a Connection option must not remove (see the header).
bool protected_from_connection(std::string_view name) noexcept {
  return iequals(name, "Host") || iequals(name, "Content-Length");
}

}  // namespace

bool is_hop_by_hop(std::string_view name) noexcept {
  for (auto h : kHopByHop) {
    if (iequals(name, h)) return true;
  }
  return false;
}

void strip_hop_by_hop(HeaderMap& headers) {
  // Collect the options first: they name fields, and Connection itself goes with the fixed set.
  std::vector<std::string> named;
  for (const auto& field : headers) {
    if (!iequals(field.name, "Connection")) continue;
    for (auto option : split_list(field.value)) {
      if (!protected_from_connection(option)) named.emplace_back(option);
    }
  }
  std::erase_if(headers.fields(), [&](const Header& h) {
    if (is_hop_by_hop(h.name)) return true;
    for (const auto& n : named) {
      if (iequals(h.name, n)) return true;
    }
    return false;
  });
}

}  // namespace ghala::http
