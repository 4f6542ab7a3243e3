// Freshness lifetime, RFC 9111 §4.2.1 (explicit) and §4.2.2 (heuristic).
#include "ghala/cache/freshness.hpp"

#include <algorithm>

#include "ghala/http/date.hpp"
#include "ghala/http/frozen_headers.hpp"

namespace ghala::cache {

namespace {

// A singleton field that may have been sent more than once: the value when all lines agree,
// an empty (hence invalid) value when they do not.
template <http::ReadableHeaders H>
std::optional<std::string_view> singleton(const H& h, std::string_view name) {
  std::optional<std::string_view> out;
  for (const http::Header f : h) {
    if (!http::iequals(f.name, name)) continue;
    if (out && http::trim_ows(*out) != http::trim_ows(f.value)) return std::string_view();
    if (!out) out = f.value;
  }
  return out;
}

Freshness from_expires(const FreshnessFacts& f) {
  auto expires = http::parse_http_date(*f.expires, f.response_time);
  if (!expires) return {0, FreshnessSource::Expires};
  return {clamp_delta(std::max<std::int64_t>(0, *expires - f.date)), FreshnessSource::Expires};
}

Freshness heuristic(const ResponseDirectives& cc, const FreshnessFacts& f,
                    const CachePolicy& policy) {
  if (!is_heuristically_cacheable(f.status) && !cc.public_) return {};
  if (!f.last_modified || *f.last_modified > f.date) return {0, FreshnessSource::Heuristic};
  std::int64_t since = std::min(f.date - *f.last_modified, kMaxDeltaSeconds);
  std::int64_t percent = std::clamp<std::int64_t>(policy.heuristic_percent, 0, 100);
  std::int64_t cap = std::clamp<std::int64_t>(policy.heuristic_max_seconds, 0, kMaxDeltaSeconds);
  return {std::min(since * percent / 100, cap), FreshnessSource::Heuristic};
}

}  // namespace

std::string_view to_string(FreshnessSource s) noexcept {
  switch (s) {
    case FreshnessSource::SMaxAge:
      return "s-maxage";
    case FreshnessSource::MaxAge:
      return "max-age";
    case FreshnessSource::Expires:
      return "expires";
    case FreshnessSource::Heuristic:
      return "heuristic";
    case FreshnessSource::None:
      return "none";
  }
  return "none";
}

bool is_heuristically_cacheable(int status) noexcept {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
      return true;
    default:
      return false;
  }
}

Freshness freshness_lifetime(const ResponseDirectives& cc, const FreshnessFacts& facts,
                             const CachePolicy& policy) {
  // §4.2.1: a shared cache uses s-maxage first; max-age overrides Expires (§5.3).
  if (cc.s_maxage) return {clamp_delta(*cc.s_maxage), FreshnessSource::SMaxAge};
  if (cc.max_age) return {clamp_delta(*cc.max_age), FreshnessSource::MaxAge};
  if (facts.use_expires && facts.expires) return from_expires(facts);
  return heuristic(cc, facts, policy);
}

template <http::ReadableHeaders H>
FreshnessFacts freshness_facts(const H& response, int status, std::int64_t response_time,
                               bool use_expires) {
  FreshnessFacts f;
  f.status = status;
  f.use_expires = use_expires;
  f.expires = singleton(response, "Expires");
  f.response_time = response_time;
  f.date = response_time;
  if (auto d = singleton(response, "Date")) {
    f.date = http::parse_http_date(*d, response_time).value_or(response_time);
  }
  if (auto lm = singleton(response, "Last-Modified")) {
    f.last_modified = http::parse_http_date(*lm, response_time);
  }
  return f;
}

template FreshnessFacts freshness_facts(const http::HeaderMap&, int, std::int64_t, bool);
template FreshnessFacts freshness_facts(const http::FrozenHeaders&, int, std::int64_t, bool);

}  // namespace ghala::cache
