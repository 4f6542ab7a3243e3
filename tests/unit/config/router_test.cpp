#include "ghala/config/router.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "config_test_support.hpp"

using namespace ghala::config;

namespace {

Route route(std::string match) {
  Route r;
  r.kind = match.find_first_of("*?") == std::string::npos ? MatchKind::Prefix : MatchKind::Glob;
  r.match = std::move(match);
  return r;
}

Site site(std::string name, std::vector<std::string> hosts) {
  Site s;
  s.name = std::move(name);
  s.hosts = std::move(hosts);
  return s;
}

// default site is "fallback" (index 3).
Config sample(bool indexed) {
  Config c;
  c.sites.push_back(site("exact", {"www.example.com", "example.com"}));
  c.sites.push_back(site("wild", {"*.example.com"}));
  c.sites.push_back(site("deep", {"*.cdn.example.com", "[::1]"}));
  c.sites.push_back(site("fallback", {}));
  c.default_site = 3;
  if (indexed) build_host_index(c);
  return c;
}

// Reference glob semantics by plain recursion (exponential, fine for tiny inputs), to check the
// NFA in glob_match against. seg_start: the previous pattern character was '/' (or none).
bool reference_glob(std::string_view p, std::string_view t, bool seg_start = true) {
  if (p.empty()) return t.empty();
  if (p.starts_with("**")) {
    if (seg_start && p.size() > 2 && p[2] == '/') {
      if (reference_glob(p.substr(3), t, true)) return true;
      for (std::size_t j = 0; j < t.size(); ++j) {
        if (t[j] == '/' && reference_glob(p.substr(3), t.substr(j + 1), true)) return true;
      }
      return false;
    }
    for (std::size_t j = 0; j <= t.size(); ++j) {
      if (reference_glob(p.substr(2), t.substr(j), false)) return true;
    }
    return false;
  }
  if (p[0] == '*') {
    for (std::size_t j = 0; j <= t.size(); ++j) {
      if (reference_glob(p.substr(1), t.substr(j), false)) return true;
      if (j < t.size() && t[j] == '/') return false;
    }
    return false;
  }
  if (t.empty()) return false;
  if (p[0] == '?') return t[0] != '/' && reference_glob(p.substr(1), t.substr(1), false);
  return p[0] == t[0] && reference_glob(p.substr(1), t.substr(1), p[0] == '/');
}

}  // namespace

TEST_CASE("match_site: exact names, then the longest wildcard, then the default") {
  for (bool indexed : {true, false}) {
    INFO("indexed: ", indexed);
    const Config c = sample(indexed);
    CHECK(match_site(c, "www.example.com").name == "exact");
    CHECK(match_site(c, "example.com").name == "exact");
    CHECK(match_site(c, "a.example.com").name == "wild");
    CHECK(match_site(c, "a.b.example.com").name == "wild");
    CHECK(match_site(c, "x.cdn.example.com").name == "deep");
    CHECK(match_site(c, "cdn.example.com").name == "wild");
    CHECK(match_site(c, "[::1]").name == "deep");
    CHECK(match_site(c, "other.org").name == "fallback");
    CHECK(match_site(c, "").name == "fallback");
    CHECK(match_site(c, ".example.com").name == "fallback");
    CHECK(match_site(c, "example.com.evil").name == "fallback");
    CHECK(match_site(c, "xexample.com").name == "fallback");
  }
}

TEST_CASE("match_site on a loaded config uses the loader's index and default") {
  const LoadResult r = ghala::config::testing::load(R"(listen: [127.0.0.1:8080]
upstreams: {app: {servers: [127.0.0.1:9000]}}
sites:
  - name: a
    hosts: [a.com]
    routes: [{match: /, upstream: app}]
  - name: b
    hosts: ["*.b.com"]
    default: true
    routes: [{match: /, upstream: app}]
)");
  REQUIRE(r.config);
  CHECK(r.config->host_index.built);
  CHECK(match_site(*r.config, "a.com").name == "a");
  CHECK(match_site(*r.config, "x.b.com").name == "b");
  CHECK(match_site(*r.config, "nothing").name == "b");
}

TEST_CASE("normalize_host strips the port and a trailing dot and lower-cases") {
  CHECK(normalize_host("Example.COM") == "example.com");
  CHECK(normalize_host("example.com:8080") == "example.com");
  CHECK(normalize_host("example.com.") == "example.com");
  CHECK(normalize_host("example.com.:80") == "example.com");
  CHECK(normalize_host("example.com:") == "example.com");
  CHECK(normalize_host(" a.com ") == "a.com");
  CHECK(normalize_host("[::1]:8080") == "[::1]");
  CHECK(normalize_host("[::1]") == "[::1]");
  CHECK(normalize_host("[::1").empty());
  CHECK(normalize_host("[::1]x").empty());
  CHECK(normalize_host("a.com:80x").empty());
  CHECK(normalize_host("::1").empty());
  CHECK(normalize_host("").empty());
}

