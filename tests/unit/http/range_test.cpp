#include "ghala/http/range.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace ghala::http;

namespace {
constexpr std::uint64_t kMax = UINT64_MAX;

RangeResult resolve(std::string_view field, std::uint64_t length) {
  return resolve_range(field, length);
}

void check_range(std::string_view field, std::uint64_t length, std::uint64_t offset,
                 std::uint64_t count) {
  CAPTURE(field);
  auto r = resolve(field, length);
  REQUIRE(r.outcome == RangeOutcome::Satisfiable);
  CHECK(r.range == ByteRange{offset, count});
}
}  // namespace

TEST_CASE("parse_range reads the three range-spec forms") {
  auto specs = parse_range("bytes=0-499, 500-, -200");
  REQUIRE(specs);
  REQUIRE(specs->size() == 3);
  CHECK((*specs)[0] == RangeSpec{0, 499});
  CHECK((*specs)[1] == RangeSpec{500, std::nullopt});
  CHECK((*specs)[2] == RangeSpec{std::nullopt, 200});
}

TEST_CASE("the unit is case-insensitive and empty list elements are skipped") {
  CHECK(parse_range("Bytes=1-2"));
  CHECK(parse_range("BYTES=1-2"));
  auto specs = parse_range("bytes=, 1-2 ,, 4-5,");
  REQUIRE(specs);
  CHECK(specs->size() == 2);
}

TEST_CASE("huge numbers saturate instead of overflowing") {
  auto specs = parse_range("bytes=99999999999999999999999-");
  REQUIRE(specs);
  CHECK((*specs)[0].first == kMax);
  check_range("bytes=0-99999999999999999999999", 10, 0, 10);
  check_range("bytes=-99999999999999999999999", 10, 0, 10);
  CHECK(resolve("bytes=99999999999999999999999-", 10).outcome == RangeOutcome::NotSatisfiable);
}

TEST_CASE("malformed Range fields are ignored") {
  const char* bad[] = {
      "",
      "bytes",
      "bytes=",
      "bytes=-",
      "bytes=a-b",
      "bytes=1-a",
      "bytes=5-1",
      "bytes=1 - 2",
      "bytes =1-2",
      "items=0-1",
      "bytes=0-1;",
      "bytes=--1",
      "bytes=1-2-3",
      "bytes=+1-2",
      "bytes=0x1-2",
      "bytes=1-2,x",
      "bytes=,",
      "=0-1",
      "bytes=-1-",
  };
  for (const char* s : bad) {
    CAPTURE(s);
    CHECK_FALSE(parse_range(s).has_value());
    CHECK(resolve(s, 100).outcome == RangeOutcome::Ignore);
  }
}

TEST_CASE("too many range-specs are ignored") {
  std::string field = "bytes=0-0";
  for (std::size_t i = 1; i < kMaxRangeSpecs; ++i) {
    const std::string n = std::to_string(i);
    field.append(",").append(n).append("-").append(n);
  }
  CHECK(parse_range(field));
  check_range(field, 1000, 0, kMaxRangeSpecs);  // adjacent: coalesces
  field += ",999-999";
  CHECK_FALSE(parse_range(field));
  CHECK(resolve(field, 1000).outcome == RangeOutcome::Ignore);
}

TEST_CASE("single ranges resolve against the length (RFC 9110 §14.1.2)") {
  check_range("bytes=0-499", 10000, 0, 500);
  check_range("bytes=500-999", 10000, 500, 500);
  check_range("bytes=9500-", 10000, 9500, 500);
  check_range("bytes=-500", 10000, 9500, 500);
  check_range("bytes=0-0", 10000, 0, 1);
  check_range("bytes=-1", 10000, 9999, 1);
  check_range("bytes=9999-", 10000, 9999, 1);
  check_range("bytes=0-20000", 10000, 0, 10000);  // last past the end is clamped
  check_range("bytes=-20000", 10000, 0, 10000);   // suffix longer than the representation
  check_range("bytes=0-", 1, 0, 1);
}

TEST_CASE("ranges starting at or past the end are not satisfiable") {
  CHECK(resolve("bytes=10000-", 10000).outcome == RangeOutcome::NotSatisfiable);
  CHECK(resolve("bytes=10000-20000", 10000).outcome == RangeOutcome::NotSatisfiable);
  CHECK(resolve("bytes=-0", 10000).outcome == RangeOutcome::NotSatisfiable);
  CHECK(resolve("bytes=20000-, -0", 10000).outcome == RangeOutcome::NotSatisfiable);
}

TEST_CASE("one satisfiable spec among unsatisfiable ones is served") {
  check_range("bytes=20000-30000, 5-9", 100, 5, 5);
}

TEST_CASE("overlapping or adjacent ranges coalesce into one") {
  check_range("bytes=0-99, 50-149", 1000, 0, 150);
  check_range("bytes=0-99, 100-199", 1000, 0, 200);
  check_range("bytes=100-199, 0-99", 1000, 0, 200);
  check_range("bytes=0-499, -500", 1000, 0, 1000);
  check_range("bytes=10-20, 12-15", 1000, 10, 11);
  check_range("bytes=0-0,0-0,0-0", 1000, 0, 1);
}

TEST_CASE("disjoint ranges are ignored (no multipart/byteranges)") {
  CHECK(resolve("bytes=0-0, 2-2", 1000).outcome == RangeOutcome::Ignore);
  CHECK(resolve("bytes=0-99, 200-299", 1000).outcome == RangeOutcome::Ignore);
  CHECK(resolve("bytes=0-1, -1", 1000).outcome == RangeOutcome::Ignore);
}

TEST_CASE("an empty representation ignores every Range") {
  CHECK(resolve("bytes=0-", 0).outcome == RangeOutcome::Ignore);
  CHECK(resolve("bytes=-5", 0).outcome == RangeOutcome::Ignore);
  CHECK(resolve("bytes=5-10", 0).outcome == RangeOutcome::Ignore);
}

TEST_CASE("the full 64-bit length range works") {
  check_range("bytes=-1", kMax, kMax - 1, 1);
  check_range("bytes=0-", kMax, 0, kMax);
}

TEST_CASE("Content-Range values") {
  CHECK(format_content_range(ByteRange{0, 500}, 1234) == "bytes 0-499/1234");
  CHECK(format_content_range(ByteRange{1233, 1}, 1234) == "bytes 1233-1233/1234");
  CHECK(format_unsatisfied_range(1234) == "bytes */1234");
  CHECK(format_unsatisfied_range(0) == "bytes */0");
}

TEST_CASE("arbitrary bytes never crash the parser") {
  std::string s = "bytes=";
  for (int i = 0; i < 512; ++i) {
    s += static_cast<char>((i * 37) % 256);
    auto r = resolve(s, 1000);
    if (r.outcome == RangeOutcome::Satisfiable) {
      CHECK(r.range.length > 0);
      CHECK(r.range.offset + r.range.length <= 1000);
    }
  }
}
