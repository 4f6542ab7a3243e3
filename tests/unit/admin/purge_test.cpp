#include "ghala/admin/purge.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace ghala;

TEST_CASE("purge parameters: kinds, modes, decoding and limits") {
  using admin::parse_purge_request;
  auto p = parse_purge_request("tag=a+b&&tag=c%2Cd", "mode=hard");
  REQUIRE(p.ok());
  CHECK(p.value().kind == observe::PurgeKind::Tag);
  CHECK_FALSE(p.value().soft);
  CHECK(p.value().targets == std::vector<std::string>{"a b", "c,d"});
  auto q = parse_purge_request("", "prefix=https%3A%2F%2Fh.test%2Fimg%2F&mode=soft");
  REQUIRE(q.ok());
  CHECK(q.value().kind == observe::PurgeKind::Prefix);
  CHECK(q.value().soft);
  CHECK(q.value().targets == std::vector<std::string>{"https://h.test/img/"});
  for (auto [query, body] : std::vector<std::pair<std::string, std::string>>{
           {"", ""},                          // nothing to purge
           {"mode=soft", ""},                 // still nothing
           {"tag=", ""},                      // empty target
           {"tag=a", "url=http://h/"},        // two kinds
           {"tag=a&mode=sometimes", ""},      // unknown mode
           {"tag=a&mode=soft", "mode=soft"},  // mode twice
           {"tags=a", ""},                    // unknown parameter
           {"tag=%zz", ""},                   // bad escape
           {"tag=%4", ""},                    // truncated escape
           {"url=example.com/a", ""},         // not absolute
           {"url=http://h/a%20b#frag", ""},   // fragment
           {"url=http://exa mple/", ""},      // space
           {"prefix=http://h:70000/", ""},    // bad port
       }) {
    INFO(query, " | ", body);
    auto r = parse_purge_request(query, body);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK_FALSE(r.error().message.empty());
  }
  std::string many;
  for (std::size_t i = 0; i <= admin::kMaxPurgeTargets; ++i)
    many += "tag=t" + std::to_string(i) + "&";
  CHECK_FALSE(parse_purge_request("", many).ok());
}

TEST_CASE("form decoding") {
  CHECK(admin::form_decode("a+b%20c%2B%2f") == "a b c+/");
  CHECK(admin::form_decode("") == "");
  CHECK_FALSE(admin::form_decode("%").has_value());
  CHECK_FALSE(admin::form_decode("%g0").has_value());
}

TEST_CASE("the purge answer lists each target, its key and the objects per tier") {
  admin::PurgeOutcome o;
  o.kind = observe::PurgeKind::Prefix;
  o.targets.push_back({"http://h/a", "h/a", "", 3, std::uint64_t{4}});
  o.targets.push_back({"http://h/\"b", "", "no route", 0, std::nullopt});
  o.errors.push_back("disk tier: x: io");
  CHECK(o.purged() == 7);
  CHECK(admin::purge_json(o) ==
        "{\"kind\":\"prefix\",\"mode\":\"hard\",\"purged\":7,\"targets\":["
        "{\"target\":\"http://h/a\",\"key\":\"h/a\",\"memory\":3,\"disk\":4},"
        "{\"target\":\"http://h/\\\"b\",\"key\":\"\",\"memory\":0,\"note\":\"no route\"}],"
        "\"errors\":[\"disk tier: x: io\"]}\n");
}
