#include "ghala/cache/cache_control.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace ghala::cache;
using ghala::http::HeaderMap;

namespace {
ResponseDirectives res(const char* v) {
  return parse_response_directives(v);
}
RequestDirectives req(const char* v) {
  return parse_request_directives(v);
}
}  // namespace

TEST_CASE("delta-seconds accepts digits only and clamps at 2^31 (RFC 9111 §1.2.2)") {
  CHECK(parse_delta_seconds("0") == 0);
  CHECK(parse_delta_seconds("60") == 60);
  CHECK(parse_delta_seconds("007") == 7);
  CHECK(parse_delta_seconds("2147483647") == 2147483647);
  CHECK(parse_delta_seconds("2147483648") == kMaxDeltaSeconds);
  CHECK(parse_delta_seconds("2147483649") == kMaxDeltaSeconds);
  CHECK(parse_delta_seconds("99999999999999999999999999999999") == kMaxDeltaSeconds);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5", "abc", "1e3", "0x10"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_delta_seconds(bad).has_value());
  }
  CHECK(clamp_delta(std::int64_t{1} << 40) == kMaxDeltaSeconds);
  CHECK(clamp_delta(-(std::int64_t{1} << 40)) == -kMaxDeltaSeconds);
  CHECK(clamp_delta(5) == 5);
}

TEST_CASE("the directive list tokenises names, tokens and quoted arguments") {
  auto l = parse_directive_list(R"(Max-Age=60, no-cache="Set-Cookie, X-A", private, ext="a\"b")");
  REQUIRE(l.size() == 4);
  CHECK(l[0].name == "max-age");
  CHECK(l[0].argument == "60");
  CHECK(l[1].name == "no-cache");
  CHECK(l[1].argument == "Set-Cookie, X-A");
  CHECK(l[2].name == "private");
  CHECK_FALSE(l[2].has_argument);
  CHECK(l[3].argument == "a\"b");
  for (const auto& d : l) CHECK(d.valid);
}

TEST_CASE("malformed elements are skipped without losing the rest of the field") {
  auto l = parse_directive_list("max-age=60 junk, public, =5, , ,no-store");
  REQUIRE(l.size() == 4);
  CHECK_FALSE(l[0].valid);
  CHECK(l[1].name == "public");
  CHECK(l[1].valid);
  CHECK_FALSE(l[2].valid);
  CHECK(l[3].name == "no-store");
  CHECK(parse_directive_list("").empty());
  CHECK(parse_directive_list(" , ,, ").empty());
  auto unterminated = parse_directive_list("no-cache=\"set-cookie, public");
  REQUIRE(unterminated.size() == 1);
  CHECK_FALSE(unterminated[0].valid);
}

TEST_CASE("response directives parse with any casing") {
  auto r =
      res("PUBLIC, Max-Age=600, S-MaxAge=30, Must-Revalidate, proxy-revalidate, "
          "no-transform, immutable, must-understand, stale-while-revalidate=10, "
          "stale-if-error=86400");
  CHECK(r.public_);
  CHECK(r.max_age == 600);
  CHECK(r.s_maxage == 30);
  CHECK(r.must_revalidate);
  CHECK(r.proxy_revalidate);
  CHECK(r.no_transform);
  CHECK(r.immutable);
  CHECK(r.must_understand);
  CHECK(r.stale_while_revalidate == 10);
  CHECK(r.stale_if_error == 86400);
  CHECK_FALSE(r.no_store);
  CHECK_FALSE(r.no_cache.present);
  CHECK_FALSE(r.private_.present);
}

TEST_CASE("an invalid max-age makes the response stale (RFC 9111 §4.2.1)") {
  for (const char* v : {"max-age=abc", "max-age=-1", "max-age=", "max-age", "max-age=1.5",
                        "max-age=60s", "max-age=\"\"", "max-age=\"60"}) {
    CAPTURE(v);
    CHECK(res(v).max_age == 0);
  }
  CHECK(res("s-maxage=x").s_maxage == 0);
}

TEST_CASE("a quoted max-age is accepted (RFC 9111 §5.2: both argument forms)") {
  CHECK(res("max-age=\"60\"").max_age == 60);
  CHECK(res("s-maxage=\"5\"").s_maxage == 5);
}

TEST_CASE("max-age overflow clamps to 2^31") {
  CHECK(res("max-age=99999999999999999999").max_age == kMaxDeltaSeconds);
}

TEST_CASE("repeated max-age: identical is fine, disagreeing means stale") {
  CHECK(res("max-age=60, max-age=60").max_age == 60);
  CHECK(res("max-age=60, max-age=120").max_age == 0);
  CHECK(res("max-age=60, max-age=abc").max_age == 0);
  CHECK(res("max-age=abc, max-age=60").max_age == 0);
}

TEST_CASE("no-cache and private with and without field lists") {
  auto r = res(R"(no-cache="Set-Cookie, X-Token", private=X-User)");
  CHECK(r.no_cache.present);
  CHECK_FALSE(r.no_cache.all);
  CHECK(r.no_cache.fields == std::vector<std::string>{"set-cookie", "x-token"});
  CHECK(r.private_.fields == std::vector<std::string>{"x-user"});
  CHECK(res("no-cache").no_cache.all);
  CHECK(res("private").private_.all);
}

