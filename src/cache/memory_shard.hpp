#pragma once
// One shard of the memory tier: an index from primary key to variants, the eviction queues, a
// ghost set and a tag index, under one reader/writer lock. Internal to src/cache.
//
// S3-FIFO (Juncheng Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023),
// by bytes rather than object counts:
//   - A new object enters the small queue S (10% of the shard's bytes), unless its identity is in
//     the ghost set G, which means it was filtered out of S recently and came back: then it enters
//     the main queue M directly.
//   - A hit sets no link, it only increments the object's 2-bit frequency (capped at 3). That is
//     why lookups can share the lock.
//   - To make room: while S holds more than its share, its oldest object leaves S; if it was hit
//     while in S it moves to M (frequency cleared), otherwise it is evicted and its identity goes
//     to G. Otherwise M's oldest object is reinserted at M's head with its frequency decremented
//     if it is non-zero, else evicted (FIFO-reinsertion, i.e. CLOCK with a 2-bit counter).
//   - G remembers at most as many identities as the shard holds objects (the paper sizes G like M).
// Most objects in a CDN trace are requested once (one-hit wonders); S evicts them after a short
// stay without touching the objects that earned a place in M, which plain LRU cannot do.
//
// LRU (for comparison, and for operators who want it): one queue, a hit moves the object to the
// head, eviction takes the tail.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cache/memory_index.hpp"
#include "ghala/cache/memory_tier.hpp"
#include "ghala/cache/object.hpp"

namespace ghala::cache {

// An intrusive FIFO of nodes with its byte total. Nodes are owned by the index, not the list.
class MemoryNodeList {
 public:
  void push_head(MemoryNode* n) noexcept;
  void unlink(MemoryNode* n) noexcept;
  void set_charge(MemoryNode* n, std::uint64_t charge) noexcept;
  MemoryNode* tail() const noexcept { return tail_; }
  bool empty() const noexcept { return head_ == nullptr; }
  std::uint64_t bytes() const noexcept { return bytes_; }

 private:
  MemoryNode* head_ = nullptr;
  MemoryNode* tail_ = nullptr;
  std::uint64_t bytes_ = 0;
};

// Identities (64-bit hashes of key and vary key) of objects recently evicted from S, in FIFO
// order. A re-added or taken identity leaves a stale FIFO entry behind, recognised by its
// sequence number; the FIFO is bounded too, so stale entries cannot accumulate.
//
// Compact, because a full ghost holds as many entries as the shard holds objects: the FIFO
// holds only ids (an entry's sequence number is implied by its position), and the set is an
// open-addressing table (linear probing, at most 3/4 full, backward-shift deletion) of ids and
// 32-bit sequence numbers, about 20-40 bytes per entry where std::unordered_map and a deque of
// pairs took about 60. 32 bits cannot wrap within the FIFO's length.
class MemoryGhostSet {
 public:
  void add(std::uint64_t id, std::size_t limit);
  bool take(std::uint64_t id);  // true (and forgets it) if present
  std::size_t size() const noexcept { return live_; }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};
  std::size_t home(std::uint64_t id) const noexcept {
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  std::size_t find(std::uint64_t id) const noexcept;
  void erase_at(std::size_t i) noexcept;
  void grow();

  std::deque<std::uint64_t> fifo_;  // ids, oldest first; the front's seq is next_seq_ - size
  std::vector<std::uint64_t> ids_;  // table slots; 0 = empty (an id of 0 is stored as 1)
  std::vector<std::uint32_t> seqs_;
  std::size_t live_ = 0;
  unsigned shift_ = 64;  // 64 - log2(table size)
  std::uint32_t next_seq_ = 0;
};

class MemoryShard {
 public:
  MemoryShard(std::uint64_t capacity, EvictionPolicy policy);
  ~MemoryShard();
  MemoryShard(const MemoryShard&) = delete;
  MemoryShard& operator=(const MemoryShard&) = delete;

