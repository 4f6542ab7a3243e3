#include <doctest/doctest.h>

#include <string>

#include "config_test_support.hpp"
#include "ghala/config/config.hpp"

using namespace ghala::config;
using namespace ghala::config::testing;
using ghala::http::Method;

namespace {

// Lines 1-5: listen and upstreams; 6: sites:; 7: "- name: www"; 8: "  cache:" (site rules);
// site rules start on line 9. The route list follows the site rules.
std::string config_with_rules(std::string_view site_rules, std::string_view route_rules = "") {
  std::string out =
      "listen: [127.0.0.1:8080]\n"
      "upstreams:\n"
      "  app: {servers: [127.0.0.1:9000]}\n"
      "  api: {servers: [127.0.0.1:9001]}\n"
      "  img: {servers: [127.0.0.1:9002]}\n"
      "sites:\n"
      "  - name: www\n"
      "    cache:\n" +
      std::string(site_rules) +
      "    routes:\n"
      "      - match: /api/\n"
      "        upstream: api\n";
  if (!route_rules.empty()) out += "        cache:\n" + std::string(route_rules);
  out += "      - match: /\n        upstream: app\n";
  return out;
}

// One site rule on line 9, given in flow style: "{ttl: 1h}".
std::string rule(std::string_view flow) {
  return config_with_rules("      - " + std::string(flow) + "\n");
}

}  // namespace

