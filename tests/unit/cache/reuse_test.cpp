#include "ghala/cache/reuse.hpp"

#include <doctest/doctest.h>

using namespace ghala::cache;

namespace {

ReuseFacts facts(const char* response_cc, std::int64_t age, std::int64_t lifetime,
                 const char* request_cc = "") {
  ReuseFacts f;
  f.response = parse_response_directives(response_cc);
  f.request = parse_request_directives(request_cc);
  f.current_age = age;
  f.freshness_lifetime = lifetime;
  return f;
}

CachePolicy honour() {
  CachePolicy p;
  p.client_directives = ClientDirectives::Honour;
  return p;
}

}  // namespace

TEST_CASE("fresh while lifetime exceeds age (RFC 9111 §4.2)") {
  auto d = decide_reuse(facts("max-age=60", 10, 60), {});
  CHECK(d.action == ReuseAction::Fresh);
  CHECK(d.reason == ReuseReason::Fresh);
  CHECK(d.ttl == 50);
  CHECK(decide_reuse(facts("max-age=60", 60, 60), {}).action == ReuseAction::Validate);
}

TEST_CASE("stale without permission is validated") {
  auto d = decide_reuse(facts("max-age=60", 61, 60), {});
  CHECK(d.action == ReuseAction::Validate);
  CHECK(d.reason == ReuseReason::Stale);
  CHECK(d.ttl == -1);
  CHECK(d.stale_on_error == ErrorFallback::None);
}

TEST_CASE("response no-cache always validates, even when fresh") {
  auto d = decide_reuse(facts("no-cache, max-age=600", 1, 600), {});
  CHECK(d.action == ReuseAction::Validate);
  CHECK(d.reason == ReuseReason::ResponseNoCache);
  // A field-scoped no-cache was handled by stripping the fields at store time.
  CHECK(decide_reuse(facts("no-cache=\"set-cookie\", max-age=600", 1, 600), {}).action ==
        ReuseAction::Fresh);
}

TEST_CASE("request no-cache and max-age=0 are ignored by default and honoured on request") {
  auto reload = facts("max-age=600", 5, 600, "no-cache");
  CHECK(decide_reuse(reload, {}).action == ReuseAction::Fresh);
  auto d = decide_reuse(reload, honour());
  CHECK(d.action == ReuseAction::Validate);
  CHECK(d.reason == ReuseReason::RequestNoCache);
  auto max_age0 = facts("max-age=600", 5, 600, "max-age=0");
  CHECK(decide_reuse(max_age0, {}).action == ReuseAction::Fresh);
  CHECK(decide_reuse(max_age0, honour()).reason == ReuseReason::RequestMaxAge);
  CHECK(decide_reuse(facts("max-age=600", 0, 600, "max-age=0"), honour()).action ==
        ReuseAction::Fresh);
}

TEST_CASE("request min-fresh asks for remaining freshness (Honour)") {
  auto f = facts("max-age=600", 550, 600, "min-fresh=60");
  CHECK(decide_reuse(f, honour()).reason == ReuseReason::RequestMinFresh);
  CHECK(decide_reuse(facts("max-age=600", 500, 600, "min-fresh=60"), honour()).action ==
        ReuseAction::Fresh);
}

TEST_CASE("request max-stale allows stale without revalidation (Honour)") {
  auto f = facts("max-age=60", 100, 60, "max-stale=50");
  CHECK(decide_reuse(f, {}).action == ReuseAction::Validate);
  auto d = decide_reuse(f, honour());
  CHECK(d.action == ReuseAction::ServeStale);
  CHECK(d.reason == ReuseReason::MaxStale);
  CHECK(decide_reuse(facts("max-age=60", 200, 60, "max-stale=50"), honour()).action ==
        ReuseAction::Validate);
  CHECK(decide_reuse(facts("max-age=60", 99999, 60, "max-stale"), honour()).action ==
        ReuseAction::ServeStale);
}

TEST_CASE("must-revalidate, proxy-revalidate and s-maxage forbid max-stale") {
  for (const char* cc :
       {"max-age=60, must-revalidate", "max-age=60, proxy-revalidate", "s-maxage=60"}) {
    CAPTURE(cc);
    auto d = decide_reuse(facts(cc, 100, 60, "max-stale"), honour());
    CHECK(d.action == ReuseAction::Validate);
    CHECK(d.reason == ReuseReason::MustRevalidate);
  }
}

TEST_CASE("stale-while-revalidate serves stale within its window") {
  auto d = decide_reuse(facts("max-age=60, stale-while-revalidate=30", 80, 60), {});
  CHECK(d.action == ReuseAction::StaleWhileRevalidate);
  CHECK(d.ttl == -20);
  CHECK(decide_reuse(facts("max-age=60, stale-while-revalidate=30", 90, 60), {}).action ==
        ReuseAction::StaleWhileRevalidate);
  CHECK(decide_reuse(facts("max-age=60, stale-while-revalidate=30", 91, 60), {}).action ==
        ReuseAction::Validate);
  CachePolicy off;
  off.honour_stale_while_revalidate = false;
  CHECK(decide_reuse(facts("max-age=60, stale-while-revalidate=30", 80, 60), off).action ==
        ReuseAction::Validate);
}

