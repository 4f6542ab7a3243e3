// Cache rule evaluation: the request step, the response step, bypass and cookie lookup. Runs for
// every cacheable request, so nothing here allocates.

#include "ghala/config/cache_rules.hpp"

#include "ghala/config/router.hpp"

namespace ghala::config {
namespace {

bool path_matches(const CacheRule& r, std::string_view path) noexcept {
  if (!r.path) return true;
  return r.path_kind == MatchKind::Prefix ? path.starts_with(*r.path) : glob_match(*r.path, path);
}

bool method_matches(const CacheRule& r, http::Method m) noexcept {
  return r.methods == 0 || (r.methods & (1u << static_cast<unsigned>(m))) != 0;
}

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  return http::iequals(a, b);
}

// The media type of a Content-Type value: up to ';', without surrounding whitespace.
std::string_view media_type(std::string_view content_type) noexcept {
  const auto semi = content_type.find(';');
  return http::trim_ows(content_type.substr(0, semi));
}

bool content_type_matches(const CacheRule& r, std::optional<std::string_view> ct) noexcept {
  if (r.content_types.empty()) return true;
  if (!ct) return false;
  for (const MediaRange& m : r.content_types) {
    if (media_range_matches(m, *ct)) return true;
  }
  return false;
}

// RFC 6265 §5.4 cookie-string: cookie-pair *( ";" SP cookie-pair ). Servers see what browsers
// and scripts send, so the split is lenient (any whitespace, empty pairs) but exact on names.
bool cookie_string_has(std::string_view s, std::string_view name) noexcept {
  while (!s.empty()) {
    const auto semi = s.find(';');
    const std::string_view pair = s.substr(0, semi);
    s = semi == std::string_view::npos ? std::string_view() : s.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view n = http::trim_ows(pair.substr(0, eq));
    if (!n.empty() && n == name) return true;
  }
  return false;
}

}  // namespace

bool media_range_matches(const MediaRange& range, std::string_view content_type) noexcept {
  const std::string_view mt = media_type(content_type);
  const auto slash = mt.find('/');
  if (slash == std::string_view::npos) return false;
  if (!iequals_ascii(mt.substr(0, slash), range.type)) return false;
  const std::string_view sub = mt.substr(slash + 1);
  if (sub.empty()) return false;
  return range.subtype.empty() || iequals_ascii(sub, range.subtype);
}

RequestMatch match_request(const RuleSet& set, http::Method method, std::string_view path) {
  if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  RequestMatch out;
  const std::size_t n =
      set.rules.size() < RuleSet::kMaxRules ? set.rules.size() : RuleSet::kMaxRules;
  for (std::size_t i = 0; i < n; ++i) {
    const CacheRule& r = set.rules[i];
    if (!method_matches(r, method) || !path_matches(r, path)) continue;
    out.candidates |= std::uint64_t{1} << i;
    if (out.rule == nullptr && !r.has_response_conditions()) out.rule = &r;
  }
  return out;
}

const CacheRule* match_response_rule(const RuleSet& set, const RequestMatch& request, int status,
                                     std::optional<std::string_view> content_type) {
  const std::size_t n =
      set.rules.size() < RuleSet::kMaxRules ? set.rules.size() : RuleSet::kMaxRules;
  for (std::size_t i = 0; i < n; ++i) {
    if ((request.candidates & (std::uint64_t{1} << i)) == 0) continue;
    const CacheRule& r = set.rules[i];
    if (r.matches_status(status) && content_type_matches(r, content_type)) return &r;
  }
  return nullptr;
}

bool has_cookie(const http::HeaderMap& request, std::string_view name) {
  if (name.empty()) return false;
  for (const http::Header& h : request) {
    if (http::iequals(h.name, "cookie") && cookie_string_has(h.value, name)) return true;
  }
  return false;
}

bool bypassed(const CacheRule& rule, const http::HeaderMap& request) {
  if (rule.bypass.authorization && request.contains("authorization")) return true;
  for (const std::string& h : rule.bypass.headers) {
    if (request.contains(h)) return true;
  }
  for (const std::string& c : rule.bypass.cookies) {
    if (has_cookie(request, c)) return true;
  }
  return false;
}

}  // namespace ghala::config
