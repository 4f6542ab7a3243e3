// Reuse decision, RFC 9111 §4, §4.2.4, §4.3 and RFC 5861.
//
// In order:
//   1. Response no-cache (unqualified): validate every time (§5.2.2.4).
//   2. Client directives, only under ClientDirectives::Honour: no-cache, max-age and min-fresh
//      can force validation (§5.2.1).
//   3. Fresh (lifetime > current age, §4.2) -> serve.
//   4. Stale. Revalidation directives decide whether stale may ever be served:
//        explicit  must-revalidate, proxy-revalidate (and no-cache, handled in 1): never, not
//                  even on error (§5.2.2.2: 504 instead), unless the admin lets grace override.
//        implied   s-maxage alone (§5.2.2.10 "incorporates proxy-revalidate"): only with the
//                  origin's explicit RFC 5861 permission or the admin's grace, both out-of-band
//                  or more specific than the implication (§4.2.4 allows stale when "explicitly
//                  permitted by ... extension directives ... or configuration").
//      Within that: client max-stale (Honour) -> serve stale; stale-while-revalidate window ->
//      serve and revalidate in the background; otherwise validate.
//   5. only-if-cached turns anything that would contact the origin first into a 504
//      (stale-while-revalidate is kept: the client is answered from the cache).
// The error fallback (stale-if-error window, then grace) is computed independently of 1-5.
#include "ghala/cache/reuse.hpp"

namespace ghala::cache {

namespace {

enum class Revalidation : std::uint8_t { None, Implied, Explicit };

Revalidation revalidation(const ResponseDirectives& r) noexcept {
  if (r.must_revalidate || r.proxy_revalidate || (r.no_cache.present && r.no_cache.all)) {
    return Revalidation::Explicit;
  }
  return r.s_maxage ? Revalidation::Implied : Revalidation::None;
}

bool honour_client(const CachePolicy& p) noexcept {
  return p.client_directives == ClientDirectives::Honour;
}

// Steps 1-2: reasons to validate even a fresh response.
std::optional<ReuseReason> forced_validation(const ReuseFacts& f, const CachePolicy& p) {
  if (f.response.no_cache.present && f.response.no_cache.all) return ReuseReason::ResponseNoCache;
  if (!honour_client(p)) return std::nullopt;
  if (f.request.no_cache) return ReuseReason::RequestNoCache;
  if (f.request.max_age && f.current_age > *f.request.max_age) return ReuseReason::RequestMaxAge;
  if (f.request.min_fresh && f.freshness_lifetime - f.current_age < *f.request.min_fresh) {
    return ReuseReason::RequestMinFresh;
  }
  return std::nullopt;
}

// Step 4.
ReuseDecision stale_decision(const ReuseFacts& f, const CachePolicy& p, std::int64_t staleness) {
  Revalidation rv = revalidation(f.response);
  if (rv != Revalidation::None) {
    bool swr_overrides = rv == Revalidation::Implied;
    if (!swr_overrides || !f.response.stale_while_revalidate) {
      return {ReuseAction::Validate, ReuseReason::MustRevalidate};
    }
  }
  if (rv == Revalidation::None && honour_client(p) && f.request.max_stale &&
      staleness <= *f.request.max_stale) {
    return {ReuseAction::ServeStale, ReuseReason::MaxStale};
  }
  if (p.honour_stale_while_revalidate && f.response.stale_while_revalidate &&
      staleness <= *f.response.stale_while_revalidate) {
    return {ReuseAction::StaleWhileRevalidate, ReuseReason::StaleWhileRevalidate};
  }
  return {ReuseAction::Validate, ReuseReason::Stale};
}

ErrorFallback error_fallback(const ReuseFacts& f, const CachePolicy& p, std::int64_t staleness) {
  Revalidation rv = revalidation(f.response);
  if (rv != Revalidation::Explicit) {
    std::optional<std::int64_t> window = f.response.stale_if_error;
    if (honour_client(p) && f.request.stale_if_error) window = f.request.stale_if_error;
    if (p.honour_stale_if_error && window && staleness <= *window) {
      return ErrorFallback::StaleIfError;
    }
  }
  bool grace_allowed = rv != Revalidation::Explicit || p.grace_overrides_revalidate;
  if (grace_allowed && p.grace_seconds > 0 && staleness <= p.grace_seconds) {
    return ErrorFallback::Grace;
  }
  return ErrorFallback::None;
}

bool contacts_origin(ReuseAction a) noexcept {
  return a == ReuseAction::Validate;
}

}  // namespace

std::string_view to_string(ReuseAction a) noexcept {
  switch (a) {
    case ReuseAction::Fresh:
      return "fresh";
    case ReuseAction::ServeStale:
      return "serve-stale";
    case ReuseAction::StaleWhileRevalidate:
      return "stale-while-revalidate";
    case ReuseAction::Validate:
      return "validate";
    case ReuseAction::GatewayTimeout:
      return "gateway-timeout";
  }
  return "unknown";
}

std::string_view to_string(ReuseReason r) noexcept {
  switch (r) {
    case ReuseReason::Fresh:
      return "fresh";
    case ReuseReason::Stale:
      return "stale";
    case ReuseReason::ResponseNoCache:
      return "response-no-cache";
    case ReuseReason::RequestNoCache:
      return "request-no-cache";
    case ReuseReason::RequestMaxAge:
      return "request-max-age";
    case ReuseReason::RequestMinFresh:
      return "request-min-fresh";
    case ReuseReason::MustRevalidate:
      return "must-revalidate";
    case ReuseReason::MaxStale:
      return "max-stale";
    case ReuseReason::StaleWhileRevalidate:
      return "stale-while-revalidate";
    case ReuseReason::OnlyIfCached:
      return "only-if-cached";
  }
  return "unknown";
}

std::string_view to_string(ErrorFallback f) noexcept {
  switch (f) {
    case ErrorFallback::None:
      return "none";
    case ErrorFallback::StaleIfError:
      return "stale-if-error";
    case ErrorFallback::Grace:
      return "grace";
  }
  return "unknown";
}

ReuseDecision decide_reuse(const ReuseFacts& f, const CachePolicy& p) {
  std::int64_t ttl = clamp_delta(f.freshness_lifetime - f.current_age);
  std::int64_t staleness = -ttl;  // > 0 once stale
  ReuseDecision d;
  if (auto forced = forced_validation(f, p)) {
    d = {ReuseAction::Validate, *forced};
  } else if (ttl > 0) {
    d = {ReuseAction::Fresh, ReuseReason::Fresh};
  } else {
    d = stale_decision(f, p, staleness);
  }
  d.ttl = ttl;
  d.stale_on_error = error_fallback(f, p, staleness);
  if (f.request.only_if_cached && contacts_origin(d.action)) {
    d.action = ReuseAction::GatewayTimeout;
    d.reason = ReuseReason::OnlyIfCached;
  }
  return d;
}

}  // namespace ghala::cache
