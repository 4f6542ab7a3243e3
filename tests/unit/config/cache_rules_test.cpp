#include "ghala/config/cache_rules.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "config_test_support.hpp"

using namespace ghala::config;
using namespace ghala::config::testing;
using ghala::http::HeaderMap;
using ghala::http::Method;

namespace {

// The rule set of the first route of a config whose site has these rules (YAML list items).
RuleSet rules_of(std::string_view rules_yaml) {
  const std::string yaml = std::string(kMinimalYaml).substr(0, kMinimalYaml.find("    routes:")) +
                           "    cache:\n" + std::string(rules_yaml) +
                           "    routes:\n      - match: /\n        upstream: app\n";
  const LoadResult r = load(yaml);
  INFO(all_errors(r));
  REQUIRE(r.config);
  return r.config->sites[0].routes[0].cache_rules;
}

std::size_t index_of(const RuleSet& set, const CacheRule* r) {
  REQUIRE(r != nullptr);
  return static_cast<std::size_t>(r - set.rules.data());
}

HeaderMap headers(std::initializer_list<std::pair<const char*, const char*>> list) {
  HeaderMap h;
  for (const auto& [n, v] : list) h.add(n, v);
  return h;
}

}  // namespace

TEST_CASE("the request rule is the first rule whose path and method match") {
  const RuleSet set = rules_of(R"(      - {match: {path: /api/, methods: [POST]}, cache: false}
      - {match: {path: /img/*.jpg}, ttl: 1d}
      - {match: {path: /img/}, ttl: 1h}
      - {ttl: 1m}
)");
  CHECK(index_of(set, match_request_rule(set, Method::Post, "/api/x")) == 0);
  CHECK(index_of(set, match_request_rule(set, Method::Get, "/api/x")) == 3);
  CHECK(index_of(set, match_request_rule(set, Method::Get, "/img/a.jpg")) == 1);
  CHECK(index_of(set, match_request_rule(set, Method::Get, "/img/a.jpg?x=/y")) == 1);
  CHECK(index_of(set, match_request_rule(set, Method::Get, "/img/2024/a.jpg")) == 2);
  CHECK(index_of(set, match_request_rule(set, Method::Head, "/other")) == 3);
}

TEST_CASE("no rule matching means defaults") {
  const RuleSet set = rules_of("      - {match: {path: /api/}, ttl: 1m}\n");
  const RequestMatch m = match_request(set, Method::Get, "/");
  CHECK(m.rule == nullptr);
  CHECK(m.candidates == 0);
  CHECK(match_response_rule(set, m, 200, "text/html") == nullptr);
  CHECK(match_request_rule(RuleSet{}, Method::Get, "/") == nullptr);
}

TEST_CASE("response conditions pick the response rule; the request rule skips them") {
  const RuleSet set = rules_of(R"(      - {match: {content_type: [image/*]}, ttl: 1d}
      - {match: {status: [404, 410]}, negative_ttl: 30s}
      - {match: {path: /img/, content_type: [text/html]}, cache: false}
      - {match: {path: /img/}, ttl: 1h, key: {ignore_query: true}}
)");
  const RequestMatch m = match_request(set, Method::Get, "/img/a");
  CHECK(index_of(set, m.rule) == 3);  // rules 0-2 have response conditions
  CHECK(m.candidates == 0b1111);
  CHECK(index_of(set, match_response_rule(set, m, 200, "image/png")) == 0);
  CHECK(index_of(set, match_response_rule(set, m, 200, "IMAGE/PNG ; q=1")) == 0);
  CHECK(index_of(set, match_response_rule(set, m, 404, "text/plain")) == 1);
  CHECK(index_of(set, match_response_rule(set, m, 200, "text/html; charset=utf-8")) == 2);
  CHECK(index_of(set, match_response_rule(set, m, 200, "text/plain")) == 3);
  CHECK(index_of(set, match_response_rule(set, m, 200, std::nullopt)) == 3);

  const RequestMatch other = match_request(set, Method::Get, "/css/a.css");
  CHECK(other.rule == nullptr);
  CHECK(other.candidates == 0b0011);
  CHECK(match_response_rule(set, other, 200, "text/html") == nullptr);
  CHECK(index_of(set, match_response_rule(set, other, 410, "text/html")) == 1);
}

TEST_CASE("status classes and content-type patterns match as documented") {
  const RuleSet set = rules_of("      - {match: {status: [2xx, 301]}, ttl: 1h}\n");
  const CacheRule& r = set.rules.at(0);
  for (int s : {200, 204, 299, 301}) CHECK(r.matches_status(s));
  for (int s : {199, 300, 302, 404, 0, -1, 600, 1000}) CHECK_FALSE(r.matches_status(s));
  CHECK(media_range_matches({"image", ""}, "image/webp"));
  CHECK(media_range_matches({"text", "html"}, " text/HTML;charset=utf-8"));
  CHECK_FALSE(media_range_matches({"text", "html"}, "text/htmlx"));
  CHECK_FALSE(media_range_matches({"text", "html"}, "text"));
  CHECK_FALSE(media_range_matches({"image", ""}, "image/"));
  CHECK_FALSE(media_range_matches({"image", ""}, "imagex/png"));
  CHECK_FALSE(media_range_matches({"image", ""}, ""));
}

TEST_CASE("bypass on a named cookie, Authorization or a header") {
  const RuleSet set = rules_of(
      "      - {bypass: {cookies: [session], authorization: true, headers: [X-Preview]}}\n");
  const CacheRule& r = set.rules.at(0);
  CHECK_FALSE(bypassed(r, headers({{"Cookie", "theme=dark; lang=en"}})));
  CHECK(bypassed(r, headers({{"Cookie", "theme=dark; session=abc"}})));
  CHECK(bypassed(r, headers({{"Cookie", "a=1"}, {"cookie", "session="}})));
  CHECK(bypassed(r, headers({{"Authorization", "Bearer x"}})));
  CHECK(bypassed(r, headers({{"x-preview", ""}})));
  CHECK_FALSE(bypassed(r, headers({{"X-Previews", "1"}, {"Cookie", "Session=1"}})));
  CHECK_FALSE(bypassed(r, HeaderMap{}));
}

TEST_CASE("cookie names are found per RFC 6265 §5.4 and junk never matches by accident") {
  const auto has = [](const char* value, std::string_view name) {
    return has_cookie(headers({{"Cookie", value}}), name);
  };
  CHECK(has("sid=1", "sid"));
  CHECK(has("a=1;sid=2", "sid"));
  CHECK(has("a=1;   sid  =2", "sid"));
  CHECK(has("\tsid\t=", "sid"));
  CHECK(has(";;; ;sid=x;;", "sid"));
  CHECK(has("sid=a=b=c", "sid"));
  CHECK(has("x=\"sid=1\"; sid=2", "sid"));
  CHECK_FALSE(has("SID=1", "sid"));           // names are case-sensitive
  CHECK_FALSE(has("sidx=1; xsid=1", "sid"));  // whole names only
  CHECK_FALSE(has("a=sid", "sid"));           // a value is not a name
  CHECK_FALSE(has("a=1, sid=2", "sid"));      // ',' is not a pair separator: name "a"
  CHECK_FALSE(has("sid", "sid"));             // no '=': not a cookie pair
  CHECK_FALSE(has("=sid", "sid"));
  CHECK_FALSE(has("", "sid"));
  CHECK_FALSE(has(";;;;", "sid"));
  CHECK_FALSE(has("sid=1", ""));
  CHECK(has("a=\x01\xff; sid=\x7f", "sid"));
  CHECK(has("s\xffid=1", "s\xffid"));
}

TEST_CASE("cookie parsing survives random bytes") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 64);
  const std::string alphabet = "sid=; \t,\"\\";
  for (int i = 0; i < 20000; ++i) {
    std::string v;
    const int n = len(rng);
    for (int j = 0; j < n; ++j) {
      const int b = byte(rng);
      v.push_back(b < 200 ? alphabet[static_cast<std::size_t>(b) % alphabet.size()]
                          : static_cast<char>(b));
    }
    HeaderMap h;
    h.add("Cookie", v);
    const bool found = has_cookie(h, "sid");
    // Independent oracle: some ';'-separated piece is "OWS sid OWS = ...".
    bool expected = false;
    std::size_t start = 0;
    while (start <= v.size()) {
      const std::size_t end = std::min(v.find(';', start), v.size());
      std::string_view piece(v.data() + start, end - start);
      const auto eq = piece.find('=');
      if (eq != std::string_view::npos) {
        std::string_view name = piece.substr(0, eq);
        while (!name.empty() && (name.front() == ' ' || name.front() == '\t'))
          name.remove_prefix(1);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        expected = expected || name == "sid";
      }
      start = end + 1;
    }
    CAPTURE(v);
    CHECK(found == expected);
  }
}

TEST_CASE("the docs/config.md rule example loads and picks the rules its walkthrough names") {
  const LoadResult r = load(R"(listen: [127.0.0.1:8080]
upstreams:
  app: {servers: [127.0.0.1:9000]}
  api: {servers: [127.0.0.1:9001]}
sites:
  - name: www
    hosts: [example.com]
    cache:
      - match: {content_type: [image/*]}          # response condition
        ttl: 1d
      - match: {status: [404, 410]}
        negative_ttl: 1m
      - match: {path: /account/}
        cache: false                             # never cached, not even looked up
      - bypass: {cookies: [session], authorization: true}
        key: {query_keep: [page, lang], query_sort: true}
        ttl: 5m
        min_ttl: 30s
        grace: 1d
    routes:
      - match: /api/
        upstream: api
        cache:                                   # tried before the site's rules
          - match: {methods: [GET]}
            force_ttl: 10s
            key: {headers: [Accept-Language]}
      - match: /
        upstream: app
)");
  INFO(all_errors(r));
  REQUIRE(r.config);
  const RuleSet& api = r.config->sites[0].routes[0].cache_rules;
  const RuleSet& root = r.config->sites[0].routes[1].cache_rules;
  REQUIRE(api.rules.size() == 5);
  REQUIRE(root.rules.size() == 4);
  const RequestMatch img = match_request(root, Method::Get, "/img/a.png");
  CHECK(index_of(root, img.rule) == 3);
  CHECK(index_of(root, match_response_rule(root, img, 200, "image/png")) == 0);
  CHECK(index_of(root, match_response_rule(root, img, 404, "text/html")) == 1);
  CHECK(index_of(root, match_response_rule(root, img, 200, "text/html")) == 3);
  const CacheRule* account = match_request_rule(root, Method::Get, "/account/x");
  REQUIRE(account != nullptr);
  CHECK_FALSE(account->cache);
  CHECK(index_of(api, match_request_rule(api, Method::Get, "/api/v1")) == 0);
  CHECK(index_of(api, match_request_rule(api, Method::Post, "/api/v1")) == 4);
}