TEST_CASE("every rule key is read and compiled") {
  const LoadResult r = load(config_with_rules(R"(      - match:
          path: /img/**/*.jpg
          methods: [GET, HEAD]
          content_type: [image/*, Text/HTML]
          status: [200, 3xx]
        ttl: 1h
        min_ttl: 1m
        max_ttl: 1d
        grace: 2d
        stale_while_revalidate: 30s
        stale_if_error: 1h
        override_origin_cache_control: true
      - match: {path: /static/}
        force_ttl: 7d
        bypass: {cookies: [session, Token], authorization: true, headers: [X-Debug]}
        key: {query_keep: [v, lang], query_sort: true, headers: [Accept-Language]}
      - key: {ignore_query: true}
      - match: {path: /private/}
        cache: false
)"));
  const Config& c = loaded(r);
  const auto& rules = c.sites[0].cache_rules;
  REQUIRE(rules.size() == 4);
  const CacheRule& a = rules[0];
  CHECK(a.line == 9);
  CHECK(a.col == 9);
  CHECK(a.path == "/img/**/*.jpg");
  CHECK(a.path_kind == MatchKind::Glob);
  CHECK(a.methods ==
        ((1u << static_cast<unsigned>(Method::Get)) | (1u << static_cast<unsigned>(Method::Head))));
  REQUIRE(a.content_types.size() == 2);
  CHECK(a.content_types[0].type == "image");
  CHECK(a.content_types[0].subtype.empty());
  CHECK(a.content_types[1].type == "text");
  CHECK(a.content_types[1].subtype == "html");
  CHECK_FALSE(a.any_status);
  CHECK(a.statuses.test(200));
  CHECK(a.statuses.test(301));
  CHECK(a.statuses.test(399));
  CHECK_FALSE(a.statuses.test(404));
  CHECK(a.statuses.count() == 101);
  CHECK(a.ttl == 3600);
  CHECK(a.min_ttl == 60);
  CHECK(a.max_ttl == 86400);
  CHECK_FALSE(a.negative_ttl);
  CHECK(a.grace == 2 * 86400);
  CHECK(a.stale_while_revalidate == 30);
  CHECK(a.stale_if_error == 3600);
  CHECK(a.override_origin_cache_control);
  CHECK(a.has_response_conditions());

  const CacheRule& b = rules[1];
  CHECK(b.path == "/static/");
  CHECK(b.path_kind == MatchKind::Prefix);
  CHECK(b.methods == 0);
  CHECK(b.any_status);
  CHECK(b.force_ttl == 7 * 86400);
  CHECK(b.bypass.cookies == std::vector<std::string>{"session", "Token"});
  CHECK(b.bypass.authorization);
  CHECK(b.bypass.headers == std::vector<std::string>{"x-debug"});
  CHECK(b.key.query == QueryMode::KeepList);
  CHECK(b.key.query_keep == std::vector<std::string>{"v", "lang"});
  CHECK(b.key.query_sort);
  CHECK(b.key.headers == std::vector<std::string>{"accept-language"});
  CHECK_FALSE(b.has_response_conditions());

  CHECK_FALSE(rules[2].path);
  CHECK(rules[2].key.query == QueryMode::Ignore);
  CHECK_FALSE(rules[3].cache);
}

TEST_CASE("negative_ttl is accepted where the status list allows 404 or 410") {
  const LoadResult r1 = load(rule("{match: {status: [4xx]}, negative_ttl: 1m}"));
  const Config& c = loaded(r1);
  CHECK(c.sites[0].cache_rules.at(0).negative_ttl == 60);
  const LoadResult r2 = load(rule("{negative_ttl: 30s, ttl: 1h}"));
  const Config& d = loaded(r2);
  CHECK(d.sites[0].cache_rules.at(0).negative_ttl == 30);
}

TEST_CASE("route rules come before the site's rules in the route's rule set") {
  const LoadResult r =
      load(config_with_rules("      - {ttl: 1h}\n      - {ttl: 2h}\n", "          - {ttl: 1m}\n"));
  const Config& c = loaded(r);
  const auto& api = c.sites[0].routes[0].cache_rules.rules;
  REQUIRE(api.size() == 3);
  CHECK(api[0].ttl == 60);
  CHECK(api[1].ttl == 3600);
  CHECK(api[2].ttl == 7200);
  const auto& root = c.sites[0].routes[1].cache_rules.rules;
  REQUIRE(root.size() == 2);
  CHECK(root[0].ttl == 3600);
}

TEST_CASE("a config without rules has empty rule sets") {
  const LoadResult r = load(kMinimalYaml);
  const Config& c = loaded(r);
  CHECK(c.sites[0].cache_rules.empty());
  CHECK(c.sites[0].routes[0].cache_rules.rules.empty());
}

TEST_CASE("rule value errors are located and explained") {
  CHECK_LOAD_ERROR(rule("{ttl: 1h, tll: 2h}"), 9, "unknown key 'tll' (did you mean 'ttl'?)");
  CHECK_LOAD_ERROR(rule("{ttl: 60}"), 9, "ttl: invalid duration '60'");
  CHECK_LOAD_ERROR(rule("{ttl: 1500ms}"), 9, "ttl: cache lifetimes are whole seconds");
  CHECK_LOAD_ERROR(rule("{grace: 30000d}"), 9, "grace: at most 2147483648s");
  CHECK_LOAD_ERROR(rule("{ttl: [1h]}"), 9, "ttl: expected a duration");
  CHECK_LOAD_ERROR(rule("{match: {path: img/}, ttl: 1h}"), 9,
                   "path: 'img/' must be a path starting with '/'");
  CHECK_LOAD_ERROR(rule("{match: {paths: /img/}, ttl: 1h}"), 9, "did you mean 'path'");
  CHECK_LOAD_ERROR(rule("{match: /img/, ttl: 1h}"), 9, "match: expected a map");
  CHECK_LOAD_ERROR(rule("{match: {methods: [get]}, ttl: 1h}"), 9,
                   "methods: 'get' is not a method ghala knows");
  CHECK_LOAD_ERROR(rule("{match: {methods: [GET, GET]}, ttl: 1h}"), 9,
                   "methods: 'GET' is listed twice");
  CHECK_LOAD_ERROR(rule("{match: {methods: []}, ttl: 1h}"), 9, "an empty list matches nothing");
  CHECK_LOAD_ERROR(rule("{match: {methods: GET}, ttl: 1h}"), 9, "methods: expected a list");
  CHECK_LOAD_ERROR(rule("{match: {status: [600]}, ttl: 1h}"), 9,
                   "status: expected a code from 100 to 599 or a class such as 2xx, found '600'");
  CHECK_LOAD_ERROR(rule("{match: {status: [6xx]}, ttl: 1h}"), 9, "found '6xx'");
  CHECK_LOAD_ERROR(rule("{match: {status: [20]}, ttl: 1h}"), 9, "found '20'");
  CHECK_LOAD_ERROR(rule("{match: {status: [2x0]}, ttl: 1h}"), 9, "found '2x0'");
  CHECK_LOAD_ERROR(rule("{match: {status: [ok]}, ttl: 1h}"), 9, "found 'ok'");
  CHECK_LOAD_ERROR(rule("{match: {status: [200, 200]}, ttl: 1h}"), 9, "'200' is listed twice");
  CHECK_LOAD_ERROR(rule("{match: {status: []}, ttl: 1h}"), 9, "status: an empty list");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [html]}, ttl: 1h}"), 9,
                   "content_type: 'html' is not a media type");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [\"*/*\"]}, ttl: 1h}"), 9, "matches every type");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [\"*/html\"]}, ttl: 1h}"), 9,
                   "is not a media type");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [\"image/j*g\"]}, ttl: 1h}"), 9,
                   "is not a media type");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [\"text/html; charset=utf-8\"]}, ttl: 1h}"), 9,
                   "must not have parameters");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [text/html, Text/HTML]}, ttl: 1h}"), 9,
                   "'Text/HTML' is listed twice");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [\"image/\"]}, ttl: 1h}"), 9,
                   "is not a media type");
  CHECK_LOAD_ERROR(rule("{cache: maybe}"), 9, "cache: expected true or false");
  CHECK_LOAD_ERROR(rule("{override_origin_cache_control: yes, ttl: 1h}"), 9,
                   "expected true or false");
  CHECK_LOAD_ERROR(rule("ttl"), 9, "expected a map");
}

