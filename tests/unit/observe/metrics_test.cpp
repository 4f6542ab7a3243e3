#include "ghala/observe/metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ghala_build_config.h"

using ghala::http::Method;
using ghala::observe::Metrics;
using ghala::observe::ParseErrorKind;
using ghala::observe::TimeoutKind;
using ghala::observe::UpstreamErrorKind;

namespace {

// The value of the one sample called `name` whose labels include every `k="v"` in `labels`
// (prometheus-cpp orders labels by name, so the test does not rely on the order). nullopt when no
// sample matches, a failure when several do.
std::optional<double> sample(const std::string& text, const std::string& name,
                             const std::vector<std::string>& labels = {}) {
  std::optional<double> found;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (!all) continue;
    REQUIRE_MESSAGE(!found.has_value(), "several samples match " << name);
    found = std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return found;
}

double value(const std::string& text, const std::string& name,
             const std::vector<std::string>& labels = {}) {
  const auto v = sample(text, name, labels);
  REQUIRE_MESSAGE(v.has_value(), "no sample " << name);
  return *v;
}

}  // namespace

TEST_CASE("metrics: get() is one process-wide instance") {
  CHECK(&Metrics::get() == &Metrics::get());
  CHECK(!Metrics::get().serialize().empty());
}

TEST_CASE("metrics: serialize lists every metric family") {
  auto m = Metrics::create();
  m->route("demo", "/")->observe(Method::Get, 200, 0.01);
  m->upstream("demo")->observe_latency(0.02);
  m->config_reload(true, "abc123");
  m->cache_tier_source(ghala::observe::CacheTier::Memory,
                       [] { return ghala::observe::CacheTierStats{}; });
  const std::string text = m->serialize();
  for (const char* family :
       {"ghala_requests_total", "ghala_request_duration_seconds", "ghala_upstream_duration_seconds",
        "ghala_upstream_errors_total", "ghala_client_received_bytes_total",
        "ghala_client_sent_bytes_total", "ghala_upstream_received_bytes_total",
        "ghala_upstream_sent_bytes_total", "ghala_connections_open", "ghala_connections_total",
        "ghala_connections_rejected_total", "ghala_timeouts_total", "ghala_http_parse_errors_total",
        "ghala_config_reloads_total", "ghala_config_info",
        "ghala_config_last_reload_success_timestamp_seconds", "ghala_build_info",
        "ghala_process_resident_memory_bytes", "ghala_process_open_fds"}) {
    CHECK_MESSAGE(text.find(std::string("# TYPE ") + family + " ") != std::string::npos, family);
  }
  // The cache's storage and purge families.
  for (const char* family :
       {"ghala_cache_lookups_total", "ghala_cache_purges_total", "ghala_cache_purged_objects_total",
        "ghala_cache_objects", "ghala_cache_bytes", "ghala_cache_capacity_bytes",
        "ghala_cache_evictions_total"}) {
    CHECK_MESSAGE(text.find(std::string("# TYPE ") + family + " ") != std::string::npos, family);
  }
}

TEST_CASE("metrics: route and upstream handles are cached by label values") {
  auto m = Metrics::create();
  const auto a = m->route("shop", "/img/");
  CHECK(a.get() == m->route("shop", "/img/").get());
  CHECK(a.get() != m->route("shop", "/api/").get());
  CHECK(a.get() != m->route("blog", "/img/").get());
  const auto u = m->upstream("origin-a");
  CHECK(u.get() == m->upstream("origin-a").get());
  CHECK(u.get() != m->upstream("origin-b").get());
}

