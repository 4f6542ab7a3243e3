#include <doctest/doctest.h>

#include <string>

#include "config_test_support.hpp"

using namespace ghala::config;
using namespace ghala::config::testing;

namespace {

// Lines 1-5 define listen and two upstreams; "sites:" is line 6; the sites text starts on line 7.
std::string config_with_sites(std::string_view sites) {
  return "listen: [127.0.0.1:8080]\n"
         "upstreams:\n"
         "  app: {servers: [127.0.0.1:9000]}\n"
         "  api: {servers: [127.0.0.1:9001]}\n"
         "  img: {servers: [127.0.0.1:9002]}\n"
         "sites:\n" +
         std::string(sites);
}

LoadResult load_sites(std::string_view sites) {
  const LoadResult r = load(config_with_sites(sites));
  INFO(all_errors(r));
  REQUIRE(r.config);
  return r;
}

}  // namespace

TEST_CASE("sites, hosts and routes are read in order with their kinds") {
  const LoadResult r = load_sites(R"(  - name: www
    hosts: [WWW.Example.COM, "*.example.com", "example.org."]
    routes:
      - match: /api/
        upstream: api
        host_header: api.internal:8080
      - match: /img/**/*.jpg
        upstream: img
      - match: /
        upstream: app
        host_header: pass
  - name: other
    hosts: ["[::1]", 10.0.0.1]
    default: true
    routes: [{match: /, upstream: app}]
)");
  const Config& c = *r.config;
  REQUIRE(c.sites.size() == 2);
  const Site& www = c.sites[0];
  CHECK(www.name == "www");
  CHECK(www.hosts == std::vector<std::string>{"www.example.com", "*.example.com", "example.org"});
  CHECK_FALSE(www.is_default);
  REQUIRE(www.routes.size() == 3);
  CHECK(www.routes[0].kind == MatchKind::Prefix);
  CHECK(www.routes[0].upstream == "api");
  CHECK(www.routes[0].upstream_index == 1);
  CHECK(www.routes[0].host_mode == HostHeaderMode::Rewrite);
  CHECK(www.routes[0].host_rewrite == "api.internal:8080");
  CHECK(www.routes[1].kind == MatchKind::Glob);
  CHECK(www.routes[1].upstream_index == 2);
  CHECK(www.routes[2].host_mode == HostHeaderMode::Pass);
  CHECK(c.sites[1].is_default);
  CHECK(c.default_site == 1);
}

TEST_CASE("without default: true the first site is the default") {
  const LoadResult r = load_sites(R"(  - name: a
    hosts: [a.com]
    routes: [{match: /, upstream: app}]
  - name: b
    hosts: [b.com]
    routes: [{match: /, upstream: app}]
)");
  CHECK(r.config->default_site == 0);
}

TEST_CASE("site-level mistakes are located and explained") {
  const auto site = [](std::string_view body) {
    return config_with_sites("  - name: a\n    routes: [{match: /, upstream: app}]\n" +
                             std::string(body));
  };
  CHECK_LOAD_ERROR(
      site("  - name: a\n    hosts: [b.com]\n    routes: [{match: /, upstream: app}]\n"), 9,
      "duplicate site name 'a' (line 7)");
  CHECK_LOAD_ERROR(site("  - name: b\n    hosts: [x.com]\n    default: true\n    routes: [{match: "
                        "/, upstream: app}]\n"
                        "  - name: c\n    hosts: [y.com]\n    default: true\n    routes: [{match: "
                        "/, upstream: app}]\n"),
                   15, "only one site can be the default, and site 'b' already is");
  CHECK_LOAD_ERROR(site("  - name: b\n    routes: [{match: /, upstream: app}]\n"), 9,
                   "has no hosts and is not the default site");
  CHECK_LOAD_ERROR(site("  - hosts: [b.com]\n    routes: [{match: /, upstream: app}]\n"), 9,
                   "site needs a 'name'");
  CHECK_LOAD_ERROR(site("  - name: b\n    hosts: [b.com]\n"), 9, "needs at least one route");
  CHECK_LOAD_ERROR(site("  - name: b\n    hosts: [b.com]\n    routes: []\n"), 11,
                   "needs at least one route");
  CHECK_LOAD_ERROR(site("  - name: b\n    hosts: b.com\n    routes: [{match: /, upstream: app}]\n"),
                   10, "hosts: expected a list, found 'b.com'");
  CHECK_LOAD_ERROR(site("  - name: b\n    hosts: [b.com]\n    default: yes\n    routes: [{match: "
                        "/, upstream: app}]\n"),
                   11, "expected true or false");
  CHECK_LOAD_ERROR(
      site("  - name: b\n    host: [b.com]\n    routes: [{match: /, upstream: app}]\n"), 10,
      "unknown key 'host' (did you mean 'hosts'?)");
  CHECK_LOAD_ERROR(config_with_sites("  name: a\n"), 7, "sites: expected a list, found a map");
  CHECK_LOAD_ERROR(config_with_sites("  []\n"), 7, "at least one site");
  CHECK_LOAD_ERROR("listen: [127.0.0.1:1]\n", 0, "missing 'sites'");
}

