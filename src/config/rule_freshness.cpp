// Response rules combined with the origin's freshness and directives; the precedence is in
// rule_freshness.hpp and docs/config.md.

#include "ghala/config/rule_freshness.hpp"

#include <algorithm>

namespace ghala::config {

std::string_view to_string(TtlSource s) noexcept {
  switch (s) {
    case TtlSource::Origin:
      return "origin";
    case TtlSource::ForceTtl:
      return "force_ttl";
    case TtlSource::NegativeTtl:
      return "negative_ttl";
    case TtlSource::RuleTtl:
      return "ttl";
    case TtlSource::MinTtl:
      return "min_ttl";
    case TtlSource::MaxTtl:
      return "max_ttl";
  }
  return "origin";
}

bool rule_ttl_applies(const CacheRule& rule, int status) noexcept {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
      return true;
    default:
      return !rule.any_status && rule.matches_status(status);
  }
}

RuleTtl effective_ttl(const cache::Freshness& origin, int status, const CacheRule* rule) {
  RuleTtl out{origin.lifetime, TtlSource::Origin, origin.source};
  if (rule == nullptr) return out;
  const bool applies = rule_ttl_applies(*rule, status);
  if (rule->force_ttl && applies) {
    out.lifetime = *rule->force_ttl;
    out.source = TtlSource::ForceTtl;
    return out;
  }
  if (!origin.is_explicit()) {
    if (rule->negative_ttl && (status == 404 || status == 410)) {
      out.lifetime = *rule->negative_ttl;
      out.source = TtlSource::NegativeTtl;
    } else if (rule->ttl && applies) {
      out.lifetime = *rule->ttl;
      out.source = TtlSource::RuleTtl;
    }
  }
  if (rule->min_ttl && applies && out.lifetime < *rule->min_ttl) {
    out.lifetime = *rule->min_ttl;
    out.source = TtlSource::MinTtl;
  }
  if (rule->max_ttl && out.lifetime > *rule->max_ttl) {
    out.lifetime = *rule->max_ttl;
    out.source = TtlSource::MaxTtl;
  }
  return out;
}

cache::ResponseDirectives rule_directives(cache::ResponseDirectives d, const CacheRule* rule) {
  if (rule == nullptr) return d;
  if (rule->override_origin_cache_control) {
    d.no_store = false;
    d.private_ = {};
    d.no_cache = {};
  }
  if (!d.stale_while_revalidate && rule->stale_while_revalidate) {
    d.stale_while_revalidate = rule->stale_while_revalidate;
  }
  if (!d.stale_if_error && rule->stale_if_error) d.stale_if_error = rule->stale_if_error;
  return d;
}

cache::CachePolicy cache_policy(const CacheSettings& settings, const CacheRule* rule) {
  cache::CachePolicy p;
  p.client_directives = settings.client_directives;
  p.heuristic_percent = settings.heuristic_percent;
  p.heuristic_max_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(settings.heuristic_max).count();
  if (rule != nullptr && rule->grace) p.grace_seconds = *rule->grace;
  return p;
}

StoreDecision decide_store(cache::StoreFacts facts, const cache::FreshnessFacts& freshness,
                           const cache::CachePolicy& policy, const CacheRule* rule) {
  StoreDecision out;
  out.refused_by_rule = rule != nullptr && !rule->cache;
  out.directives = rule_directives(std::move(facts.response), rule);
  facts.response = out.directives;
  out.storability = cache::storability(facts, policy);
  const cache::Freshness origin = cache::freshness_lifetime(out.directives, freshness, policy);
  out.ttl = effective_ttl(origin, facts.status, rule);
  const bool rule_lifetime =
      out.ttl.source == TtlSource::ForceTtl || out.ttl.source == TtlSource::NegativeTtl ||
      out.ttl.source == TtlSource::RuleTtl || out.ttl.source == TtlSource::MinTtl;
  if (out.storability.reason == cache::NotStored::NoFreshness && rule_lifetime) {
    out.storability.reason = cache::NotStored::No;
  }
  return out;
}

}  // namespace ghala::config
