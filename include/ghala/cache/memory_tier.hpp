#pragma once
// The memory tier: a byte-bounded, thread-safe store of StoredObjects shared by all worker
// threads, in front of the RocksDB tier.
//
// Keys. An entry is found by its primary key (the normalised URL the cache-key phase builds) and
// holds every stored variant of that URL; variants differ by StoredObject::vary_key (RFC 9111
// §4.1). lookup() returns all of them and the caller picks with vary_matches(), because only the
// caller has the request. Inserting a variant whose vary_key is already stored replaces it.
//
// Memory. Each object is charged memory_charge() bytes: its body, its header fields, its key,
// vary key and tags at their allocated size, plus fixed per-object, per-field, per-chunk and
// per-tag overheads measured on this implementation (docs/caching.md, "Memory tier"). After
// insert() returns, the charged total never exceeds Options::max_bytes. Bodies are not copied:
// chunks are shared with whoever else holds them (a connection still writing a body keeps it alive
// after eviction, and that memory is the connection's, not the tier's).
//
// Eviction. S3-FIFO by default (Yang et al., "FIFO queues are all you need for cache eviction",
// SOSP 2023): a small FIFO that filters one-hit wonders, a main FIFO with 2-bit reinsertion and a
// ghost set of recently filtered keys. LRU is available for comparison. See docs/caching.md for
// the policy and measured hit ratios.
//
// Concurrency. The tier is split into shards by a hash of the primary key, each with its own
// reader/writer lock and its own share of the byte budget (as RocksDB's sharded LRUCache does).
// Under S3-FIFO a hit only bumps an atomic counter, so concurrent lookups take the shard's lock
// in shared mode and never serialise; under LRU a hit moves the object and needs the lock
// exclusively. Evicted and erased objects are released after the lock is dropped, so freeing a
// large body never stalls other threads on the shard.
//
// Errors. Nothing here throws except std::bad_alloc.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ghala/cache/object.hpp"

namespace ghala::cache {

class MemoryShard;  // src/cache/memory_shard.hpp

enum class EvictionPolicy : std::uint8_t {
  S3Fifo,  // default: scan-resistant, lock-free hits
  Lru,     // reference policy: hits need an exclusive lock
};

enum class InsertOutcome : std::uint8_t {
  Stored,    // a new variant
  Replaced,  // replaced the stored variant with the same vary_key (keeps its queue position)
  TooLarge,  // memory_charge() above max_object_bytes(): not stored, nothing evicted
  NoBody,    // null object, or chunks do not hold the whole body (a disk-backed object)
};

struct InsertResult {
  InsertOutcome outcome = InsertOutcome::Stored;
  std::uint64_t charge = 0;   // bytes charged for the object (computed even when refused)
  std::uint64_t evicted = 0;  // objects evicted to make room
  bool stored() const noexcept {
    return outcome == InsertOutcome::Stored || outcome == InsertOutcome::Replaced;
  }
};

struct MemoryTierStats {
  std::uint64_t objects = 0;
  std::uint64_t keys = 0;
  std::uint64_t bytes = 0;           // charged bytes, <= capacity_bytes
  std::uint64_t capacity_bytes = 0;  // Options::max_bytes
  std::uint64_t small_bytes = 0;     // S3-FIFO: bytes in the small queue (0 under LRU)
  std::uint64_t ghost_entries = 0;
  std::uint64_t hits = 0;    // lookups that found at least one variant of the key
  std::uint64_t misses = 0;  // lookups that found none
  std::uint64_t inserts = 0;
  std::uint64_t replacements = 0;
  std::uint64_t refused = 0;           // TooLarge and NoBody
  std::uint64_t evicted_capacity = 0;  // objects evicted by the policy to stay under max_bytes
  std::uint64_t evicted_purge = 0;     // objects removed by erase*() (hard purge)
  std::uint64_t soft_purged = 0;       // objects replaced by soft-purged copies
  std::uint64_t ghost_admissions = 0;  // S3-FIFO: inserts that went straight to main (ghost hit)
};

class MemoryTier {
 public:
  struct Options {
    std::uint64_t max_bytes = std::uint64_t{256} << 20;
    // Upper bound on one object's charge. The effective bound is also at most a quarter of a
    // shard's budget and below 4 GiB (max_object_bytes() says which applies): a larger object
    // would flush most of its shard on every insert, and large objects are the disk tier's job.
    std::uint64_t max_object_bytes = std::uint64_t{4} << 20;
    // Rounded down to a power of two in [1, 256], and reduced so each shard gets at least
    // kMinShardBytes: a tiny budget split many ways would evict almost at random.
    std::uint32_t shards = 16;
    EvictionPolicy policy = EvictionPolicy::S3Fifo;
  };
  static constexpr std::uint64_t kMinShardBytes = std::uint64_t{1} << 20;

