#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "config_test_support.hpp"
#include "ghala/config/config.hpp"
#include "ghala/config/router.hpp"
#include "ghala_build_config.h"

using namespace ghala::config;
using namespace ghala::config::testing;
using namespace std::chrono_literals;

namespace {

std::string with(std::string_view extra) {
  return std::string(kMinimalYaml) + std::string(extra);
}

}  // namespace

TEST_CASE("the shipped config/ghala.yaml loads with the documented values") {
  const std::string path = std::string(GHALA_SOURCE_CONFIG_DIR) + "/ghala.yaml";
  const LoadResult r = load_file(path);
  INFO(all_errors(r));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.source == path);
  CHECK(c.hash.size() == 16);
  CHECK(c.workers == 0);
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].address.port == 8080);
  CHECK(c.listeners[0].backlog == 4096);
  REQUIRE(c.admin.listen);
  CHECK(c.admin.listen->port == 9145);
  CHECK(c.limits.max_request_line == 8192);
  CHECK(c.limits.max_request_body == 64ull << 20);
  CHECK(c.timeouts.keepalive_idle == 60s);
  CHECK(c.access_log.target == AccessLogTarget::Stdout);
  REQUIRE(c.upstreams.size() == 1);
  CHECK(c.upstreams[0].kind == OriginKind::Dir);
  CHECK(c.upstreams[0].dir_root.ends_with("/config/demo-site"));
  REQUIRE(c.sites.size() == 1);
  CHECK(c.sites[0].hosts == std::vector<std::string>{"localhost", "127.0.0.1"});
  CHECK(c.host_index.built);
  CHECK(&match_site(c, "localhost") == &c.sites[0]);
}

TEST_CASE("a minimal config gets the documented defaults") {
  const LoadResult r = load(kMinimalYaml);
  INFO(all_errors(r));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.source == "test.yaml");
  CHECK(c.workers == 0);
  CHECK(c.worker_yield);
  CHECK_FALSE(c.admin.listen);
  CHECK(c.admin.token.empty());
  CHECK(c.limits.max_connections == 20000);
  CHECK(c.limits.max_headers == 100);
  CHECK(c.timeouts.header_read == 10s);
  CHECK(c.timeouts.shutdown_grace == 10s);
  CHECK(c.access_log.target == AccessLogTarget::Stdout);
  CHECK(c.default_site == 0);
  const Upstream& u = c.upstreams.at(0);
  CHECK(u.kind == OriginKind::Http);
  CHECK(u.balance == Balance::RoundRobin);
  CHECK(u.connect_timeout == 3s);
  CHECK(u.keepalive_connections == 64);
  CHECK(c.find_upstream("app") == &u);
  CHECK(c.find_upstream("nope") == nullptr);
}

TEST_CASE("hash is the first 16 hex digits of the SHA-256 of the text") {
  // sha256("") = e3b0c44298fc1c149afbf4c8996fb924...; the empty config fails, so hash a real one.
  const LoadResult a = load(kMinimalYaml);
  const LoadResult b = load(with("# comment\n"));
  REQUIRE(a.config);
  REQUIRE(b.config);
  CHECK(a.config->hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a.config->hash.size() == 16);
  CHECK(a.config->hash != b.config->hash);
  CHECK(load(kMinimalYaml).config->hash == a.config->hash);
}

