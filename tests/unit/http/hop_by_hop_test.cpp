#include "ghala/http/hop_by_hop.hpp"

#include <doctest/doctest.h>

using namespace ghala::http;

TEST_CASE("the fixed hop-by-hop set is removed, end-to-end fields stay in order") {
  HeaderMap h;
  h.add("Host", "example.com");
  h.add("Connection", "keep-alive");
  h.add("Keep-Alive", "timeout=5");
  h.add("Proxy-Connection", "keep-alive");
  h.add("Proxy-Authenticate", "Basic");
  h.add("Proxy-Authorization", "Basic Zm9vOmJhcg==");
  h.add("TE", "trailers");
  h.add("Trailer", "Expires");
  h.add("Transfer-Encoding", "chunked");
  h.add("Upgrade", "websocket");
  h.add("HTTP2-Settings", "AAMAAABkAAQAAP__");
  h.add("Accept", "*/*");
  h.add("Authorization", "Bearer t");
  strip_hop_by_hop(h);
  REQUIRE(h.size() == 3);
  CHECK(h.fields()[0].name == "Host");
  CHECK(h.fields()[1].name == "Accept");
  CHECK(h.fields()[2].name == "Authorization");
}

TEST_CASE("names are matched case-insensitively") {
  HeaderMap h;
  h.add("CONNECTION", "close");
  h.add("transfer-encoding", "chunked");
  h.add("kEEP-aLIVE", "1");
  strip_hop_by_hop(h);
  CHECK(h.empty());
}

TEST_CASE("fields named by Connection options are removed (RFC 9110 §7.6.1)") {
  HeaderMap h;
  h.add("Connection", "close, X-Secret ,x-other");
  h.add("connection", "X-Third");
  h.add("X-Secret", "1");
  h.add("x-secret", "2");
  h.add("X-Other", "3");
  h.add("X-Third", "4");
  h.add("X-Kept", "5");
  strip_hop_by_hop(h);
  REQUIRE(h.size() == 1);
  CHECK(h.get("X-Kept") == "5");
}

TEST_CASE("Connection cannot remove Host or Content-Length") {
  HeaderMap h;
  h.add("Connection", "Host, Content-Length, Cookie");
  h.add("Host", "example.com");
  h.add("Content-Length", "10");
  h.add("Cookie", "a=b");
  strip_hop_by_hop(h);
  CHECK(h.contains("Host"));
  CHECK(h.contains("Content-Length"));
  CHECK_FALSE(h.contains("Cookie"));
  CHECK_FALSE(h.contains("Connection"));
}

TEST_CASE("empty and odd Connection values are harmless") {
  HeaderMap h;
  h.add("Connection", "");
  h.add("Connection", " , ,, ");
  h.add("X-A", "1");
  strip_hop_by_hop(h);
  REQUIRE(h.size() == 1);
  CHECK(h.get("X-A") == "1");
  HeaderMap empty;
  strip_hop_by_hop(empty);
  CHECK(empty.empty());
}

TEST_CASE("is_hop_by_hop") {
  CHECK(is_hop_by_hop("te"));
  CHECK(is_hop_by_hop("Upgrade"));
  CHECK_FALSE(is_hop_by_hop("Host"));
  CHECK_FALSE(is_hop_by_hop("Trailers"));
  CHECK_FALSE(is_hop_by_hop(""));
}
