#pragma once
// Freshness lifetime for a shared cache, RFC 9111 §4.2.1 and heuristic freshness §4.2.2.

#include <cstdint>
#include <optional>
#include <string_view>

#include "ghala/cache/cache_control.hpp"
#include "ghala/cache/policy.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::cache {

enum class FreshnessSource : std::uint8_t { SMaxAge, MaxAge, Expires, Heuristic, None };
std::string_view to_string(FreshnessSource s) noexcept;

struct Freshness {
  std::int64_t lifetime = 0;  // seconds, 0 .. 2^31
  FreshnessSource source = FreshnessSource::None;
  // True when the lifetime comes from the origin (s-maxage, max-age, Expires), which forbids
  // heuristics and is what "explicit freshness" means for storability.
  bool is_explicit() const noexcept {
    return source != FreshnessSource::None && source != FreshnessSource::Heuristic;
  }
  bool operator==(const Freshness&) const = default;
};

// RFC 9110 §15.1: the status codes that are heuristically cacheable.
bool is_heuristically_cacheable(int status) noexcept;

// The header values freshness depends on, already reduced to one value each.
struct FreshnessFacts {
  int status = 200;
  // Expires is consulted only when use_expires (false when a targeted field won, RFC 9213 §2.2).
  bool use_expires = true;
  std::optional<std::string_view> expires;  // raw; "present but unusable" is still present
  std::int64_t date = 0;                    // Date, or response_time when absent/invalid
  std::optional<std::int64_t> last_modified;
  std::int64_t response_time = 0;
};

// RFC 9111 §4.2.1, first match wins: s-maxage, max-age, Expires - Date, heuristic.
// An invalid Expires (including "0") means already expired (§5.3). Heuristic freshness
// (§4.2.2) is heuristic_percent of (Date - Last-Modified), capped at heuristic_max_seconds, for
// heuristically cacheable statuses or responses marked public; without Last-Modified it is 0.
Freshness freshness_lifetime(const ResponseDirectives& cc, const FreshnessFacts& facts,
                             const CachePolicy& policy);

// Gathers the facts from a response's headers. Repeated Expires lines that disagree make the
// value unusable (already expired), per §4.2.1 "or the response should be considered stale".
template <http::ReadableHeaders H>
FreshnessFacts freshness_facts(const H& response, int status, std::int64_t response_time,
                               bool use_expires);

}  // namespace ghala::cache
