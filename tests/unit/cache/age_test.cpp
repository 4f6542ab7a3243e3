#include "ghala/cache/age.hpp"

#include <doctest/doctest.h>

#include "ghala/cache/cache_control.hpp"

using namespace ghala::cache;
using ghala::http::HeaderMap;

namespace {
constexpr std::int64_t kDate = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
const char* const kDateText = "Sun, 06 Nov 1994 08:49:37 GMT";
}  // namespace

TEST_CASE("Age parses a non-negative integer, the first list member, and clamps (RFC 9111 §5.1)") {
  CHECK(parse_age("0") == 0);
  CHECK(parse_age("3600") == 3600);
  CHECK(parse_age(" 12 ") == 12);
  CHECK(parse_age("5, 7") == 5);
  CHECK(parse_age("99999999999999") == kMaxDeltaSeconds);
  for (const char* bad : {"", "-1", "abc", "1.5", ", 5", "5s"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_age(bad).has_value());
  }
}

TEST_CASE("stored timings read Date and Age, defaulting to the receive time and 0") {
  HeaderMap h;
  h.add("Date", kDateText);
  h.add("Age", "30");
  auto t = stored_timings(h, kDate + 1, kDate + 2);
  CHECK(t.request_time == kDate + 1);
  CHECK(t.response_time == kDate + 2);
  CHECK(t.date == kDate);
  CHECK(t.age == 30);

  HeaderMap bad;
  bad.add("Date", "yesterday");
  bad.add("Age", "-4");
  t = stored_timings(bad, 100, 105);
  CHECK(t.date == 105);
  CHECK(t.age == 0);
  t = stored_timings(HeaderMap{}, 100, 105);
  CHECK(t.date == 105);
  CHECK(t.age == 0);
}

TEST_CASE("the RFC 9111 §4.2.3 formulas") {
  // Request sent at 1000, response (Date 990, Age 20) received at 1004, now 1100.
  StoredTimings t{1000, 1004, 990, 20};
  CHECK(apparent_age(t) == 14);
  CHECK(response_delay(t) == 4);
  CHECK(corrected_age_value(t) == 24);
  CHECK(corrected_initial_age(t) == 24);
  CHECK(resident_time(t, 1100) == 96);
  CHECK(current_age(t, 1100) == 120);
}

TEST_CASE("apparent age wins when the origin's clock says the response is older") {
  StoredTimings t{1000, 1001, 900, 0};
  CHECK(corrected_initial_age(t) == 101);
  CHECK(current_age(t, 1001) == 101);
}

TEST_CASE("clock skew never makes ages negative") {
  StoredTimings future_date{1000, 1000, 5000, 0};
  CHECK(apparent_age(future_date) == 0);
  StoredTimings backwards{1000, 990, 990, 0};  // response "before" request
  CHECK(response_delay(backwards) == 0);
  CHECK(resident_time(backwards, 900) == 0);
  CHECK(current_age(backwards, 900) == 0);
}

TEST_CASE("ages saturate at 2^31") {
  StoredTimings t{0, 0, 0, kMaxDeltaSeconds};
  CHECK(current_age(t, kMaxDeltaSeconds) == kMaxDeltaSeconds);
  StoredTimings far{0, 10, -(std::int64_t{1} << 40), 0};
  CHECK(apparent_age(far) == kMaxDeltaSeconds);
}

TEST_CASE("an upstream Age of 3600 is counted from arrival") {
  HeaderMap h;
  h.add("Date", kDateText);
  h.add("Age", "3600");
  auto t = stored_timings(h, kDate, kDate);
  CHECK(current_age(t, kDate) == 3600);
  CHECK(current_age(t, kDate + 10) == 3610);
}
