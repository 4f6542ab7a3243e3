#pragma once
// The memory tier's nodes and the hash index that owns them. Internal to src/cache.
//
// A node is one resident object (one variant) with its primary key, in one allocation: the key's
// bytes follow the struct. The index is an intrusive chained hash table of nodes: each node links
// to the next one in its bucket, and the variants of a key are simply the nodes with that key
// (all in the same bucket, since they have the same hash). Against std::unordered_map<std::string,
// node> this saves the map's own node and the key's separate allocation: about 70 bytes per
// object (docs/caching.md, "Measured overhead per object"). Buckets are a power of two at most
// one node each on average, so a chain is short and a lookup compares a stored 32-bit hash
// before it compares keys.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "ghala/cache/object.hpp"

namespace ghala::cache {

enum class MemoryQueue : std::uint8_t { Small, Main };

class MemoryNode {
 public:
  // Frees a node made by make(): the struct and its key in one.
  struct Free {
    void operator()(MemoryNode* n) const noexcept;
  };
  using Ptr = std::unique_ptr<MemoryNode, Free>;

  // A node for `key` (at most 4 GiB: MemoryTier charges the key and caps charges below that),
  // with no object. Throws std::bad_alloc only.
  static Ptr make(std::string_view key);
  MemoryNode(const MemoryNode&) = delete;
  MemoryNode& operator=(const MemoryNode&) = delete;

  std::string_view key() const noexcept {
    return {reinterpret_cast<const char*>(this + 1), key_size_};
  }
  std::uint32_t hash() const noexcept { return hash_; }

  ObjectPtr obj;
  MemoryNode* newer = nullptr;  // queue links (towards the head)
  MemoryNode* older = nullptr;  // (towards the tail, the eviction end)
  // 32 bits, with the key inline, keep a node with a 46-byte key in a 112-byte malloc chunk;
  // MemoryTier caps an object's charge below 4 GiB.
  std::uint32_t charge = 0;
  // Written by lookups holding the lock in shared mode; relaxed is enough, a lost increment
  // only makes the object look slightly less popular.
  std::atomic<std::uint8_t> freq{0};
  MemoryQueue queue = MemoryQueue::Small;

 private:
  friend class MemoryIndex;
  MemoryNode() = default;
  ~MemoryNode() = default;

  MemoryNode* next_in_bucket_ = nullptr;
  std::uint32_t hash_ = 0;  // low 32 bits of std::hash of the key
  std::uint32_t key_size_ = 0;
};

// The hash of a key as the index uses it.
std::uint32_t memory_key_hash(std::string_view key) noexcept;

class MemoryIndex {
 public:
  MemoryIndex() = default;
  ~MemoryIndex();
  MemoryIndex(const MemoryIndex&) = delete;
  MemoryIndex& operator=(const MemoryIndex&) = delete;

  // Takes ownership of n (with its key set by MemoryNode::make). Throws std::bad_alloc only
  // (growing the bucket array), and then leaves the index as it was.
  void insert(MemoryNode::Ptr n);
  // Unlinks n and gives it back.
  MemoryNode::Ptr release(MemoryNode* n) noexcept;

  // The first node stored under key for which pred(node) is true, or nullptr.
  template <class Pred>
  MemoryNode* find(std::string_view key, Pred&& pred) const {
    if (buckets_.empty()) return nullptr;
    const std::uint32_t h = memory_key_hash(key);
    for (MemoryNode* n = buckets_[h & mask()]; n != nullptr; n = n->next_in_bucket_) {
      if (n->hash_ == h && n->key() == key && pred(n)) return n;
    }
    return nullptr;
  }
  // Every node stored under key (the key's variants).
  template <class F>
  void for_each_variant(std::string_view key, F&& f) const {
    find(key, [&](MemoryNode* n) {
      f(n);
      return false;
    });
  }
  template <class F>
  void for_each_node(F&& f) const {
    for (MemoryNode* head : buckets_) {
      for (MemoryNode* n = head; n != nullptr; n = n->next_in_bucket_) f(n);
    }
  }
  // f(key) once per distinct key: for the first node of each key in its bucket.
  template <class F>
  void for_each_key(F&& f) const {
    for_each_node([&](MemoryNode* n) {
      if (!key_seen_before(n)) f(n->key());
    });
  }

  std::size_t nodes() const noexcept { return nodes_; }
  std::size_t keys() const noexcept { return keys_; }

 private:
  std::size_t mask() const noexcept { return buckets_.size() - 1; }
  // True when a node earlier in n's bucket has n's key.
  bool key_seen_before(const MemoryNode* n) const noexcept;
  bool has_other_with_key(const MemoryNode* n) const noexcept;
  void grow();

  std::vector<MemoryNode*> buckets_;  // owning: each chain's nodes belong to the index
  std::size_t nodes_ = 0;
  std::size_t keys_ = 0;
};

}  // namespace ghala::cache