  explicit MemoryTier(Options options);
  ~MemoryTier();
  MemoryTier(const MemoryTier&) = delete;
  MemoryTier& operator=(const MemoryTier&) = delete;

  // Every stored variant of the key (empty on a miss), in no particular order. Counts as an
  // access of each returned variant: variants of one URL are usually popular together, and
  // which one the request selects is only known to the caller.
  std::vector<ObjectPtr> lookup(std::string_view primary_key);

  // Stores obj under primary_key, replacing the variant with the same vary_key, and evicts until
  // the tier is within max_bytes. The object must hold its whole body in chunks.
  InsertResult insert(std::string_view primary_key, ObjectPtr obj);

  // Hard purge: removes objects and returns how many. erase_prefix scans every key (an admin
  // operation); erase_tag uses the tag index (StoredObject::tags).
  std::uint64_t erase(std::string_view primary_key);
  std::uint64_t erase_variant(std::string_view primary_key, std::string_view vary_key);
  std::uint64_t erase_prefix(std::string_view prefix);
  std::uint64_t erase_tag(std::string_view tag);

  // Soft purge: replaces each matching object by a copy with soft_purged_at = now (objects are
  // immutable; readers holding the old pointer are unaffected). Already soft-purged objects keep
  // their earlier time. Returns how many objects were marked now.
  std::uint64_t soft_purge(std::string_view primary_key, std::int64_t now);
  std::uint64_t soft_purge_prefix(std::string_view prefix, std::int64_t now);
  std::uint64_t soft_purge_tag(std::string_view tag, std::int64_t now);

  // A copy of the contents (key, object), shard by shard, e.g. to write the tier back to disk.
  // Not an access; not a consistent snapshot across shards.
  std::vector<std::pair<std::string, ObjectPtr>> snapshot() const;
  std::vector<std::string> keys() const;

  MemoryTierStats stats() const;
  EvictionPolicy policy() const noexcept { return policy_; }
  std::uint32_t shard_count() const noexcept { return static_cast<std::uint32_t>(shards_.size()); }
  std::uint64_t max_object_bytes() const noexcept { return max_object_bytes_; }

 private:
  MemoryShard& shard_for(std::string_view primary_key) const noexcept;

  EvictionPolicy policy_;
  std::uint64_t max_bytes_;
  std::uint64_t max_object_bytes_;
  std::uint32_t shard_shift_;  // shard = (mixed hash) >> shard_shift_
  std::vector<std::unique_ptr<MemoryShard>> shards_;
  std::atomic<std::uint64_t> refused_{0};
};

// Fixed costs charged per object (beyond its key, header and body bytes), measured with
// bench/cache_memory_overhead.cpp (docs/caching.md). They are charges, not sizeofs: they include
// allocator rounding, the index and the ghost entry each resident object may leave behind.
// kMemoryObjectOverhead: the node (key inline) and its malloc rounding, its bucket slot, the
// StoredObject with its control block, the ghost entry, the header block's malloc rounding.
inline constexpr std::uint64_t kMemoryObjectOverhead = 360;
inline constexpr std::uint64_t kMemoryChunkOverhead = 48;    // vector slot, malloc rounding
inline constexpr std::uint64_t kMemoryTagListOverhead = 32;  // a tagged object's tag vector
inline constexpr std::uint64_t kMemoryTagOverhead = 96;      // one tag and its index entry

// What the tier charges for storing obj under primary_key.
std::uint64_t memory_charge(std::string_view primary_key, const StoredObject& obj) noexcept;

}  // namespace ghala::cache
