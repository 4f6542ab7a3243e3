#pragma once
// The disk tier in the request path: every DiskTier call blocks, so each one runs here as a job
// on the libuv thread pool (uv_queue_work) and reports back on the worker's loop.
//
//   lookup   a memory miss: the stored variants of the key, the one matching the request's Vary
//            fields, and its body. A body that fits in the memory tier is read whole (every chunk
//            checked) so the object can be promoted and served like a memory hit; a larger one
//            only has its first chunk read (so a damaged object is a miss already here) and is
//            streamed by DiskBodyReader. A corrupt object is dropped by the tier: a miss.
//   insert   write-through of an object just stored in the memory tier (fire and forget).
//   stream   DiskWriteStream: a body too large for the memory tier, written through a
//            DiskTier::Writer as it is relayed. Appends run one at a time per stream; the bytes
//            waiting for the disk are bounded per stream and for all streams, and past a bound
//            the store is dropped (never the response). Committed when the response is complete,
//            aborted otherwise.
//   update   a 304 refreshed a stored object: the disk copy takes the new head.
//
// Degrading: a tier that is not healthy() is skipped (reads: a miss; writes: dropped, counted),
// and every failed call is counted (ghala_cache_storage_errors_total) and logged, at most one
// line per 10 s. Nothing here throws across a libuv callback, and a failure never fails the
// request: the cache just behaves as memory-only or pass-through.
//
// Lifetime: a job holds the tier by shared_ptr, so a reload or shutdown never frees it under a
// running job. Jobs report to their requester through a weak link (DiskLink) or a detach, so a
// request that ended meanwhile (the client went away) is simply not called.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ghala/cache/disk_tier.hpp"
#include "ghala/cache/object.hpp"
#include "ghala/http/header_map.hpp"
#include "ghala/observe/metrics.hpp"

namespace ghala::server {

// Counts a failed disk call and logs it (rate-limited, process-wide). Any thread.
void disk_failed(observe::StorageOp op, const Error& error);

// An object read from disk is "disk-backed" when its body is not in memory: serve it with
// DiskBodyReader, never by iterating its (empty) chunks.
inline bool disk_backed(const cache::StoredObject& obj) {
  return obj.chunks.empty() && obj.body_size > 0;
}

// A requester's liveness, checked on the loop when a job completes.
using DiskLink = std::weak_ptr<void>;

struct DiskFound {
  cache::ObjectPtr object;   // null: nothing usable on disk (a miss)
  cache::Chunk first_chunk;  // disk-backed objects: chunk 0, already checked
  // Disk-backed objects: the view the object was found through. Reading the rest of the body
  // through it means a replacement or purge meanwhile cannot cut the download short.
  cache::DiskTier::ViewPtr view;
  bool failed = false;  // the lookup failed (counted and logged): a miss
};

// A memory miss: looks the key up on disk. `memory_max_object`: bodies up to this size are read
// whole (the object comes back with its chunks, ready to be promoted). `done` runs on the loop
// unless `link` expired.
void disk_lookup(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 http::HeaderMap request_headers, std::uint64_t memory_max_object, DiskLink link,
                 std::function<void(DiskFound)> done);

// Write-through of a complete in-memory object. Dropped (counted) when the tier is unhealthy or
// too many objects or bytes already wait for the disk.
void disk_insert(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 cache::ObjectPtr object);

// A 304 refreshed `updated` (the old object's body with a new head). A disk-backed object is
// updated in place (update_head by its disk id); for an in-memory one the disk's variant is
// updated when it carries the same validators, else the whole object is written.
void disk_update(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 cache::ObjectPtr updated);

// Invalidation (RFC 9111 §4.4): every variant of `key` leaves the disk tier. Asynchronous: a
// request arriving before the job ran may still find the old object on disk.
void disk_erase(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key);

// Streams one body to the disk tier as it is relayed (loop thread only). Owned by the CacheFlow
// that fills it; its jobs keep it alive until they end.
class DiskWriteStream : public std::enable_shared_from_this<DiskWriteStream> {
 public:
  // Bytes a stream may hold waiting for the disk, and all streams together; past either, the
  // store is dropped (the response goes on).
  static constexpr std::size_t kMaxQueued = 8u << 20;
  static constexpr std::size_t kMaxQueuedTotal = 64u << 20;
  // Appends are handed to the disk in pieces of about this size.
  static constexpr std::size_t kBatch = 256u << 10;