TEST_CASE("bypass and key errors are located and explained") {
  CHECK_LOAD_ERROR(rule("{bypass: {cookies: [\"a b\"]}}"), 9, "'a b' is not a cookie name");
  CHECK_LOAD_ERROR(rule("{bypass: {cookies: [sid, sid]}}"), 9, "'sid' is listed twice");
  CHECK_LOAD_ERROR(rule("{bypass: {headers: [X-A, x-a]}}"), 9, "'x-a' is listed twice");
  CHECK_LOAD_ERROR(rule("{bypass: {headers: [\"X:A\"]}}"), 9, "is not a header field name");
  CHECK_LOAD_ERROR(rule("{bypass: {}}"), 9, "bypass: names nothing to bypass on");
  CHECK_LOAD_ERROR(rule("{bypass: {authorization: false}}"), 9, "names nothing");
  CHECK_LOAD_ERROR(rule("{bypass: {cookie: [sid]}}"), 9, "did you mean 'cookies'");
  CHECK_LOAD_ERROR(rule("{key: {ignore_query: true, query_keep: [a]}}"), 9,
                   "query_keep contradicts ignore_query: true");
  CHECK_LOAD_ERROR(rule("{key: {ignore_query: true, query_sort: true}}"), 9,
                   "query_sort has nothing to sort");
  CHECK_LOAD_ERROR(rule("{key: {query_keep: []}}"), 9, "an empty list keeps nothing");
  CHECK_LOAD_ERROR(rule("{key: {query_keep: [\"a=b\"]}}"), 9, "is not a query parameter name");
  CHECK_LOAD_ERROR(rule("{key: {query_keep: [a, a]}}"), 9, "'a' is listed twice");
  CHECK_LOAD_ERROR(rule("{key: {headers: [Accept, accept]}}"), 9, "'accept' is listed twice");
  CHECK_LOAD_ERROR(rule("{key: {ignore_query: 1}}"), 9, "expected true or false");
}

