#include "ghala/admin/admin.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace ghala;

namespace {

struct FakeControl : admin::Control {
  bool is_ready = true;
  std::string token;
  int reloads = 0;
  admin::ReloadOutcome outcome;
  bool ready() const override { return is_ready; }
  void reload(std::function<void(const admin::ReloadOutcome&)> done) override {
    ++reloads;
    done(outcome);
  }
  std::string admin_token() const override { return token; }

  std::string purge_tok;
  std::vector<admin::PurgeRequest> purges;
  std::string purge_token() const override { return purge_tok; }
  void purge(admin::PurgeRequest r, std::function<void(admin::PurgeOutcome)> done) override {
    admin::PurgeOutcome o;
    o.kind = r.kind;
    o.soft = r.soft;
    for (const auto& t : r.targets) o.targets.push_back({t, "key:" + t, "", 2, std::nullopt});
    purges.push_back(std::move(r));
    done(std::move(o));
  }
};

http::RequestHead request(http::Method m, std::string target, std::string auth = {}) {
  http::RequestHead h;
  h.method = m;
  h.method_text = std::string(http::to_string(m));
  h.target = std::move(target);
  if (!auth.empty()) h.headers.add("Authorization", auth);
  return h;
}

// handle() for the endpoints that answer at once (all of them with FakeControl).
admin::Response answer(const http::RequestHead& req, std::string_view peer, admin::Control& c,
                       std::string_view body = {}) {
  std::optional<admin::Response> got;
  admin::handle(req, body, peer, c, [&](admin::Response r) {
    REQUIRE_FALSE(got.has_value());
    got = std::move(r);
  });
  REQUIRE(got.has_value());
  return *got;
}

}  // namespace

TEST_CASE("token comparison accepts only the exact token") {
  CHECK(admin::token_matches("s3cret", "s3cret"));
  CHECK_FALSE(admin::token_matches("s3cre", "s3cret"));
  CHECK_FALSE(admin::token_matches("s3cret!", "s3cret"));
  CHECK_FALSE(admin::token_matches("", "s3cret"));
  CHECK_FALSE(admin::token_matches("", ""));
}

TEST_CASE("loopback addresses are recognised") {
  CHECK(admin::is_loopback("127.0.0.1"));
  CHECK(admin::is_loopback("127.8.9.10"));
  CHECK(admin::is_loopback("::1"));
  CHECK_FALSE(admin::is_loopback("198.18.0.1"));
  CHECK_FALSE(admin::is_loopback("::2"));
}

TEST_CASE("health and readiness") {
  FakeControl c;
  CHECK(answer(request(http::Method::Get, "/healthz"), "127.0.0.1", c).status == 200);
  CHECK(answer(request(http::Method::Get, "/readyz"), "127.0.0.1", c).status == 200);
  c.is_ready = false;
  CHECK(answer(request(http::Method::Get, "/readyz"), "127.0.0.1", c).status == 503);
  auto wrong = answer(request(http::Method::Post, "/healthz"), "127.0.0.1", c);
  CHECK(wrong.status == 405);
  CHECK(wrong.headers.get("Allow") == "GET, HEAD");
  CHECK(answer(request(http::Method::Get, "/nope"), "127.0.0.1", c).status == 404);
}

TEST_CASE("reload without a token is allowed from loopback only") {
  FakeControl c;
  c.outcome.applied = true;
  c.outcome.hash = "abc";
  auto ok = answer(request(http::Method::Post, "/admin/reload"), "127.0.0.1", c);
  CHECK(ok.status == 200);
  CHECK(ok.body.find("\"result\":\"applied\"") != std::string::npos);
  CHECK(answer(request(http::Method::Post, "/admin/reload"), "198.18.0.7", c).status == 403);
  CHECK(c.reloads == 1);
}

TEST_CASE("reload with a token needs the bearer token, from anywhere") {
  FakeControl c;
  c.token = "t0k";
  auto none = answer(request(http::Method::Post, "/admin/reload"), "127.0.0.1", c);
  CHECK(none.status == 401);
  CHECK(none.headers.contains("WWW-Authenticate"));
  CHECK(
      answer(request(http::Method::Post, "/admin/reload", "Bearer nope"), "127.0.0.1", c).status ==
      401);
  CHECK(
      answer(request(http::Method::Post, "/admin/reload", "Bearer t0k"), "198.18.0.7", c).status ==
      400);
  CHECK(c.reloads == 1);  // refused outcome (applied=false) still ran the reload once
}

