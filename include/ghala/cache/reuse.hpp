#pragma once
// May a stored response be reused for this request, and how? RFC 9111 §4 (constructing
// responses from caches), §4.2.4 (serving stale), §4.3 (validation), §5.2.1 (request
// directives), RFC 5861 (stale-while-revalidate, stale-if-error), plus the admin grace window.
//
// The decision has two parts: what to do now (`action`) and, if ghala then asks the origin and
// the origin fails (5xx, timeout, refused), whether the stored response may answer instead
// (`stale_on_error`). Vary matching (§4.1) and method matching happen before this.

#include <cstdint>
#include <string_view>

#include "ghala/cache/cache_control.hpp"
#include "ghala/cache/policy.hpp"

namespace ghala::cache {

enum class ReuseAction : std::uint8_t {
  Fresh,                 // serve the stored response
  ServeStale,            // serve it stale without contacting the origin (client max-stale)
  StaleWhileRevalidate,  // serve it stale now, start one background revalidation
  Validate,              // send a conditional request; a 304 makes it servable again
  GatewayTimeout,        // only-if-cached and nothing servable without the origin: answer 504
};
std::string_view to_string(ReuseAction a) noexcept;

// Why the action was chosen, for logs and Cache-Status detail.
enum class ReuseReason : std::uint8_t {
  Fresh,
  Stale,            // past its lifetime, no permission to serve stale
  ResponseNoCache,  // §5.2.2.4: always validate
  RequestNoCache,   // §5.2.1.4 (Honour policy only)
  RequestMaxAge,    // §5.2.1.1: older than the client accepts (Honour policy only)
  RequestMinFresh,  // §5.2.1.3 (Honour policy only)
  MustRevalidate,   // §5.2.2.2 / §5.2.2.8 / s-maxage implying proxy-revalidate (§5.2.2.10)
  MaxStale,         // §5.2.1.2: the client accepts this much staleness
  StaleWhileRevalidate,
  OnlyIfCached,  // §5.2.1.7
};
std::string_view to_string(ReuseReason r) noexcept;

// Why a stored response may answer when the origin fails.
enum class ErrorFallback : std::uint8_t { None, StaleIfError, Grace };
std::string_view to_string(ErrorFallback f) noexcept;

struct ReuseDecision {
  ReuseAction action = ReuseAction::Validate;
  ReuseReason reason = ReuseReason::Stale;
  ErrorFallback stale_on_error = ErrorFallback::None;
  std::int64_t ttl = 0;  // freshness_lifetime - current_age; negative when stale (Cache-Status)
};

struct ReuseFacts {
  RequestDirectives request;
  ResponseDirectives response;  // effective directives stored with the response
  std::int64_t current_age = 0;
  std::int64_t freshness_lifetime = 0;
};

ReuseDecision decide_reuse(const ReuseFacts& facts, const CachePolicy& policy);

// §5.2.1.7: on a miss (nothing stored, or no variant matches), a request with only-if-cached
// gets a 504 instead of an origin fetch. Honoured under every ClientDirectives policy.
inline bool answer_miss_with_504(const RequestDirectives& request) noexcept {
  return request.only_if_cached;
}

}  // namespace ghala::cache
