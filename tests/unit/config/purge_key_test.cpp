#include "ghala/config/purge_key.hpp"

#include <doctest/doctest.h>

#include <string>

#include "config_test_support.hpp"
#include "ghala/config/cache_key.hpp"
#include "ghala/config/router.hpp"

using namespace ghala::config;
using ghala::config::testing::load;
using ghala::config::testing::loaded;

namespace {

// One site for www.example.com with a route per key option, a directory route and a route that
// never caches; the default site catches every other host with a plain route.
constexpr std::string_view kYaml = R"(listen: [127.0.0.1:8080]
upstreams:
  app: {servers: [127.0.0.1:9000]}
  files: {origin: "dir:/"}
sites:
  - name: www
    hosts: [www.example.com]
    routes:
      - match: /iq/
        upstream: app
        cache: [{key: {ignore_query: true}}]
      - match: /sorted/
        upstream: app
        cache: [{key: {query_keep: [b, a], query_sort: true}}]
      - match: /lang/
        upstream: app
        cache: [{key: {headers: [Accept-Language]}}]
      - match: /private/
        upstream: app
        cache: [{cache: false}]
      - match: /static/
        upstream: files
      - match: /app/
        upstream: app
  - name: other
    default: true
    routes:
      - match: /
        upstream: app
)";

PurgeKey purge_key(const Config& c, std::string_view url) {
  auto k = url_purge_key(c, url);
  INFO(url);
  REQUIRE(k.ok());
  return k.value();
}

}  // namespace

TEST_CASE("purge URLs are split into authority and target") {
  auto u = split_purge_url("HTTPS://Www.Example.com:8443/a/b?x=1");
  REQUIRE(u.ok());
  CHECK(u.value().authority == "Www.Example.com:8443");
  CHECK(u.value().target == "/a/b?x=1");
  CHECK(split_purge_url("http://h").value().target == "");
  CHECK(split_purge_url("http://h?q=1").value().target == "/?q=1");
  for (std::string_view bad : {"ftp://h/", "h/a", "/a", "http://", "http:///a", "http://h/a#f",
                               "http://u@h/a", "http://h/a b", "http://h/\xc3\xa9", ""}) {
    INFO(bad);
    CHECK_FALSE(split_purge_url(bad).ok());
  }
}

TEST_CASE("a purge URL maps to the key a GET for it is stored under") {
  const auto r = load(kYaml);
  const Config& c = loaded(r);
  CHECK(purge_key(c, "http://www.example.com/app/x?b=2&a=1").key ==
        "www.example.com/app/x?b=2&a=1");
  // Scheme, default ports and host case do not matter; other ports do.
  CHECK(purge_key(c, "https://WWW.example.com:443/app/x").key == "www.example.com/app/x");
  CHECK(purge_key(c, "http://www.example.com:80/app/x").key == "www.example.com/app/x");
  CHECK(purge_key(c, "http://www.example.com:8080/app/x").key == "www.example.com:8080/app/x");
  CHECK(purge_key(c, "http://cdn.example.net").key == "cdn.example.net/");  // path "/"
  // The same key as the lookup's, whatever the route's key options.
  for (std::string_view target : {"/iq/a?x=1", "/sorted/a?z=9&b=2&a=1", "/app/%7Euser?q"}) {
    INFO(target);
    const auto lookup = cache_key(match_request_rule(match_route(c.sites[0], target)->cache_rules,
                                                     ghala::http::Method::Get, target),
                                  "www.example.com", target, {});
    REQUIRE(lookup.has_value());
    const auto k = purge_key(c, "http://www.example.com" + std::string(target));
    CHECK(k.key == *lookup);
    CHECK_FALSE(k.prefix);
  }
  CHECK(purge_key(c, "http://www.example.com/iq/a?x=1").key == "www.example.com/iq/a");
  CHECK(purge_key(c, "http://www.example.com/sorted/a?z=9&b=2&a=1").key ==
        "www.example.com/sorted/a?a=1&b=2");
  // Another host goes to the default site's route.
  CHECK(purge_key(c, "http://cdn.example.net/iq/a?x=1").key == "cdn.example.net/iq/a?x=1");
}

TEST_CASE("a URL whose key has request headers purges every header value") {
  const auto r = load(kYaml);
  const Config& c = loaded(r);
  const auto k = purge_key(c, "http://www.example.com/lang/page?x=1");
  CHECK(k.prefix);
  CHECK(k.key == "www.example.com/lang/page?x=1\n");
  ghala::http::HeaderMap h;
  h.add("Accept-Language", "fr");
  const auto stored =
      cache_key(match_request_rule(match_route(c.sites[0], "/lang/page")->cache_rules,
                                   ghala::http::Method::Get, "/lang/page"),
                "www.example.com", "/lang/page?x=1", h);
  REQUIRE(stored.has_value());
  CHECK(stored->starts_with(k.key));
  CHECK_FALSE(std::string("www.example.com/lang/page?x=12\naccept-language!").starts_with(k.key));
}

TEST_CASE("URLs that nothing is stored for are reported, malformed ones refused") {
  const auto r = load(kYaml);
  const Config& c = loaded(r);
  CHECK(purge_key(c, "http://www.example.com/private/a").uncached == "cache: false");
  CHECK(purge_key(c, "http://www.example.com/static/a").uncached == "directory origin");
  CHECK(purge_key(c, "http://www.example.com/nothing").uncached == "no route");
  CHECK(purge_key(c, "http://www.example.com/nothing").key.empty());
  CHECK_FALSE(url_purge_key(c, "http://bad host/a").ok());
  CHECK_FALSE(url_purge_key(c, "http://[zz]/a").ok());
  CHECK_FALSE(url_purge_key(c, "http://h:99999/a").ok());
  CHECK_FALSE(url_purge_key(c, "/app/a").ok());
}

TEST_CASE("a URL prefix maps to a stored-key prefix") {
  CHECK(prefix_purge_key("http://www.example.com/img/").value() == "www.example.com/img/");
  CHECK(prefix_purge_key("https://WWW.Example.com:443").value() == "www.example.com/");
  CHECK(prefix_purge_key("http://h:8080/a?x").value() == "h:8080/a?x");
  CHECK(prefix_purge_key("http://h?x").value() == "h/?x");
  CHECK_FALSE(prefix_purge_key("http://h:0/").ok());
  CHECK_FALSE(prefix_purge_key("www.example.com/img/").ok());
}
