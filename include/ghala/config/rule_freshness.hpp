#pragma once
// How a response rule (cache_rules.hpp, step 2) combines with what the origin says: whether the
// response is stored, with which directives, and for how long it is fresh. Pure functions over
// the ghala::cache RFC 9111 layer; docs/config.md "Cache rules: precedence" has worked examples.
//
// Freshness lifetime, first that applies:
//   1. force_ttl, when the rule's TTLs apply to the status (see rule_ttl_applies);
//   2. the origin's explicit freshness: s-maxage, max-age, Expires (targeted field first);
//   3. negative_ttl, for 404 and 410;
//   4. ttl, when the rule's TTLs apply to the status;
//   5. the origin's heuristic freshness (RFC 9111 §4.2.2), or 0.
// Then min_ttl raises a lifetime from 2-5 (only where the rule's TTLs apply, so an error page is
// never kept longer than its origin asked) and max_ttl lowers any lifetime from 2-5.
//
// Storing: the RFC checks (cache::storability) run on the origin's directives, except that
// override_origin_cache_control removes no-store, private and no-cache first; a rule-given
// lifetime (1, 3, 4) counts as freshness permission; `cache: false` refuses everything. Rules
// never override the method, status, Authorization (§3.5), Vary: * or Set-Cookie checks.

#include <cstdint>
#include <string_view>

#include "ghala/cache/cache_control.hpp"
#include "ghala/cache/freshness.hpp"
#include "ghala/cache/policy.hpp"
#include "ghala/cache/storability.hpp"
#include "ghala/config/cache_rules.hpp"
#include "ghala/config/config.hpp"

namespace ghala::config {

// Where the lifetime came from, for logs and Cache-Status detail.
enum class TtlSource : std::uint8_t { Origin, ForceTtl, NegativeTtl, RuleTtl, MinTtl, MaxTtl };
std::string_view to_string(TtlSource s) noexcept;

struct RuleTtl {
  std::int64_t lifetime = 0;  // seconds
  TtlSource source = TtlSource::Origin;
  cache::FreshnessSource origin = cache::FreshnessSource::None;  // what the origin gave
  bool operator==(const RuleTtl&) const = default;
};

// The statuses that ttl, force_ttl and min_ttl apply to: 200, 203, 204, 300, 301, 308, plus
// every status the rule's `status:` lists. So a `ttl: 1h` written for pages never keeps a 500
// or a 404 for an hour; errors get rule lifetimes only when listed (or through negative_ttl).
bool rule_ttl_applies(const CacheRule& rule, int status) noexcept;

// The freshness lifetime from the origin's (already computed) freshness and the rule.
RuleTtl effective_ttl(const cache::Freshness& origin, int status, const CacheRule* rule);

// The origin's directives as the rule leaves them: override_origin_cache_control removes
// no-store, private and no-cache; stale_while_revalidate and stale_if_error fill in when the
// origin gave none.
cache::ResponseDirectives rule_directives(cache::ResponseDirectives origin, const CacheRule* rule);

// The policy for one response: the global settings and the rule's grace.
cache::CachePolicy cache_policy(const CacheSettings& settings, const CacheRule* rule);

struct StoreDecision {
  bool refused_by_rule = false;          // `cache: false`
  cache::Storability storability;        // RFC checks on `directives`
  cache::ResponseDirectives directives;  // to store with the object and hand to decide_reuse
  RuleTtl ttl;
  bool store() const noexcept { return !refused_by_rule && storability.storable(); }
};

// facts.response holds the origin's effective directives (cache::effective_directives);
// freshness holds the facts for cache::freshness_lifetime; policy from cache_policy().
StoreDecision decide_store(cache::StoreFacts facts, const cache::FreshnessFacts& freshness,
                           const cache::CachePolicy& policy, const CacheRule* rule);

}  // namespace ghala::config
