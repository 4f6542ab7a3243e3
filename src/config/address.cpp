#include "config/address.hpp"

#include <arpa/inet.h>

#include <string>

#include "config/diagnostics.hpp"

namespace ghala::config {
namespace {

Error invalid(std::string_view text, std::string why) {
  return make_error(ErrorKind::Invalid, "invalid address " + quote_value(text) + ": " + why);
}

bool is_ipv4(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view s, unsigned min_port) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n < min_port || n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(n);
}

// Splits "host:port" / "[v6]:port" into host (brackets removed) and port. port_required: false
// lets "host" alone through with default_port. `shown` is the whole value, for messages.
Result<SocketAddress> split_host_port(std::string_view text, std::string_view shown,
                                      bool port_required, std::uint16_t default_port,
                                      unsigned min_port) {
  std::string host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return invalid(shown, "missing ']' after IPv6 address");
    host.assign(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return invalid(shown, "expected ':port' after ']'");
    if (!rest.empty()) port = rest.substr(1);
    if (!is_ipv6(host)) return invalid(shown, quote_value(host) + " is not an IPv6 address");
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return invalid(shown, "write IPv6 addresses in brackets, e.g. [::1]:8080");
    }
    host.assign(text.substr(0, colon));
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
    if (host.empty()) {
      return invalid(shown, "missing host (use 0.0.0.0 for all IPv4 addresses, [::] for IPv6)");
    }
    if (host != "localhost" && !is_ipv4(host)) {
      return invalid(shown, quote_value(host) +
                                " is not an IP address (use a literal IPv4 or [IPv6] address, "
                                "or localhost)");
    }
  }
  SocketAddress out{host, default_port, std::string(shown)};
  if (port.empty() && (port_required || text.back() == ':')) {
    return invalid(shown, "missing port (host:port)");
  }
  if (!port.empty()) {
    const auto p = parse_port(port, min_port);
    if (!p) {
      return invalid(shown, "port must be a number from " + std::to_string(min_port) + " to 65535");
    }
    out.port = *p;
  }
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<SocketAddress> parse_listen_address(std::string_view text) {
  if (text.empty()) return invalid(text, "empty address");
  if (text.find("://") != std::string_view::npos) {
    return invalid(text, "a listen address is host:port, without a scheme");
  }
  return split_host_port(text, text, true, 0, 0);
}

Result<SocketAddress> parse_upstream_url(std::string_view text) {
  if (text.empty()) return invalid(text, "empty address");
  if (starts_with_ci(text, "https://")) {
    return invalid(text, "https:// upstreams are not supported yet; use http://");
  }
  std::string_view rest = text;
  bool has_scheme = false;
  if (starts_with_ci(text, "http://")) {
    rest.remove_prefix(7);
    has_scheme = true;
  } else if (text.find("://") != std::string_view::npos) {
    return invalid(text, "only http:// upstreams are supported");
  }
  if (rest.find('@') != std::string_view::npos) {
    return invalid(text, "credentials in upstream URLs are not supported");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return invalid(text, "an upstream URL cannot have a path or query (routes pass the path on)");
  }
  return split_host_port(rest, text, !has_scheme, 80, 1);
}

}  // namespace ghala::config
