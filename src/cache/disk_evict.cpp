// Disk tier eviction: FIFO with a second chance (the CLOCK idea, on a persistent queue).
//
// Every object has an order record keyed by a sequence number that only grows; the oldest
// record is the next candidate. Reading an object (its first chunk) marks its id in memory. A
// marked candidate is not evicted: it moves to the tail with a fresh sequence number (one small
// rewrite of its metadata and order record) and loses its mark. So an object read at least once
// per trip through the queue stays, and reads cost no disk write; only evictions do. The marks
// are not persisted: after a restart every object starts unmarked.
//
// The queue is consumed from the head, which leaves a run of deleted order keys there until
// compaction drops them; the evictor remembers where it stopped and seeks past that run instead
// of scanning it again (the classic RocksDB queue pitfall).
//
// The evictor frees down to 90% of max_bytes so that a full store does not evict on every
// insert. Records whose metadata is gone or belongs to a newer object (a corrupt record was
// dropped, or a second chance moved it) are cleaned up on the way.

#include <mutex>

#include "cache/disk_store.hpp"

namespace ghala::cache {
namespace {

enum class Outcome { Evicted, Kept, Stale, Failed };

Outcome evict_one(DiskTier::Impl& t, const disk::OrderEntry& e) {
  std::lock_guard lk(t.stripe(disk::primary_of(e.meta_key)));
  auto loaded = t.load_meta(e.meta_key);
  if (!loaded.ok()) return Outcome::Failed;
  rocksdb::WriteBatch batch;
  const auto& rec = loaded.value();
  if (!rec || rec->object.id != e.id || rec->seq != e.seq) {
    (void)batch.Delete(t.order, disk::order_key(e.seq));
    if (!rec || rec->object.id != e.id) {  // the object this record named is gone
      (void)batch.DeleteRange(t.chunks, disk::chunk_key(e.id, 0), disk::chunk_range_end(e.id));
    }
    return t.write(batch, false, "drop stale order record") ? Outcome::Stale : Outcome::Failed;
  }
  if (t.take_referenced(e.id)) {
    auto seq = t.allocate_id();
    if (!seq.ok()) return Outcome::Failed;
    disk::MetaRecord moved = *rec;
    moved.seq = seq.value();
    (void)batch.Delete(t.order, disk::order_key(e.seq));
    t.add_put(batch, e.meta_key, moved);
    return t.write(batch, false, "second chance") ? Outcome::Kept : Outcome::Failed;
  }
  t.add_removal(batch, e.meta_key, *rec);
  if (!t.write(batch, false, "evict")) return Outcome::Failed;
  t.account(-1, -static_cast<std::int64_t>(DiskTier::Impl::footprint(e.meta_key, *rec)));
  t.evictions.fetch_add(1, std::memory_order_relaxed);
  return Outcome::Evicted;
}

// Up to `max` order records from the cursor on.
Result<std::vector<disk::OrderEntry>> next_candidates(DiskTier::Impl& t, std::size_t max) {
  std::string lower = disk::order_key(t.evict_cursor);
  rocksdb::Slice lower_slice(lower);
  rocksdb::ReadOptions ro = t.read_options();
  ro.iterate_lower_bound = &lower_slice;
  std::vector<disk::OrderEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(ro, t.order));
  for (it->Seek(lower); it->Valid() && out.size() < max; it->Next()) {
    auto e = disk::decode_order(it->key().ToStringView(), it->value().ToStringView());
    if (e.ok()) {
      out.push_back(std::move(e).value());
    } else {  // unreadable: nothing to clean up but the record itself
      (void)t.db()->Delete(t.write_options(false), t.order, it->key());
    }
  }
  if (!it->status().ok()) return t.fail(it->status(), "scan eviction order");
  return out;
}

}  // namespace

void DiskTier::Impl::evict_if_needed() {
  if (bytes.load(std::memory_order_relaxed) <= opt.max_bytes) return;
  std::unique_lock lk(evict_mu, std::try_to_lock);
  if (!lk.owns_lock()) return;  // another thread is evicting
  const std::uint64_t low = opt.max_bytes - opt.max_bytes / 10;
  constexpr std::size_t kBatch = 256;
  // Each round either evicts, drops stale records or moves marked objects to the tail (past the
  // cursor, unmarked), so the loop ends; the bound only guards against a failing disk.
  for (int round = 0; round < 1000 && bytes.load(std::memory_order_relaxed) > low; ++round) {
    auto candidates = next_candidates(*this, kBatch);
    if (!candidates.ok() || candidates.value().empty()) {
      // At the end of the queue with bytes still over: a commit that took its sequence number
      // just before a concurrent one can land behind the cursor; start over from the head.
      if (evict_cursor == 0) return;
      evict_cursor = 0;
      continue;
    }
    for (const auto& e : candidates.value()) {
      evict_cursor = e.seq + 1;
      if (evict_one(*this, e) == Outcome::Failed) return;  // counted; retry on the next insert
      if (bytes.load(std::memory_order_relaxed) <= low) return;
    }
  }
}

}  // namespace ghala::cache
