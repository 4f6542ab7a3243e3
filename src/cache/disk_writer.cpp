// DiskTier writes. Commit order is what makes kill -9 safe:
//
//   1. chunks, each under (id, index) with its own CRC32C. A body larger than kSpillBytes is
//      written in batches as it arrives; the first batch also writes a "pending" intent record
//      for the id, so that recovery can find and delete the chunks of a write that never ends.
//   2. commit: one WriteBatch with the last chunks, the metadata, the order and tag records, the
//      removal of the variant it replaces, and the deletion of the intent record.
//
// RocksDB applies a WriteBatch atomically and recovers a prefix of the WAL, so after any crash
// the metadata is either absent (the object does not exist; its chunks are deleted at open
// through the intent record) or present together with every chunk written before it. Small
// bodies never spill: chunks and metadata go in the single commit batch.

#include <algorithm>
#include <mutex>

#include "cache/disk_store.hpp"

namespace ghala::cache {
namespace {

Error invalid(std::string what) {
  return make_error(ErrorKind::Invalid, "disk tier: " + std::move(what));
}

Status check_head(std::string_view primary_key, const StoredObject& head) {
  if (primary_key.empty()) return invalid("empty primary key");
  if (primary_key.find('\0') != std::string_view::npos) return invalid("primary key contains NUL");
  if (head.status < 100 || head.status > 999) return invalid("status out of range");
  for (const auto& tag : head.tags) {
    if (tag.empty() || tag.find('\0') != std::string::npos) return invalid("invalid tag");
  }
  return Ok{};
}

}  // namespace

struct DiskTier::Writer::State {
  enum class Phase { Open, Closed };

  DiskTier::Impl* tier = nullptr;
  std::string primary;
  std::string key;  // meta key
  disk::MetaRecord rec;
  std::uint64_t expected = 0;  // 0: unknown
  std::uint64_t size = 0;
  std::string partial;  // the chunk being filled
  std::uint32_t next_index = 0;
  rocksdb::WriteBatch batch;
  bool spilled = false;  // some chunks (and the intent record) were already written
  Phase phase = Phase::Open;

  // Bytes of chunks buffered before they are written: large enough for few writes, small
  // enough that a whole small object commits in one batch.
  std::size_t spill_bytes() const { return std::max<std::size_t>(1u << 20, tier->opt.chunk_size); }

  void emit(std::string_view payload) {
    std::string k = disk::chunk_key(rec.object.id, next_index++);
    (void)batch.Put(tier->chunks, k, disk::encode_chunk(k, payload));
  }