TEST_CASE("stale-while-revalidate overrides the proxy-revalidate implied by s-maxage only") {
  CHECK(decide_reuse(facts("s-maxage=60, stale-while-revalidate=30", 80, 60), {}).action ==
        ReuseAction::StaleWhileRevalidate);
  CHECK(decide_reuse(facts("max-age=60, must-revalidate, stale-while-revalidate=30", 80, 60), {})
            .action == ReuseAction::Validate);
  CHECK(decide_reuse(facts("max-age=60, proxy-revalidate, stale-while-revalidate=30", 80, 60), {})
            .action == ReuseAction::Validate);
}

TEST_CASE("stale-if-error allows stale on origin failure within its window") {
  auto d = decide_reuse(facts("max-age=60, stale-if-error=100", 120, 60), {});
  CHECK(d.action == ReuseAction::Validate);
  CHECK(d.stale_on_error == ErrorFallback::StaleIfError);
  CHECK(decide_reuse(facts("max-age=60, stale-if-error=100", 161, 60), {}).stale_on_error ==
        ErrorFallback::None);
  CHECK(decide_reuse(facts("s-maxage=60, stale-if-error=100", 120, 60), {}).stale_on_error ==
        ErrorFallback::StaleIfError);
  CHECK(decide_reuse(facts("max-age=60, must-revalidate, stale-if-error=100", 120, 60), {})
            .stale_on_error == ErrorFallback::None);
  CachePolicy off;
  off.honour_stale_if_error = false;
  CHECK(decide_reuse(facts("max-age=60, stale-if-error=100", 120, 60), off).stale_on_error ==
        ErrorFallback::None);
}

TEST_CASE("request stale-if-error counts under Honour") {
  auto f = facts("max-age=60", 120, 60, "stale-if-error=100");
  CHECK(decide_reuse(f, {}).stale_on_error == ErrorFallback::None);
  CHECK(decide_reuse(f, honour()).stale_on_error == ErrorFallback::StaleIfError);
}

TEST_CASE("grace serves stale on origin failure, but not must-revalidate unless overridden") {
  CachePolicy p;
  p.grace_seconds = 3600;
  CHECK(decide_reuse(facts("max-age=60", 1000, 60), p).stale_on_error == ErrorFallback::Grace);
  CHECK(decide_reuse(facts("max-age=60", 60 + 3601, 60), p).stale_on_error == ErrorFallback::None);
  CHECK(decide_reuse(facts("s-maxage=60", 1000, 60), p).stale_on_error == ErrorFallback::Grace);
  CHECK(decide_reuse(facts("max-age=60, must-revalidate", 1000, 60), p).stale_on_error ==
        ErrorFallback::None);
  CHECK(decide_reuse(facts("no-cache", 1000, 60), p).stale_on_error == ErrorFallback::None);
  p.grace_overrides_revalidate = true;
  CHECK(decide_reuse(facts("max-age=60, must-revalidate", 1000, 60), p).stale_on_error ==
        ErrorFallback::Grace);
}

TEST_CASE("stale-if-error wins over grace while inside its window") {
  CachePolicy p;
  p.grace_seconds = 3600;
  CHECK(decide_reuse(facts("max-age=60, stale-if-error=100", 100, 60), p).stale_on_error ==
        ErrorFallback::StaleIfError);
  CHECK(decide_reuse(facts("max-age=60, stale-if-error=100", 500, 60), p).stale_on_error ==
        ErrorFallback::Grace);
}

TEST_CASE("only-if-cached answers 504 instead of contacting the origin") {
  auto d = decide_reuse(facts("max-age=60", 100, 60, "only-if-cached"), {});
  CHECK(d.action == ReuseAction::GatewayTimeout);
  CHECK(d.reason == ReuseReason::OnlyIfCached);
  CHECK(decide_reuse(facts("max-age=60", 10, 60, "only-if-cached"), {}).action ==
        ReuseAction::Fresh);
  CHECK(decide_reuse(facts("max-age=60, stale-while-revalidate=60", 100, 60, "only-if-cached"), {})
            .action == ReuseAction::StaleWhileRevalidate);
  CHECK(answer_miss_with_504(parse_request_directives("only-if-cached")));
  CHECK_FALSE(answer_miss_with_504(parse_request_directives("no-cache")));
}

TEST_CASE("huge ages and lifetimes do not overflow") {
  auto d = decide_reuse(facts("max-age=2147483648", kMaxDeltaSeconds, kMaxDeltaSeconds), {});
  CHECK(d.action == ReuseAction::Validate);
  CHECK(d.ttl == 0);
  CHECK(decide_reuse(facts("max-age=2147483648", 0, kMaxDeltaSeconds), {}).ttl == kMaxDeltaSeconds);
}

TEST_CASE("names for logs") {
  CHECK(to_string(ReuseAction::StaleWhileRevalidate) == "stale-while-revalidate");
  CHECK(to_string(ReuseReason::RequestNoCache) == "request-no-cache");
  CHECK(to_string(ErrorFallback::Grace) == "grace");
}
