#pragma once
// Process-wide Prometheus metrics (prometheus-cpp registry). Every metric is listed in
// docs/metrics.md. Hot-path updates go through handles resolved once (per route, per upstream),
// never through a label lookup per request.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/http/message.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace ghala::observe {

enum class TimeoutKind {
  HeaderRead,
  BodyRead,
  KeepaliveIdle,
  ClientWriteStall,
  UpstreamConnect,
  UpstreamFirstByte,
  UpstreamRead,
  UpstreamWrite,
  Shutdown,
  kCount
};
std::string_view to_string(TimeoutKind k) noexcept;

// One resolution of an upstream's server names: the addresses were confirmed, changed (a new
// snapshot followed), or some name did not resolve (its last good addresses stay).
enum class DnsResult { Ok, Changed, Error, kCount };
std::string_view to_string(DnsResult r) noexcept;

enum class UpstreamErrorKind {
  ConnectRefused,
  ConnectTimeout,
  FirstByteTimeout,
  ReadTimeout,
  WriteTimeout,     // the origin stopped reading the request body
  Reset,            // connection closed or reset before the response completed
  InvalidResponse,  // unparseable response from the origin
  NoServer,         // no usable server in the pool
  kCount
};
std::string_view to_string(UpstreamErrorKind k) noexcept;

// Cache lookups by result (RFC 9211 vocabulary): hit = served from cache; miss = not stored
// (or no Vary match); stale = stored but stale, fetched again; bypass = a cache rule said so;
// pass = not a cacheable request (method, route to a directory origin, unkeyable URL).
enum class CacheLookup { Hit, Miss, Stale, Bypass, Pass, Revalidated, Coalesced, kCount };
std::string_view to_string(CacheLookup k) noexcept;

// Purge API (docs/caching.md "Purge"): what a purge request selected objects by.
enum class PurgeKind { Url, Prefix, Tag, kCount };
std::string_view to_string(PurgeKind k) noexcept;

// The cache's storage tiers (the `tier` label), and what the server asks of them (for storage
// errors).
enum class CacheTier { Memory, Disk, kCount };
std::string_view to_string(CacheTier t) noexcept;
enum class StorageOp { Lookup, Read, Insert, Stream, Update, Purge, kCount };
std::string_view to_string(StorageOp op) noexcept;
// Why a response that could be stored on disk was not written there.
enum class DiskWriteDrop { Unhealthy, Backlog, kCount };
std::string_view to_string(DiskWriteDrop d) noexcept;

// A tier's own totals, read at scrape time through a source function (see cache_tier_source).
struct CacheTierStats {
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
  std::uint64_t capacity_bytes = 0;   // the configured bound
  std::uint64_t evictions = 0;        // since the tier was opened (a counter)
  std::uint64_t corrupt_dropped = 0;  // since the tier was opened (a counter)
  bool healthy = true;
};

enum class ParseErrorKind { BadRequest, UriTooLong, HeadersTooLarge, BodyTooLarge, kCount };
std::string_view to_string(ParseErrorKind k) noexcept;

// Per (site, route): requests by method and status class, and a duration histogram.
class RouteMetrics {
 public:
  virtual ~RouteMetrics() = default;
  virtual void observe(http::Method method, int status, double duration_seconds) noexcept = 0;
};

// Per upstream: latency to the response head, errors by kind.
class UpstreamMetrics {
 public:
  virtual ~UpstreamMetrics() = default;
  virtual void observe_latency(double seconds_to_head) noexcept = 0;
  virtual void error(UpstreamErrorKind kind) noexcept = 0;
};

class Metrics {
 public:
  static Metrics& get();  // the process-wide instance
  // A fresh, independent instance with its own registry (tests; get() is the one to use).
  static std::unique_ptr<Metrics> create();

  virtual ~Metrics() = default;
  // The registry behind every ghala_ metric. The byte counters and the process gauges are brought
  // up to date by serialize(), not continuously: expose metrics through serialize().
  virtual prometheus::Registry& registry() = 0;
  // Prometheus text exposition of the whole registry. Never throws; "" if serialization failed.
  virtual std::string serialize() = 0;

  // Handles are cached by label values and live as long as the process; cheap to call at config
  // load, not meant for every request.
  virtual std::shared_ptr<RouteMetrics> route(std::string_view site, std::string_view route) = 0;
  virtual std::shared_ptr<UpstreamMetrics> upstream(std::string_view name) = 0;

  virtual void connection_opened() noexcept = 0;
  virtual void connection_closed() noexcept = 0;
  virtual void connection_rejected() noexcept = 0;  // over limits.max_connections
  // A worker accepted a connection and handed it to a less loaded worker (server/balance.hpp).
  virtual void connection_handed_off() noexcept = 0;
  // Each worker's figures, indexed by worker; the source is called at each scrape (any thread;
  // it must be thread-safe and cheap). Registering again replaces the source; an empty function
  // removes it (the series keep their last value).
  struct WorkerStats {
    std::uint32_t connections = 0;  // open client connections plus those being handed to it
    std::uint64_t busy_ns = 0;      // event-loop time not spent waiting in the poll, so far
    std::uint64_t yields = 0;       // loop passes after which it yielded the CPU, so far
  };
  virtual void worker_stats_source(std::function<std::vector<WorkerStats>()> source) = 0;
  virtual void bytes_from_clients(std::uint64_t n) noexcept = 0;
  virtual void bytes_to_clients(std::uint64_t n) noexcept = 0;
  virtual void bytes_from_upstreams(std::uint64_t n) noexcept = 0;
  virtual void bytes_to_upstreams(std::uint64_t n) noexcept = 0;
  virtual void timeout(TimeoutKind kind) noexcept = 0;
  virtual void parse_error(ParseErrorKind kind) noexcept = 0;
  virtual void cache_lookup(CacheLookup result) noexcept = 0;
  // Response body bytes of a request that reached Lookup: from a stored object (or a coalesced
  // fetch) or relayed from the origin.
  virtual void cache_served_bytes(bool from_cache, std::uint64_t n) noexcept = 0;
  // The cache went to the origin for a cacheable request (background: a stale-while-revalidate
  // revalidation without a client).
  virtual void cache_origin_fetch(bool background) noexcept = 0;
  // A request started (+1) or stopped (-1) waiting for another request's fetch (coalescing).
  virtual void cache_waiting(int delta) noexcept = 0;
  // A purge request of the purge API that ran (refused requests are not counted), and the
  // objects it purged in one tier. soft: marked stale rather than deleted.
  virtual void cache_purge(PurgeKind kind, bool soft) noexcept = 0;
  virtual void cache_purged(PurgeKind kind, bool soft, CacheTier tier,
                            std::uint64_t objects) noexcept = 0;
  // Cache storage. The source is called at each scrape (any thread; it must be thread-safe and
  // cheap); registering again for a tier replaces its source, an empty function removes it.
  virtual void cache_tier_source(CacheTier tier, std::function<CacheTierStats()> source) = 0;
  virtual void cache_disk_hit() noexcept = 0;  // a memory miss found its variant on disk
  virtual void cache_storage_error(CacheTier tier, StorageOp op) noexcept = 0;
  virtual void cache_disk_write_dropped(DiskWriteDrop why) noexcept = 0;
  // result: true = applied. hash: the loaded config's hash (sets ghala_config_info{hash}).
  virtual void config_reload(bool success, std::string_view hash) noexcept = 0;
  // A resolution of an upstream's server host names (at a reload or a resolve_interval tick).
  virtual void dns_resolution(std::string_view upstream, DnsResult result) noexcept = 0;
};

}  // namespace ghala::observe