  void lookup(std::string_view key, std::vector<ObjectPtr>& out);
  InsertResult insert(std::string_view key, ObjectPtr obj, std::uint64_t charge);

  std::uint64_t erase(std::string_view key);
  std::uint64_t erase_variant(std::string_view key, std::string_view vary_key);
  std::uint64_t erase_prefix(std::string_view prefix);
  std::uint64_t erase_tag(std::string_view tag);

  std::uint64_t soft_purge(std::string_view key, std::int64_t now);
  std::uint64_t soft_purge_prefix(std::string_view prefix, std::int64_t now);
  std::uint64_t soft_purge_tag(std::string_view tag, std::int64_t now);

  void snapshot(std::vector<std::pair<std::string, ObjectPtr>>& out) const;
  void keys(std::vector<std::string>& out) const;
  void add_stats(MemoryTierStats& s) const;

 private:
  // Nodes and objects removed under the lock, released after it: destroying the last reference
  // to a large body must not stall the shard.
  struct Graveyard {
    std::vector<MemoryNode::Ptr> nodes;
    std::vector<ObjectPtr> objects;
  };
  // std::hash over string_view, for heterogeneous lookup (find(string_view) without a string).
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using TagIndex =
      std::unordered_map<std::string, std::unordered_set<MemoryNode*>, StringHash, std::equal_to<>>;
  // A soft-purge candidate: where the object was and which object it was.
  struct Marked {
    std::string key;
    ObjectPtr old_obj;
    ObjectPtr new_obj;
  };

  MemoryNodeList& list_of(MemoryNode* n) noexcept {
    return n->queue == MemoryQueue::Small ? small_ : main_;
  }
  std::uint64_t used() const noexcept { return small_.bytes() + main_.bytes(); }

  void evict_until_fits(MemoryNode* protect, Graveyard& dead, std::uint64_t& evicted);
  void evict_from_small(MemoryNode* n, Graveyard& dead, std::uint64_t& evicted);
  void evict_from_main(MemoryNode* n, Graveyard& dead, std::uint64_t& evicted);
  MemoryNode* find_variant(std::string_view key, std::string_view vary_key) const;
  // Unlinks n from its queue, the tag index and the index, and moves it to dead.
  void remove(MemoryNode* n, Graveyard& dead);
  // Removes every variant stored under key; returns how many.
  std::uint64_t remove_key(std::string_view key, Graveyard& dead);
  void replace_object(MemoryNode* n, ObjectPtr obj, std::uint64_t charge, Graveyard& dead);
  void add_tags(MemoryNode* n);
  void remove_tags(MemoryNode* n);
  std::vector<MemoryNode*> variants_of(std::string_view key) const;
  std::vector<MemoryNode*> nodes_with_prefix(std::string_view prefix) const;
  std::vector<MemoryNode*> nodes_with_tag(std::string_view tag) const;
  std::uint64_t soft_purge_nodes(const std::function<std::vector<MemoryNode*>()>& select,
                                 std::int64_t now);

  const std::uint64_t capacity_;
  const std::uint64_t small_target_;
  const EvictionPolicy policy_;

  mutable std::shared_mutex mu_;
  MemoryIndex index_;  // owns the nodes
  TagIndex tags_;
  MemoryNodeList small_;  // S3-FIFO's S; empty under LRU
  MemoryNodeList main_;   // S3-FIFO's M; the LRU list under LRU (head = most recent)
  MemoryGhostSet ghost_;

  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::uint64_t inserts_ = 0;
  std::uint64_t replacements_ = 0;
  std::uint64_t evicted_capacity_ = 0;
  std::uint64_t evicted_purge_ = 0;
  std::uint64_t soft_purged_ = 0;
  std::uint64_t ghost_admissions_ = 0;
};

// The identity the ghost set remembers: key and vary key, hashed.
std::uint64_t memory_object_id(std::string_view key, std::string_view vary_key) noexcept;

}  // namespace ghala::cache