TEST_CASE("contradictory or useless rules are errors") {
  CHECK_LOAD_ERROR(rule("{match: {path: /a/}}"), 9, "cache rule has no action");
  CHECK_LOAD_ERROR(rule("{force_ttl: 1h, ttl: 1h}"), 9, "ttl has no effect with force_ttl");
  CHECK_LOAD_ERROR(rule("{force_ttl: 1h, min_ttl: 1m}"), 9, "min_ttl has no effect with force_ttl");
  CHECK_LOAD_ERROR(rule("{force_ttl: 1h, max_ttl: 2h}"), 9, "max_ttl has no effect with force_ttl");
  CHECK_LOAD_ERROR(rule("{min_ttl: 1h, max_ttl: 1m}"), 9,
                   "min_ttl (1h) is larger than max_ttl (1m)");
  CHECK_LOAD_ERROR(rule("{ttl: 10s, min_ttl: 1m}"), 9, "ttl (10s) is below min_ttl (1m)");
  CHECK_LOAD_ERROR(rule("{ttl: 2h, max_ttl: 1h}"), 9, "ttl (2h) is above max_ttl (1h)");
  CHECK_LOAD_ERROR(rule("{negative_ttl: 2h, max_ttl: 1h}"), 9, "negative_ttl (2h) is above");
  CHECK_LOAD_ERROR(rule("{match: {status: [200]}, negative_ttl: 1m}"), 9,
                   "negative_ttl applies to 404 and 410 responses");
  CHECK_LOAD_ERROR(rule("{override_origin_cache_control: true}"), 9,
                   "override_origin_cache_control needs ttl or force_ttl");
  CHECK_LOAD_ERROR(rule("{cache: false, ttl: 1h}"), 9,
                   "'ttl' has no effect in a rule with cache: false");
  CHECK_LOAD_ERROR(rule("{cache: false, bypass: {authorization: true}}"), 9,
                   "'bypass' has no effect in a rule with cache: false");
  CHECK_LOAD_ERROR(rule("{match: {content_type: [text/html]}, key: {ignore_query: true}}"), 9,
                   "key is decided from the request");
  CHECK_LOAD_ERROR(rule("{match: {status: [200]}, bypass: {authorization: true}}"), 9,
                   "bypass is decided from the request");
}

TEST_CASE("rule lists are lists, and bounded") {
  CHECK_LOAD_ERROR(config_with_rules("      ttl: 1h\n"), 9, "cache: expected a list of rules");
  CHECK_LOAD_ERROR(config_with_rules("      - {ttl: 1h}\n", "          ttl: 1h\n"), 14,
                   "cache: expected a list of rules");
  std::string many;
  for (int i = 0; i < 65; ++i) many += "      - {ttl: 1h}\n";
  CHECK_LOAD_ERROR(config_with_rules(many), 9, "cache: at most 64 rules, found 65");
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "      - {ttl: 1h}\n";
  std::string route_forty;
  for (int i = 0; i < 40; ++i) route_forty += "          - {ttl: 1h}\n";
  CHECK_LOAD_ERROR(config_with_rules(forty, route_forty), 0,
                   "has 40 cache rules and its site 40: at most 64 together");
}

TEST_CASE("every rule error of a file is reported in one pass, in file order") {
  const LoadResult r = load(config_with_rules(R"(      - {ttl: 1}
      - {match: {status: [999]}, ttl: 1h}
      - {force_ttl: 1h, ttl: 1h}
)",
                                              "          - {bypass: {}}\n"));
  INFO(all_errors(r));
  CHECK_FALSE(r.config);
  REQUIRE(r.errors.size() == 4);
  CHECK(r.errors[0].line == 9);
  CHECK(r.errors[1].line == 10);
  CHECK(r.errors[2].line == 11);
  CHECK(r.errors[3].line == 16);
  CHECK(r.errors[3].message.find("names nothing") != std::string::npos);
}
