#pragma once
// The persistent cache tier: stored responses in RocksDB, bounded in bytes, surviving restarts
// and kill -9. Layout, crash-safety argument and tuning: docs/caching.md, "Disk tier (RocksDB)".
//
// EVERY CALL BLOCKS on disk I/O: run them on the libuv thread pool, never on a worker loop. All
// methods are thread-safe; a Writer is used by one thread at a time and must not outlive its tier.
//
// Objects are addressed by (primary key, vary key). The tier assigns its own StoredObject::id
// (unique across restarts; it names the object's chunks): lookup() returns objects carrying that
// id, and read_chunk() must be given such an object, not a memory-tier copy.
//
// Failures never throw. A RocksDB error (I/O error, no space, corruption) is returned as an
// Error and counted; after `error_threshold` consecutive errors healthy() turns false for
// `unhealthy_seconds`, so the server degrades to pass-through, then lets traffic probe again.
// A record that fails its checksum or length check drops the whole object (NotFound): a body is
// complete and correct, or it is not served at all.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/cache/object.hpp"
#include "ghala/core/result.hpp"

namespace ghala::cache {

struct DiskTierOptions {
  std::string path;                               // created if missing
  std::uint64_t max_bytes = 1ull << 30;           // body + record bytes; eviction keeps below
  std::uint64_t max_object_bytes = 256ull << 20;  // larger bodies are refused (Limit)
  std::uint32_t chunk_size = 256u << 10;

  // RocksDB tuning (see docs/caching.md for why these defaults).
  std::uint64_t block_cache_bytes = 32ull << 20;   // metadata blocks; bodies bypass it
  std::uint64_t write_buffer_bytes = 64ull << 20;  // memtable of the chunk column family
  bool separate_bodies = true;  // chunks in RocksDB blob files (key-value separation)
  bool sync_commits = false;    // fsync the WAL at each commit (power-loss durability)

  int error_threshold = 5;     // consecutive errors before healthy() turns false
  int unhealthy_seconds = 30;  // then stay unhealthy this long before allowing a probe
};

struct DiskTierStats {
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;            // approximate: bodies + metadata + per-record overhead
  std::uint64_t inserts = 0;          // committed objects
  std::uint64_t evictions = 0;        // objects evicted for space
  std::uint64_t errors = 0;           // RocksDB errors returned to callers
  std::uint64_t corrupt_dropped = 0;  // objects dropped for a bad checksum, length or record
  bool healthy = true;
};

enum class PurgeMode {
  Hard,  // delete the objects
  Soft,  // keep them, marked stale from `now` (usable for stale-if-error and grace)
};

class DiskTier {
 public:
  using Options = DiskTierOptions;
  class Writer;
  class View;
  using ViewPtr = std::shared_ptr<const View>;
  struct Impl;

  // Opens or creates the store at options.path and recovers from a crash: the chunks of writes
  // that never committed are deleted, and byte/object totals are recomputed from the metadata
  // (time linear in the number of objects, not in their size).
  static Result<std::unique_ptr<DiskTier>> open(Options options);
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // A point-in-time view of the store (a RocksDB snapshot). An object looked up through a view
  // keeps every chunk readable through that view until the view is released, even if it is
  // replaced, purged or evicted meanwhile: a download that has started completes with the body
  // it started with. A view pins the space of whatever is deleted after it was taken, so hold one
  // for one response's stream, not longer. It may outlive the tier (it shares the database).
  ViewPtr view();

  // All stored variants of a primary key, metadata only: chunks empty, chunk_count and
  // chunk_size set. An empty vector when there are none. Records that fail their checks are
  // dropped and skipped. `view`: read as of that view (null: the current state).
  Result<std::vector<ObjectPtr>> lookup(std::string_view primary_key, const View* view = nullptr);

  // Chunk `index` of an object returned by lookup(), insert() or Writer::commit(). Bytes
  // [index * chunk_size, ...) of the body, checked. A missing or bad chunk drops the object and
  // returns NotFound; a caller streaming the body must then abort its response, not truncate it.
  // Give the view the object was looked up through, so that a replacement meanwhile cannot cut
  // the body short.
  Result<Chunk> read_chunk(std::string_view primary_key, const StoredObject& object,
                           std::uint32_t index, const View* view = nullptr);
  // The whole body, every chunk checked, for objects small enough to hold in memory: its large
  // chunks in the body arena (SharedBytes::append_sendable), since it goes to the memory tier.
  Result<std::vector<Chunk>> read_body(std::string_view primary_key, const StoredObject& object,
                                       const View* view = nullptr);

  // Stores an object whose body is in memory (object.chunks, any sizes; re-cut to chunk_size),
  // replacing the stored variant with the same vary key. Returns the stored object (disk id,
  // no chunks).
  Result<ObjectPtr> insert(std::string_view primary_key, const StoredObject& object);

  // Streams a body as it arrives from the origin. `head` gives everything but the body; a
  // non-zero head.body_size is the expected length and commit() refuses any other. Nothing is
  // visible to lookup() until commit().
  Result<std::unique_ptr<Writer>> begin(std::string_view primary_key, const StoredObject& head);

  // Rewrites the metadata of a stored object (a 304 update): status, headers, timings, tags and
  // soft_purged_at from `updated`; the body stays. NotFound if that object (updated.id) is no
  // longer the stored variant.
  Result<ObjectPtr> update_head(std::string_view primary_key, const StoredObject& updated);

  // Purges return how many objects were affected. `now` (Unix seconds) is used by Soft.
  Result<std::size_t> purge(std::string_view primary_key, PurgeMode mode = PurgeMode::Hard,
                            std::int64_t now = 0);
  Result<std::size_t> purge_prefix(std::string_view prefix, PurgeMode mode = PurgeMode::Hard,
                                   std::int64_t now = 0);
  Result<std::size_t> purge_tag(std::string_view tag, PurgeMode mode = PurgeMode::Hard,
                                std::int64_t now = 0);

  DiskTierStats stats() const;
  bool healthy() const;

 private:
  explicit DiskTier(std::unique_ptr<Impl> impl);
  // Appends chunk `index` to `out`: one heap copy, or (`sendable`) as
  // SharedBytes::append_sendable keeps a body for the memory tier.
  Status read_chunk_into(std::string_view primary_key, const StoredObject& object,
                         std::uint32_t index, const View* view, bool sendable,
                         std::vector<Chunk>& out);
  std::unique_ptr<Impl> impl_;
};

class DiskTier::Writer {
 public:
  ~Writer();  // aborts if neither committed nor aborted
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends body bytes, writing full chunks as they fill. Past max_object_bytes the write is
  // aborted and Limit returned; after any error the writer is aborted.
  Status append(std::string_view data);
  // Makes the object visible atomically (replacing the previous variant) and returns it.
  Result<ObjectPtr> commit();
  // Deletes what was written; safe to call more than once.
  void abort();

  std::uint64_t bytes_written() const noexcept;

 private:
  friend class DiskTier;
  struct State;
  explicit Writer(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace ghala::cache