TEST_CASE("metrics: requests are counted by method slot and status class") {
  auto m = Metrics::create();
  auto r = m->route("s", "r");
  r->observe(Method::Get, 200, 0.001);
  r->observe(Method::Get, 204, 0.001);
  r->observe(Method::Head, 304, 0.001);
  r->observe(Method::Post, 404, 0.001);
  r->observe(Method::Trace, 101, 0.001);  // not a slot of its own
  r->observe(Method::Other, 503, 0.001);
  r->observe(Method::Delete, 0, 0.001);   // no response at all: counted as 5xx
  r->observe(Method::Patch, 999, 0.001);  // out of range: 5xx
  const std::string t = m->serialize();
  const std::string name = "ghala_requests_total";
  CHECK(value(t, name, {R"(method="GET")", R"(status_class="2xx")"}) == 2);
  CHECK(value(t, name, {R"(method="HEAD")", R"(status_class="3xx")"}) == 1);
  CHECK(value(t, name, {R"(method="POST")", R"(status_class="4xx")"}) == 1);
  CHECK(value(t, name, {R"(method="other")", R"(status_class="1xx")"}) == 1);
  CHECK(value(t, name, {R"(method="other")", R"(status_class="5xx")"}) == 1);
  CHECK(value(t, name, {R"(method="DELETE")", R"(status_class="5xx")"}) == 1);
  CHECK(value(t, name, {R"(method="PATCH")", R"(status_class="5xx")"}) == 1);
  CHECK(value(t, name, {R"(method="PUT")", R"(status_class="2xx")"}) == 0);  // pre-created
  CHECK(value(t, name,
              {R"(site="s")", R"(route="r")", R"(method="GET")", R"(status_class="2xx")"}) == 2);
}

TEST_CASE("metrics: durations land in the right histogram buckets") {
  auto m = Metrics::create();
  auto r = m->route("s", "r");
  r->observe(Method::Get, 200, 0.003);
  r->observe(Method::Get, 200, 45.0);
  r->observe(Method::Get, 200, std::numeric_limits<double>::quiet_NaN());  // ignored
  r->observe(Method::Get, 200, -1.0);                                      // ignored
  const std::string t = m->serialize();
  const std::string b = "ghala_request_duration_seconds_bucket";
  CHECK(value(t, b, {R"(le="0.001")"}) == 0);
  CHECK(value(t, b, {R"(le="0.005")"}) == 1);
  CHECK(value(t, b, {R"(le="30")"}) == 1);
  CHECK(value(t, b, {R"(le="60")"}) == 2);
  CHECK(value(t, b, {R"(le="+Inf")"}) == 2);
  CHECK(value(t, "ghala_request_duration_seconds_count") == 2);
  CHECK(value(t, "ghala_request_duration_seconds_sum") == doctest::Approx(45.003));
  CHECK(value(t, "ghala_requests_total", {R"(method="GET")", R"(status_class="2xx")"}) == 4);
}

TEST_CASE("metrics: upstream latency and errors") {
  auto m = Metrics::create();
  auto u = m->upstream("origin");
  u->observe_latency(0.2);
  u->error(UpstreamErrorKind::ConnectRefused);
  u->error(UpstreamErrorKind::ConnectRefused);
  u->error(UpstreamErrorKind::NoServer);
  u->error(UpstreamErrorKind::kCount);  // not a kind: ignored
  const std::string t = m->serialize();
  CHECK(value(t, "ghala_upstream_duration_seconds_count", {R"(upstream="origin")"}) == 1);
  CHECK(value(t, "ghala_upstream_errors_total", {R"(kind="connect_refused")"}) == 2);
  CHECK(value(t, "ghala_upstream_errors_total", {R"(kind="no_server")"}) == 1);
  CHECK(value(t, "ghala_upstream_errors_total", {R"(kind="reset")"}) == 0);
}

