#include "ghala/cache/cache_status.hpp"

#include <doctest/doctest.h>

using namespace ghala::cache;

TEST_CASE("a hit with its remaining ttl") {
  CacheStatus s;
  s.hit = true;
  s.ttl = 123;
  CHECK(format_cache_status(s) == "ghala; hit; ttl=123");
}

TEST_CASE("a miss that was stored") {
  CacheStatus s;
  s.fwd = Forward::UriMiss;
  s.fwd_status = 200;
  s.stored = true;
  CHECK(format_cache_status(s) == "ghala; fwd=uri-miss; fwd-status=200; stored");
}

TEST_CASE("stale hits carry a negative ttl and a detail") {
  CacheStatus s;
  s.hit = true;
  s.ttl = -30;
  s.detail = "grace";
  CHECK(format_cache_status(s) == "ghala; hit; ttl=-30; detail=grace");
}

TEST_CASE("every fwd value is an RFC 9211 §2.2 token") {
  const std::pair<Forward, const char*> cases[] = {
      {Forward::Bypass, "bypass"},    {Forward::Method, "method"},
      {Forward::UriMiss, "uri-miss"}, {Forward::VaryMiss, "vary-miss"},
      {Forward::Miss, "miss"},        {Forward::Request, "request"},
      {Forward::Stale, "stale"},      {Forward::Partial, "partial"}};
  for (const auto& [f, text] : cases) {
    CHECK(to_string(f) == text);
    CacheStatus s;
    s.fwd = f;
    CHECK(format_cache_status(s) == std::string("ghala; fwd=") + text);
  }
}

TEST_CASE("collapsed and key parameters; keys are sf-strings") {
  CacheStatus s;
  s.fwd = Forward::Stale;
  s.collapsed = true;
  s.key = "http://h/a\"b\\c";
  CHECK(format_cache_status(s) == "ghala; fwd=stale; collapsed; key=\"http://h/a\\\"b\\\\c\"");
}

TEST_CASE("details and names that are not tokens become strings") {
  CacheStatus s;
  s.cache = "edge cache";
  s.detail = "origin refused, served \x01stale";
  CHECK(format_cache_status(s) == "\"edge cache\"; detail=\"origin refused, served ?stale\"");
  s.cache = "";
  s.detail = "no-store";
  CHECK(format_cache_status(s) == "ghala; detail=no-store");
  s.detail = "1abc";
  CHECK(format_cache_status(s) == "ghala; detail=\"1abc\"");
}

TEST_CASE("integers are clamped to the sf-integer range") {
  CacheStatus s;
  s.ttl = std::int64_t{1} << 62;
  CHECK(format_cache_status(s) == "ghala; ttl=999999999999999");
}

TEST_CASE("ghala's member is appended after upstream caches") {
  CacheStatus s;
  s.hit = true;
  CHECK(append_cache_status("", s) == "ghala; hit");
  CHECK(append_cache_status(" origin-cache; fwd=miss ", s) == "origin-cache; fwd=miss, ghala; hit");
}

TEST_CASE("sf-token syntax") {
  CHECK(is_sf_token("ghala"));
  CHECK(is_sf_token("*x:/y"));
  CHECK(is_sf_token("A-b.c"));
  CHECK_FALSE(is_sf_token(""));
  CHECK_FALSE(is_sf_token("1a"));
  CHECK_FALSE(is_sf_token("a b"));
  CHECK_FALSE(is_sf_token("a\"b"));
}
