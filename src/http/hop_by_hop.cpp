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

// Fields a Connection option must not remove (see the header).
bool protected_from_connection(std::string_view name) noexcept {
  return iequals(name, "Host") || iequals(name, "Content-Length");
}

}  // namespace

// Every field of every message passes here twice: the length picks the one or two names to
// compare with, and most lengths match none.
bool is_hop_by_hop(std::string_view name) noexcept {
  switch (name.size()) {
    case 2:
      return iequals(name, "TE");
    case 7:
      return iequals(name, "Trailer") || iequals(name, "Upgrade");
    case 10:
      return iequals(name, "Connection") || iequals(name, "Keep-Alive");
    case 14:
      return iequals(name, "HTTP2-Settings");
    case 16:
      return iequals(name, "Proxy-Connection");
    case 17:
      return iequals(name, "Transfer-Encoding");
    case 18:
      return iequals(name, "Proxy-Authenticate");
    case 19:
      return iequals(name, "Proxy-Authorization");
    default:
      return false;
  }
}

void strip_hop_by_hop(HeaderMap& headers) {
  // Collect the options first: they name fields, and Connection itself goes with the fixed set.
  // The views point into the map's storage, which removing fields leaves in place. A few
  // options (usually one: "keep-alive" or "close") fit on the stack.
  std::array<std::string_view, 8> few;
  std::size_t n_few = 0;
  std::vector<std::string_view> more;
  for (const auto& field : headers) {
    if (!iequals(field.name, "Connection")) continue;
    for_each_list_element(field.value, [&](std::string_view option) {
      if (protected_from_connection(option)) return;
      if (n_few < few.size()) {
        few[n_few++] = option;
      } else {
        more.push_back(option);
      }
    });
  }
  auto named = [&](std::string_view name) {
    for (std::size_t i = 0; i < n_few; ++i) {
      if (iequals(name, few[i])) return true;
    }
    for (auto n : more) {
      if (iequals(name, n)) return true;
    }
    return false;
  };
  std::erase_if(headers.fields(),
                [&](const Header& h) { return is_hop_by_hop(h.name) || named(h.name); });
}

}  // namespace ghala::http
