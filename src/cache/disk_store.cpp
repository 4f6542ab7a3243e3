#include "cache/disk_store.hpp"

#include <chrono>
#include <functional>

#include "ghala/core/log.hpp"

namespace ghala::cache {

RocksHandle::~RocksHandle() {
  if (db_ == nullptr) return;
  for (auto* cf : cfs_) db_->DestroyColumnFamilyHandle(cf);
  // Close() flushes nothing we depend on (the WAL already holds every committed write); its
  // status only matters for diagnostics.
  rocksdb::Status s = db_->Close();
  if (!s.ok()) log_warn("disk tier: close: " + s.ToString());
  delete db_;
}

std::mutex& DiskTier::Impl::stripe(std::string_view primary_key) {
  return stripes[std::hash<std::string_view>{}(primary_key) % stripes.size()];
}

void DiskTier::Impl::mark_referenced(std::uint64_t id) {
  // Bounded: an unbounded set would grow with every distinct object read between evictions.
  // Forgetting the marks only costs some second chances.
  constexpr std::size_t kMaxMarks = 1u << 20;
  std::lock_guard lk(ref_mu);
  if (referenced.size() >= kMaxMarks) referenced.clear();
  referenced.insert(id);
}

bool DiskTier::Impl::take_referenced(std::uint64_t id) {
  std::lock_guard lk(ref_mu);
  return referenced.erase(id) > 0;
}

rocksdb::WriteOptions DiskTier::Impl::write_options(bool commit) const {
  rocksdb::WriteOptions w;
  // Chunk writes never need their own fsync: the commit that makes them reachable comes later
  // in the same WAL, and syncing it syncs everything before it.
  w.sync = commit && opt.sync_commits;
  return w;
}

rocksdb::ReadOptions DiskTier::Impl::read_options(const View* view) const {
  rocksdb::ReadOptions r;
  r.verify_checksums = true;
  if (view != nullptr) r.snapshot = view->snapshot();
  return r;
}

std::int64_t DiskTier::Impl::now_steady() const noexcept {
  using namespace std::chrono;
  return duration_cast<seconds>(steady_clock::now().time_since_epoch()).count();
}

Error DiskTier::Impl::fail(const rocksdb::Status& s, std::string_view what) {
  std::string message = "disk tier: " + std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return make_error(ErrorKind::NotFound, std::move(message));
  errors.fetch_add(1, std::memory_order_relaxed);
  int n = consecutive_errors.fetch_add(1) + 1;
  if (n >= opt.error_threshold) {
    unhealthy_since.store(now_steady());
    if (n == opt.error_threshold) log_error(message + " (disk tier now unhealthy)");
  }
  ErrorKind kind = ErrorKind::Io;
  if (s.IsCorruption()) kind = ErrorKind::Invalid;
  if (s.IsTimedOut() || s.IsBusy() || s.IsTryAgain()) kind = ErrorKind::Timeout;
  if (s.IsInvalidArgument() || s.IsNotSupported()) kind = ErrorKind::Internal;
  if (s.IsNoSpace()) message += " (no space left)";
  return make_error(kind, std::move(message));
}

void DiskTier::Impl::succeeded() noexcept {
  if (consecutive_errors.exchange(0) >= opt.error_threshold) {
    log_info("disk tier: writes succeed again; healthy");
  }
}

Error DiskTier::Impl::corrupt_error(std::string_view what) {
  corrupt.fetch_add(1, std::memory_order_relaxed);
  std::string message = "disk tier: object dropped: " + std::string(what);
  log_warn(message);
  return make_error(ErrorKind::NotFound, std::move(message));
}

Result<std::uint64_t> DiskTier::Impl::allocate_id() {
  // Ids are handed out from a persisted high-water mark, in blocks, so they stay unique across
  // restarts at the cost of one small write per block. The WAL orders that write before any
  // record that uses an id of the block, so recovery can never see one without the other.
  constexpr std::uint64_t kBlock = 4096;
  std::lock_guard lk(id_mu);
  if (next_id >= reserved_until) {
    std::uint64_t until = next_id + kBlock;
    rocksdb::Status s = db()->Put(write_options(false), state, std::string(disk::kCounterKey),
                                  disk::encode_u64(until));
    if (!s.ok()) return fail(s, "reserve ids");
    reserved_until = until;
  }
  return next_id++;
}

Status DiskTier::Impl::write(rocksdb::WriteBatch& batch, bool commit, std::string_view what) {
  rocksdb::Status s = db()->Write(write_options(commit), &batch);
  if (!s.ok()) return fail(s, what);
  succeeded();
  return Ok{};
}

Result<std::optional<disk::MetaRecord>> DiskTier::Impl::load_meta(const std::string& key) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db()->Get(read_options(), meta, key, &value);
  if (s.IsNotFound()) return std::optional<disk::MetaRecord>{};
  if (!s.ok()) return fail(s, "read metadata");
  auto rec = disk::decode_meta(key, value.ToStringView());
  if (rec.ok()) return std::optional<disk::MetaRecord>{std::move(rec).value()};
  // The record cannot tell us its chunks any more; its order record can, and eviction will
  // reclaim them. Deleting the metadata now makes the object invisible at once.
  (void)corrupt_error(rec.error().message);
  rocksdb::Status d = db()->Delete(write_options(false), meta, key);
  if (!d.ok()) return fail(d, "delete corrupt metadata");
  return std::optional<disk::MetaRecord>{};
}

void DiskTier::Impl::add_removal(rocksdb::WriteBatch& batch, const std::string& key,
                                 const disk::MetaRecord& r) {
  // WriteBatch calls only fail on a wrong column family or a batch over 4 GiB; neither can
  // happen here, so their statuses are not checked (the Write reports real failures).
  (void)batch.Delete(meta, key);
  (void)batch.Delete(order, disk::order_key(r.seq));
  for (const auto& t : r.object.tags) (void)batch.Delete(tags, disk::tag_key(t, key));
  (void)batch.DeleteRange(chunks, disk::chunk_key(r.object.id, 0),
                          disk::chunk_range_end(r.object.id));
}

void DiskTier::Impl::add_put(rocksdb::WriteBatch& batch, const std::string& key,
                             disk::MetaRecord& r) {
  std::string encoded = disk::encode_meta(key, r);
  (void)batch.Put(meta, key, encoded);
  (void)batch.Put(order, disk::order_key(r.seq), disk::order_value(r.object.id, key));
  for (const auto& t : r.object.tags) (void)batch.Put(tags, disk::tag_key(t, key), "");
}

std::uint64_t DiskTier::Impl::footprint(const std::string& key,
                                        const disk::MetaRecord& r) noexcept {
  constexpr std::uint64_t kChunkOverhead = 12 + disk::kChunkHeaderBytes;  // key + header
  std::uint64_t n = key.size() + r.encoded_size + r.object.body_size;
  n += std::uint64_t{r.object.chunk_count} * kChunkOverhead;
  n += 16 + key.size();  // order record
  for (const auto& t : r.object.tags) n += t.size() + 1 + key.size();
  return n;
}

void DiskTier::Impl::account(std::int64_t object_delta, std::int64_t byte_delta) noexcept {
  // Unsigned wrap-around arithmetic: adding a negative delta as two's complement subtracts.
  objects.fetch_add(static_cast<std::uint64_t>(object_delta), std::memory_order_relaxed);
  bytes.fetch_add(static_cast<std::uint64_t>(byte_delta), std::memory_order_relaxed);
}

}  // namespace ghala::cache
