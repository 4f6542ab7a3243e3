#include "ghala/cache/storability.hpp"

#include <doctest/doctest.h>

using namespace ghala::cache;
using ghala::http::Method;

namespace {

StoreFacts facts(const char* cache_control, int status = 200) {
  StoreFacts f;
  f.status = status;
  f.response = parse_response_directives(cache_control);
  return f;
}

NotStored reason(const StoreFacts& f, const CachePolicy& p = {}) {
  return storability(f, p).reason;
}

}  // namespace

TEST_CASE("a plain 200 to a GET is storable") {
  CHECK(reason(facts("max-age=60")) == NotStored::No);
  CHECK(reason(facts("")) == NotStored::No);  // heuristically cacheable
  CHECK(storability(facts(""), {}).storable());
}

TEST_CASE("only GET responses are stored") {
  for (Method m : {Method::Head, Method::Post, Method::Put, Method::Delete, Method::Other}) {
    auto f = facts("max-age=60, public");
    f.method = m;
    CHECK(reason(f) == NotStored::Method);
  }
}

TEST_CASE("non-final, partial and not-modified statuses are not stored") {
  for (int s : {100, 101, 199, 206, 304, 600, 0, -1}) {
    CAPTURE(s);
    CHECK(reason(facts("max-age=60", s)) == NotStored::Status);
  }
}

TEST_CASE("statuses that are not heuristically cacheable need explicit freshness") {
  CHECK(reason(facts("", 302)) == NotStored::NoFreshness);
  CHECK(reason(facts("", 500)) == NotStored::NoFreshness);
  CHECK(reason(facts("max-age=5", 302)) == NotStored::No);
  CHECK(reason(facts("s-maxage=5", 503)) == NotStored::No);
  CHECK(reason(facts("public", 302)) == NotStored::No);
  auto with_expires = facts("", 307);
  with_expires.has_expires = true;
  CHECK(reason(with_expires) == NotStored::No);
  CHECK(reason(facts("", 404)) == NotStored::No);
  CHECK(reason(facts("", 599)) == NotStored::NoFreshness);
}

TEST_CASE("no-store in the response prevents storing") {
  CHECK(reason(facts("no-store")) == NotStored::NoStore);
  CHECK(reason(facts("max-age=60, No-Store")) == NotStored::NoStore);
}

TEST_CASE("must-understand: no-store ignored for understood statuses, otherwise not stored") {
  CHECK(reason(facts("must-understand, no-store, max-age=60")) == NotStored::No);
  CHECK(reason(facts("must-understand, no-store, max-age=60", 299)) == NotStored::MustUnderstand);
  CHECK(reason(facts("must-understand, max-age=60", 418)) == NotStored::MustUnderstand);
  CHECK(is_understood_status(200));
  CHECK(is_understood_status(404));
  CHECK_FALSE(is_understood_status(206));
  CHECK_FALSE(is_understood_status(304));
  CHECK_FALSE(is_understood_status(306));
  CHECK_FALSE(is_understood_status(299));
}

TEST_CASE("request no-store counts only when client directives are honoured") {
  auto f = facts("max-age=60");
  f.request = parse_request_directives("no-store");
  CHECK(reason(f) == NotStored::No);
  CachePolicy honour;
  honour.client_directives = ClientDirectives::Honour;
  CHECK(reason(f, honour) == NotStored::RequestNoStore);
}

TEST_CASE("private: unqualified is not stored, a field list is stripped") {
  CHECK(reason(facts("private, max-age=60")) == NotStored::Private);
  CHECK(reason(facts("public, private")) == NotStored::Private);  // most restrictive
  auto s = storability(facts("private=\"X-User\", no-cache=\"Set-Cookie\", max-age=60"), {});
  CHECK(s.storable());
  CHECK(s.omit_fields == std::vector<std::string>{"set-cookie", "x-user"});
}

TEST_CASE("Authorization needs public, s-maxage or must-revalidate (RFC 9111 §3.5)") {
  auto f = facts("max-age=60");
  f.request_has_authorization = true;
  CHECK(reason(f) == NotStored::Authorization);
  for (const char* ok : {"public", "s-maxage=60", "must-revalidate, max-age=60"}) {
    CAPTURE(ok);
    auto g = facts(ok);
    g.request_has_authorization = true;
    CHECK(reason(g) == NotStored::No);
  }
  auto proxy = facts("proxy-revalidate, max-age=60");
  proxy.request_has_authorization = true;
  CHECK(reason(proxy) == NotStored::Authorization);
}

TEST_CASE("Vary: * is not stored") {
  auto f = facts("max-age=60");
  f.vary_any = true;
  CHECK(reason(f) == NotStored::VaryAny);
}

TEST_CASE("Set-Cookie responses are stored only when the cookie is stripped or policy allows") {
  auto f = facts("max-age=60");
  f.has_set_cookie = true;
  CHECK(reason(f) == NotStored::SetCookie);
  CachePolicy p;
  p.store_set_cookie = true;
  CHECK(reason(f, p) == NotStored::No);
  auto stripped = facts("max-age=60, no-cache=\"set-cookie\"");
  stripped.has_set_cookie = true;
  CHECK(reason(stripped) == NotStored::No);
  auto priv = facts("max-age=60, private=\"Set-Cookie\"");
  priv.has_set_cookie = true;
  CHECK(reason(priv) == NotStored::No);
}

TEST_CASE("the first failing check is the reason") {
  auto f = facts("no-store, private", 500);
  f.method = Method::Post;
  CHECK(reason(f) == NotStored::Method);
  f.method = Method::Get;
  CHECK(reason(f) == NotStored::NoStore);
  CHECK(storability(f, {}).omit_fields.empty());
}

TEST_CASE("facts are gathered from the heads") {
  ghala::http::RequestHead req;
  req.headers.add("Authorization", "Bearer x");
  req.headers.add("Cache-Control", "no-store");
  ghala::http::ResponseHead res;
  res.status = 203;
  res.headers.add("Expires", "0");
  res.headers.add("Vary", "Accept, *");
  res.headers.add("Set-Cookie", "a=b");
  auto f = store_facts(req, res, parse_response_directives("public"), true);
  CHECK(f.request_has_authorization);
  CHECK(f.request.no_store);
  CHECK(f.status == 203);
  CHECK(f.response.public_);
  CHECK(f.has_expires);
  CHECK(f.vary_any);
  CHECK(f.has_set_cookie);
  CHECK_FALSE(store_facts(req, res, {}, false).has_expires);
}

TEST_CASE("reason names") {
  CHECK(to_string(NotStored::NoStore) == "no-store");
  CHECK(to_string(NotStored::Authorization) == "authorization");
  CHECK(to_string(NotStored::VaryAny) == "vary-star");
  CHECK(to_string(NotStored::No) == "stored");
}
