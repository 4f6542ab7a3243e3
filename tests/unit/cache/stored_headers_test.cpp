#include "ghala/cache/stored_headers.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ghala::cache;
using ghala::http::HeaderMap;

namespace {
HeaderMap headers(std::initializer_list<std::pair<const char*, const char*>> fields) {
  HeaderMap h;
  for (const auto& [n, v] : fields) h.add(n, v);
  return h;
}
std::vector<std::string> names(const HeaderMap& h) {
  std::vector<std::string> out;
  for (const auto& f : h) out.emplace_back(f.name);
  return out;
}
const std::vector<std::string> kNone;
}  // namespace

TEST_CASE("hop-by-hop and proxy-specific fields are never stored (RFC 9111 §3.1)") {
  for (const char* n :
       {"Connection", "keep-alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization"}) {
    CAPTURE(n);
    CHECK(is_never_stored(n));
  }
  CHECK_FALSE(is_never_stored("Content-Length"));
  CHECK_FALSE(is_never_stored("ETag"));
}

TEST_CASE("headers to store drop §3.1 fields, Connection options and omitted fields") {
  auto h = headers({{"Content-Type", "text/html"},
                    {"Connection", "close, X-Hop"},
                    {"X-Hop", "1"},
                    {"Set-Cookie", "a=1"},
                    {"Transfer-Encoding", "chunked"},
                    {"Set-Cookie", "b=2"},
                    {"X-User", "u"},
                    {"Proxy-Authenticate", "Basic"},
                    {"ETag", "\"x\""}});
  std::vector<std::string> omit{"set-cookie", "x-user"};
  auto stored = headers_to_store(h, omit);
  CHECK(names(stored) == std::vector<std::string>{"Content-Type", "ETag"});
  CHECK(names(headers_to_store(h, kNone)) ==
        std::vector<std::string>{"Content-Type", "Set-Cookie", "Set-Cookie", "X-User", "ETag"});
}

TEST_CASE("a 304 replaces stored fields it carries and keeps the others (RFC 9111 §3.2)") {
  auto stored = headers({{"Content-Type", "text/html"},
                         {"Cache-Control", "max-age=60"},
                         {"ETag", "\"v1\""},
                         {"Date", "old"},
                         {"Link", "a"},
                         {"Link", "b"},
                         {"Content-Length", "1234"}});
  auto update = headers({{"Cache-Control", "max-age=600"}, {"Date", "new"}, {"Link", "c"}});
  auto merged = updated_headers(stored, update, kNone);
  CHECK(merged.get("Cache-Control") == "max-age=600");
  CHECK(merged.get("Date") == "new");
  CHECK(merged.count("Link") == 1);
  CHECK(merged.get("Link") == "c");
  CHECK(merged.get("Content-Type") == "text/html");
  CHECK(merged.get("ETag") == "\"v1\"");
  CHECK(merged.get("Content-Length") == "1234");
}

TEST_CASE("a 304 never changes framing, encoding or hop-by-hop fields") {
  auto stored = headers({{"Content-Length", "10"}, {"Content-Encoding", "gzip"}});
  auto update = headers({{"Content-Length", "0"},
                         {"Content-Encoding", "br"},
                         {"Content-Range", "bytes 0-1/10"},
                         {"Transfer-Encoding", "chunked"},
                         {"Connection", "X-Hop"},
                         {"X-Hop", "1"},
                         {"Keep-Alive", "timeout=5"},
                         {"Set-Cookie", "s=1"}});
  std::vector<std::string> omit{"set-cookie"};
  auto merged = updated_headers(stored, update, omit);
  CHECK(names(merged) == std::vector<std::string>{"Content-Length", "Content-Encoding"});
  CHECK(merged.get("Content-Length") == "10");
  CHECK(merged.get("Content-Encoding") == "gzip");
  CHECK(is_update_exempt("content-length"));
  CHECK_FALSE(is_update_exempt("Content-Type"));
}

TEST_CASE("an empty update changes nothing") {
  auto stored = headers({{"A", "1"}, {"B", "2"}});
  CHECK(names(updated_headers(stored, HeaderMap{}, kNone)) == std::vector<std::string>{"A", "B"});
  CHECK(updated_headers(HeaderMap{}, HeaderMap{}, kNone).empty());
}