  Status spill() {
    if (!spilled) (void)batch.Put(tier->state, disk::pending_key(rec.object.id), "");
    auto ok = tier->write(batch, false, "write chunks");
    spilled = spilled || ok.ok();
    batch.Clear();
    return ok;
  }
};

DiskTier::Writer::Writer(std::unique_ptr<State> state) : s_(std::move(state)) {}
DiskTier::Writer::~Writer() {
  abort();
}

std::uint64_t DiskTier::Writer::bytes_written() const noexcept {
  return s_->size;
}

Status DiskTier::Writer::append(std::string_view data) {
  State& s = *s_;
  if (s.phase != State::Phase::Open) return invalid("append to a closed writer");
  if (s.size + data.size() > s.tier->opt.max_object_bytes) {
    abort();
    return make_error(ErrorKind::Limit, "disk tier: object larger than max_object_bytes");
  }
  if (s.expected != 0 && s.size + data.size() > s.expected) {
    abort();
    return invalid("body longer than announced");
  }
  s.size += data.size();
  const std::size_t cs = s.tier->opt.chunk_size;
  while (!data.empty()) {
    if (s.partial.empty() && data.size() >= cs) {  // whole chunk straight from the input
      s.emit(data.substr(0, cs));
      data.remove_prefix(cs);
      continue;
    }
    std::size_t take = std::min(cs - s.partial.size(), data.size());
    s.partial.append(data.substr(0, take));
    data.remove_prefix(take);
    if (s.partial.size() == cs) {
      s.emit(s.partial);
      s.partial.clear();
    }
  }
  if (s.batch.GetDataSize() >= s.spill_bytes()) {
    if (auto ok = s.spill(); !ok) {
      abort();
      return ok;
    }
  }
  return Ok{};
}

Result<ObjectPtr> DiskTier::Writer::commit() {
  State& s = *s_;
  if (s.phase != State::Phase::Open) return invalid("commit of a closed writer");
  if (s.expected != 0 && s.size != s.expected) {
    abort();
    return invalid("body is " + std::to_string(s.size) + " bytes, expected " +
                   std::to_string(s.expected));
  }
  if (!s.partial.empty()) s.emit(s.partial);
  StoredObject& o = s.rec.object;
  o.body_size = s.size;
  o.chunk_count = s.next_index;

  DiskTier::Impl& t = *s.tier;
  // Eviction order is commit order, so a long download is not treated as old when it lands.
  auto seq = t.allocate_id();
  if (!seq.ok()) {
    abort();
    return seq.error();
  }
  s.rec.seq = seq.value();
  std::optional<disk::MetaRecord> old;
  {
    std::lock_guard lk(t.stripe(s.primary));
    auto loaded = t.load_meta(s.key);
    if (!loaded.ok()) {
      abort();
      return loaded.error();
    }
    old = std::move(loaded).value();
    if (old) t.add_removal(s.batch, s.key, *old);
    t.add_put(s.batch, s.key, s.rec);
    if (s.spilled) (void)s.batch.Delete(t.state, disk::pending_key(o.id));
    if (auto ok = t.write(s.batch, true, "commit"); !ok) {
      abort();
      return ok.error();
    }
    s.phase = State::Phase::Closed;
    s.batch.Clear();
    std::int64_t delta = static_cast<std::int64_t>(DiskTier::Impl::footprint(s.key, s.rec));
    if (old) delta -= static_cast<std::int64_t>(DiskTier::Impl::footprint(s.key, *old));
    t.account(old ? 0 : 1, delta);
    t.inserts.fetch_add(1, std::memory_order_relaxed);
  }
  t.evict_if_needed();
  return std::make_shared<const StoredObject>(o);
}

void DiskTier::Writer::abort() {
  State& s = *s_;
  if (s.phase != State::Phase::Open) return;
  s.phase = State::Phase::Closed;
  s.batch.Clear();
  s.partial.clear();
  if (!s.spilled) return;  // nothing reached RocksDB
  rocksdb::WriteBatch undo;
  std::uint64_t id = s.rec.object.id;
  (void)undo.DeleteRange(s.tier->chunks, disk::chunk_key(id, 0), disk::chunk_range_end(id));
  (void)undo.Delete(s.tier->state, disk::pending_key(id));
  // On failure the intent record stays, and the next open deletes the chunks.
  (void)s.tier->write(undo, false, "abort write");
}

Result<std::unique_ptr<DiskTier::Writer>> DiskTier::begin(std::string_view primary_key,
                                                          const StoredObject& head) {
  if (auto ok = check_head(primary_key, head); !ok) return ok.error();
  Impl& t = *impl_;
  if (head.body_size > t.opt.max_object_bytes) {
    return make_error(ErrorKind::Limit, "disk tier: object larger than max_object_bytes");
  }
  auto id = t.allocate_id();
  if (!id.ok()) return id.error();

  auto s = std::make_unique<Writer::State>();
  s->tier = &t;
  s->primary = std::string(primary_key);
  s->key = disk::meta_key(primary_key, head.vary_key);
  s->expected = head.body_size;
  StoredObject& o = s->rec.object;
  o.id = id.value();
  o.status = head.status;
  o.headers = head.headers;
  o.timings = head.timings;
  o.vary_key = head.vary_key;
  o.tags = head.tags;
  o.soft_purged_at = head.soft_purged_at;
  o.chunk_size = t.opt.chunk_size;
  return std::unique_ptr<Writer>(new Writer(std::move(s)));
}

Result<ObjectPtr> DiskTier::insert(std::string_view primary_key, const StoredObject& object) {
  std::uint64_t size = 0;
  for (const auto& c : object.chunks) {
    if (!c) return invalid("null chunk");
    size += c.size();
  }
  if (object.body_size != 0 && object.body_size != size) {
    return invalid("body_size disagrees with the chunks");
  }
  StoredObject head;
  head.status = object.status;
  head.headers = object.headers;
  head.timings = object.timings;
  head.vary_key = object.vary_key;
  head.tags = object.tags;
  head.soft_purged_at = object.soft_purged_at;
  head.body_size = size;
  auto w = begin(primary_key, head);
  if (!w.ok()) return w.error();
  for (const auto& c : object.chunks) {
    if (auto ok = w.value()->append(c.view()); !ok) return ok.error();
  }
  return w.value()->commit();
}

}  // namespace ghala::cache
