#include "ghala/config/rule_freshness.hpp"

#include <doctest/doctest.h>

#include <string>

#include "config_test_support.hpp"

using namespace ghala::config;
using namespace ghala::config::testing;
using ghala::cache::Freshness;
using ghala::cache::FreshnessSource;
using ghala::cache::NotStored;

namespace {

constexpr std::int64_t kNow = 1700000000;

// One rule, compiled by the loader from flow YAML ("{min_ttl: 5m}"), so the tests exercise what
// an admin writes.
CacheRule rule(std::string_view flow) {
  const std::string yaml = std::string(kMinimalYaml).substr(0, kMinimalYaml.find("    routes:")) +
                           "    cache:\n      - " + std::string(flow) +
                           "\n    routes:\n      - match: /\n        upstream: app\n";
  const LoadResult r = load(yaml);
  INFO(all_errors(r));
  REQUIRE(r.config);
  return r.config->sites[0].cache_rules.at(0);
}

// The origin answers `status` with these Cache-Control directives (and optionally
// Last-Modified seconds before Date); the rule (or none) decides.
StoreDecision decide(std::string_view cache_control, int status, const CacheRule* r,
                     std::optional<std::int64_t> last_modified_age = std::nullopt) {
  ghala::cache::StoreFacts facts;
  facts.status = status;
  facts.response = ghala::cache::parse_response_directives(cache_control);
  ghala::cache::FreshnessFacts fresh;
  fresh.status = status;
  fresh.date = kNow;
  fresh.response_time = kNow;
  if (last_modified_age) fresh.last_modified = kNow - *last_modified_age;
  return decide_store(facts, fresh, cache_policy(CacheSettings{}, r), r);
}

Freshness origin(std::int64_t lifetime, FreshnessSource source) {
  return Freshness{lifetime, source};
}

}  // namespace

// The worked examples of docs/config.md, "Cache rules: precedence", in the same order.

TEST_CASE("docs: origin max-age=60, rule min_ttl=5m -> 300") {
  const CacheRule r = rule("{min_ttl: 5m}");
  const StoreDecision d = decide("max-age=60", 200, &r);
  CHECK(d.store());
  CHECK(d.ttl.lifetime == 300);
  CHECK(d.ttl.source == TtlSource::MinTtl);
  CHECK(d.ttl.origin == FreshnessSource::MaxAge);
}

TEST_CASE("docs: origin no-store, rule ttl=1h -> not stored unless overridden") {
  const CacheRule plain = rule("{ttl: 1h}");
  const StoreDecision d = decide("no-store", 200, &plain);
  CHECK_FALSE(d.store());
  CHECK(d.storability.reason == NotStored::NoStore);

  const CacheRule forced = rule("{ttl: 1h, override_origin_cache_control: true}");
  const StoreDecision o = decide("no-store, private, no-cache", 200, &forced);
  CHECK(o.store());
  CHECK(o.ttl.lifetime == 3600);
  CHECK(o.ttl.source == TtlSource::RuleTtl);
  CHECK_FALSE(o.directives.no_store);
  CHECK_FALSE(o.directives.private_.present);
  CHECK_FALSE(o.directives.no_cache.present);
}

TEST_CASE("docs: force_ttl=10m beats s-maxage") {
  const CacheRule r = rule("{force_ttl: 10m}");
  const StoreDecision d = decide("s-maxage=30, max-age=5", 200, &r);
  CHECK(d.store());
  CHECK(d.ttl.lifetime == 600);
  CHECK(d.ttl.source == TtlSource::ForceTtl);
  CHECK(d.ttl.origin == FreshnessSource::SMaxAge);
}

TEST_CASE("docs: negative_ttl for a 404 without origin freshness") {
  const CacheRule r = rule("{ttl: 1h, negative_ttl: 30s}");
  const StoreDecision d = decide("", 404, &r);
  CHECK(d.store());
  CHECK(d.ttl.lifetime == 30);
  CHECK(d.ttl.source == TtlSource::NegativeTtl);
  // The origin's own freshness wins for a 404 too.
  const StoreDecision o = decide("max-age=5", 404, &r);
  CHECK(o.ttl.lifetime == 5);
  CHECK(o.ttl.source == TtlSource::Origin);
  // 410 too; other errors get neither negative_ttl nor ttl.
  CHECK(decide("", 410, &r).ttl.lifetime == 30);
  CHECK(decide("", 500, &r).ttl.lifetime == 0);
  CHECK_FALSE(decide("", 500, &r).store());
}

