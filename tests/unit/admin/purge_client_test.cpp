#include "ghala/admin/purge_client.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace ghala;

namespace {

Result<admin::PurgeCommand> parse(std::vector<std::string_view> args) {
  return admin::parse_purge_command(args);
}

}  // namespace

TEST_CASE("ghala purge: URLs, prefixes or tags, with options") {
  auto c = parse({"--admin", "127.0.0.1:9", "--soft", "http://h/a", "--token", "t", "http://h/b"});
  REQUIRE(c.ok());
  CHECK(c.value().admin == "127.0.0.1:9");
  CHECK(c.value().token == "t");
  CHECK(c.value().request.soft);
  CHECK(c.value().request.kind == observe::PurgeKind::Url);
  CHECK(c.value().request.targets == std::vector<std::string>{"http://h/a", "http://h/b"});
  auto t = parse({"--tag", "a", "--tag", "b", "--config", "x.yaml", "--timeout", "5"});
  REQUIRE(t.ok());
  CHECK(t.value().request.kind == observe::PurgeKind::Tag);
  CHECK(t.value().request.targets == std::vector<std::string>{"a", "b"});
  CHECK(t.value().config_path == "x.yaml");
  CHECK_FALSE(t.value().token.has_value());
  CHECK(t.value().timeout_seconds == 5);
  auto p = parse({"--prefix", "http://h/img/"});
  REQUIRE(p.ok());
  CHECK(p.value().request.kind == observe::PurgeKind::Prefix);
  CHECK(parse({"--help"}).value().help);
}

TEST_CASE("ghala purge: usage errors") {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {},                               // nothing to purge
           {"--soft"},                       // still nothing
           {"http://h/a", "--tag", "x"},     // two kinds
           {"--tag"},                        // missing value
           {"--bogus", "http://h/a"},        // unknown option
           {"--timeout", "0", "http://h/"},  // bad timeout
           {"--timeout", "5s", "http://h/"},
       }) {
    auto r = parse(args);
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("ghala purge: the form body encodes every target") {
  admin::PurgeRequest r;
  r.kind = observe::PurgeKind::Url;
  r.targets = {"http://h/a b?x=1&y=%2F", "http://h/é"};
  CHECK(admin::purge_form(r) ==
        "mode=hard&url=http%3A%2F%2Fh%2Fa%20b%3Fx%3D1%26y%3D%252F&url=http%3A%2F%2Fh%2F%C3%A9");
  // What the server decodes is what was given.
  auto back = admin::parse_purge_request("", "tag=" + admin::form_encode("a+b %2F&c"));
  REQUIRE(back.ok());
  CHECK(back.value().targets == std::vector<std::string>{"a+b %2F&c"});
}

TEST_CASE("ghala purge: HTTP replies") {
  auto r = admin::parse_http_reply(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 3\r\n\r\n{}\nextra");
  REQUIRE(r.ok());
  CHECK(r.value().status == 200);
  CHECK(r.value().body == "{}\n");
  auto no_length = admin::parse_http_reply("HTTP/1.1 403 Forbidden\r\n\r\nwrong purge token\n");
  REQUIRE(no_length.ok());
  CHECK(no_length.value().status == 403);
  CHECK(no_length.value().body == "wrong purge token\n");
  CHECK_FALSE(admin::parse_http_reply("").ok());
  CHECK_FALSE(admin::parse_http_reply("SSH-2.0-OpenSSH\r\n\r\n").ok());
  CHECK_FALSE(admin::parse_http_reply("HTTP/1.1 2x0 OK\r\n\r\n").ok());
  CHECK_FALSE(admin::parse_http_reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").ok());
}