TEST_CASE("field-scoped directives: unusable lists and unqualified repeats apply to everything") {
  CHECK(res("no-cache=\"\"").no_cache.all);
  CHECK(res("no-cache=\"a b\"").no_cache.all);
  CHECK(res("private=\"x, \"").private_.fields == std::vector<std::string>{"x"});
  CHECK(res("no-cache=\"set-cookie").no_cache.all);  // unterminated
  CHECK(res("no-cache=\"a\", no-cache").no_cache.all);
  CHECK(res("no-cache, no-cache=\"a\"").no_cache.all);
  auto merged = res("private=\"b\", private=\"a, B\"");
  CHECK(merged.private_.fields == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a comma inside a quoted argument does not split the list") {
  auto r = res("private=\"set-cookie, public\", max-age=5");
  CHECK_FALSE(r.public_);
  CHECK(r.max_age == 5);
  CHECK(r.private_.fields == std::vector<std::string>{"public", "set-cookie"});
}

TEST_CASE("restrictive directives count even when malformed, permissive ones do not") {
  CHECK(res("no-store=1").no_store);
  CHECK(res("no-store junk").no_store);
  CHECK(res("must-revalidate=\"x").must_revalidate);
  CHECK_FALSE(res("public junk").public_);
  CHECK(res("public=yes").public_);  // an argument on a flag is harmless
}

TEST_CASE("stale extensions: invalid values grant nothing, repeats take the smallest") {
  CHECK_FALSE(res("stale-while-revalidate").stale_while_revalidate.has_value());
  CHECK_FALSE(res("stale-if-error=-5").stale_if_error.has_value());
  CHECK(res("stale-if-error=50, stale-if-error=20").stale_if_error == 20);
  CHECK(res("stale-while-revalidate=9, stale-while-revalidate=x").stale_while_revalidate == 9);
}

TEST_CASE("unknown extensions and junk never crash and are ignored") {
  const char* junk[] = {"",
                        ",,,",
                        "\"",
                        "=",
                        "a=\"\\",
                        "\x01\xff",
                        "foo=bar;baz",
                        "max-age==5",
                        "(max-age=5)",
                        "  \t ",
                        "no-cache=\"\\\"\"",
                        "community=\"UCI\""};
  for (const char* v : junk) {
    CAPTURE(v);
    auto r = res(v);
    CHECK_FALSE(r.public_);
    auto q = req(v);
    CHECK_FALSE(q.only_if_cached);
  }
  std::string huge(100000, 'x');
  huge += ", max-age=5";
  CHECK(parse_response_directives(huge).max_age == 5);
}

TEST_CASE("request directives") {
  auto r =
      req("max-age=0, min-fresh=10, max-stale=20, no-cache, no-store, only-if-cached, "
          "no-transform, stale-if-error=30");
  CHECK(r.max_age == 0);
  CHECK(r.min_fresh == 10);
  CHECK(r.max_stale == 20);
  CHECK(r.no_cache);
  CHECK(r.no_store);
  CHECK(r.only_if_cached);
  CHECK(r.no_transform);
  CHECK(r.stale_if_error == 30);
  CHECK(req("max-stale").max_stale == kMaxDeltaSeconds);
}

TEST_CASE("request directives: invalid values ignored, repeats most restrictive") {
  CHECK_FALSE(req("max-age=abc").max_age.has_value());
  CHECK(req("max-age=60, max-age=10").max_age == 10);
  CHECK(req("min-fresh=5, min-fresh=50").min_fresh == 50);
  CHECK(req("max-stale, max-stale=10").max_stale == 10);
  CHECK(req("max-stale=10, max-stale").max_stale == 10);
  CHECK_FALSE(req("max-stale=-1").max_stale.has_value());
}

TEST_CASE("Cache-Control field lines are combined") {
  HeaderMap h;
  h.add("Cache-Control", "max-age=60");
  h.add("cache-control", "no-cache=\"set-cookie\"");
  auto r = response_directives(h);
  CHECK(r.max_age == 60);
  CHECK(r.no_cache.fields == std::vector<std::string>{"set-cookie"});
  CHECK(response_directives(HeaderMap{}) == ResponseDirectives{});
}

TEST_CASE("Pragma: no-cache counts only without Cache-Control (RFC 9111 §5.4)") {
  HeaderMap h;
  h.add("Pragma", "No-Cache");
  CHECK(request_directives(h).no_cache);
  h.add("Cache-Control", "max-age=5");
  CHECK_FALSE(request_directives(h).no_cache);
  HeaderMap other;
  other.add("Pragma", "foo");
  CHECK_FALSE(request_directives(other).no_cache);
}

TEST_CASE("field name lists") {
  CHECK(parse_field_name_list("B, a ,A") == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(parse_field_name_list("").has_value());
  CHECK_FALSE(parse_field_name_list(" , ").has_value());
  CHECK_FALSE(parse_field_name_list("a, b c").has_value());
}

TEST_CASE("random bytes never crash the parsers and keep values in range") {
  // Deterministic xorshift so a failure reproduces; the alphabet favours the syntax's own bytes.
  const std::string alphabet = "max-agesno-cachprivt=\",\\ \t0123456789*;?():/\x01\xff";
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 5000; ++round) {
    std::string s(next() % 64, ' ');
    for (char& c : s) c = alphabet[next() % alphabet.size()];
    auto r = parse_response_directives(s);
    if (r.max_age) CHECK((*r.max_age >= 0 && *r.max_age <= kMaxDeltaSeconds));
    if (r.s_maxage) CHECK((*r.s_maxage >= 0 && *r.s_maxage <= kMaxDeltaSeconds));
    auto q = parse_request_directives(s);
    if (q.max_stale) CHECK((*q.max_stale >= 0 && *q.max_stale <= kMaxDeltaSeconds));
  }
}