TEST_CASE("metrics: counters are exact under concurrent updates") {
  auto m = Metrics::create();
  constexpr int kThreads = 4;
  constexpr int kIterations = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      auto r = m->route("s", "r");  // also races handle creation
      auto u = m->upstream("u");
      for (int i = 0; i < kIterations; ++i) {
        r->observe(Method::Get, 200, 0.01);
        u->observe_latency(0.3);
        u->error(UpstreamErrorKind::Reset);
        m->bytes_from_clients(3);
        m->bytes_to_clients(1000);
        m->bytes_from_upstreams(7);
        m->bytes_to_upstreams(11);
        m->connection_opened();
        m->connection_closed();
        m->timeout(TimeoutKind::HeaderRead);
        if (i % 1000 == 0) (void)m->serialize();  // folding races the updates
      }
    });
  }
  for (auto& t : threads) t.join();
  const double n = kThreads * kIterations;
  const std::string t = m->serialize();
  CHECK(value(t, "ghala_requests_total", {R"(method="GET")", R"(status_class="2xx")"}) == n);
  CHECK(value(t, "ghala_request_duration_seconds_count") == n);
  CHECK(value(t, "ghala_request_duration_seconds_bucket", {R"(le="0.005")"}) == 0);
  CHECK(value(t, "ghala_request_duration_seconds_bucket", {R"(le="0.01")"}) == n);
  CHECK(value(t, "ghala_request_duration_seconds_sum") == doctest::Approx(0.01 * n));
  CHECK(value(t, "ghala_upstream_duration_seconds_bucket", {R"(le="0.25")"}) == 0);
  CHECK(value(t, "ghala_upstream_duration_seconds_bucket", {R"(le="0.5")"}) == n);
  CHECK(value(t, "ghala_upstream_duration_seconds_sum") == doctest::Approx(0.3 * n));
  CHECK(value(t, "ghala_upstream_errors_total", {R"(kind="reset")"}) == n);
  CHECK(value(t, "ghala_client_received_bytes_total") == 3 * n);
  CHECK(value(t, "ghala_client_sent_bytes_total") == 1000 * n);
  CHECK(value(t, "ghala_upstream_received_bytes_total") == 7 * n);
  CHECK(value(t, "ghala_upstream_sent_bytes_total") == 11 * n);
  CHECK(value(t, "ghala_connections_total") == n);
  CHECK(value(t, "ghala_connections_open") == 0);
  CHECK(value(t, "ghala_timeouts_total", {R"(kind="header_read")"}) == n);
  // Folding is idempotent: a second scrape with no traffic gives the same totals.
  const std::string again = m->serialize();
  CHECK(value(again, "ghala_client_sent_bytes_total") == 1000 * n);
  CHECK(value(again, "ghala_request_duration_seconds_count") == n);
  CHECK(value(again, "ghala_request_duration_seconds_sum") == doctest::Approx(0.01 * n));
}

TEST_CASE("metrics: connections, timeouts and parse errors") {
  auto m = Metrics::create();
  m->connection_opened();
  m->connection_opened();
  m->connection_closed();
  m->connection_rejected();
  m->timeout(TimeoutKind::ClientWriteStall);
  m->parse_error(ParseErrorKind::UriTooLong);
  m->parse_error(ParseErrorKind::kCount);  // ignored
  const std::string t = m->serialize();
  CHECK(value(t, "ghala_connections_open") == 1);
  CHECK(value(t, "ghala_connections_total") == 2);
  CHECK(value(t, "ghala_connections_rejected_total") == 1);
  CHECK(value(t, "ghala_timeouts_total", {R"(kind="client_write_stall")"}) == 1);
  CHECK(value(t, "ghala_timeouts_total", {R"(kind="shutdown")"}) == 0);
  CHECK(value(t, "ghala_http_parse_errors_total", {R"(kind="uri_too_long")"}) == 1);
  CHECK(value(t, "ghala_http_parse_errors_total", {R"(kind="bad_request")"}) == 0);
}