TEST_CASE("docs: ttl is the default when the origin gives no freshness, and beats heuristics") {
  const CacheRule r = rule("{ttl: 1h}");
  CHECK(decide("", 200, &r).ttl == RuleTtl{3600, TtlSource::RuleTtl, FreshnessSource::Heuristic});
  // Last-Modified 10 days ago would give a 24h-capped heuristic of 1 day: the rule wins.
  CHECK(decide("", 200, &r, 10 * 86400).ttl.lifetime == 3600);
  CHECK(decide("max-age=60", 200, &r).ttl.lifetime == 60);
  CHECK(decide("public", 200, &r).ttl.lifetime == 3600);
  // Without a rule, the heuristic applies.
  CHECK(decide("", 200, nullptr, 10 * 86400).ttl ==
        RuleTtl{86400, TtlSource::Origin, FreshnessSource::Heuristic});
}

TEST_CASE("docs: max_ttl caps the origin, min_ttl never lengthens an error") {
  const CacheRule r = rule("{min_ttl: 5m, max_ttl: 1h}");
  CHECK(decide("max-age=86400", 200, &r).ttl ==
        RuleTtl{3600, TtlSource::MaxTtl, FreshnessSource::MaxAge});
  CHECK(decide("max-age=600", 200, &r).ttl.lifetime == 600);
  CHECK(decide("max-age=5", 503, &r).ttl.lifetime == 5);         // not raised
  CHECK(decide("max-age=86400", 503, &r).ttl.lifetime == 3600);  // but capped
}

TEST_CASE("rule TTLs reach error statuses only when the rule lists them") {
  const CacheRule r = rule("{match: {status: [500, 5xx]}, force_ttl: 10s}");
  const StoreDecision d = decide("", 503, &r);
  CHECK(d.store());  // a rule lifetime is freshness permission for a non-heuristic status
  CHECK(d.ttl.lifetime == 10);
  const CacheRule plain = rule("{force_ttl: 10s}");
  CHECK(decide("max-age=99", 503, &plain).ttl.lifetime == 99);
  CHECK(decide("", 302, &plain).ttl.lifetime == 0);
  CHECK_FALSE(decide("", 302, &plain).store());
  CHECK(decide("", 301, &plain).ttl.lifetime == 10);
}

TEST_CASE("cache: false refuses to store whatever the origin says") {
  const CacheRule r = rule("{cache: false}");
  const StoreDecision d = decide("public, max-age=600", 200, &r);
  CHECK(d.refused_by_rule);
  CHECK_FALSE(d.store());
}

TEST_CASE("rules never override Authorization, Vary: * or Set-Cookie checks") {
  const CacheRule r = rule("{force_ttl: 1h, override_origin_cache_control: true}");
  ghala::cache::StoreFacts facts;
  facts.request_has_authorization = true;
  ghala::cache::FreshnessFacts fresh;
  fresh.date = fresh.response_time = kNow;
  const auto policy = cache_policy(CacheSettings{}, &r);
  CHECK(decide_store(facts, fresh, policy, &r).storability.reason == NotStored::Authorization);
  facts.request_has_authorization = false;
  facts.vary_any = true;
  CHECK(decide_store(facts, fresh, policy, &r).storability.reason == NotStored::VaryAny);
  facts.vary_any = false;
  facts.has_set_cookie = true;
  CHECK(decide_store(facts, fresh, policy, &r).storability.reason == NotStored::SetCookie);
}

TEST_CASE("stale defaults fill in only where the origin said nothing") {
  const CacheRule r = rule("{stale_while_revalidate: 30s, stale_if_error: 1d, grace: 2h}");
  const StoreDecision d = decide("max-age=60", 200, &r);
  CHECK(d.directives.stale_while_revalidate == 30);
  CHECK(d.directives.stale_if_error == 86400);
  const StoreDecision o = decide("max-age=60, stale-while-revalidate=5, stale-if-error=0", 200, &r);
  CHECK(o.directives.stale_while_revalidate == 5);
  CHECK(o.directives.stale_if_error == 0);
  CHECK(cache_policy(CacheSettings{}, &r).grace_seconds == 7200);
  CHECK(cache_policy(CacheSettings{}, nullptr).grace_seconds == 0);
}

TEST_CASE("the policy carries the global settings") {
  CacheSettings s;
  s.heuristic_percent = 25;
  s.heuristic_max = std::chrono::hours(2);
  s.client_directives = ghala::cache::ClientDirectives::Honour;
  const auto p = cache_policy(s, nullptr);
  CHECK(p.heuristic_percent == 25);
  CHECK(p.heuristic_max_seconds == 7200);
  CHECK(p.client_directives == ghala::cache::ClientDirectives::Honour);
}

TEST_CASE("effective_ttl without a rule is the origin's lifetime") {
  CHECK(effective_ttl(origin(42, FreshnessSource::Expires), 200, nullptr) ==
        RuleTtl{42, TtlSource::Origin, FreshnessSource::Expires});
  CHECK(to_string(TtlSource::ForceTtl) == "force_ttl");
  CHECK(to_string(TtlSource::MinTtl) == "min_ttl");
}
