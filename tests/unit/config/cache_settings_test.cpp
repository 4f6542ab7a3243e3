#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "config_test_support.hpp"
#include "ghala/config/config.hpp"

using namespace ghala::config;
using namespace ghala::config::testing;
using namespace std::chrono_literals;

namespace {

// kMinimalYaml is 10 lines, so the appended `cache:` is line 11 and its first key line 12.
std::string with_cache(std::string_view body) {
  return std::string(kMinimalYaml) + "cache:\n" + std::string(body);
}

}  // namespace

TEST_CASE("without a cache section the documented defaults apply") {
  const LoadResult r = load(kMinimalYaml);
  const CacheSettings& c = loaded(r).cache;
  CHECK(c.memory_max_size == 512ull << 20);
  CHECK(c.memory_sendfile_min == 16 * 1024);
  CHECK_FALSE(c.disk);
  CHECK(c.max_object_size == 256ull << 20);
  CHECK(c.heuristic_percent == 10);
  CHECK(c.heuristic_max == 24h);
  CHECK(c.client_directives == ghala::cache::ClientDirectives::Ignore);
  CHECK(c.targeted_fields == std::vector<std::string>{"Ghala-Cache-Control", "CDN-Cache-Control"});
  CHECK(c.lock_timeout == 5s);
  CHECK(c.hit_for_pass == 30s);
  CHECK(c.purge_token.empty());
}

TEST_CASE("every cache setting is read") {
  TempDir dir;
  dir.mkdir("var");
  const std::string yaml = std::string(kMinimalYaml) + R"(admin: {listen: 127.0.0.1:9145}
cache:
  memory: {max_size: 1GiB, sendfile_min_size: 0}
  disk: {path: var/cache, max_size: 20GiB}
  max_object_size: 2GiB
  heuristic: {percent: 20, max: 1h}
  client_directives: honour
  targeted_fields: [My-Cache-Control]
  lock_timeout: 2s
  hit_for_pass: 0s
  purge: {token: 0123456789abcdef0123}
)";
  const LoadResult r = load(yaml, dir.path());
  const CacheSettings& c = loaded(r).cache;
  CHECK(c.memory_max_size == 1ull << 30);
  CHECK(c.memory_sendfile_min == 0);
  REQUIRE(c.disk);
  CHECK(c.disk->path == dir.path() + "/var/cache");
  CHECK(c.disk->max_size == 20ull << 30);
  CHECK(c.max_object_size == 2ull << 30);
  CHECK(c.heuristic_percent == 20);
  CHECK(c.heuristic_max == 1h);
  CHECK(c.client_directives == ghala::cache::ClientDirectives::Honour);
  CHECK(c.targeted_fields == std::vector<std::string>{"My-Cache-Control"});
  CHECK(c.lock_timeout == 2s);
  CHECK(c.hit_for_pass == 0s);
  CHECK(c.purge_token == "0123456789abcdef0123");
}

TEST_CASE("targeted_fields may be empty, and the purge token may come from the environment") {
  ::setenv("GHALA_TEST_PURGE_TOKEN", "abcdefabcdefabcdef", 1);
  const LoadResult r = load(std::string(kMinimalYaml) + R"(admin: {listen: 127.0.0.1:9145}
cache:
  targeted_fields: []
  purge: {token_env: GHALA_TEST_PURGE_TOKEN}
)");
  const CacheSettings& c = loaded(r).cache;
  CHECK(c.targeted_fields.empty());
  CHECK(c.purge_token == "abcdefabcdefabcdef");
  ::unsetenv("GHALA_TEST_PURGE_TOKEN");
}

TEST_CASE("a small memory-only cache shrinks the default max_object_size to fit") {
  const LoadResult r = load(with_cache("  memory: {max_size: 64MiB}\n"));
  const CacheSettings& c = loaded(r).cache;
  CHECK(c.max_object_size == 64ull << 20);
}

