#include "ghala/config/cache_key.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace ghala::config;
using ghala::http::HeaderMap;

namespace {

std::string key(const KeyOptions& o, std::string_view host, std::string_view target,
                const HeaderMap& h = {}) {
  auto k = cache_key(o, host, target, h);
  REQUIRE(k.has_value());
  return *k;
}

std::string key(std::string_view host, std::string_view target) {
  return key(KeyOptions{}, host, target);
}

KeyOptions keep(std::vector<std::string> names, bool sort = false) {
  KeyOptions o;
  o.query = QueryMode::KeepList;
  o.query_keep = std::move(names);
  o.query_sort = sort;
  return o;
}

KeyOptions sorted() {
  KeyOptions o;
  o.query_sort = true;
  return o;
}

}  // namespace

TEST_CASE("the default key is the normalised host and the target as received") {
  CHECK(key("Example.COM", "/a/b?x=1") == "example.com/a/b?x=1");
  CHECK(key("example.com.", "/") == "example.com/");
  CHECK(key("example.com:80", "/") == "example.com/");
  CHECK(key("example.com:443", "/") == "example.com/");
  CHECK(key("example.com:", "/") == "example.com/");
  CHECK(key("example.com:8080", "/") == "example.com:8080/");
  CHECK(key("example.com:08080", "/") == "example.com:8080/");
  CHECK(key("example.com:0080", "/") == "example.com/");
  // Percent-encoding and dot segments are kept as received: no normalisation games.
  CHECK(key("a.com", "/%7Euser/../x/./y%2F") == "a.com/%7Euser/../x/./y%2F");
  CHECK(key("a.com", "/A") != key("a.com", "/a"));
  CHECK(key("a.com", "/%41") != key("a.com", "/A"));
  // An empty query is not the same target as no query.
  CHECK(key("a.com", "/x?") == "a.com/x?");
  CHECK(key("a.com", "/x") == "a.com/x");
  // The rule-less overload uses the defaults.
  CHECK(cache_key(nullptr, "a.com", "/x?b&a", {}) == "a.com/x?b&a");
}

TEST_CASE("IPv6 hosts keep their brackets and lose the default port") {
  CHECK(key("[::1]", "/") == "[::1]/");
  CHECK(key("[2001:DB8::1]:80", "/") == "[2001:db8::1]/");
  CHECK(key("[::1]:8443", "/x") == "[::1]:8443/x");
  CHECK(key("[::ffff:10.0.0.1]", "/") == "[::ffff:10.0.0.1]/");
}

TEST_CASE("requests that cannot be keyed unambiguously are not keyed") {
  const KeyOptions o;
  for (std::string_view host :
       {"a.com:99999", "a.com:0", "a.com:x", "a.com:-1", "a/b", "a b", "[::1", "[]", "[::1]x",
        "[::g]", "a.com:80:80", "a@b", "a\nb", "a.com\xff"}) {
    CAPTURE(host);
    CHECK_FALSE(cache_key(o, host, "/", {}));
  }
  for (std::string_view target : std::initializer_list<std::string_view>{
           "", "*", "http://a.com/", "a", "/a b", "/a\nb", "/a#frag", "/\x7f", "/caf\xc3\xa9",
           std::string_view("/a\0b", 4)}) {
    CAPTURE(target);
    CHECK_FALSE(cache_key(o, "a.com", target, {}));
  }
  CHECK(cache_key(o, "", "/x", {}) == "/x");  // HTTP/1.0 without Host
}

TEST_CASE("ignore_query drops the query entirely") {
  KeyOptions o;
  o.query = QueryMode::Ignore;
  CHECK(key(o, "a.com", "/x?utm=1&b=2") == "a.com/x");
  CHECK(key(o, "a.com", "/x?") == "a.com/x");
  CHECK(key(o, "a.com", "/x") == "a.com/x");
}

