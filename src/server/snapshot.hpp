#pragma once
// Everything a request needs from one loaded configuration, built once per (re)load on the main
// thread and shared read-only by every worker: the Config itself, metric handles per route and
// upstream, opened directory origins and the access-log sink. A request keeps the snapshot it
// started with, so a reload never changes a request in flight.

#include <memory>
#include <vector>

#include "ghala/cache/disk_tier.hpp"
#include "ghala/cache/memory_tier.hpp"
#include "ghala/config/config.hpp"
#include "ghala/core/result.hpp"
#include "ghala/http/parser.hpp"
#include "ghala/observe/access_log.hpp"
#include "ghala/observe/metrics.hpp"
#include "ghala/upstream/dir_origin.hpp"
#include "server/coalescer.hpp"

namespace ghala::server {

struct UpstreamRuntime {
  std::shared_ptr<observe::UpstreamMetrics> metrics;
  std::shared_ptr<const upstream::DirOrigin> dir;  // kind == Dir
};

struct Snapshot {
  config::ConfigPtr config;
  std::vector<std::vector<std::shared_ptr<observe::RouteMetrics>>> route_metrics;  // [site][route]
  std::vector<std::shared_ptr<observe::RouteMetrics>> unrouted_metrics;            // [site]
  std::shared_ptr<observe::RouteMetrics> invalid_metrics;  // requests rejected before routing
  std::vector<UpstreamRuntime> upstreams;                  // parallel to config->upstreams
  std::shared_ptr<observe::AccessLogSink> access_log;
  // The memory tier outlives reloads (its size is fixed at startup: a change needs a restart);
  // null when cache.memory.max_size is 0.
  std::shared_ptr<cache::MemoryTier> memory;
  // Fetches in flight per cache key, for coalescing; shared like the memory tier (null with it).
  std::shared_ptr<Coalescer> coalescer;
  // The RocksDB tier, opened once at startup when cache.disk is set and carried across reloads
  // like the memory tier (a change of path or size needs a restart); null without cache.disk.
  // Every DiskTier call blocks: run it on the libuv thread pool (server/disk_io.hpp), never on
  // a worker loop.
  std::shared_ptr<cache::DiskTier> disk;
  http::ParserLimits limits;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Builds a snapshot; reuses the previous one's directory origins and access-log sink where the
// config did not change them (so a reload does not reopen files).
Result<SnapshotPtr> build_snapshot(config::ConfigPtr config, const Snapshot* previous);

}  // namespace ghala::server