TEST_CASE("cache setting errors are located and explained") {
  CHECK_LOAD_ERROR(with_cache("  memory: {max_size: 10}\n"), 12, "max_size: must be between 1MiB");
  CHECK_LOAD_ERROR(with_cache("  memory: {max_sise: 1GiB}\n"), 12,
                   "unknown key 'max_sise' (did you mean 'max_size'?)");
  CHECK_LOAD_ERROR(with_cache("  memory: 1GiB\n"), 12, "memory: expected a map");
  CHECK_LOAD_ERROR(with_cache("  memory: {sendfile_min_size: lots}\n"), 12, "sendfile_min_size:");
  CHECK_LOAD_ERROR(with_cache("  disk: {max_size: 1GiB}\n"), 12, "disk: needs a 'path'");
  CHECK_LOAD_ERROR(with_cache("  disk: {path: \"\"}\n"), 12, "disk.path: empty path");
  CHECK_LOAD_ERROR(with_cache("  disk: {path: /nonexistent-ghala/cache}\n"), 12,
                   "parent directory '/nonexistent-ghala' does not exist");
  CHECK_LOAD_ERROR(with_cache("  disk: {path: /dev/null}\n"), 12, "is not a directory");
  CHECK_LOAD_ERROR(with_cache("  disk: {path: /tmp/c, max_size: 1MiB}\n"), 12,
                   "max_size: must be between 16MiB");
  CHECK_LOAD_ERROR(with_cache("  max_object_size: 1GiB\n"), 12,
                   "max_object_size (1GiB) is larger than memory.max_size (and there is no "
                   "disk tier) (512MiB)");
  CHECK_LOAD_ERROR(with_cache("  disk: {path: /tmp/c, max_size: 1GiB}\n  max_object_size: 2GiB\n"),
                   13, "is larger than disk.max_size");
  CHECK_LOAD_ERROR(with_cache("  max_object_size: 0\n"), 12, "max_object_size: must be between");
  CHECK_LOAD_ERROR(with_cache("  heuristic: {percent: 101}\n"), 12,
                   "expected an integer from 0 to 100");
  CHECK_LOAD_ERROR(with_cache("  heuristic: {max: 10}\n"), 12, "a duration needs a unit");
  CHECK_LOAD_ERROR(with_cache("  client_directives: honor\n"), 12,
                   "expected one of ignore, honour, found 'honor' (did you mean 'honour'?)");
  CHECK_LOAD_ERROR(with_cache("  targeted_fields: CDN-Cache-Control\n"), 12, "expected a list");
  CHECK_LOAD_ERROR(with_cache("  targeted_fields: [\"CDN Cache\"]\n"), 12,
                   "is not a header field name");
  CHECK_LOAD_ERROR(with_cache("  targeted_fields: [cache-control]\n"), 12,
                   "Cache-Control is always used");
  CHECK_LOAD_ERROR(with_cache("  targeted_fields: [A-CC, a-cc]\n"), 12, "'a-cc' is listed twice");
  CHECK_LOAD_ERROR(with_cache("  lock_timeout: 0s\n"), 12, "lock_timeout: must be longer than 0s");
  CHECK_LOAD_ERROR(with_cache("  hit_for_pass: soon\n"), 12, "hit_for_pass:");
  CHECK_LOAD_ERROR(with_cache("  lock_timout: 1s\n"), 12, "did you mean 'lock_timeout'");
  CHECK_LOAD_ERROR(with_cache("  - memory\n"), 12, "expected a map");
}

TEST_CASE("the purge token follows the admin token's rules") {
  const std::string admin = "admin: {listen: 127.0.0.1:9145}\n";
  const auto purge = [&](std::string_view body) {
    return std::string(kMinimalYaml) + admin + "cache:\n  purge: " + std::string(body) + "\n";
  };
  CHECK_LOAD_ERROR(purge("{}"), 13, "purge: needs token or token_env");
  CHECK_LOAD_ERROR(purge("{token: short}"), 13, "purge.token is too short");
  CHECK_LOAD_ERROR(purge("{token: \"spaces in the token here\"}"), 13,
                   "purge.token must be printable ASCII without spaces");
  CHECK_LOAD_ERROR(purge("{token_env: \"1BAD\"}"), 13,
                   "purge.token_env: '1BAD' is not an environment variable name");
  ::unsetenv("GHALA_TEST_UNSET_PURGE");
  CHECK_LOAD_ERROR(purge("{token_env: GHALA_TEST_UNSET_PURGE}"), 13,
                   "purge.token_env: environment variable GHALA_TEST_UNSET_PURGE is not set");
  CHECK_LOAD_ERROR(purge("{tokn: abc}"), 13, "did you mean 'token'");
  // Without an admin listener nothing could serve the purge API.
  CHECK_LOAD_ERROR(with_cache("  purge: {token: 0123456789abcdef0123}\n"), 12,
                   "purge API is served on the admin listener");
}

TEST_CASE("all cache setting errors are reported in one pass") {
  const LoadResult r = load(with_cache(R"(  memory: {max_size: 1}
  heuristic: {percent: x}
  lock_timeout: 1
  targeted_fields: [Cache-Control]
)"));
  INFO(all_errors(r));
  CHECK_FALSE(r.config);
  CHECK(r.errors.size() == 4);
  CHECK(has_error(r, 12, "max_size"));
  CHECK(has_error(r, 13, "percent"));
  CHECK(has_error(r, 14, "lock_timeout"));
  CHECK(has_error(r, 15, "Cache-Control"));
}

TEST_CASE("cache storage changes need a restart; policy changes do not") {
  TempDir dir;
  dir.mkdir("a");
  dir.mkdir("b");
  const auto cfg = [&](std::string_view cache) {
    const LoadResult r = load(with_cache(cache), dir.path());
    INFO(all_errors(r));
    REQUIRE(r.config);
    return r.config;
  };
  const auto base = cfg("  memory: {max_size: 1GiB}\n  disk: {path: a/c}\n");
  CHECK(restart_required_changes(*base, *cfg("  memory: {max_size: 1GiB}\n  disk: {path: a/c}\n"
                                             "  lock_timeout: 1s\n  hit_for_pass: 1s\n"
                                             "  client_directives: honour\n"))
            .empty());
  const auto bigger =
      restart_required_changes(*base, *cfg("  memory: {max_size: 2GiB}\n  disk: {path: a/c}\n"));
  CHECK(bigger == std::vector<std::string>{"cache.memory.max_size 1GiB -> 2GiB"});
  const auto moved =
      restart_required_changes(*base, *cfg("  memory: {max_size: 1GiB}\n  disk: {path: b/c}\n"));
  REQUIRE(moved.size() == 1);
  CHECK(moved[0] == "cache.disk " + dir.path() + "/a/c (10GiB) -> " + dir.path() + "/b/c (10GiB)");
  const auto removed = restart_required_changes(*base, *cfg("  memory: {max_size: 1GiB}\n"));
  CHECK(removed == std::vector<std::string>{"cache.disk " + dir.path() + "/a/c (10GiB) -> none"});
}
