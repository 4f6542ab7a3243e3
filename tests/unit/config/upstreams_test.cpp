#include <doctest/doctest.h>

#include <string>

#include "config_test_support.hpp"

using namespace ghala::config;
using namespace ghala::config::testing;
using namespace std::chrono_literals;

namespace {

// Lines 1-2: listen. Line 3: "upstreams:". The upstream text starts on line 4.
std::string config_with_upstreams(std::string_view upstreams, std::string_view route_to = "app") {
  return "listen: [127.0.0.1:8080]\n"
         "sites: [{name: s, routes: [{match: /, upstream: " +
         std::string(route_to) + "}]}]\nupstreams:\n" + std::string(upstreams);
}

}  // namespace

TEST_CASE("servers accept URLs and {url, weight} maps, with pool settings") {
  const LoadResult r = load(config_with_upstreams(R"(  app:
    servers:
      - http://127.0.0.1:9000
      - {url: "http://[::1]:9001", weight: 3}
      - 10.0.0.1:80
    balance: least_conn
    connect_timeout: 1s
    first_byte_timeout: 5s
    read_timeout: 7s
    keepalive_connections: 0
    keepalive_idle: 30s
)"));
  INFO(all_errors(r));
  REQUIRE(r.config);
  const Upstream& u = r.config->upstreams.at(0);
  CHECK(u.name == "app");
  CHECK(u.kind == OriginKind::Http);
  REQUIRE(u.servers.size() == 3);
  CHECK(u.servers[0].address.port == 9000);
  CHECK(u.servers[0].weight == 1);
  CHECK(u.servers[1].address.host == "::1");
  CHECK(u.servers[1].weight == 3);
  CHECK(u.balance == Balance::LeastConn);
  CHECK(u.connect_timeout == 1s);
  CHECK(u.first_byte_timeout == 5s);
  CHECK(u.read_timeout == 7s);
  CHECK(u.keepalive_connections == 0);
  CHECK(u.keepalive_idle == 30s);
}

TEST_CASE("upstreams keep file order") {
  const LoadResult r =
      load(config_with_upstreams("  zeta: {servers: [127.0.0.1:1]}\n  app: {servers: "
                                 "[127.0.0.1:2]}\n  beta: {servers: [127.0.0.1:3]}\n"));
  REQUIRE(r.config);
  CHECK(r.config->upstreams[0].name == "zeta");
  CHECK(r.config->upstreams[1].name == "app");
  CHECK(r.config->upstreams[2].name == "beta");
  CHECK(r.config->sites[0].routes[0].upstream_index == 1);
}

TEST_CASE("server entries are checked one by one") {
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: [https://127.0.0.1:443]\n"), 5,
                   "https:// upstreams are not supported yet; use http://");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: [\"http://127.0.0.1:9000/api\"]\n"),
                   5, "path");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: []\n"), 5, "at least one server");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: http://127.0.0.1:9000\n"), 5,
                   "servers: expected a list");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: [{weight: 2}]\n"), 5,
                   "missing 'url'");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: [{url: 127.0.0.1:1, weight: 0}]\n"),
                   5, "weight: expected an integer from 1 to 1000");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    servers: [{url: 127.0.0.1:1, wieght: 2}]\n"),
                   5, "(did you mean 'weight'?)");
  CHECK_LOAD_ERROR(config_with_upstreams(
                       "  app:\n    servers:\n      - 127.0.0.1:1\n      - http://127.0.0.1:1\n"),
                   7, "listed twice");
  CHECK_LOAD_ERROR(
      config_with_upstreams("  app:\n    servers: [127.0.0.1:1]\n    balance: random\n"), 6,
      "expected one of round_robin, least_conn");
  CHECK_LOAD_ERROR(
      config_with_upstreams("  app:\n    servers: [127.0.0.1:1]\n    connect_timeout: 3\n"), 6,
      "needs a unit");
}

TEST_CASE("an upstream has exactly one of origin and servers") {
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    balance: round_robin\n"), 4,
                   "needs origin: dir:PATH or servers:");
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    origin: dir:/\n    servers: [127.0.0.1:1]\n"),
                   6, "either origin: or servers:, not both");
  CHECK_LOAD_ERROR(config_with_upstreams("  app: http://127.0.0.1:9000\n"), 4,
                   "upstream 'app': expected a map");
  CHECK_LOAD_ERROR(config_with_upstreams("  - app\n"), 4,
                   "upstreams: expected a map, found a list");
  CHECK_LOAD_ERROR(config_with_upstreams("  \"bad name!\": {servers: [127.0.0.1:1]}\n"), 4,
                   "upstream name 'bad name!' must be");
}

