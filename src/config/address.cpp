#include "config/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
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

// RFC 1123 §2.1 host name: dot-separated labels of letters, digits and '-', 1-63 characters each,
// not starting or ending with '-'; 253 characters in all, plus an optional final '.' (a fully
// qualified name, exempt from the resolver's search list). The last label may not be all digits,
// so that a mistyped IPv4 address ("256.1.1.1", "10.0.0") is never taken for a name.
bool host_name_syntax(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  std::string_view last;
  while (true) {
    const auto dot = s.find('.');
    const std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
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
// allow_names: a host name is accepted (upstream servers); otherwise only literal addresses.
Result<SocketAddress> split_host_port(std::string_view text, std::string_view shown,
                                      bool port_required, std::uint16_t default_port,
                                      unsigned min_port, bool allow_names) {
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
    if (!is_ipv4(host)) {
      if (!allow_names) {
        return invalid(shown, quote_value(host) +
                                  " is not an IP address: listeners take a literal IPv4 or "
                                  "[IPv6] address (127.0.0.1 or [::1] for loopback)");
      }
      if (!host_name_syntax(host)) {
        return invalid(shown, quote_value(host) +
                                  " is neither an IP address nor a valid host name (letters, "
                                  "digits, '-' and '.', as in origin.example.com)");
      }
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

bool is_host_name(std::string_view text) {
  return host_name_syntax(text);
}

bool is_ip_literal(std::string_view text) {
  const std::string host(text);
  return is_ipv4(host) || is_ipv6(host);
}

std::string address_text(std::string_view ip, std::uint16_t port) {
  std::string out;
  if (ip.find(':') != std::string_view::npos) {
    out.append("[").append(ip).append("]");
  } else {
    out.append(ip);
  }
  return out.append(":").append(std::to_string(port));
}

Result<SocketAddress> parse_listen_address(std::string_view text) {
  if (text.empty()) return invalid(text, "empty address");
  if (text.find("://") != std::string_view::npos) {
    return invalid(text, "a listen address is host:port, without a scheme");
  }
  return split_host_port(text, text, true, 0, 0, false);
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
  return split_host_port(rest, text, !has_scheme, 80, 1, true);
}

}  // namespace ghala::config
