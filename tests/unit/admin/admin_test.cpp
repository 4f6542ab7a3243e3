#include "ghala/admin/admin.hpp"

#include <doctest/doctest.h>

using namespace ghala;

namespace {

struct FakeControl : admin::Control {
  bool is_ready = true;
  std::string token;
  int reloads = 0;
  admin::ReloadOutcome outcome;
  bool ready() const override { return is_ready; }
  admin::ReloadOutcome reload() override {
    ++reloads;
    return outcome;
  }
  std::string admin_token() const override { return token; }
};

http::RequestHead request(http::Method m, std::string target, std::string auth = {}) {
  http::RequestHead h;
  h.method = m;
  h.method_text = std::string(http::to_string(m));
  h.target = std::move(target);
  if (!auth.empty()) h.headers.add("Authorization", auth);
  return h;
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
  CHECK(admin::handle(request(http::Method::Get, "/healthz"), "127.0.0.1", c).status == 200);
  CHECK(admin::handle(request(http::Method::Get, "/readyz"), "127.0.0.1", c).status == 200);
  c.is_ready = false;
  CHECK(admin::handle(request(http::Method::Get, "/readyz"), "127.0.0.1", c).status == 503);
  auto wrong = admin::handle(request(http::Method::Post, "/healthz"), "127.0.0.1", c);
  CHECK(wrong.status == 405);
  CHECK(wrong.headers.get("Allow") == "GET, HEAD");
  CHECK(admin::handle(request(http::Method::Get, "/nope"), "127.0.0.1", c).status == 404);
}

TEST_CASE("reload without a token is allowed from loopback only") {
  FakeControl c;
  c.outcome.applied = true;
  c.outcome.hash = "abc";
  auto ok = admin::handle(request(http::Method::Post, "/admin/reload"), "127.0.0.1", c);
  CHECK(ok.status == 200);
  CHECK(ok.body.find("\"result\":\"applied\"") != std::string::npos);
  CHECK(admin::handle(request(http::Method::Post, "/admin/reload"), "198.18.0.7", c).status == 403);
  CHECK(c.reloads == 1);
}

TEST_CASE("reload with a token needs the bearer token, from anywhere") {
  FakeControl c;
  c.token = "t0k";
  auto none = admin::handle(request(http::Method::Post, "/admin/reload"), "127.0.0.1", c);
  CHECK(none.status == 401);
  CHECK(none.headers.contains("WWW-Authenticate"));
  CHECK(admin::handle(request(http::Method::Post, "/admin/reload", "Bearer nope"), "127.0.0.1", c)
            .status == 401);
  CHECK(admin::handle(request(http::Method::Post, "/admin/reload", "Bearer t0k"), "198.18.0.7", c)
            .status == 400);
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
