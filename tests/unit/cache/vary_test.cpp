#include "ghala/cache/vary.hpp"

#include <doctest/doctest.h>

using namespace ghala::cache;
using ghala::http::HeaderMap;

namespace {
HeaderMap headers(std::initializer_list<std::pair<const char*, const char*>> fields) {
  HeaderMap h;
  for (const auto& [n, v] : fields) h.add(n, v);
  return h;
}
}  // namespace

TEST_CASE("Vary names are lower-cased, sorted and deduplicated across lines") {
  auto v = parse_vary(
      headers({{"Vary", "Accept-Encoding, accept-language"}, {"vary", "ACCEPT-ENCODING,Origin"}}));
  CHECK_FALSE(v.any);
  CHECK(v.names == std::vector<std::string>{"accept-encoding", "accept-language", "origin"});
  CHECK(parse_vary(headers({{"Vary", "Accept, *"}})).any);
  CHECK(parse_vary(HeaderMap{}).empty());
  CHECK(parse_vary(headers({{"Vary", " , "}})).empty());
}

TEST_CASE("a response that does not vary has an empty key and matches every request") {
  VarySpec none;
  CHECK(vary_key(headers({{"Accept-Encoding", "gzip"}}), none).empty());
  CHECK(vary_matches("", none, headers({{"Accept", "x"}})));
}

TEST_CASE("Vary: * never matches (RFC 9111 §4.1)") {
  VarySpec star{true, {}};
  CHECK_FALSE(vary_matches("", star, HeaderMap{}));
  CHECK_FALSE(vary_matches(vary_key(HeaderMap{}, star), star, HeaderMap{}));
}

TEST_CASE("whitespace and line splitting normalise to the same key") {
  VarySpec v = parse_vary(headers({{"Vary", "Accept-Encoding"}}));
  auto a = vary_key(headers({{"Accept-Encoding", "gzip, br"}}), v);
  CHECK(a == vary_key(headers({{"accept-encoding", "gzip,br"}}), v));
  CHECK(a == vary_key(headers({{"Accept-Encoding", "  gzip  ,\tbr "}}), v));
  CHECK(a == vary_key(headers({{"Accept-Encoding", "gzip"}, {"Accept-Encoding", "br"}}), v));
  CHECK(a == vary_key(headers({{"Accept-Encoding", "GZIP, Br"}}), v));  // codings are case-free
  CHECK(a != vary_key(headers({{"Accept-Encoding", "br, gzip"}}), v));  // order is kept
  CHECK(vary_matches(a, v, headers({{"Accept-Encoding", "gzip ,br"}})));
  CHECK_FALSE(vary_matches(a, v, headers({{"Accept-Encoding", "gzip"}})));
}

TEST_CASE("case is kept for fields not defined as case-insensitive") {
  VarySpec v = parse_vary(headers({{"Vary", "X-Device"}}));
  CHECK(vary_key(headers({{"X-Device", "Mobile"}}), v) !=
        vary_key(headers({{"X-Device", "mobile"}}), v));
}

TEST_CASE("whitespace inside quoted strings is significant") {
  VarySpec v = parse_vary(headers({{"Vary", "X-Q"}}));
  CHECK(vary_key(headers({{"X-Q", "\"a , b\""}}), v) != vary_key(headers({{"X-Q", "\"a,b\""}}), v));
  CHECK(vary_key(headers({{"X-Q", "\"a\\\" , b\", c"}}), v) ==
        vary_key(headers({{"X-Q", "\"a\\\" , b\",c"}}), v));
}

TEST_CASE("an absent field differs from an empty one") {
  VarySpec v = parse_vary(headers({{"Vary", "Accept-Language"}}));
  auto absent = vary_key(HeaderMap{}, v);
  auto empty = vary_key(headers({{"Accept-Language", ""}}), v);
  CHECK(absent != empty);
  CHECK(vary_matches(absent, v, headers({{"Accept", "x"}})));
  CHECK_FALSE(vary_matches(absent, v, headers({{"Accept-Language", ""}})));
}

TEST_CASE("keys cannot be forged by values that look like other fields") {
  VarySpec v = parse_vary(headers({{"Vary", "A, B"}}));
  auto k1 = vary_key(headers({{"A", "1\nb=1:2"}}), v);
  auto k2 = vary_key(headers({{"A", "1"}, {"B", "2"}}), v);
  CHECK(k1 != k2);
}

TEST_CASE("several Vary fields: all must match") {
  VarySpec v = parse_vary(headers({{"Vary", "Accept-Encoding, Accept-Language"}}));
  auto stored = vary_key(headers({{"Accept-Encoding", "br"}, {"Accept-Language", "en-GB"}}), v);
  CHECK(
      vary_matches(stored, v, headers({{"Accept-Language", "EN-gb"}, {"Accept-Encoding", "br"}})));
  CHECK_FALSE(vary_matches(stored, v, headers({{"Accept-Encoding", "br"}})));
}

TEST_CASE("normalized field values") {
  CHECK_FALSE(normalized_field(HeaderMap{}, "x").has_value());
  CHECK(normalized_field(headers({{"X", " a ,  b "}}), "x") == "a,b");
}