TEST_CASE("match_route: prefix vs glob, first match wins, query ignored") {
  Site s;
  s.routes = {route("/api/"), route("/img/*.jpg"), route("/img/"), route("/static/**"), route("/")};
  CHECK(match_route(s, "/api/users")->match == "/api/");
  CHECK(match_route(s, "/api/")->match == "/api/");
  CHECK(match_route(s, "/api")->match == "/");  // "/api/" needs the slash
  CHECK(match_route(s, "/img/cat.jpg")->match == "/img/*.jpg");
  CHECK(match_route(s, "/img/cat.jpg?size=2")->match == "/img/*.jpg");
  CHECK(match_route(s, "/img/a/cat.jpg")->match == "/img/");
  CHECK(match_route(s, "/img/cat.png")->match == "/img/");
  CHECK(match_route(s, "/static/a/b/c.css")->match == "/static/**");
  CHECK(match_route(s, "/")->match == "/");

  Site order;
  order.routes = {route("/"), route("/api/")};
  CHECK(match_route(order, "/api/x")->match == "/");  // earlier catch-all shadows later routes

  Site none;
  none.routes = {route("/only/")};
  CHECK(match_route(none, "/other") == nullptr);
  CHECK(match_route(Site{}, "/") == nullptr);
}

TEST_CASE("glob_match: * stays within a segment, ** crosses, ? is one character") {
  CHECK(glob_match("/img/*.jpg", "/img/a.jpg"));
  CHECK(glob_match("/img/*.jpg", "/img/.jpg"));
  CHECK_FALSE(glob_match("/img/*.jpg", "/img/a/b.jpg"));
  CHECK_FALSE(glob_match("/img/*.jpg", "/img/a.jpgx"));
  CHECK(glob_match("/img/**.jpg", "/img/a/b.jpg"));
  CHECK(glob_match("/static/**", "/static/"));
  CHECK(glob_match("/static/**", "/static/a/b/c"));
  CHECK_FALSE(glob_match("/static/**", "/static"));
  CHECK(glob_match("/a/**/b", "/a/b"));  // "**/" may match zero segments
  CHECK(glob_match("/a/**/b", "/a/x/y/b"));
  CHECK_FALSE(glob_match("/a/**/b", "/a/xb"));
  CHECK(glob_match("**/*.css", "style.css"));
  CHECK(glob_match("/**/*.css", "/a/b/style.css"));
  CHECK(glob_match("/**/*.css", "/style.css"));
  CHECK(glob_match("/v?/x", "/v1/x"));
  CHECK_FALSE(glob_match("/v?/x", "/v//x"));
  CHECK_FALSE(glob_match("/v?/x", "/v12/x"));
  CHECK(glob_match("/exact", "/exact"));
  CHECK_FALSE(glob_match("/exact", "/exact/"));
  CHECK(glob_match("*", ""));
  CHECK_FALSE(glob_match("?", ""));
  CHECK_FALSE(glob_match(std::string(kMaxGlobPattern + 1, '*'), "/"));
  CHECK(glob_match(std::string(kMaxGlobPattern, '*'), "/a/b"));
}

TEST_CASE("glob_match stays fast on patterns that make backtracking matchers explode") {
  const std::string path = "/" + std::string(8000, 'a') + "/b";
  CHECK_FALSE(glob_match("/*a*a*a*a*a*a*a*a*a*a*a*a*c", path));
  CHECK_FALSE(glob_match("/**a**a**a**a**a**a**a**a**a**c", path));
  CHECK(glob_match("/**a**a**a**a**a**a**a**a**a**b", path));
}

TEST_CASE("glob_match agrees with a reference matcher on random inputs") {
  std::mt19937 rng(42);
  const std::string pattern_chars = "ab/*?";
  const std::string text_chars = "ab/";
  for (int i = 0; i < 20000; ++i) {
    std::string p, t;
    for (std::size_t n = rng() % 9; n > 0; --n)
      p.push_back(pattern_chars[rng() % pattern_chars.size()]);
    for (std::size_t n = rng() % 9; n > 0; --n) t.push_back(text_chars[rng() % text_chars.size()]);
    INFO("pattern '", p, "' text '", t, "'");
    REQUIRE(glob_match(p, t) == reference_glob(p, t));
  }
}
