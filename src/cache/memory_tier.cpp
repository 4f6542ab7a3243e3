#include "ghala/cache/memory_tier.hpp"

#include <algorithm>
#include <bit>

#include "cache/memory_shard.hpp"

namespace ghala::cache {

namespace {

constexpr std::uint32_t kMaxShards = 256;
// Nodes store charges in 32 bits (MemoryNode::charge).
constexpr std::uint64_t kMaxObjectCharge = 0xffffffffULL;

// Heap bytes a string holds: its capacity once it has left the small-string buffer, else its
// length (over-charging short strings by a few bytes keeps the arithmetic simple and safe).
std::uint64_t string_bytes(const std::string& s) noexcept {
  static const std::size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? s.capacity() : s.size();
}

// True when the chunks hold exactly the body: a disk-backed object (chunks empty, body on disk)
// must not become a memory hit without a body.
bool body_in_memory(const StoredObject& obj) noexcept {
  std::uint64_t total = 0;
  for (const Chunk& c : obj.chunks) {
    if (c == nullptr) return false;
    total += c.size();
  }
  return total == obj.body_size;
}

std::uint32_t shard_count_for(const MemoryTier::Options& o) noexcept {
  std::uint32_t n = std::bit_floor(std::clamp<std::uint32_t>(o.shards, 1, kMaxShards));
  while (n > 1 && o.max_bytes / n < MemoryTier::kMinShardBytes) n /= 2;
  return n;
}

}  // namespace

std::uint64_t memory_charge(std::string_view primary_key, const StoredObject& obj) noexcept {
  std::uint64_t c = kMemoryObjectOverhead + primary_key.size() + string_bytes(obj.vary_key);
  c += obj.headers.storage_bytes();  // fields, their index and text, in one block
  // A tag's text lives in the object and, once per shard, as a tag index key: charge it twice.
  if (!obj.tags.empty()) c += kMemoryTagListOverhead;
  for (const std::string& t : obj.tags) c += kMemoryTagOverhead + 2 * string_bytes(t);
  for (const Chunk& ch : obj.chunks) {
    c += kMemoryChunkOverhead + ch.allocated_bytes();
  }
  return c;
}

MemoryTier::MemoryTier(Options options) : policy_(options.policy), max_bytes_(options.max_bytes) {
  const std::uint32_t n = shard_count_for(options);
  const std::uint64_t per_shard = max_bytes_ / n;
  max_object_bytes_ = std::min({options.max_object_bytes, per_shard / 4, kMaxObjectCharge});
  shard_shift_ = 64 - static_cast<std::uint32_t>(std::countr_zero(n));
  shards_.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<MemoryShard>(per_shard, policy_));
  }
}

MemoryTier::~MemoryTier() = default;

MemoryShard& MemoryTier::shard_for(std::string_view primary_key) const noexcept {
  if (shards_.size() == 1) return *shards_.front();
  // Fibonacci hashing: the top bits of the product depend on all bits of the hash, so shard
  // choice stays independent of the bucket the shard's own table picks from the low bits.
  const std::uint64_t hash = std::hash<std::string_view>{}(primary_key);
  return *shards_[(hash * 0x9e3779b97f4a7c15ULL) >> shard_shift_];
}

std::vector<ObjectPtr> MemoryTier::lookup(std::string_view primary_key) {
  std::vector<ObjectPtr> out;
  shard_for(primary_key).lookup(primary_key, out);
  return out;
}

InsertResult MemoryTier::insert(std::string_view primary_key, ObjectPtr obj) {
  if (obj == nullptr || !body_in_memory(*obj)) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return InsertResult{InsertOutcome::NoBody, 0, 0};
  }
  const std::uint64_t charge = memory_charge(primary_key, *obj);
  if (charge > max_object_bytes_) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return InsertResult{InsertOutcome::TooLarge, charge, 0};
  }
  MemoryShard& shard = shard_for(primary_key);
  return shard.insert(primary_key, std::move(obj), charge);
}

std::uint64_t MemoryTier::erase(std::string_view primary_key) {
  return shard_for(primary_key).erase(primary_key);
}

std::uint64_t MemoryTier::erase_variant(std::string_view primary_key, std::string_view vary_key) {
  return shard_for(primary_key).erase_variant(primary_key, vary_key);
}

std::uint64_t MemoryTier::erase_prefix(std::string_view prefix) {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->erase_prefix(prefix);
  return n;
}

std::uint64_t MemoryTier::erase_tag(std::string_view tag) {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->erase_tag(tag);
  return n;
}

std::uint64_t MemoryTier::soft_purge(std::string_view primary_key, std::int64_t now) {
  return shard_for(primary_key).soft_purge(primary_key, now);
}

std::uint64_t MemoryTier::soft_purge_prefix(std::string_view prefix, std::int64_t now) {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->soft_purge_prefix(prefix, now);
  return n;
}

std::uint64_t MemoryTier::soft_purge_tag(std::string_view tag, std::int64_t now) {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->soft_purge_tag(tag, now);
  return n;
}

std::vector<std::pair<std::string, ObjectPtr>> MemoryTier::snapshot() const {
  std::vector<std::pair<std::string, ObjectPtr>> out;
  for (const auto& s : shards_) s->snapshot(out);
  return out;
}

std::vector<std::string> MemoryTier::keys() const {
  std::vector<std::string> out;
  for (const auto& s : shards_) s->keys(out);
  return out;
}

MemoryTierStats MemoryTier::stats() const {
  MemoryTierStats s;
  s.capacity_bytes = max_bytes_;
  for (const auto& shard : shards_) shard->add_stats(s);
  s.refused = refused_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ghala::cache