TEST_CASE("dir origins resolve against base_dir and must be existing directories") {
  TempDir dir;
  dir.mkdir("site/public");
  dir.write("file.txt", "x");
  const auto yaml = [](std::string_view origin) {
    return config_with_upstreams("  app:\n    origin: \"" + std::string(origin) + "\"\n");
  };
  const LoadResult rel = load_string(yaml("dir:site/public/"), "t.yaml", dir.path());
  INFO(all_errors(rel));
  REQUIRE(rel.config);
  CHECK(rel.config->upstreams[0].kind == OriginKind::Dir);
  CHECK(rel.config->upstreams[0].dir_root == dir.path() + "/site/public");

  const LoadResult dotdot = load_string(yaml("dir:site/../site/public"), "t.yaml", dir.path());
  REQUIRE(dotdot.config);
  CHECK(dotdot.config->upstreams[0].dir_root == dir.path() + "/site/public");

  const LoadResult abs = load_string(yaml("dir:" + dir.path() + "/site"), "t.yaml", "/elsewhere");
  REQUIRE(abs.config);
  CHECK(abs.config->upstreams[0].dir_root == dir.path() + "/site");

  const auto check_error = [&](std::string_view origin, std::string_view text) {
    const LoadResult r = load_string(yaml(origin), "t.yaml", dir.path());
    INFO(all_errors(r));
    CHECK(r.config == nullptr);
    CHECK(has_error(r, 5, text));
  };
  check_error("dir:missing", "No such file or directory");
  check_error("dir:file.txt", "is not a directory");
  check_error("dir:", "needs a path");
  check_error("http://127.0.0.1:9000", "for HTTP origins use servers:");
  check_error("public", "expected dir:PATH");
}

TEST_CASE("pool settings on a dir origin are errors, not silently ignored") {
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    origin: dir:/\n    balance: least_conn\n"), 6,
                   "'balance' applies to servers:, not to a dir: origin");
}

TEST_CASE("an upstream with errors does not also make its routes 'unknown'") {
  const LoadResult r = load(config_with_upstreams("  app:\n    servers: [https://127.0.0.1:1]\n"));
  REQUIRE(r.errors.size() == 1);
  CHECK(has_error(r, 5, "https://"));
}

TEST_CASE("servers may name a host; a malformed name is an error at its line and column") {
  const LoadResult r = load(config_with_upstreams(
      "  app:\n    servers:\n      - http://origin.example.com:8080\n      - backend:80\n"));
  const Config& c = loaded(r);
  REQUIRE(c.upstreams[0].servers.size() == 2);
  CHECK(c.upstreams[0].servers[0].address.host == "origin.example.com");
  CHECK(c.upstreams[0].servers[0].line == 6);
  CHECK(c.upstreams[0].servers[0].col == 9);
  CHECK(c.upstreams[0].servers[1].address.host == "backend");

  const LoadResult bad = load(config_with_upstreams(
      "  app:\n    servers:\n      - http://10.0.0.1:80\n      - http://bad_host:8080\n"));
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].line == 7);
  CHECK(bad.errors[0].col == 9);
  CHECK(bad.errors[0].message.find("'bad_host' is neither an IP address nor a valid host name") !=
        std::string::npos);
  // The same name twice on the same port is a duplicate, as a literal address would be.
  CHECK_LOAD_ERROR(
      config_with_upstreams("  app:\n    servers: [a.example:1, \"http://a.example:1\"]\n"), 5,
      "listed twice");
}

TEST_CASE("resolve_interval: default 30s, 0s turns re-resolution off, at least 1s otherwise") {
  const LoadResult d = load(config_with_upstreams("  app: {servers: [a.example:1]}\n"));
  CHECK(loaded(d).upstreams[0].resolve_interval == 30s);
  const LoadResult off =
      load(config_with_upstreams("  app: {servers: [a.example:1], resolve_interval: 0s}\n"));
  CHECK(loaded(off).upstreams[0].resolve_interval == 0s);
  const LoadResult five =
      load(config_with_upstreams("  app: {servers: [a.example:1], resolve_interval: 5m}\n"));
  CHECK(loaded(five).upstreams[0].resolve_interval == 5min);
  CHECK_LOAD_ERROR(
      config_with_upstreams("  app:\n    servers: [a.example:1]\n    resolve_interval: 30\n"), 6,
      "resolve_interval");
  CHECK_LOAD_ERROR(
      config_with_upstreams("  app:\n    servers: [a.example:1]\n    resolve_interval: 500ms\n"), 6,
      "at least 1s");
  CHECK_LOAD_ERROR(
      config_with_upstreams("  app:\n    servers: [a.example:1]\n    resolve_intervl: 5s\n"), 6,
      "resolve_interval");  // the typo gets a suggestion
  CHECK_LOAD_ERROR(config_with_upstreams("  app:\n    origin: dir:/\n    resolve_interval: 5s\n"),
                   6, "applies to servers:");
}
