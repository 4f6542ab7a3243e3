#include "ghala/cache/invalidation.hpp"

#include <doctest/doctest.h>

using namespace ghala::cache;
using ghala::http::HeaderMap;
using ghala::http::Method;

namespace {

AbsoluteUri uri(const char* text) {
  auto u = parse_absolute_uri(text);
  REQUIRE(u.has_value());
  return *u;
}

std::vector<std::string> invalidated(
    Method m, int status, const char* target,
    std::initializer_list<std::pair<const char*, const char*>> hs) {
  HeaderMap h;
  for (const auto& [n, v] : hs) h.add(n, v);
  std::vector<std::string> out;
  for (const auto& u : uris_to_invalidate(m, status, uri(target), h)) out.push_back(u.to_string());
  return out;
}

}  // namespace

TEST_CASE("absolute URIs are parsed and normalised") {
  auto u = uri("HTTP://Example.COM/a/./b/../c?x=1#frag");
  CHECK(u.scheme == "http");
  CHECK(u.host == "example.com");
  CHECK(u.port == 80);
  CHECK(u.path_and_query == "/a/c?x=1");
  CHECK(u.to_string() == "http://example.com/a/c?x=1");
  CHECK(uri("https://h:443").to_string() == "https://h/");
  CHECK(uri("https://h:8443/p").to_string() == "https://h:8443/p");
  CHECK(uri("http://[::1]:8080/").host == "[::1]");
  CHECK(uri("http://h?q").path_and_query == "/?q");
  CHECK(uri("http://h/a/b/..").path_and_query == "/a/");
  CHECK(uri("http://h/../../x").path_and_query == "/x");
}

TEST_CASE("other schemes, userinfo and bad authorities are rejected") {
  for (const char* bad :
       {"ftp://h/", "mailto:x@y", "http:/h", "http://", "http://u@h/", "http://h:0/",
        "http://h:65536/", "http://h:x/", "http://h h/", "//h/p", "/p", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_absolute_uri(bad).has_value());
  }
}

TEST_CASE("references resolve against the target (RFC 3986 §5.2)") {
  auto base = uri("http://a/b/c/d;p?q");
  auto r = [&](const char* ref) {
    auto u = resolve_reference(base, ref);
    return u ? u->to_string() : std::string("(none)");
  };
  // RFC 3986 §5.4.1 normal examples (those that stay http).
  CHECK(r("g") == "http://a/b/c/g");
  CHECK(r("./g") == "http://a/b/c/g");
  CHECK(r("g/") == "http://a/b/c/g/");
  CHECK(r("/g") == "http://a/g");
  CHECK(r("//g") == "http://g/");
  CHECK(r("?y") == "http://a/b/c/d;p?y");
  CHECK(r("g?y") == "http://a/b/c/g?y");
  CHECK(r("#s") == "http://a/b/c/d;p?q");
  CHECK(r("..") == "http://a/b/");
  CHECK(r("../g") == "http://a/b/g");
  CHECK(r("../..") == "http://a/");
  CHECK(r("../../../g") == "http://a/g");
  CHECK(r("https://other/x") == "https://other/x");
  CHECK(r("") == "(none)");
  CHECK(r("ftp://x/") == "(none)");
}

TEST_CASE("unsafe methods with non-error responses invalidate the target (RFC 9111 §4.4)") {
  CHECK(invalidated(Method::Post, 200, "http://h/a", {}) == std::vector<std::string>{"http://h/a"});
  CHECK(invalidated(Method::Delete, 204, "http://h/a", {}).size() == 1);
  CHECK(invalidated(Method::Put, 301, "http://h/a", {}).size() == 1);
  CHECK(invalidated(Method::Other, 200, "http://h/a", {}).size() == 1);  // unknown = unsafe
}

TEST_CASE("safe methods and error responses invalidate nothing") {
  for (Method m : {Method::Get, Method::Head, Method::Options, Method::Trace}) {
    CHECK(invalidated(m, 200, "http://h/a", {}).empty());
  }
  for (int s : {100, 400, 404, 500, 503}) {
    CAPTURE(s);
    CHECK(invalidated(Method::Post, s, "http://h/a", {}).empty());
  }
}

TEST_CASE("Location and Content-Location are invalidated on the same origin only") {
  auto out = invalidated(Method::Post, 201, "http://h/items",
                         {{"Location", "/items/7"}, {"Content-Location", "http://H:80/items?all"}});
  CHECK(out ==
        std::vector<std::string>{"http://h/items", "http://h/items/7", "http://h/items?all"});
  CHECK(invalidated(Method::Post, 201, "http://h/items",
                    {{"Location", "http://evil/items"},
                     {"Content-Location", "https://h/items"},
                     {"Location", "http://h:8080/x"}}) ==
        std::vector<std::string>{"http://h/items"});
  CHECK(invalidated(Method::Put, 200, "http://h/a", {{"Content-Location", "a"}}) ==
        std::vector<std::string>{"http://h/a"});
  CHECK(invalidated(Method::Put, 200, "http://h/a", {{"Location", "::junk"}}).size() == 1);
}
