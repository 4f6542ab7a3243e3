#include "ghala/http/date.hpp"

#include <doctest/doctest.h>

#include <string>

using ghala::http::cached_http_date;
using ghala::http::format_http_date;
using ghala::http::parse_http_date;

namespace {
constexpr std::int64_t k1994 = 784111777;      // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::int64_t kNow2025 = 1750000000;  // 2025-06-15
}  // namespace

TEST_CASE("the three RFC 9110 date forms parse to the same instant") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", kNow2025) == k1994);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kNow2025) == k1994);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994", kNow2025) == k1994);
  CHECK(parse_http_date("Sun Nov 06 08:49:37 1994", kNow2025) == k1994);
}

TEST_CASE("surrounding whitespace is ignored") {
  CHECK(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t", kNow2025) == k1994);
}

TEST_CASE("epoch, leap day and end of year parse exactly") {
  CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", kNow2025) == 0);
  CHECK(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT", kNow2025) == 951825600);
  CHECK(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT", kNow2025) == 253402300799);
  CHECK(parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT", kNow2025) == -1);
}

TEST_CASE("a leap second is accepted and rolls into the next minute") {
  CHECK(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT", kNow2025) == 1483228800);
}

TEST_CASE("two-digit RFC 850 years more than 50 years ahead mean the past century") {
  CHECK(parse_http_date("Wednesday, 01-Jan-70 00:00:00 GMT", kNow2025) == 3155760000);  // 2070
  CHECK(parse_http_date("Thursday, 01-Jan-76 00:00:00 GMT", kNow2025) == 189302400);    // 1976
  CHECK(parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT", kNow2025) == 946684800);    // 2000
}

TEST_CASE("malformed dates are rejected") {
  const char* bad[] = {
      "",
      "GMT",
      "Sun, 06 Nov 1994 08:49:37",                                     // no zone
      "Sun, 06 Nov 1994 08:49:37 UTC",                                 // wrong zone
      "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",  // a list
      "Sun, 6 Nov 1994 08:49:37 GMT",                                  // one-digit day
      "Sun, 06 nov 1994 08:49:37 GMT",                                 // names are case-sensitive
      "sun, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 94 08:49:37 GMT",    // two-digit year in IMF-fixdate
      "Sun, 31 Nov 1994 08:49:37 GMT",  // no 31 November
      "Mon, 29 Feb 1900 00:00:00 GMT",  // 1900 is not a leap year
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 06 Nov 1994 08:49:61 GMT",
      "Sun, 06 Nov 1994 8:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMTX",
      "Sun,06 Nov 1994 08:49:37 GMT",
      "Sunday, 06 Nov 1994 08:49:37 GMT",  // long name with IMF layout
      "Sun, 06-Nov-94 08:49:37 GMT",       // short name with RFC 850 layout
      "Sun Nov  6 08:49:37 1994 GMT",
      "Sun Nov 6 08:49:37 1994",
      "Xyz, 06 Nov 1994 08:49:37 GMT",
      "1994-11-06T08:49:37Z",
      "Sun, 06 Nov 1994 08:49:37 GMT\r\n",
  };
  for (const char* s : bad) {
    CAPTURE(s);
    CHECK_FALSE(parse_http_date(s, kNow2025).has_value());
  }
}

TEST_CASE("truncated and noisy inputs never crash") {
  const std::string good = "Sunday, 06-Nov-94 08:49:37 GMT";
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK_FALSE(parse_http_date(good.substr(0, n), kNow2025).has_value());
  }
  std::string noise(64, '\0');
  for (int i = 0; i < 256; ++i) {
    noise[static_cast<std::size_t>(i) % noise.size()] = static_cast<char>(i);
    CHECK_FALSE(parse_http_date(noise, kNow2025).has_value());
  }
}

TEST_CASE("format_http_date writes IMF-fixdate and round-trips") {
  CHECK(format_http_date(k1994) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(format_http_date(951825600) == "Tue, 29 Feb 2000 12:00:00 GMT");
  for (std::int64_t t = 0; t < 4102444800; t += 86400 * 37 + 3671) {
    CAPTURE(t);
    REQUIRE(parse_http_date(format_http_date(t), kNow2025) == t);
  }
}

TEST_CASE("format_http_date clamps outside 1970..9999") {
  CHECK(format_http_date(-5) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(format_http_date(INT64_MAX) == "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST_CASE("cached_http_date reformats only when the second changes") {
  auto a = cached_http_date(k1994);
  CHECK(a == "Sun, 06 Nov 1994 08:49:37 GMT");
  const char* storage = a.data();
  CHECK(cached_http_date(k1994).data() == storage);
  CHECK(cached_http_date(k1994 + 1) == "Sun, 06 Nov 1994 08:49:38 GMT");
  CHECK(ghala::http::cached_http_date_now().size() == ghala::http::kHttpDateLength);
}
