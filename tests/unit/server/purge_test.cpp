#include "server/purge.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <uv.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../temp_dir.hpp"

using namespace ghala;

namespace {

using ghala::testing::TempDir;

constexpr std::string_view kYaml = R"(listen: [127.0.0.1:8080]
upstreams:
  app: {servers: [127.0.0.1:9000]}
sites:
  - name: www
    hosts: [www.example.com]
    routes:
      - match: /
        upstream: app
)";

cache::StoredObject object(std::string vary_key, std::vector<std::string> tags) {
  cache::StoredObject o;
  http::HeaderMap fields;
  fields.add("Content-Type", "text/plain");
  o.headers = *http::FrozenHeaders::freeze(fields);
  o.vary_key = std::move(vary_key);
  o.tags = std::move(tags);
  o.body_size = 4;
  o.chunks.push_back(cache::Chunk::copy_of("body"));
  return o;
}

// Both tiers with the same objects: two variants of /a (tagged t), /b, /img/c (tagged t).
struct Tiers {
  TempDir dir;
  config::LoadResult loaded = config::load_string(kYaml, "test.yaml", "/");
  server::PurgeStores stores;

  explicit Tiers(bool disk) {
    REQUIRE(loaded.config);
    cache::MemoryTier::Options mo;
    mo.max_bytes = 8 << 20;
    stores.memory = std::make_shared<cache::MemoryTier>(mo);
    if (disk) {
      cache::DiskTierOptions d;
      d.path = dir.path() + "/disk";
      d.max_bytes = 64ull << 20;
      d.max_object_bytes = 1ull << 20;
      auto opened = cache::DiskTier::open(d);
      REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
      stores.disk = std::shared_ptr<cache::DiskTier>(std::move(opened).value());
    }
    add("www.example.com/a", object("accept-language=fr", {"t"}));
    add("www.example.com/a", object("accept-language=en", {}));
    add("www.example.com/b", object("", {}));
    add("www.example.com/img/c", object("", {"t"}));
  }
  void add(const std::string& key, const cache::StoredObject& o) {
    REQUIRE(stores.memory->insert(key, std::make_shared<const cache::StoredObject>(o)).stored());
    if (stores.disk) REQUIRE(stores.disk->insert(key, o).ok());
  }
  std::size_t on_disk(const std::string& key) {
    auto found = stores.disk->lookup(key);
    REQUIRE(found.ok());
    return found.value().size();
  }
};

admin::PurgeRequest request(observe::PurgeKind kind, bool soft, std::vector<std::string> t) {
  admin::PurgeRequest r;
  r.kind = kind;
  r.soft = soft;
  r.targets = std::move(t);
  return r;
}

}  // namespace

TEST_CASE("a URL purge reaches every variant in both tiers; a prefix and a tag theirs") {
  Tiers tiers(true);
  const auto& cfg = *tiers.loaded.config;
  auto o = server::execute_purge(
      cfg, tiers.stores,
      request(observe::PurgeKind::Url, false, {"http://www.example.com/a", "http://x.test/"}),
      1000);
  REQUIRE(o.targets.size() == 2);
  CHECK(o.targets[0].key == "www.example.com/a");
  CHECK(o.targets[0].memory == 2);
  CHECK(o.targets[0].disk == 2);
  CHECK(o.targets[1].key == "x.test/");  // the only site is also the default
  CHECK(o.targets[1].memory == 0);
  CHECK(o.purged() == 4);
  CHECK(o.errors.empty());
  CHECK(tiers.stores.memory->lookup("www.example.com/a").empty());
  CHECK(tiers.on_disk("www.example.com/a") == 0);
  CHECK(tiers.on_disk("www.example.com/b") == 1);

  o = server::execute_purge(cfg, tiers.stores, request(observe::PurgeKind::Tag, false, {"t"}),
                            1000);
  CHECK(o.targets[0].memory == 1);  // /img/c; /a's tagged variant is gone already
  CHECK(o.targets[0].disk == 1);
  o = server::execute_purge(cfg, tiers.stores,
                            request(observe::PurgeKind::Prefix, false, {"http://www.example.com"}),
                            1000);
  CHECK(o.targets[0].key == "www.example.com/");
  CHECK(o.purged() == 2);  // /b in both tiers
  CHECK(tiers.stores.memory->stats().objects == 0);
}

TEST_CASE("a URL or prefix purge also ends hit-for-pass; a tag purge cannot name one") {
  Tiers tiers(false);
  tiers.stores.coalescer = std::make_shared<server::Coalescer>();
  auto& c = *tiers.stores.coalescer;
  const auto now = server::Coalescer::Clock::now();
  for (const char* k : {"www.example.com/u", "www.example.com/p/1", "www.example.com/q"}) {
    c.mark_pass(k, now + std::chrono::seconds(30));
  }
  const auto& cfg = *tiers.loaded.config;
  (void)server::execute_purge(cfg, tiers.stores, request(observe::PurgeKind::Tag, false, {"t"}),
                              1000);
  CHECK_FALSE(c.join("www.example.com/u", now).fetch);
  (void)server::execute_purge(cfg, tiers.stores,
                              request(observe::PurgeKind::Url, true, {"http://www.example.com/u"}),
                              1000);
  CHECK(c.join("www.example.com/u", now).leader);
  (void)server::execute_purge(
      cfg, tiers.stores, request(observe::PurgeKind::Prefix, false, {"http://www.example.com/p/"}),
      1000);
  CHECK(c.join("www.example.com/p/1", now).leader);
  CHECK_FALSE(c.join("www.example.com/q", now).fetch);
}

TEST_CASE("a memory-only purge also runs on the thread pool and answers on the loop") {
  Tiers tiers(false);
  std::optional<admin::PurgeOutcome> got;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  server::run_purge(&loop, tiers.loaded.config, tiers.stores,
                    request(observe::PurgeKind::Url, true, {"http://www.example.com/a"}),
                    [&](admin::PurgeOutcome o) { got = std::move(o); });
  CHECK_FALSE(got.has_value());
  uv_run(&loop, UV_RUN_DEFAULT);
  REQUIRE(got.has_value());
  CHECK(got->soft);
  CHECK(got->targets[0].memory == 2);
  CHECK_FALSE(got->targets[0].disk.has_value());
  for (const auto& v : tiers.stores.memory->lookup("www.example.com/a")) {
    CHECK(v->soft_purged_at > 0);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("with a disk tier the purge runs on the thread pool and answers on the loop") {
  Tiers tiers(true);
  std::optional<admin::PurgeOutcome> got;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  server::run_purge(&loop, tiers.loaded.config, tiers.stores,
                    request(observe::PurgeKind::Tag, true, {"t"}),
                    [&](admin::PurgeOutcome o) { got = std::move(o); });
  CHECK_FALSE(got.has_value());  // not before the loop runs the after-work callback
  uv_run(&loop, UV_RUN_DEFAULT);
  REQUIRE(got.has_value());
  CHECK(got->kind == observe::PurgeKind::Tag);
  CHECK(got->soft);
  CHECK(got->targets[0].memory == 2);
  CHECK(got->targets[0].disk == 2);
  auto on_disk = tiers.stores.disk->lookup("www.example.com/img/c");
  REQUIRE(on_disk.ok());
  REQUIRE(on_disk.value().size() == 1);
  CHECK(on_disk.value()[0]->soft_purged_at > 0);  // soft: still there, marked
  CHECK(uv_loop_close(&loop) == 0);
}