TEST_CASE("a refused reload reports its errors as JSON") {
  admin::ReloadOutcome o;
  o.hash = "h";
  o.errors = {"a.yaml:1:2: bad \"value\""};
  auto json = admin::reload_json(o);
  CHECK(json ==
        "{\"result\":\"refused\",\"hash\":\"h\",\"errors\":[\"a.yaml:1:2: bad "
        "\\\"value\\\"\"],\"restart_required\":[]}\n");
}

TEST_CASE("purge is off (404, saying why) without a purge token") {
  FakeControl c;
  c.token = "admin-token";  // the admin token does not open the purge API
  auto r = answer(request(http::Method::Post, "/admin/purge?tag=a", "Bearer admin-token"),
                  "127.0.0.1", c);
  CHECK(r.status == 404);
  CHECK(r.body.find("cache.purge.token") != std::string::npos);
  CHECK(c.purges.empty());
}

TEST_CASE("purge needs the purge token: 401 without credentials, 403 when wrong") {
  FakeControl c;
  c.purge_tok = "s3cret";
  auto none = answer(request(http::Method::Post, "/admin/purge?tag=a"), "127.0.0.1", c);
  CHECK(none.status == 401);
  CHECK(none.headers.get("WWW-Authenticate") == "Bearer realm=\"ghala-purge\"");
  auto basic =
      answer(request(http::Method::Post, "/admin/purge?tag=a", "Basic czNjcmV0"), "127.0.0.1", c);
  CHECK(basic.status == 401);
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer x"}) {
    INFO(wrong);
    CHECK(answer(request(http::Method::Post, "/admin/purge?tag=a", wrong), "127.0.0.1", c).status ==
          403);
  }
  CHECK(c.purges.empty());
  auto ok =
      answer(request(http::Method::Post, "/admin/purge?tag=a", "bearer  s3cret "), "198.18.0.7", c);
  CHECK(ok.status == 200);
  REQUIRE(c.purges.size() == 1);
  CHECK(answer(request(http::Method::Get, "/admin/purge?tag=a", "Bearer s3cret"), "127.0.0.1", c)
            .status == 405);
}

TEST_CASE("purge answers JSON with the objects purged, from body or query parameters") {
  FakeControl c;
  c.purge_tok = "t";
  auto req = request(http::Method::Post, "/admin/purge?mode=soft", "Bearer t");
  req.headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  auto r = answer(req, "127.0.0.1", c, "url=http%3A%2F%2Fa.test%2Fx%3Fq%3D1&url=http://a.test/y");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  REQUIRE(c.purges.size() == 1);
  CHECK(c.purges[0].soft);
  CHECK(c.purges[0].kind == observe::PurgeKind::Url);
  CHECK(c.purges[0].targets == std::vector<std::string>{"http://a.test/x?q=1", "http://a.test/y"});
  CHECK(r.body ==
        "{\"kind\":\"url\",\"mode\":\"soft\",\"purged\":4,\"targets\":["
        "{\"target\":\"http://a.test/x?q=1\",\"key\":\"key:http://a.test/x?q=1\",\"memory\":2},"
        "{\"target\":\"http://a.test/y\",\"key\":\"key:http://a.test/y\",\"memory\":2}],"
        "\"errors\":[]}\n");
}

TEST_CASE("bad purge requests get 400, 413 or 415 with a reason") {
  FakeControl c;
  c.purge_tok = "t";
  auto post = [&](std::string target, std::string body = {}, std::string type = {}) {
    auto req = request(http::Method::Post, std::move(target), "Bearer t");
    if (!type.empty()) req.headers.add("Content-Type", type);
    return answer(req, "127.0.0.1", c, body);
  };
  CHECK(post("/admin/purge").status == 400);
  CHECK(post("/admin/purge?url=ftp://x/").body.find("http") != std::string::npos);
  CHECK(post("/admin/purge?url=ftp://x/").status == 400);
  CHECK(post("/admin/purge", "tag=a", "application/json").status == 415);
  CHECK(post("/admin/purge", std::string(admin::kMaxPurgeBody + 1, 'a')).status == 413);
  CHECK(post("/admin/purge?tag=a&url=http://h/").status == 400);
  CHECK(c.purges.empty());
}