TEST_CASE("hosts: one site per host, no ports, well-formed names and wildcards") {
  const auto hosts = [](std::string_view list) {
    return config_with_sites(
        "  - name: a\n    hosts: [a.com]\n    routes: [{match: /, upstream: app}]\n"
        "  - name: b\n    hosts: " +
        std::string(list) + "\n    routes: [{match: /, upstream: app}]\n");
  };
  CHECK_LOAD_ERROR(hosts("[A.COM]"), 11, "host 'a.com' is already claimed by site 'a' (line 8)");
  CHECK_LOAD_ERROR(hosts("[b.com, b.com]"), 11, "already claimed by this site");
  CHECK_LOAD_ERROR(hosts("[\"b.com:8080\"]"), 11, "must not include a port");
  CHECK_LOAD_ERROR(hosts("[\"[::1]:8080\"]"), 11, "must not include a port");
  CHECK_LOAD_ERROR(hosts("[\"[zz]\"]"), 11, "IPv6");
  CHECK_LOAD_ERROR(hosts("[\"*\"]"), 11, "default: true");
  CHECK_LOAD_ERROR(hosts("[\"a.*.com\"]"), 11, "only allowed as the whole first label");
  CHECK_LOAD_ERROR(hosts("[\"*b.com\"]"), 11, "only allowed as the whole first label");
  CHECK_LOAD_ERROR(hosts("[\"b..com\"]"), 11, "not a valid host name");
  CHECK_LOAD_ERROR(hosts("[\"b com\"]"), 11, "not a valid host name");
  CHECK_LOAD_ERROR(hosts("[\"\"]"), 11, "empty host name");
  CHECK_LOAD_ERROR(hosts("[{x: 1}]"), 11, "expected a string, found a map");
  CHECK(load(hosts("[\"*.a.com\"]")).config != nullptr);  // wildcard and exact may coexist
}

TEST_CASE("routes need a path match and a known upstream") {
  const auto route = [](std::string_view r) {
    return config_with_sites("  - name: a\n    routes:\n      - " + std::string(r) + "\n");
  };
  CHECK_LOAD_ERROR(route("{upstream: app}"), 9, "route needs 'match'");
  CHECK_LOAD_ERROR(route("{match: /}"), 9, "route needs 'upstream'");
  CHECK_LOAD_ERROR(route("{match: api/, upstream: app}"), 9, "must be a path starting with '/'");
  CHECK_LOAD_ERROR(route("{match: \"\", upstream: app}"), 9, "must be a path starting with '/'");
  CHECK_LOAD_ERROR(route("{match: \"/a b\", upstream: app}"), 9, "without spaces");
  CHECK_LOAD_ERROR(route("{match: [/], upstream: app}"), 9,
                   "match: expected a string, found a list");
  CHECK_LOAD_ERROR(route("{match: /, upstream: apps}"), 9,
                   "unknown upstream 'apps' (did you mean 'app'?)");
  CHECK_LOAD_ERROR(route("{match: /, upstream: website}"), 9, "unknown upstream 'website'");
  CHECK_LOAD_ERROR(route("{match: /, upstream: app, host_header: \"a b\"}"), 9,
                   "expected pass or a host name");
  CHECK_LOAD_ERROR(route("{match: /, upstream: app, host_header: \"a.com:x\"}"), 9, "bad port");
  CHECK_LOAD_ERROR(route("{match: /, upstream: app, cache: {ttl: 1h}}"), 9,
                   "cache: expected a list of rules, found a map");
  CHECK_LOAD_ERROR(route("{match: /, upstream: app, transforms: []}"), 9, "not supported yet");
  CHECK_LOAD_ERROR(route("{match: /, upstream: app, switch: blue}"), 9, "not supported yet");
  CHECK_LOAD_ERROR(route("{match: /, upstram: app}"), 9,
                   "unknown key 'upstram' (did you mean 'upstream'?)");
  CHECK_LOAD_ERROR(route("{match: \"/" + std::string(300, '*') + "\", upstream: app}"), 9,
                   "glob patterns are limited");
  CHECK_LOAD_ERROR("listen: [127.0.0.1:1]\nsites: [{name: a, routes: [{match: /, upstream: x}]}]\n",
                   2, "(no upstreams are defined)");
}
