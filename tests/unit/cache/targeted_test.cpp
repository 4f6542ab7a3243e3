#include "ghala/cache/targeted.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ghala::cache;
using ghala::http::HeaderMap;

namespace {
const std::vector<std::string> kTargets{"Ghala-Cache-Control", "CDN-Cache-Control"};
}

TEST_CASE("structured dictionaries parse the RFC 8941 item types") {
  auto d = parse_sf_dictionary(
      "a=1, b=?0, c, d=\"x\\\"y\", e=tok/en:1, f=:aGk=:, g=-2.5, h=(1 2);p, i;q=1");
  REQUIRE(d.has_value());
  REQUIRE(d->size() == 9);
  CHECK((*d)[0].type == SfType::Integer);
  CHECK((*d)[0].integer == 1);
  CHECK((*d)[1].type == SfType::Boolean);
  CHECK_FALSE((*d)[1].boolean);
  CHECK((*d)[2].type == SfType::Boolean);
  CHECK((*d)[2].boolean);
  CHECK((*d)[3].text == "x\"y");
  CHECK((*d)[4].type == SfType::Token);
  CHECK((*d)[4].text == "tok/en:1");
  CHECK((*d)[5].type == SfType::ByteSequence);
  CHECK((*d)[6].type == SfType::Decimal);
  CHECK((*d)[7].type == SfType::InnerList);
  CHECK((*d)[8].key == "i");
}

TEST_CASE("a repeated dictionary key keeps the last value (RFC 8941 §4.2.2)") {
  auto d = parse_sf_dictionary("max-age=1, max-age=2");
  REQUIRE(d.has_value());
  REQUIRE(d->size() == 1);
  CHECK((*d)[0].integer == 2);
}

TEST_CASE("invalid structured dictionaries are rejected as a whole") {
  const char* bad[] = {"Max-Age=5",
                       "max-age=5,",
                       "max-age=5 junk",
                       "max-age=",
                       "a=\"unterminated",
                       "a=?2",
                       "a=1234567890123456",
                       "a=1.2345",
                       "a=1.",
                       "a=:bad!:",
                       "a=\"\x01\"",
                       ",a",
                       "a=(1 2",
                       "a;",
                       "1a=1",
                       "a=1;B=2",
                       "a=\"\\x\"",
                       "\ta=1"};
  for (const char* v : bad) {
    CAPTURE(v);
    CHECK_FALSE(parse_sf_dictionary(v).has_value());
  }
  CHECK(parse_sf_dictionary("  a=1 ,\tb  ").has_value());
  CHECK(parse_sf_dictionary("")->empty());
}

TEST_CASE("targeted fields map onto directives with RFC 9213 §2.1 types") {
  auto r = parse_targeted_field(
      "max-age=600, s-maxage=60, stale-while-revalidate=30, stale-if-error=900, public, "
      "must-revalidate, no-cache=\"Set-Cookie\", immutable=?0");
  REQUIRE(r.has_value());
  CHECK(r->max_age == 600);
  CHECK(r->s_maxage == 60);
  CHECK(r->stale_while_revalidate == 30);
  CHECK(r->stale_if_error == 900);
  CHECK(r->public_);
  CHECK(r->must_revalidate);
  CHECK(r->no_cache.fields == std::vector<std::string>{"set-cookie"});
  CHECK_FALSE(r->immutable);
}

TEST_CASE("targeted values of the wrong type are not consumed") {
  auto r = parse_targeted_field("max-age=\"60\", s-maxage=1.5, stale-if-error=-1, public=1");
  REQUIRE(r.has_value());
  CHECK_FALSE(r->max_age.has_value());
  CHECK_FALSE(r->s_maxage.has_value());
  CHECK_FALSE(r->stale_if_error.has_value());
  CHECK_FALSE(r->public_);
  CHECK(parse_targeted_field("max-age=99999999999")->max_age == kMaxDeltaSeconds);
}

TEST_CASE("targeted no-cache/private: unusable values apply to the whole response") {
  CHECK(parse_targeted_field("private")->private_.all);
  CHECK(parse_targeted_field("private=tok")->private_.all);
  CHECK(parse_targeted_field("no-cache=\"a b\"")->no_cache.all);
  CHECK_FALSE(parse_targeted_field("no-cache=?0")->no_cache.present);
}

TEST_CASE("an empty or invalid targeted field is ignored") {
  CHECK_FALSE(parse_targeted_field("").has_value());
  CHECK_FALSE(parse_targeted_field("   ").has_value());
  CHECK_FALSE(parse_targeted_field("Max-Age=5").has_value());
  // RFC 9213 §3.1 example: "none" is valid and simply carries no directive.
  auto none = parse_targeted_field("none");
  REQUIRE(none.has_value());
  CHECK(*none == ResponseDirectives{});
}

TEST_CASE("the first valid targeted field wins and Cache-Control and Expires are ignored") {
  HeaderMap h;
  h.add("Cache-Control", "no-store");
  h.add("Expires", "Thu, 01 Dec 1994 16:00:00 GMT");
  h.add("CDN-Cache-Control", "max-age=60");
  auto e = effective_directives(h, kTargets);
  CHECK(e.source == "CDN-Cache-Control");
  CHECK(e.directives.max_age == 60);
  CHECK_FALSE(e.directives.no_store);
  CHECK_FALSE(e.use_expires);

  h.add("ghala-cache-control", "s-maxage=5");
  e = effective_directives(h, kTargets);
  CHECK(e.source == "Ghala-Cache-Control");
  CHECK(e.directives.s_maxage == 5);
  CHECK_FALSE(e.directives.max_age.has_value());
}

TEST_CASE("an invalid targeted field falls through to the next, then to Cache-Control") {
  HeaderMap h;
  h.add("Cache-Control", "max-age=10");
  h.add("Ghala-Cache-Control", "max-age=5,");
  h.add("CDN-Cache-Control", "max-age=60");
  auto e = effective_directives(h, kTargets);
  CHECK(e.source == "CDN-Cache-Control");
  CHECK(e.directives.max_age == 60);

  HeaderMap only_cc;
  only_cc.add("Cache-Control", "max-age=10");
  only_cc.add("CDN-Cache-Control", "");
  e = effective_directives(only_cc, kTargets);
  CHECK(e.source == "Cache-Control");
  CHECK(e.directives.max_age == 10);
  CHECK(e.use_expires);
  CHECK(effective_directives(only_cc, {}).source == "Cache-Control");
}

TEST_CASE("targeted field lines are combined before parsing") {
  HeaderMap h;
  h.add("CDN-Cache-Control", "max-age=60");
  h.add("CDN-Cache-Control", "stale-if-error=30");
  auto e = effective_directives(h, kTargets);
  CHECK(e.directives.max_age == 60);
  CHECK(e.directives.stale_if_error == 30);
}

TEST_CASE("random bytes never crash the dictionary parser") {
  const std::string alphabet = "max-agesno=?01\",\\ \t:()*;./9AZ\x7f\xff";
  std::uint64_t x = 0x2545F4914F6CDD1Dull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 5000; ++round) {
    std::string s(next() % 48, ' ');
    for (char& c : s) c = alphabet[next() % alphabet.size()];
    auto r = parse_targeted_field(s);
    if (r && r->max_age) CHECK((*r->max_age >= 0 && *r->max_age <= kMaxDeltaSeconds));
  }
}
