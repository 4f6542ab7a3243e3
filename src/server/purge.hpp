#pragma once
// Purge execution (docs/caching.md, "Purge"): the admin API's parsed request applied to the
// cache tiers. Targets become keys with the configuration that runs now (config/purge_key.hpp);
// each key, prefix or tag is then purged in the memory tier and, when there is one, in the disk
// tier, with the same mode. Metrics: ghala_cache_purges_total and
// ghala_cache_purged_objects_total.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "ghala/admin/purge.hpp"
#include "ghala/cache/disk_tier.hpp"
#include "ghala/cache/memory_tier.hpp"
#include "ghala/config/config.hpp"
#include "server/snapshot.hpp"

namespace ghala::server {

// The tiers a purge reaches, and the coalescer whose hit-for-pass marks it clears (a purged URL
// gets another chance to be stored). Any may be null.
struct PurgeStores {
  std::shared_ptr<cache::MemoryTier> memory;
  std::shared_ptr<cache::DiskTier> disk;
  std::shared_ptr<Coalescer> coalescer;
};

// The tiers of a snapshot: the memory tier and, when cache.disk is set, the disk tier.
PurgeStores purge_stores(const Snapshot& snapshot);

// Runs the purge now, on the calling thread, and records the metrics. `now` (Unix seconds) is
// the soft-purge time. BLOCKS on disk I/O when stores.disk is set: never call it on a worker
// loop with a disk tier (run_purge does it right).
admin::PurgeOutcome execute_purge(const config::Config& config, const PurgeStores& stores,
                                  const admin::PurgeRequest& request, std::int64_t now);

// execute_purge for the admin loop: the purge runs on the libuv thread pool and done is called
// on `loop` when it has finished. Also without a disk tier: a prefix purge scans every key of
// the memory tier (about half a second per million objects, docs/caching.md), and the admin
// loop keeps answering scrapes and signals meanwhile.
void run_purge(uv_loop_t* loop, config::ConfigPtr config, PurgeStores stores,
               admin::PurgeRequest request, std::function<void(admin::PurgeOutcome)> done);

}  // namespace ghala::server
