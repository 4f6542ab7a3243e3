#include "config/address.hpp"

#include <doctest/doctest.h>

#include <string>

using ghala::config::parse_listen_address;
using ghala::config::parse_upstream_url;

namespace {

std::string listen_error(std::string_view text) {
  auto r = parse_listen_address(text);
  INFO("input: ", std::string(text));
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

std::string upstream_error(std::string_view text) {
  auto r = parse_upstream_url(text);
  INFO("input: ", std::string(text));
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("listen addresses accept IPv4 and bracketed IPv6") {
  auto a = parse_listen_address("127.0.0.1:8080");
  REQUIRE(a.ok());
  CHECK(a.value().host == "127.0.0.1");
  CHECK(a.value().port == 8080);
  CHECK(a.value().text == "127.0.0.1:8080");

  auto b = parse_listen_address("[::1]:443");
  REQUIRE(b.ok());
  CHECK(b.value().host == "::1");
  CHECK(b.value().port == 443);

  auto c = parse_listen_address("127.0.0.1:65535");
  REQUIRE(c.ok());
  CHECK(c.value().port == 65535);

  CHECK(parse_listen_address("0.0.0.0:1").ok());
  auto any_port = parse_listen_address("127.0.0.1:0");  // the OS picks the port
  REQUIRE(any_port.ok());
  CHECK(any_port.value().port == 0);
  CHECK(parse_listen_address("[::]:80").ok());
  CHECK(parse_listen_address("[fe80::1%lo]:80").ok() == false);  // zone ids are not supported
}

TEST_CASE("listen addresses reject missing or out-of-range ports") {
  CHECK(contains(listen_error("127.0.0.1"), "missing port"));
  CHECK(contains(listen_error("127.0.0.1:"), "missing port"));
  CHECK(contains(listen_error("127.0.0.1:65536"), "0 to 65535"));
  CHECK(contains(listen_error("127.0.0.1:80a"), "0 to 65535"));
  CHECK(contains(listen_error("127.0.0.1:-1"), "0 to 65535"));
  CHECK(contains(listen_error("127.0.0.1:000080"), "0 to 65535"));
  CHECK(contains(listen_error("[::1]"), "missing port"));
}

TEST_CASE("listen addresses reject names, unbracketed IPv6 and schemes with a hint") {
  CHECK(contains(listen_error("example.com:80"), "not an IP address"));
  // localhost is a name like any other: 127.0.0.1, ::1 or both depending on the machine.
  CHECK(contains(listen_error("localhost:8080"), "127.0.0.1 or [::1] for loopback"));
  CHECK(contains(listen_error("::1:8080"), "brackets"));
  CHECK(contains(listen_error(":8080"), "missing host"));
  CHECK(contains(listen_error("[::1:8080"), "missing ']'"));
  CHECK(contains(listen_error("[::1]8080"), "':port'"));
  CHECK(contains(listen_error("[1.2.3.4]:80"), "not an IPv6 address"));
  CHECK(contains(listen_error("http://127.0.0.1:80"), "without a scheme"));
  CHECK(contains(listen_error(""), "empty"));
  CHECK(contains(listen_error("256.1.1.1:80"), "not an IP address"));
}

TEST_CASE("upstream URLs accept http:// and plain host:port") {
  auto a = parse_upstream_url("http://127.0.0.1:9000");
  REQUIRE(a.ok());
  CHECK(a.value().host == "127.0.0.1");
  CHECK(a.value().port == 9000);
  CHECK(a.value().text == "http://127.0.0.1:9000");

  auto b = parse_upstream_url("http://127.0.0.1");
  REQUIRE(b.ok());
  CHECK(b.value().port == 80);

  auto c = parse_upstream_url("HTTP://[::1]:9000/");
  REQUIRE(c.ok());
  CHECK(c.value().host == "::1");

  auto d = parse_upstream_url("10.0.0.2:8081");
  REQUIRE(d.ok());
  CHECK(d.value().port == 8081);
}

TEST_CASE("upstream URLs refuse https, paths, credentials and other schemes") {
  CHECK(contains(upstream_error("https://127.0.0.1:443"), "not supported yet"));
  CHECK(contains(upstream_error("HTTPS://127.0.0.1"), "not supported yet"));
  CHECK(contains(upstream_error("http://127.0.0.1:9000/api"), "path"));
  CHECK(contains(upstream_error("http://127.0.0.1:9000?x=1"), "path"));
  CHECK(contains(upstream_error("http://user:pw@127.0.0.1"), "credentials"));
  CHECK(contains(upstream_error("ftp://127.0.0.1"), "only http://"));
  CHECK(contains(upstream_error("127.0.0.1"), "missing port"));
  CHECK(contains(upstream_error("http://"), "missing host"));
  CHECK(contains(upstream_error("http://127.0.0.1:0"), "1 to 65535"));
}

TEST_CASE("upstream URLs accept host names, kept unresolved") {
  auto a = parse_upstream_url("http://origin.example.com:8080");
  REQUIRE(a.ok());
  CHECK(a.value().host == "origin.example.com");
  CHECK(a.value().port == 8080);

  auto b = parse_upstream_url("http://backend");  // docker-compose service name, port 80
  REQUIRE(b.ok());
  CHECK(b.value().host == "backend");
  CHECK(b.value().port == 80);

  auto c = parse_upstream_url("localhost:9000");
  REQUIRE(c.ok());
  CHECK(c.value().host == "localhost");

  auto d = parse_upstream_url("http://api.default.svc.cluster.local.:80/");  // fully qualified
  REQUIRE(d.ok());
  CHECK(d.value().host == "api.default.svc.cluster.local.");
}

TEST_CASE("upstream URLs reject malformed host names with a hint") {
  CHECK(contains(upstream_error("http://bad_name:80"), "neither an IP address nor a valid host"));
  CHECK(contains(upstream_error("http://-origin.example.com"), "valid host name"));
  CHECK(contains(upstream_error("http://origin-.example.com"), "valid host name"));
  CHECK(contains(upstream_error("http://origin..example.com"), "valid host name"));
  CHECK(contains(upstream_error("http://.example.com"), "valid host name"));
  CHECK(contains(upstream_error("http://ex ample.com"), "valid host name"));
  CHECK(contains(upstream_error("http://256.1.1.1:80"), "valid host name"));
  CHECK(contains(upstream_error("http://10.0.0:80"), "valid host name"));
  CHECK(contains(upstream_error("http://b\xc3\xa4"
                                "ckend:80"),
                 "valid host name"));
}

TEST_CASE("host name syntax follows RFC 1123") {
  using ghala::config::is_host_name;
  CHECK(is_host_name("a"));
  CHECK(is_host_name("origin.example.com"));
  CHECK(is_host_name("origin.example.com."));
  CHECK(is_host_name("3com.example"));  // RFC 1123 §2.1: a label may start with a digit
  CHECK(is_host_name("xn--bcher-kva.example"));
  CHECK(is_host_name(std::string(63, 'a') + ".example"));
  CHECK_FALSE(is_host_name(std::string(64, 'a') + ".example"));  // label over 63
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefghi.";
  long_name += "com";
  CHECK_FALSE(is_host_name(long_name));  // over 253 characters
  CHECK_FALSE(is_host_name(""));
  CHECK_FALSE(is_host_name("."));
  CHECK_FALSE(is_host_name("a..b"));
  CHECK_FALSE(is_host_name("under_score.example"));
  CHECK_FALSE(is_host_name("-a.example"));
  CHECK_FALSE(is_host_name("a-.example"));
  CHECK_FALSE(is_host_name("1.2.3.4"));  // all-numeric last label: an address, not a name
  CHECK_FALSE(is_host_name("1.2.3.04."));
}

TEST_CASE("address_text brackets IPv6 addresses") {
  CHECK(ghala::config::address_text("10.0.0.5", 8080) == "10.0.0.5:8080");
  CHECK(ghala::config::address_text("2001:db8::1", 80) == "[2001:db8::1]:80");
  CHECK(ghala::config::is_ip_literal("::1"));
  CHECK(ghala::config::is_ip_literal("127.0.0.1"));
  CHECK_FALSE(ghala::config::is_ip_literal("localhost"));
}
