// Cache-Status serialisation, RFC 9211 §2 with RFC 8941 §4.1 serialisation rules. Parameters
// appear in RFC 9211's order; a true Boolean parameter is written as its bare key.
#include "ghala/cache/cache_status.hpp"

#include <algorithm>

#include "ghala/http/header_map.hpp"
#include "ghala/http/parser.hpp"

namespace ghala::cache {

using namespace std::string_view_literals;

namespace {

constexpr std::int64_t kMaxSfInteger = 999'999'999'999'999;

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void append_sf_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
  out.push_back('"');
}

// Token when it is one, so `detail=no-store` reads naturally; otherwise a string.
void append_token_or_string(std::string& out, std::string_view s) {
  if (is_sf_token(s)) {
    out.append(s);
  } else {
    append_sf_string(out, s);
  }
}

void append_integer(std::string& out, std::int64_t v) {
  out.append(std::to_string(std::clamp(v, -kMaxSfInteger, kMaxSfInteger)));
}

}  // namespace

std::string_view to_string(Forward f) noexcept {
  switch (f) {
    case Forward::None:
      return "";
    case Forward::Bypass:
      return "bypass";
    case Forward::Method:
      return "method";
    case Forward::UriMiss:
      return "uri-miss";
    case Forward::VaryMiss:
      return "vary-miss";
    case Forward::Miss:
      return "miss";
    case Forward::Request:
      return "request";
    case Forward::Stale:
      return "stale";
    case Forward::Partial:
      return "partial";
  }
  return "";
}

bool is_sf_token(std::string_view s) noexcept {
  if (s.empty() || (!is_alpha(s.front()) && s.front() != '*')) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) {
    return c == ':' || c == '/' || http::is_token(std::string_view(&c, 1));
  });
}

std::string format_cache_status(const CacheStatus& s) {
  std::string out;
  format_cache_status(s, out);
  return out;
}

void format_cache_status(const CacheStatus& s, std::string& out) {
  append_token_or_string(out, s.cache.empty() ? std::string_view("ghala") : s.cache);
  if (s.hit) out.append("; hit"sv);
  if (s.fwd != Forward::None) out.append("; fwd="sv).append(to_string(s.fwd));
  if (s.fwd_status) {
    out.append("; fwd-status="sv);
    append_integer(out, *s.fwd_status);
  }
  if (s.ttl) {
    out.append("; ttl="sv);
    append_integer(out, *s.ttl);
  }
  if (s.stored) out.append("; stored"sv);
  if (s.collapsed) out.append("; collapsed"sv);
  if (s.key) {
    out.append("; key="sv);
    append_sf_string(out, *s.key);
  }
  if (s.detail) {
    out.append("; detail="sv);
    append_token_or_string(out, *s.detail);
  }
}

std::string append_cache_status(std::string_view existing, const CacheStatus& status) {
  std::string out(http::trim_ows(existing));
  if (!out.empty()) out.append(", ");
  return out + format_cache_status(status);
}

}  // namespace ghala::cache
