#include "ghala/cache/freshness.hpp"

#include <doctest/doctest.h>

#include "ghala/cache/age.hpp"

using namespace ghala::cache;
using ghala::http::HeaderMap;

namespace {

constexpr std::int64_t kDate = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
const char* const kDateText = "Sun, 06 Nov 1994 08:49:37 GMT";
const char* const kDatePlusHour = "Sun, 06 Nov 1994 09:49:37 GMT";
const char* const kTenDaysBefore = "Thu, 27 Oct 1994 08:49:37 GMT";

Freshness lifetime(const HeaderMap& h, int status = 200, std::int64_t response_time = kDate,
                   const CachePolicy& policy = {}) {
  return freshness_lifetime(response_directives(h), freshness_facts(h, status, response_time, true),
                            policy);
}

HeaderMap headers(std::initializer_list<std::pair<const char*, const char*>> fields) {
  HeaderMap h;
  for (const auto& [n, v] : fields) h.add(n, v);
  return h;
}

}  // namespace

TEST_CASE("s-maxage beats max-age for a shared cache") {
  auto f = lifetime(headers({{"Cache-Control", "max-age=600, s-maxage=60"}}));
  CHECK(f == Freshness{60, FreshnessSource::SMaxAge});
  CHECK(f.is_explicit());
}

TEST_CASE("max-age beats Expires (RFC 9111 §5.3)") {
  auto f = lifetime(
      headers({{"Date", kDateText}, {"Expires", kDatePlusHour}, {"Cache-Control", "max-age=10"}}));
  CHECK(f == Freshness{10, FreshnessSource::MaxAge});
}

TEST_CASE("Expires minus Date") {
  auto f = lifetime(headers({{"Date", kDateText}, {"Expires", kDatePlusHour}}), 200, kDate + 5);
  CHECK(f == Freshness{3600, FreshnessSource::Expires});
}

TEST_CASE("Expires without Date uses the response time") {
  auto f = lifetime(headers({{"Expires", kDatePlusHour}}), 200, kDate + 600);
  CHECK(f == Freshness{3000, FreshnessSource::Expires});
}

TEST_CASE("an invalid Expires means already expired (RFC 9111 §5.3)") {
  for (const char* v : {"0", "-1", "never", "", "Sun, 06 Nov 1994 08:49:37 PST"}) {
    CAPTURE(v);
    auto f = lifetime(headers({{"Date", kDateText}, {"Expires", v}}));
    CHECK(f == Freshness{0, FreshnessSource::Expires});
    CHECK(f.is_explicit());
  }
  auto past = lifetime(headers({{"Date", kDatePlusHour}, {"Expires", kDateText}}));
  CHECK(past == Freshness{0, FreshnessSource::Expires});
}

TEST_CASE("disagreeing repeated Expires lines make the response stale") {
  auto f =
      lifetime(headers({{"Date", kDateText}, {"Expires", kDatePlusHour}, {"Expires", kDateText}}));
  CHECK(f.lifetime == 0);
  auto same = lifetime(
      headers({{"Date", kDateText}, {"Expires", kDatePlusHour}, {"Expires", kDatePlusHour}}));
  CHECK(same.lifetime == 3600);
}

TEST_CASE("Expires is ignored when a targeted field won") {
  HeaderMap h =
      headers({{"Date", kDateText}, {"Expires", kDatePlusHour}, {"Last-Modified", kTenDaysBefore}});
  auto f = freshness_lifetime(ResponseDirectives{}, freshness_facts(h, 200, kDate, false), {});
  CHECK(f.source == FreshnessSource::Heuristic);
}

TEST_CASE("heuristic freshness is 10% of the Last-Modified age, capped at 24 hours") {
  auto f = lifetime(headers({{"Date", kDateText}, {"Last-Modified", kTenDaysBefore}}));
  CHECK(f == Freshness{86400, FreshnessSource::Heuristic});  // 10 days * 10% = 1 day, the cap
  CHECK_FALSE(f.is_explicit());
  CachePolicy p;
  p.heuristic_max_seconds = 3600;
  CHECK(lifetime(headers({{"Date", kDateText}, {"Last-Modified", kTenDaysBefore}}), 200, kDate, p)
            .lifetime == 3600);
  p.heuristic_max_seconds = 10 * 86400;
  p.heuristic_percent = 5;
  CHECK(lifetime(headers({{"Date", kDateText}, {"Last-Modified", kTenDaysBefore}}), 200, kDate, p)
            .lifetime == 43200);
  auto hour = lifetime(headers({{"Date", kDatePlusHour}, {"Last-Modified", kDateText}}));
  CHECK(hour.lifetime == 360);
}

TEST_CASE("heuristics only for heuristically cacheable statuses or public") {
  auto h = headers({{"Date", kDateText}, {"Last-Modified", kTenDaysBefore}});
  CHECK(lifetime(h, 302).source == FreshnessSource::None);
  CHECK(lifetime(h, 500).lifetime == 0);
  CHECK(lifetime(h, 404).lifetime == 86400);
  h.add("Cache-Control", "public");
  CHECK(lifetime(h, 302).lifetime == 86400);
}

TEST_CASE("heuristics without Last-Modified, or with one in the future, give 0") {
  CHECK(lifetime(headers({{"Date", kDateText}})) == Freshness{0, FreshnessSource::Heuristic});
  auto future = lifetime(headers({{"Date", kDateText}, {"Last-Modified", kDatePlusHour}}));
  CHECK(future.lifetime == 0);
  auto junk = lifetime(headers({{"Date", kDateText}, {"Last-Modified", "junk"}}));
  CHECK(junk.lifetime == 0);
}

TEST_CASE("no heuristics when freshness is explicit, even if 0") {
  auto f = lifetime(headers({{"Cache-Control", "max-age=abc"}, {"Last-Modified", kTenDaysBefore}}));
  CHECK(f == Freshness{0, FreshnessSource::MaxAge});
}

TEST_CASE("heuristically cacheable statuses are RFC 9110 §15.1's list") {
  for (int s : {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501}) {
    CAPTURE(s);
    CHECK(is_heuristically_cacheable(s));
  }
  for (int s : {100, 201, 202, 302, 303, 304, 307, 400, 403, 500, 502, 503}) {
    CAPTURE(s);
    CHECK_FALSE(is_heuristically_cacheable(s));
  }
}

TEST_CASE("an Age of 3600 makes a max-age=3000 response stale on arrival") {
  auto h = headers({{"Date", kDateText}, {"Age", "3600"}, {"Cache-Control", "max-age=3000"}});
  auto f = lifetime(h, 200, kDate);
  auto age = current_age(stored_timings(h, kDate, kDate), kDate);
  CHECK(f.lifetime == 3000);
  CHECK(age == 3600);
  CHECK_FALSE(f.lifetime > age);
}

TEST_CASE("freshness source names") {
  CHECK(to_string(FreshnessSource::SMaxAge) == "s-maxage");
  CHECK(to_string(FreshnessSource::Heuristic) == "heuristic");
}
