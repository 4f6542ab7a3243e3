// The primary cache key: see the layout in cache_key.hpp. One allocation for the result; the
// query options work on views of the target.

#include "ghala/config/cache_key.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace ghala::config {
namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Printable ASCII except space (RFC 3986 never allows raw spaces or controls), and never '#'
// (a fragment is not sent) or '\n' (the key's header separator).
bool valid_target_byte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '#';
}

// RFC 3986 reg-name characters (unreserved, sub-delims, '%'), lower-cased by the caller.
bool valid_reg_name_byte(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || is_digit(c)) return true;
  static constexpr std::string_view kOther = "-._~!$&'()*+,;=%";
  return kOther.find(c) != std::string_view::npos;
}

bool valid_ipv6_byte(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
}

// "", or a decimal port 1-65535 without sign; leading zeros allowed ("080" is 80).
std::optional<unsigned> parse_port(std::string_view p) {
  if (p.empty()) return 0u;  // "host:" is the default port (RFC 3986 §3.2.3)
  unsigned v = 0;
  if (p.size() > 5 || !std::all_of(p.begin(), p.end(), is_digit)) return std::nullopt;
  std::from_chars(p.data(), p.data() + p.size(), v);
  if (v == 0 || v > 65535) return std::nullopt;
  return v;
}

struct QueryParam {
  std::string_view text;  // "name=value" or "name"
  std::string_view name() const noexcept { return text.substr(0, text.find('=')); }
};

// Parameters of a query, in order, skipping empty ones ("a=1&&b=2"). Bounded so a hostile query
// cannot make a request expensive: past the bound the query is kept verbatim by the caller.
constexpr std::size_t kMaxParams = 256;

std::size_t split_query(std::string_view q, std::array<QueryParam, kMaxParams>& out) {
  std::size_t n = 0;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view piece = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (piece.empty()) continue;
    if (n == kMaxParams) return kMaxParams + 1;
    out[n++] = QueryParam{piece};
  }
  return n;
}

void append_query(const KeyOptions& o, std::string_view query, bool has_query, std::string& key) {
  if (!has_query || o.query == QueryMode::Ignore) return;
  if (o.query == QueryMode::Keep && !o.query_sort) {
    key.append("?").append(query);
    return;
  }
  std::array<QueryParam, kMaxParams> params;
  std::size_t n = split_query(query, params);
  if (n > kMaxParams) {  // too many to reorder: keep the query as received (still injective)
    key.append("?").append(query);
    return;
  }
  if (o.query == QueryMode::KeepList) {
    const auto end = std::remove_if(params.begin(), params.begin() + n, [&](const QueryParam& p) {
      return std::find(o.query_keep.begin(), o.query_keep.end(), p.name()) == o.query_keep.end();
    });
    n = static_cast<std::size_t>(end - params.begin());
  }
  if (o.query_sort) {
    std::stable_sort(params.begin(), params.begin() + n,
                     [](const QueryParam& a, const QueryParam& b) { return a.name() < b.name(); });
  }
  for (std::size_t i = 0; i < n; ++i) key.append(i == 0 ? "?" : "&").append(params[i].text);
}

void append_headers(const KeyOptions& o, const http::HeaderMap& request, std::string& key) {
  for (const std::string& name : o.headers) {
    key.append("\n").append(name);
    const auto v = request.get_combined(name);
    if (!v) {
      key.append("!");
      continue;
    }
    key.append("=").append(std::to_string(v->size())).append(":").append(*v);
  }
}

}  // namespace

std::optional<std::string> cache_key_host(std::string_view h) {
  std::string host;
  std::string_view port;
  if (!h.empty() && h.front() == '[') {
    const auto close = h.find(']');
    if (close == std::string_view::npos || close < 2) return std::nullopt;
    for (char c : h.substr(1, close - 1)) {
      const char l = lower(c);
      if (!valid_ipv6_byte(l)) return std::nullopt;
      host.push_back(l);
    }
    host = "[" + host + "]";
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = h.find(':');
    std::string_view name = h.substr(0, colon);
    if (colon != std::string_view::npos) port = h.substr(colon + 1);
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    for (char c : name) {
      const char l = lower(c);
      if (!valid_reg_name_byte(l)) return std::nullopt;
      host.push_back(l);
    }
  }
  const auto p = parse_port(port);
  if (!p) return std::nullopt;
  if (*p != 0 && *p != 80 && *p != 443) host.append(":").append(std::to_string(*p));
  return host;
}

std::optional<std::string> cache_key(const KeyOptions& options, std::string_view host,
                                     std::string_view target, const http::HeaderMap& request) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  if (!std::all_of(target.begin(), target.end(), valid_target_byte)) return std::nullopt;
  auto key = cache_key_host(host);
  if (!key) return std::nullopt;
  const auto q = target.find('?');
  key->append(target.substr(0, q));
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  append_query(options, query, q != std::string_view::npos, *key);
  append_headers(options, request, *key);
  return key;
}

std::optional<std::string> cache_key(const CacheRule* rule, std::string_view host,
                                     std::string_view target, const http::HeaderMap& request) {
  static const KeyOptions kDefaults;
  return cache_key(rule ? rule->key : kDefaults, host, target, request);
}

}  // namespace ghala::config