TEST_CASE("query_keep keeps only the listed parameters, in request order") {
  const KeyOptions o = keep({"v", "lang"});
  CHECK(key(o, "a.com", "/x?utm_source=m&lang=fr&v=3&fbclid=9") == "a.com/x?lang=fr&v=3");
  CHECK(key(o, "a.com", "/x?v=3&lang=fr") == "a.com/x?v=3&lang=fr");
  CHECK(key(o, "a.com", "/x?utm=1") == "a.com/x");
  CHECK(key(o, "a.com", "/x?v") == "a.com/x?v");
  CHECK(key(o, "a.com", "/x?v=1&v=2") == "a.com/x?v=1&v=2");
  CHECK(key(o, "a.com", "/x?vv=1&V=2&=3") == "a.com/x");  // names compared exactly
  CHECK(key(o, "a.com", "/x?v%3D=1") == "a.com/x");       // no decoding
  CHECK(key(keep({"v", "lang"}, true), "a.com", "/x?v=3&lang=fr") == "a.com/x?lang=fr&v=3");
}

TEST_CASE("query_sort orders by name and keeps repeated names in request order") {
  CHECK(key(sorted(), "a.com", "/x?b=2&a=1&c=3") == "a.com/x?a=1&b=2&c=3");
  CHECK(key(sorted(), "a.com", "/x?c=3&a=1&b=2") == key(sorted(), "a.com", "/x?a=1&b=2&c=3"));
  CHECK(key(sorted(), "a.com", "/x?a=2&b=1&a=1") == "a.com/x?a=2&a=1&b=1");
  CHECK(key(sorted(), "a.com", "/x?a=1&&b=2&") == "a.com/x?a=1&b=2");
  CHECK(key(sorted(), "a.com", "/x?a=1&a=2") != key(sorted(), "a.com", "/x?a=2&a=1"));
  CHECK(key(sorted(), "a.com", "/x?ab=1&a=2") == "a.com/x?a=2&ab=1");
  // Past the parameter bound the query is kept as received (still a correct, unique key).
  std::string q = "/x?";
  for (int i = 300; i > 0; --i) q.append("p").append(std::to_string(i)).append("=1&");
  CHECK(key(sorted(), "a.com", q) == std::string("a.com").append(q));
}

TEST_CASE("key headers are appended with their length, absent differs from empty") {
  KeyOptions o;
  o.headers = {"accept-language", "x-device"};
  HeaderMap h;
  h.add("Accept-Language", "fr");
  CHECK(key(o, "a.com", "/x", h) == "a.com/x\naccept-language=2:fr\nx-device!");
  h.add("X-Device", "");
  CHECK(key(o, "a.com", "/x", h) == "a.com/x\naccept-language=2:fr\nx-device=0:");
  h.add("accept-language", "de");
  CHECK(key(o, "a.com", "/x", h) == "a.com/x\naccept-language=6:fr, de\nx-device=0:");
}

TEST_CASE("different requests never share a key") {
  KeyOptions o;
  o.headers = {"a", "b"};
  std::set<std::string> keys;
  std::size_t n = 0;
  const auto add = [&](std::string_view host, std::string_view target, const HeaderMap& h) {
    const auto k = cache_key(o, host, target, h);
    REQUIRE(k);
    ++n;
    keys.insert(*k);
  };
  const auto hm = [](std::initializer_list<std::pair<const char*, const char*>> l) {
    HeaderMap h;
    for (const auto& [k, v] : l) h.add(k, v);
    return h;
  };
  // Header values that imitate the separators of the next field.
  add("a.com", "/x", hm({{"a", "1\nb=1:2"}}));
  add("a.com", "/x", hm({{"a", "1"}, {"b", "2"}}));
  add("a.com", "/x", hm({{"a", "1\nb!"}}));
  add("a.com", "/x", hm({{"a", "1"}}));
  add("a.com", "/x", hm({{"b", "1"}}));
  add("a.com", "/x", hm({{"a", ""}}));
  add("a.com", "/x", hm({}));
  // Host/path boundaries and ports.
  add("a.com", "/bc", {});
  add("a.co", "/m/bc", {});
  add("a.com:8080", "/x", {});
  add("a.com:8081", "/x", {});
  add("[::1]", "/x", {});
  add("[::1]:8080", "/x", {});
  add("", "/a.com/x", {});
  // Query boundaries.
  add("a.com", "/x?", {});
  add("a.com", "/x?a=1", {});
  add("a.com", "/x%3Fa=1", {});
  CHECK(keys.size() == n);
}