TEST_CASE("metrics: purges are counted by kind and mode, objects by tier") {
  using ghala::observe::CacheTier;
  using ghala::observe::PurgeKind;
  auto m = Metrics::create();
  m->cache_purge(PurgeKind::Tag, true);
  m->cache_purged(PurgeKind::Tag, true, CacheTier::Memory, 3);
  m->cache_purged(PurgeKind::Tag, true, CacheTier::Disk, 5);
  m->cache_purge(PurgeKind::Url, false);
  m->cache_purge(PurgeKind::kCount, false);  // ignored
  const std::string t = m->serialize();
  CHECK(value(t, "ghala_cache_purges_total", {R"(kind="tag")", R"(mode="soft")"}) == 1);
  CHECK(value(t, "ghala_cache_purges_total", {R"(kind="tag")", R"(mode="hard")"}) == 0);
  CHECK(value(t, "ghala_cache_purges_total", {R"(kind="url")", R"(mode="hard")"}) == 1);
  CHECK(value(t, "ghala_cache_purged_objects_total",
              {R"(kind="tag")", R"(mode="soft")", R"(tier="memory")"}) == 3);
  CHECK(value(t, "ghala_cache_purged_objects_total",
              {R"(kind="tag")", R"(mode="soft")", R"(tier="disk")"}) == 5);
  CHECK(value(t, "ghala_cache_purged_objects_total",
              {R"(kind="prefix")", R"(mode="hard")", R"(tier="memory")"}) == 0);
}

TEST_CASE("metrics: cache tier gauges are read from the source at scrape time") {
  using ghala::observe::CacheTier;
  using ghala::observe::CacheTierStats;
  auto m = Metrics::create();
  const std::vector<std::string> mem{R"(tier="memory")"};
  CHECK(value(m->serialize(), "ghala_cache_objects", mem) == 0);  // before any source: zeros
  CacheTierStats now;
  now.objects = 10;
  now.bytes = 4096;
  now.capacity_bytes = 1 << 20;
  now.evictions = 7;
  m->cache_tier_source(CacheTier::Memory, [&] { return now; });
  std::string t = m->serialize();
  CHECK(value(t, "ghala_cache_objects", mem) == 10);
  CHECK(value(t, "ghala_cache_bytes", mem) == 4096);
  CHECK(value(t, "ghala_cache_capacity_bytes", mem) == 1 << 20);
  CHECK(value(t, "ghala_cache_evictions_total", mem) == 7);
  now.objects = 2;
  now.evictions = 12;
  t = m->serialize();
  CHECK(value(t, "ghala_cache_objects", mem) == 2);
  CHECK(value(t, "ghala_cache_evictions_total", mem) == 12);  // follows the running total
  CHECK(value(m->serialize(), "ghala_cache_evictions_total", mem) == 12);  // folded once
  now.evictions = 3;  // a total that goes down never makes the counter go down
  CHECK(value(m->serialize(), "ghala_cache_evictions_total", mem) == 12);
  m->cache_tier_source(CacheTier::Memory, nullptr);  // `now` goes out of scope before `m`
}

TEST_CASE("metrics: config_info carries only the running config's hash") {
  auto m = Metrics::create();
  CHECK_FALSE(sample(m->serialize(), "ghala_config_info").has_value());

  m->config_reload(true, "aaaa");
  std::string t = m->serialize();
  CHECK(value(t, "ghala_config_info", {R"(hash="aaaa")"}) == 1);
  CHECK(value(t, "ghala_config_last_reload_success_timestamp_seconds") > 1.5e9);

  m->config_reload(true, "bbbb");
  t = m->serialize();
  CHECK(value(t, "ghala_config_info") == 1);  // exactly one series
  CHECK(value(t, "ghala_config_info", {R"(hash="bbbb")"}) == 1);
  CHECK(t.find(R"(hash="aaaa")") == std::string::npos);

  m->config_reload(false, "cccc");  // rejected: the running config is still bbbb
  m->config_reload(true, "bbbb");   // same config applied again
  t = m->serialize();
  CHECK(value(t, "ghala_config_info", {R"(hash="bbbb")"}) == 1);
  CHECK(t.find(R"(hash="cccc")") == std::string::npos);
  CHECK(value(t, "ghala_config_reloads_total", {R"(result="success")"}) == 3);
  CHECK(value(t, "ghala_config_reloads_total", {R"(result="failure")"}) == 1);
}