  // Null when the tier is unhealthy (counted as a dropped write).
  static std::shared_ptr<DiskWriteStream> begin(uv_loop_t* loop,
                                                std::shared_ptr<cache::DiskTier> tier,
                                                std::string key, cache::StoredObject head);
  ~DiskWriteStream();
  DiskWriteStream(const DiskWriteStream&) = delete;
  DiskWriteStream& operator=(const DiskWriteStream&) = delete;

  void append(std::string_view data);
  void commit();  // the response is complete
  void abort();   // the response was cut short or is not stored after all
  bool dropped() const noexcept { return state_ == State::Aborted; }

 private:
  enum class State : std::uint8_t { Open, Committing, Aborted, Done };
  struct Job;
  DiskWriteStream(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                  cache::StoredObject head);
  void kick();
  void job_done(Job& job);
  void release(std::size_t n) noexcept;  // bytes no longer held for the disk

  uv_loop_t* loop_;
  std::shared_ptr<cache::DiskTier> tier_;
  std::string key_;
  cache::StoredObject head_;
  std::shared_ptr<cache::DiskTier::Writer> writer_;  // used by one job at a time
  std::string queued_;
  std::size_t held_ = 0;  // queued_ plus the batch being written, counted in the process total
  bool busy_ = false;
  State state_ = State::Open;
};

// Receives a disk-backed body (loop thread).
class DiskBodySink {
 public:
  virtual ~DiskBodySink() = default;
  // `data` holds the next bytes of the requested range; `last`: the range is complete.
  virtual void on_disk_body(cache::Chunk chunk, std::size_t offset, std::size_t length,
                            bool last) = 0;
  // A chunk could not be read or failed its check: the response must be aborted.
  virtual void on_disk_body_error() = 0;
};

// Reads a disk-backed object's byte range chunk by chunk, one chunk in flight at a time; the
// sink asks for the next one (read_next) when the client can take more, so a slow client costs
// one chunk of memory. Like the file reader, it outlives its sink while a read is in flight.
class DiskBodyReader {
 public:
  // `view`: the one `object` was looked up through (DiskFound::view); null reads the current
  // state, which a replacement of the object can cut short.
  DiskBodyReader(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 cache::ObjectPtr object, cache::Chunk first_chunk, cache::DiskTier::ViewPtr view,
                 std::uint64_t offset, std::uint64_t length, DiskBodySink* sink);
  DiskBodyReader(const DiskBodyReader&) = delete;
  DiskBodyReader& operator=(const DiskBodyReader&) = delete;

  void read_next();  // no-op while a read is in flight or when the range is complete
  bool busy() const noexcept { return busy_; }
  bool done() const noexcept { return left_ == 0; }
  // The sink is going away: deletes the reader now, or when its read completes.
  void detach();

 private:
  ~DiskBodyReader() = default;
  void deliver(const cache::Chunk& chunk);

  uv_loop_t* loop_;
  std::shared_ptr<cache::DiskTier> tier_;
  std::string key_;
  cache::ObjectPtr object_;
  cache::Chunk first_chunk_;
  cache::DiskTier::ViewPtr view_;
  std::uint64_t offset_;  // next body byte to deliver
  std::uint64_t left_;
  DiskBodySink* sink_;
  bool busy_ = false;
  uv_work_t work_{};
  Result<cache::Chunk> result_{cache::Chunk()};
};

}  // namespace ghala::server
