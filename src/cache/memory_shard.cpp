#include "cache/memory_shard.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <mutex>

namespace ghala::cache {

namespace {

constexpr std::uint8_t kMaxFreq = 3;  // the paper's 2-bit counter
// S3-FIFO's small queue share. The paper finds 10% works across its traces (SOSP'23 §4.2).
constexpr std::uint64_t kSmallPercent = 10;
// The ghost set never shrinks below this, so a nearly empty shard still learns.
constexpr std::size_t kMinGhostEntries = 64;

}  // namespace

std::uint64_t memory_object_id(std::string_view key, std::string_view vary_key) noexcept {
  const std::uint64_t a = std::hash<std::string_view>{}(key);
  const std::uint64_t b = std::hash<std::string_view>{}(vary_key);
  // boost::hash_combine's mixing, widened to 64 bits.
  return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
}

// ---- MemoryNodeList ----

void MemoryNodeList::push_head(MemoryNode* n) noexcept {
  n->newer = nullptr;
  n->older = head_;
  if (head_ != nullptr) head_->newer = n;
  head_ = n;
  if (tail_ == nullptr) tail_ = n;
  bytes_ += n->charge;
}

void MemoryNodeList::unlink(MemoryNode* n) noexcept {
  (n->newer != nullptr ? n->newer->older : head_) = n->older;
  (n->older != nullptr ? n->older->newer : tail_) = n->newer;
  n->newer = n->older = nullptr;
  bytes_ -= n->charge;
}

void MemoryNodeList::set_charge(MemoryNode* n, std::uint64_t charge) noexcept {
  bytes_ = bytes_ - n->charge + charge;
  n->charge = static_cast<std::uint32_t>(charge);
}

// ---- MemoryGhostSet ----

void MemoryGhostSet::add(std::uint64_t id, std::size_t limit) {
  if (id == 0) id = 1;
  const std::uint32_t seq = next_seq_++;
  std::size_t i = find(id);
  if (i == kNone) {
    if ((live_ + 1) * 4 > ids_.size() * 3) grow();
    for (i = home(id); ids_[i] != 0; i = (i + 1) & (ids_.size() - 1)) {
    }
    ids_[i] = id;
    ++live_;
  }
  seqs_[i] = seq;
  fifo_.push_back(id);
  while (fifo_.size() > limit) {
    const std::uint64_t old_id = fifo_.front();
    const auto old_seq = static_cast<std::uint32_t>(next_seq_ - fifo_.size());
    fifo_.pop_front();
    const std::size_t at = find(old_id);
    if (at != kNone && seqs_[at] == old_seq) erase_at(at);
  }
}

bool MemoryGhostSet::take(std::uint64_t id) {
  const std::size_t at = find(id == 0 ? 1 : id);
  if (at == kNone) return false;
  erase_at(at);
  return true;
}

std::size_t MemoryGhostSet::find(std::uint64_t id) const noexcept {
  if (ids_.empty()) return kNone;
  const std::size_t mask = ids_.size() - 1;
  for (std::size_t i = home(id); ids_[i] != 0; i = (i + 1) & mask) {
    if (ids_[i] == id) return i;
  }
  return kNone;
}

// Backward-shift deletion: later entries of the probe run move into the hole when their home
// slot does not lie between the hole and them, so lookups never need tombstones.
void MemoryGhostSet::erase_at(std::size_t i) noexcept {
  const std::size_t mask = ids_.size() - 1;
  for (std::size_t j = (i + 1) & mask; ids_[j] != 0; j = (j + 1) & mask) {
    if (((j - home(ids_[j])) & mask) >= ((j - i) & mask)) {
      ids_[i] = ids_[j];
      seqs_[i] = seqs_[j];
      i = j;
    }
  }
  ids_[i] = 0;
  --live_;
}

void MemoryGhostSet::grow() {
  std::vector<std::uint64_t> old_ids = std::move(ids_);
  std::vector<std::uint32_t> old_seqs = std::move(seqs_);
  const std::size_t size = old_ids.empty() ? 64 : 2 * old_ids.size();
  ids_.assign(size, 0);
  seqs_.assign(size, 0);
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(size));
  for (std::size_t k = 0; k < old_ids.size(); ++k) {
    if (old_ids[k] == 0) continue;
    std::size_t i = home(old_ids[k]);
    while (ids_[i] != 0) i = (i + 1) & (size - 1);
    ids_[i] = old_ids[k];
    seqs_[i] = old_seqs[k];
  }
}