TEST_CASE("metrics: build info and process metrics") {
  auto m = Metrics::create();
  const std::string t = m->serialize();
  CHECK(value(t, "ghala_build_info", {std::string("version=\"") + GHALA_VERSION + "\""}) == 1);
  CHECK(value(t, "ghala_process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value(t, "ghala_process_open_fds") >= 3);
}

TEST_CASE("metrics: hostile label values are escaped in the exposition") {
  auto m = Metrics::create();
  m->route("site\"with\\quote", "/a\nb")->observe(Method::Get, 200, 0.1);
  const std::string t = m->serialize();
  CHECK(t.find(R"(site="site\"with\\quote")") != std::string::npos);
  CHECK(t.find(R"(route="/a\nb")") != std::string::npos);
}

TEST_CASE("metrics: cache tiers are read from their sources at scrape time") {
  using ghala::observe::CacheTier;
  using ghala::observe::CacheTierStats;
  using ghala::observe::DiskWriteDrop;
  using ghala::observe::StorageOp;
  auto m = Metrics::create();
  // No source yet: a tier that is not configured reads as unhealthy, with zero totals.
  std::string t = m->serialize();
  CHECK(sample(t, "ghala_cache_tier_healthy", {"tier=\"disk\""}) == 0);
  CHECK(sample(t, "ghala_cache_objects", {"tier=\"disk\""}) == 0);

  CacheTierStats disk;
  disk.objects = 3;
  disk.bytes = 4096;
  disk.evictions = 5;
  disk.corrupt_dropped = 1;
  disk.healthy = true;
  m->cache_tier_source(CacheTier::Disk, [&disk] { return disk; });
  t = m->serialize();
  CHECK(sample(t, "ghala_cache_objects", {"tier=\"disk\""}) == 3);
  CHECK(sample(t, "ghala_cache_bytes", {"tier=\"disk\""}) == 4096);
  CHECK(sample(t, "ghala_cache_tier_healthy", {"tier=\"disk\""}) == 1);
  CHECK(sample(t, "ghala_cache_evictions_total", {"tier=\"disk\""}) == 5);
  CHECK(sample(t, "ghala_cache_corrupt_objects_total", {"tier=\"disk\""}) == 1);

  // Counters take the difference since the last scrape; scraping twice adds nothing.
  disk.evictions = 8;
  disk.healthy = false;
  (void)m->serialize();
  t = m->serialize();
  CHECK(sample(t, "ghala_cache_evictions_total", {"tier=\"disk\""}) == 8);
  CHECK(sample(t, "ghala_cache_tier_healthy", {"tier=\"disk\""}) == 0);
  CHECK(sample(t, "ghala_cache_evictions_total", {"tier=\"memory\""}) == 0);

  m->cache_storage_error(CacheTier::Disk, StorageOp::Insert);
  m->cache_storage_error(CacheTier::Disk, StorageOp::Insert);
  m->cache_storage_error(CacheTier::Disk, StorageOp::Read);
  m->cache_disk_write_dropped(DiskWriteDrop::Backlog);
  m->cache_disk_hit();
  t = m->serialize();
  CHECK(sample(t, "ghala_cache_storage_errors_total", {"tier=\"disk\"", "operation=\"insert\""}) ==
        2);
  CHECK(sample(t, "ghala_cache_storage_errors_total", {"tier=\"disk\"", "operation=\"read\""}) ==
        1);
  CHECK(sample(t, "ghala_cache_disk_writes_dropped_total", {"reason=\"backlog\""}) == 1);
  CHECK(sample(t, "ghala_cache_disk_hits_total") == 1);
  m->cache_tier_source(CacheTier::Disk, nullptr);  // `disk` goes out of scope before `m`
}