TEST_CASE("every section's values are read") {
  setenv("GHALA_TEST_TOKEN", "0123456789abcdef0123", 1);
  const LoadResult r = load(with(R"(workers: 4
admin:
  listen: "[::1]:9145"
  token_env: GHALA_TEST_TOKEN
limits:
  max_connections: 500
  max_request_line: 4KiB
  max_header_bytes: 16KiB
  max_headers: 50
  max_request_body: 1GiB
timeouts:
  header_read: 5s
  keepalive_idle: 2m
  body_read: 15s
  client_write_stall: 1m30s
  shutdown_grace: 0s
access_log:
  target: off
)"));
  INFO(all_errors(r));
  REQUIRE(r.config);
  const Config& c = *r.config;
  CHECK(c.workers == 4);
  CHECK(c.admin.listen->host == "::1");
  CHECK(c.admin.token == "0123456789abcdef0123");
  CHECK(c.limits.max_connections == 500);
  CHECK(c.limits.max_request_line == 4096);
  CHECK(c.limits.max_header_bytes == 16384);
  CHECK(c.limits.max_headers == 50);
  CHECK(c.limits.max_request_body == 1ull << 30);
  CHECK(c.timeouts.header_read == 5s);
  CHECK(c.timeouts.keepalive_idle == 2min);
  CHECK(c.timeouts.client_write_stall == 90s);
  CHECK(c.timeouts.shutdown_grace == 0s);
  CHECK(c.access_log.target == AccessLogTarget::Off);
}

TEST_CASE("admin token: literal wins over token_env; unset variables and short tokens fail") {
  setenv("GHALA_TEST_TOKEN", "from-the-environment-0123", 1);
  const LoadResult both =
      load(with("admin:\n  listen: 127.0.0.1:9145\n  token: literal-token-0123456789\n  token_env: "
                "GHALA_TEST_TOKEN\n"));
  REQUIRE(both.config);
  CHECK(both.config->admin.token == "literal-token-0123456789");

  unsetenv("GHALA_UNSET_TOKEN_VAR");
  CHECK_LOAD_ERROR(with("admin:\n  listen: 127.0.0.1:9145\n  token_env: GHALA_UNSET_TOKEN_VAR\n"),
                   13, "GHALA_UNSET_TOKEN_VAR is not set");
  CHECK_LOAD_ERROR(with("admin:\n  listen: 127.0.0.1:9145\n  token: short\n"), 13, "too short");
  CHECK_LOAD_ERROR(with("admin:\n  listen: 127.0.0.1:9145\n  token: \"has space in the token\"\n"),
                   13, "printable");
  CHECK_LOAD_ERROR(with("admin:\n  listen: 127.0.0.1:9145\n  token_env: \"BAD-NAME\"\n"), 13,
                   "not an environment variable name");
  CHECK_LOAD_ERROR(with("admin:\n  token: 0123456789abcdef0123\n"), 12, "missing 'listen'");
  CHECK_LOAD_ERROR(with("admin:\n  listen: 127.0.0.1:8080\n"), 12, "also a client listener");
}

TEST_CASE("workers is auto or a positive integer") {
  CHECK(load(with("workers: auto\n")).config->workers == 0);
  CHECK(load(with("workers: 1024\n")).config->workers == 1024);
  for (const char* bad :
       {"0", "-1", "1025", "two", "2.5", "[1]", "", "Auto", "99999999999999999999"}) {
    INFO("workers: ", bad);
    CHECK_LOAD_ERROR(with(std::string("workers: ") + bad + "\n"), 11,
                     "workers: expected auto or an integer");
  }
}

TEST_CASE("worker_yield is true or false") {
  CHECK(load(with("worker_yield: true\n")).config->worker_yield);
  CHECK_FALSE(load(with("worker_yield: false\n")).config->worker_yield);
  for (const char* bad : {"yes", "1", "\"true\"", "[true]", "100us"}) {
    INFO("worker_yield: ", bad);
    CHECK_LOAD_ERROR(with(std::string("worker_yield: ") + bad + "\n"), 11, "true or false");
  }
}

TEST_CASE("listen needs at least one valid, distinct address") {
  const std::string sites_and_upstreams =
      std::string(kMinimalYaml).substr(std::string(kMinimalYaml).find("upstreams:"));
  CHECK_LOAD_ERROR(sites_and_upstreams, 0, "missing 'listen'");
  CHECK_LOAD_ERROR("listen: []\n" + sites_and_upstreams, 1, "at least one");
  CHECK_LOAD_ERROR("listen: 127.0.0.1:8080\n" + sites_and_upstreams, 1, "expected a list");
  CHECK_LOAD_ERROR("listen:\n  - 127.0.0.1\n" + sites_and_upstreams, 2, "missing port");
  CHECK_LOAD_ERROR("listen:\n  - address: example.com:80\n" + sites_and_upstreams, 2,
                   "not an IP address");
  CHECK_LOAD_ERROR("listen:\n  - 127.0.0.1:80\n  - address: 127.0.0.1:80\n" + sites_and_upstreams,
                   3, "listed twice");
  CHECK_LOAD_ERROR("listen:\n  - backlog: 10\n" + sites_and_upstreams, 2, "missing 'address'");
  CHECK_LOAD_ERROR("listen:\n  - {address: 127.0.0.1:80, backlog: 0}\n" + sites_and_upstreams, 2,
                   "backlog: expected an integer from 1 to 65535");
  // Port 0: the OS picks a free port for each socket, so ":0" addresses never collide.
  const LoadResult zero = load(
      "listen: [127.0.0.1:0, 127.0.0.1:0]\nadmin: {listen: 127.0.0.1:0}\n" + sites_and_upstreams);
  CHECK(zero.config);
  const LoadResult ok =
      load("listen:\n  - address: \"[::]:8443\"\n    backlog: 128\n  - 0.0.0.0:80\n" +
           sites_and_upstreams);
  INFO(all_errors(ok));
  REQUIRE(ok.config);
  CHECK(ok.config->listeners.size() == 2);
  CHECK(ok.config->listeners[0].backlog == 128);
  CHECK(ok.config->listeners[1].backlog == 4096);
}

TEST_CASE("limits and timeouts report bad sizes and durations at the value") {
  CHECK_LOAD_ERROR(with("timeouts:\n  header_read: 30\n"), 12,
                   "header_read: invalid duration '30'");
  CHECK_LOAD_ERROR(with("timeouts:\n  body_read: -5s\n"), 12, "negative");
  CHECK_LOAD_ERROR(with("timeouts:\n  keepalive_idle: 0s\n"), 12, "longer than 0s");
  CHECK_LOAD_ERROR(with("timeouts:\n  keepalive_idel: 5s\n"), 12,
                   "unknown key 'keepalive_idel' (did you mean 'keepalive_idle'?)");
  CHECK_LOAD_ERROR(with("limits:\n  max_request_line: 8 kilobytes\n"), 12,
                   "unknown unit 'kilobytes'");
  CHECK_LOAD_ERROR(with("limits:\n  max_request_line: 100\n"), 12, "must be between 256B and 1MiB");
  CHECK_LOAD_ERROR(with("limits:\n  max_request_body: 99999999999TiB\n"), 12, "too large");
  CHECK_LOAD_ERROR(with("limits:\n  max_headers: lots\n"), 12, "max_headers: expected an integer");
  CHECK_LOAD_ERROR(with("limits: [1, 2]\n"), 11, "limits: expected a map, found a list");
  CHECK_LOAD_ERROR(with("timeouts: 10s\n"), 11, "timeouts: expected a map, found '10s'");
}

TEST_CASE(
    "access_log: file needs a path in an existing directory; path resolves against base_dir") {
  TempDir dir;
  dir.mkdir("logs");
  const LoadResult r = load_string(with("access_log:\n  target: file\n  path: logs/access.log\n"),
                                   "t.yaml", dir.path());
  INFO(all_errors(r));
  REQUIRE(r.config);
  CHECK(r.config->access_log.target == AccessLogTarget::File);
  CHECK(r.config->access_log.path == dir.path() + "/logs/access.log");

  const LoadResult abs =
      load_string(with("access_log:\n  target: file\n  path: " + dir.path() + "/./x.log\n"),
                  "t.yaml", "/nonexistent");
  REQUIRE(abs.config);
  CHECK(abs.config->access_log.path == dir.path() + "/x.log");

  CHECK_LOAD_ERROR(with("access_log:\n  target: file\n"), 12, "needs a 'path'");
  CHECK_LOAD_ERROR(with("access_log:\n  target: file\n  path: /nonexistent-dir/a.log\n"), 13,
                   "does not exist");
  CHECK_LOAD_ERROR(with("access_log:\n  target: stdout\n  path: a.log\n"), 13,
                   "only used with target: file");
  CHECK_LOAD_ERROR(with("access_log:\n  target: syslog\n"), 12,
                   "expected one of off, stdout, file");
}

TEST_CASE("all errors are reported in one pass, in file order, with positions") {
  const LoadResult r = load(R"(workers: many
listen:
  - 127.0.0.1:99999
timeouts:
  header_read: 10
  keepalive_idel: 5s
upstreams:
  app:
    servers: [https://127.0.0.1:443]
sites:
  - name: main
    routes:
      - match: /
        upstream: ap
)");
  CHECK(r.config == nullptr);
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 6);
  CHECK(r.errors[0].format() ==
        "test.yaml:1:10: workers: expected auto or an integer from 1 to 1024, found 'many'");
  CHECK(r.errors[1].line == 3);
  CHECK(r.errors[1].col == 5);
  CHECK(r.errors[2].line == 5);
  CHECK(r.errors[2].col == 16);
  CHECK(r.errors[3].format() ==
        "test.yaml:6:3: unknown key 'keepalive_idel' (did you mean 'keepalive_idle'?)");
  CHECK(r.errors[4].line == 9);
  CHECK(r.errors[4].message.find("https:// upstreams are not supported yet") != std::string::npos);
  CHECK(r.errors[5].format() == "test.yaml:14:19: unknown upstream 'ap' (did you mean 'app'?)");
}

TEST_CASE("unknown top-level keys and duplicate sections are errors") {
  CHECK_LOAD_ERROR(with("timeout:\n  header_read: 1s\n"), 11,
                   "unknown key 'timeout' (did you mean 'timeouts'?)");
  CHECK_LOAD_ERROR(with("colour: blue\n"), 11, "unknown key 'colour'");
  CHECK_LOAD_ERROR(with("workers: 2\nworkers: 3\n"), 12, "duplicate key 'workers'");
}

TEST_CASE("YAML syntax errors carry yaml-cpp's position") {
  const LoadResult r = load("listen:\n  - 127.0.0.1:8080\nsites: [\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message.rfind("YAML syntax error: ", 0) == 0);
  CHECK(r.errors[0].line >= 1);
  CHECK_LOAD_ERROR("a: b: c\n", 1, "YAML syntax error");
  CHECK_LOAD_ERROR("key: *undefined_anchor\n", 1, "YAML syntax error");
  CHECK_LOAD_ERROR("\t- tab\n", 0, "YAML syntax error");
}

TEST_CASE("hostile documents are refused with a message, never an exception") {
  CHECK_LOAD_ERROR("", 0, "the config is empty");
  CHECK_LOAD_ERROR("# only a comment\n", 0, "the config is empty");
  CHECK_LOAD_ERROR("~\n", 0, "the config is empty");
  CHECK_LOAD_ERROR("just a string\n", 1, "top level must be a map");
  CHECK_LOAD_ERROR("- a\n- b\n", 1, "top level must be a map of sections");
  CHECK_LOAD_ERROR("42", 1, "found '42'");
  CHECK_LOAD_ERROR(with("---\nlisten: []\n"), 11, "more than one YAML document");
  CHECK_LOAD_ERROR(",", 1, "YAML syntax error: unexpected ','");
  CHECK_LOAD_ERROR(std::string(100000, '['), 0, "");
  CHECK_LOAD_ERROR(std::string("\x00\x01\x02\xff\xfe", 5), 0, "");
  CHECK_LOAD_ERROR(
      R"({listen: {a: 1}, upstreams: [1, 2], sites: {x: y}, limits: 7, timeouts: [[]]})", 1,
      "expected a list, found a map");
  CHECK_LOAD_ERROR("listen: [[[1]]]\nupstreams: {a: [1]}\nsites: [[1], 2, {routes: {a: 1}}]\n", 0,
                   "");
  CHECK_LOAD_ERROR("{? [a]: 1}\n", 0, "");
  CHECK_LOAD_ERROR(with("sites:\n  - &a {name: x}\n  - *a\n"), 0, "");
}

TEST_CASE("random byte soup never crashes or throws and always explains itself") {
  std::mt19937 rng(1234);
  const std::string alphabet = "abc: -[]{}\n\t'\"&*!|>#%@`,?\\/0123456789\x01\xff";
  const std::string valid(kMinimalYaml);
  for (int i = 0; i < 2000; ++i) {
    std::string doc;
    if (i % 2 == 0) {
      const std::size_t n = rng() % 200;
      for (std::size_t k = 0; k < n; ++k) doc.push_back(alphabet[rng() % alphabet.size()]);
    } else {  // a valid config with a few bytes changed, which reaches deeper into the schema
      doc = valid;
      for (int k = 0; k < 3; ++k) doc[rng() % doc.size()] = alphabet[rng() % alphabet.size()];
    }
    const LoadResult r = load(doc);
    CHECK((r.config == nullptr) != r.errors.empty());
    for (const ConfigError& e : r.errors) CHECK_FALSE(e.message.empty());
  }
}

TEST_CASE("load_file reports unreadable paths and resolves paths against the file's directory") {
  TempDir dir;
  const LoadResult missing = load_file(dir.path() + "/nope.yaml");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].format() ==
        dir.path() + "/nope.yaml: cannot read config file: No such file or directory");
  const LoadResult is_dir = load_file(dir.path());
  REQUIRE(is_dir.errors.size() == 1);
  CHECK(is_dir.errors[0].message.find("is a directory") != std::string::npos);

  dir.mkdir("etc/www");
  const std::string path = dir.write("etc/ghala.yaml", R"(listen: [127.0.0.1:8080]
upstreams:
  files: {origin: "dir:www"}
sites:
  - name: s
    routes: [{match: /, upstream: files}]
)");
  const LoadResult r = load_file(path);
  INFO(all_errors(r));
  REQUIRE(r.config);
  CHECK(r.config->source == path);
  CHECK(r.config->upstreams[0].dir_root == dir.path() + "/etc/www");

  const std::string bad = dir.write("bad.yaml", "listen: [127.0.0.1:0x]\n");
  const LoadResult b = load_file(bad);
  INFO(all_errors(b));
  CHECK(all_errors(b).find(bad + ":1:10: listen[0]: invalid address '127.0.0.1:0x'") !=
        std::string::npos);
}