// ---- MemoryShard ----

MemoryShard::MemoryShard(std::uint64_t capacity, EvictionPolicy policy)
    : capacity_(capacity), small_target_(capacity * kSmallPercent / 100), policy_(policy) {}

// The index owns the nodes; the queues and the tag index only point at them.
MemoryShard::~MemoryShard() = default;

void MemoryShard::lookup(std::string_view key, std::vector<ObjectPtr>& out) {
  const std::size_t before = out.size();
  if (policy_ == EvictionPolicy::Lru) {
    std::unique_lock lock(mu_);
    index_.for_each_variant(key, [&](MemoryNode* n) {
      main_.unlink(n);
      main_.push_head(n);
      out.push_back(n->obj);
    });
  } else {
    std::shared_lock lock(mu_);
    index_.for_each_variant(key, [&](MemoryNode* n) {
      // Load-then-store instead of a read-modify-write: popular objects sit at the cap, so the
      // common case writes nothing and their cache line stays shared between cores.
      const std::uint8_t f = n->freq.load(std::memory_order_relaxed);
      if (f < kMaxFreq) n->freq.store(static_cast<std::uint8_t>(f + 1), std::memory_order_relaxed);
      out.push_back(n->obj);
    });
  }
  (out.size() > before ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
}

MemoryNode* MemoryShard::find_variant(std::string_view key, std::string_view vary_key) const {
  return index_.find(key, [&](const MemoryNode* n) { return n->obj->vary_key == vary_key; });
}

InsertResult MemoryShard::insert(std::string_view key, ObjectPtr obj, std::uint64_t charge) {
  InsertResult result{InsertOutcome::Stored, charge, 0};
  const std::uint64_t id = memory_object_id(key, obj->vary_key);
  // Allocated before the lock (shorter critical section). Unused on a replacement.
  MemoryNode::Ptr fresh = MemoryNode::make(key);
  Graveyard dead;  // declared before the lock: released after it
  std::unique_lock lock(mu_);
  MemoryNode* node = find_variant(key, obj->vary_key);
  if (node != nullptr) {
    // Same variant: a newer response (or a 304 update) for an object already resident. It keeps
    // its place and its frequency; under LRU it counts as a use.
    replace_object(node, std::move(obj), charge, dead);
    if (policy_ == EvictionPolicy::Lru) {
      main_.unlink(node);
      main_.push_head(node);
    }
    result.outcome = InsertOutcome::Replaced;
    ++replacements_;
  } else {
    node = fresh.get();
    node->charge = static_cast<std::uint32_t>(charge);
    node->obj = std::move(obj);
    index_.insert(std::move(fresh));
    if (policy_ == EvictionPolicy::Lru) {
      node->queue = MemoryQueue::Main;
    } else if (ghost_.take(id)) {
      node->queue = MemoryQueue::Main;
      ++ghost_admissions_;
    }
    list_of(node).push_head(node);
    ++inserts_;
    add_tags(node);
  }
  evict_until_fits(node, dead, result.evicted);
  return result;
}

void MemoryShard::replace_object(MemoryNode* n, ObjectPtr obj, std::uint64_t charge,
                                 Graveyard& dead) {
  remove_tags(n);
  dead.objects.push_back(std::move(n->obj));
  n->obj = std::move(obj);
  list_of(n).set_charge(n, charge);
  add_tags(n);
}

// Evicts until the shard is within its budget, never evicting `protect` (the object just
// stored). Terminates: protect's charge is at most the capacity, so while the shard is over
// budget some other node exists, and every step either evicts a node, moves one from S to M
// (at most once per node) or lowers a frequency.
void MemoryShard::evict_until_fits(MemoryNode* protect, Graveyard& dead, std::uint64_t& evicted) {
  while (used() > capacity_) {
    if (policy_ == EvictionPolicy::Lru) {
      MemoryNode* victim = main_.tail();
      assert(victim != nullptr && victim != protect);
      if (victim == nullptr || victim == protect) return;
      remove(victim, dead);
      ++evicted;
      ++evicted_capacity_;
      continue;
    }
    bool from_small = !small_.empty() && (small_.bytes() > small_target_ || main_.empty());
    MemoryNodeList& queue = from_small ? small_ : main_;
    MemoryNodeList& other = from_small ? main_ : small_;
    MemoryNode* victim = queue.tail();
    if (victim == protect) {
      if (other.empty()) {
        // protect is the oldest of its queue but not alone in it: look past it.
        queue.unlink(protect);
        queue.push_head(protect);
        continue;
      }
      from_small = !from_small;
      victim = other.tail();
    }
    if (from_small) {
      evict_from_small(victim, dead, evicted);
    } else {
      evict_from_main(victim, dead, evicted);
    }
  }
}

void MemoryShard::evict_from_small(MemoryNode* n, Graveyard& dead, std::uint64_t& evicted) {
  if (n->freq.load(std::memory_order_relaxed) > 0) {
    small_.unlink(n);
    n->freq.store(0, std::memory_order_relaxed);
    n->queue = MemoryQueue::Main;
    main_.push_head(n);
    return;
  }
  // A one-hit wonder (so far): remember it, so that if it comes back soon it goes to M.
  ghost_.add(memory_object_id(n->key(), n->obj->vary_key),
             std::max<std::size_t>(kMinGhostEntries, index_.nodes()));
  remove(n, dead);
  ++evicted;
  ++evicted_capacity_;
}

void MemoryShard::evict_from_main(MemoryNode* n, Graveyard& dead, std::uint64_t& evicted) {
  const std::uint8_t f = n->freq.load(std::memory_order_relaxed);
  if (f > 0) {
    n->freq.store(static_cast<std::uint8_t>(f - 1), std::memory_order_relaxed);
    main_.unlink(n);
    main_.push_head(n);
    return;
  }
  remove(n, dead);
  ++evicted;
  ++evicted_capacity_;
}

void MemoryShard::remove(MemoryNode* n, Graveyard& dead) {
  list_of(n).unlink(n);
  remove_tags(n);
  dead.nodes.push_back(index_.release(n));
}

void MemoryShard::add_tags(MemoryNode* n) {
  for (const std::string& tag : n->obj->tags) {
    auto it = tags_.find(tag);
    if (it == tags_.end()) it = tags_.emplace(tag, std::unordered_set<MemoryNode*>{}).first;
    it->second.insert(n);
  }
}

void MemoryShard::remove_tags(MemoryNode* n) {
  for (const std::string& tag : n->obj->tags) {
    auto it = tags_.find(tag);
    if (it == tags_.end()) continue;  // a repeated tag, already removed
    it->second.erase(n);
    if (it->second.empty()) tags_.erase(it);
  }
}

std::vector<MemoryNode*> MemoryShard::variants_of(std::string_view key) const {
  std::vector<MemoryNode*> out;
  index_.for_each_variant(key, [&](MemoryNode* n) { out.push_back(n); });
  return out;
}

std::vector<MemoryNode*> MemoryShard::nodes_with_prefix(std::string_view prefix) const {
  std::vector<MemoryNode*> out;
  index_.for_each_node([&](MemoryNode* n) {
    if (n->key().starts_with(prefix)) out.push_back(n);
  });
  return out;
}

std::vector<MemoryNode*> MemoryShard::nodes_with_tag(std::string_view tag) const {
  auto it = tags_.find(tag);
  if (it == tags_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::uint64_t MemoryShard::erase(std::string_view key) {
  Graveyard dead;
  std::unique_lock lock(mu_);
  const std::uint64_t n = remove_key(key, dead);
  evicted_purge_ += n;
  return n;
}

std::uint64_t MemoryShard::remove_key(std::string_view key, Graveyard& dead) {
  const std::vector<MemoryNode*> variants = variants_of(key);
  for (MemoryNode* n : variants) remove(n, dead);
  return variants.size();
}

std::uint64_t MemoryShard::erase_variant(std::string_view key, std::string_view vary_key) {
  Graveyard dead;
  std::unique_lock lock(mu_);
  MemoryNode* n = find_variant(key, vary_key);
  if (n == nullptr) return 0;
  remove(n, dead);
  ++evicted_purge_;
  return 1;
}

// The scan over every key is the long part (tens of milliseconds per shard at a million
// objects): it runs under the shared lock, so lookups go on. Then what still matches is removed
// under the exclusive lock, key by key. An object stored under a new matching key during the scan
// is not purged: it arrived after the purge began.
std::uint64_t MemoryShard::erase_prefix(std::string_view prefix) {
  std::vector<std::string> keys;
  {
    std::shared_lock lock(mu_);
    index_.for_each_key([&](std::string_view key) {
      if (key.starts_with(prefix)) keys.emplace_back(key);
    });
  }
  if (keys.empty()) return 0;
  Graveyard dead;
  std::unique_lock lock(mu_);
  std::uint64_t n = 0;
  for (const auto& key : keys) n += remove_key(key, dead);
  evicted_purge_ += n;
  return n;
}

std::uint64_t MemoryShard::erase_tag(std::string_view tag) {
  Graveyard dead;
  std::unique_lock lock(mu_);
  const std::vector<MemoryNode*> victims = nodes_with_tag(tag);
  for (MemoryNode* n : victims) remove(n, dead);
  evicted_purge_ += victims.size();
  return victims.size();
}

// Soft purge in three steps, so the copies (header strings, chunk references) are made without
// the lock: select under the shared lock, copy unlocked, then swap under the exclusive lock each
// object that is still the one selected (a concurrent insert or eviction wins).
std::uint64_t MemoryShard::soft_purge_nodes(const std::function<std::vector<MemoryNode*>()>& select,
                                            std::int64_t now) {
  std::vector<Marked> marked;
  {
    std::shared_lock lock(mu_);
    for (MemoryNode* n : select()) {
      if (n->obj->soft_purged_at != 0) continue;
      marked.push_back(Marked{std::string(n->key()), n->obj, nullptr});
    }
  }
  if (marked.empty()) return 0;
  for (Marked& m : marked) {
    auto copy = std::make_shared<StoredObject>(*m.old_obj);
    copy->soft_purged_at = now;
    m.new_obj = std::move(copy);
  }
  std::uint64_t done = 0;
  std::uint64_t evicted = 0;
  Graveyard dead;
  std::unique_lock lock(mu_);
  for (Marked& m : marked) {
    MemoryNode* n = index_.find(m.key, [&](const MemoryNode* v) { return v->obj == m.old_obj; });
    if (n == nullptr) continue;
    const std::uint64_t charge = memory_charge(m.key, *m.new_obj);
    replace_object(n, std::move(m.new_obj), charge, dead);
    ++done;
  }
  soft_purged_ += done;
  // A copy's strings may be sized differently from the original's; stay within budget.
  evict_until_fits(nullptr, dead, evicted);
  return done;
}

std::uint64_t MemoryShard::soft_purge(std::string_view key, std::int64_t now) {
  return soft_purge_nodes([&] { return variants_of(key); }, now);
}

std::uint64_t MemoryShard::soft_purge_prefix(std::string_view prefix, std::int64_t now) {
  return soft_purge_nodes([&] { return nodes_with_prefix(prefix); }, now);
}

std::uint64_t MemoryShard::soft_purge_tag(std::string_view tag, std::int64_t now) {
  return soft_purge_nodes([&] { return nodes_with_tag(tag); }, now);
}

void MemoryShard::snapshot(std::vector<std::pair<std::string, ObjectPtr>>& out) const {
  std::shared_lock lock(mu_);
  index_.for_each_node([&](const MemoryNode* n) { out.emplace_back(n->key(), n->obj); });
}

void MemoryShard::keys(std::vector<std::string>& out) const {
  std::shared_lock lock(mu_);
  index_.for_each_key([&](std::string_view key) { out.emplace_back(key); });
}

void MemoryShard::add_stats(MemoryTierStats& s) const {
  std::shared_lock lock(mu_);
  s.objects += index_.nodes();
  s.keys += index_.keys();
  s.bytes += used();
  s.small_bytes += small_.bytes();
  s.ghost_entries += ghost_.size();
  s.hits += hits_.load(std::memory_order_relaxed);
  s.misses += misses_.load(std::memory_order_relaxed);
  s.inserts += inserts_;
  s.replacements += replacements_;
  s.evicted_capacity += evicted_capacity_;
  s.evicted_purge += evicted_purge_;
  s.soft_purged += soft_purged_;
  s.ghost_admissions += ghost_admissions_;
}

}  // namespace ghala::cache
