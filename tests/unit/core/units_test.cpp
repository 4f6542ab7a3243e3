#include "ghala/core/units.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

using namespace std::chrono_literals;
using ghala::Millis;
using ghala::parse_duration;
using ghala::parse_size;

namespace {

Millis duration_ok(std::string_view text) {
  auto r = parse_duration(text);
  INFO("input: ", std::string(text));
  REQUIRE(r.ok());
  return r.value();
}

std::string duration_error(std::string_view text) {
  auto r = parse_duration(text);
  INFO("input: ", std::string(text));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ghala::ErrorKind::Invalid);
  return r.error().message;
}

std::uint64_t size_ok(std::string_view text) {
  auto r = parse_size(text);
  INFO("input: ", std::string(text));
  REQUIRE(r.ok());
  return r.value();
}

std::string size_error(std::string_view text) {
  auto r = parse_size(text);
  INFO("input: ", std::string(text));
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("parse_duration reads each unit") {
  CHECK(duration_ok("250ms") == 250ms);
  CHECK(duration_ok("90s") == 90s);
  CHECK(duration_ok("5m") == 5min);
  CHECK(duration_ok("2h") == 2h);
  CHECK(duration_ok("1d") == 24h);
  CHECK(duration_ok("0s") == 0ms);
  CHECK(duration_ok("007s") == 7s);
}

TEST_CASE("parse_duration chains components from largest to smallest") {
  CHECK(duration_ok("1h30m") == 90min);
  CHECK(duration_ok("1d2h3m4s5ms") == 24h + 2h + 3min + 4s + 5ms);
  CHECK(duration_ok("1m500ms") == 60500ms);
  CHECK(contains(duration_error("30m1h"), "largest to smallest"));
  CHECK(contains(duration_error("1s1s"), "largest to smallest"));
}

TEST_CASE("parse_duration rejects a bare number and says which unit to add") {
  const std::string msg = duration_error("30");
  CHECK(contains(msg, "needs a unit"));
  CHECK(contains(msg, "30s"));
  CHECK(contains(duration_error("1h30"), "needs a unit"));
}

TEST_CASE("parse_duration rejects junk, negatives, fractions and unknown units") {
  CHECK(contains(duration_error(""), "empty"));
  CHECK(contains(duration_error("-5s"), "negative"));
  CHECK(contains(duration_error("1.5s"), "whole numbers"));
  CHECK(contains(duration_error("10x"), "unknown unit 'x'"));
  CHECK(contains(duration_error("10S"), "unknown unit 'S'"));
  CHECK(contains(duration_error("10sec"), "unknown unit 'sec'"));
  CHECK(contains(duration_error("s"), "expected a number"));
  CHECK(contains(duration_error(" 5s"), "expected a number"));
  CHECK(contains(duration_error("5s "), "no spaces"));
  CHECK(contains(duration_error("1h 30m"), "no spaces"));
  CHECK(contains(duration_error("10 fortnights"), "no spaces"));
  CHECK(contains(duration_error("5s\x01"), "unexpected character"));
  duration_error("+5s");
  duration_error("5\xff");
}

TEST_CASE("parse_duration reports overflow instead of wrapping") {
  CHECK(contains(duration_error("99999999999999999999999s"), "too large"));
  CHECK(contains(duration_error("9223372036854775807d"), "too large"));
  CHECK(contains(duration_error("106751991168d"), "too large"));
  CHECK(duration_ok("9223372036854775807ms").count() == INT64_MAX);
  CHECK(contains(duration_error("9223372036854775808ms"), "too large"));
}

TEST_CASE("parse_size reads binary and decimal units and bare bytes") {
  CHECK(size_ok("4096") == 4096);
  CHECK(size_ok("0") == 0);
  CHECK(size_ok("10B") == 10);
  CHECK(size_ok("8KiB") == 8192);
  CHECK(size_ok("512MiB") == 512ull << 20);
  CHECK(size_ok("2GiB") == 2ull << 30);
  CHECK(size_ok("1TiB") == 1ull << 40);
  CHECK(size_ok("100MB") == 100'000'000);
  CHECK(size_ok("1KB") == 1000);
  CHECK(size_ok("3GB") == 3'000'000'000);
  CHECK(size_ok("2TB") == 2'000'000'000'000);
  CHECK(size_ok("512 MiB") == 512ull << 20);
}

TEST_CASE("parse_size rejects junk, negatives, fractions, unknown units and overflow") {
  CHECK(contains(size_error(""), "empty"));
  CHECK(contains(size_error("-1"), "negative"));
  CHECK(contains(size_error("1.5GiB"), "whole numbers"));
  CHECK(contains(size_error("10mb"), "unknown unit 'mb'"));
  CHECK(contains(size_error("10K"), "unknown unit 'K'"));
  CHECK(contains(size_error("MiB"), "expected a number"));
  CHECK(contains(size_error("10MiBx1"), "unexpected character"));
  CHECK(contains(size_error("10 MiB "), "unexpected character"));
  CHECK(contains(size_error("18446744073709551616"), "too large"));
  CHECK(size_ok("18446744073709551615") == UINT64_MAX);
  CHECK(contains(size_error("16777216TiB"), "too large"));
  size_error("\x80\x81");
}

TEST_CASE("format_duration prints the canonical chained form") {
  CHECK(ghala::format_duration(0ms) == "0s");
  CHECK(ghala::format_duration(250ms) == "250ms");
  CHECK(ghala::format_duration(90s) == "1m30s");
  CHECK(ghala::format_duration(2h) == "2h");
  CHECK(ghala::format_duration(25h + 1ms) == "1d1h1ms");
  CHECK(ghala::format_duration(-1500ms) == "-1s500ms");
  CHECK_FALSE(ghala::format_duration(Millis::min()).empty());
}

TEST_CASE("format_size picks the largest exact unit") {
  CHECK(ghala::format_size(0) == "0B");
  CHECK(ghala::format_size(1) == "1B");
  CHECK(ghala::format_size(8192) == "8KiB");
  CHECK(ghala::format_size(64ull << 20) == "64MiB");
  CHECK(ghala::format_size(1000) == "1KB");
  CHECK(ghala::format_size(1500) == "1500B");
  CHECK(ghala::format_size(3ull << 40) == "3TiB");
}

TEST_CASE("format and parse round-trip") {
  for (std::int64_t ms : std::initializer_list<std::int64_t>{0LL, 1LL, 999LL, 1000LL, 61001LL,
                                                             86'400'000LL * 3 + 7LL, INT64_MAX}) {
    const Millis d(ms);
    CHECK(duration_ok(ghala::format_duration(d)) == d);
  }
  for (std::uint64_t b : std::initializer_list<std::uint64_t>{0ull, 1ull, 1023ull, 1024ull, 1000ull,
                                                              123456789ull, UINT64_MAX}) {
    CHECK(size_ok(ghala::format_size(b)) == b);
  }
}
