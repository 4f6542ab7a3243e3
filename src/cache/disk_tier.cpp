// DiskTier: opening (RocksDB tuning and crash recovery) and reads. Writes are in
// disk_writer.cpp, purges in disk_purge.cpp, eviction in disk_evict.cpp, record formats in
// disk_format.cpp. docs/caching.md, "Disk tier (RocksDB)", describes the design.

#include "ghala/cache/disk_tier.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <filesystem>

#include "cache/disk_store.hpp"
#include "ghala/core/log.hpp"

namespace ghala::cache {
namespace {

Error invalid(std::string what) {
  return make_error(ErrorKind::Invalid, "disk tier: " + std::move(what));
}

Status check_options(const DiskTierOptions& o) {
  if (o.path.empty()) return invalid("path is empty");
  if (o.chunk_size < 4096 || o.chunk_size > (16u << 20)) {
    return invalid("chunk_size must be between 4 KiB and 16 MiB");
  }
  if (o.max_bytes == 0 || o.max_object_bytes == 0 || o.max_object_bytes > o.max_bytes) {
    return invalid("max_object_bytes must be positive and at most max_bytes");
  }
  if (o.error_threshold < 1) return invalid("error_threshold must be at least 1");
  return Ok{};
}

bool has_lz4() {
  auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), rocksdb::kLZ4Compression) != all.end();
}

// Tuning for a cache: few, large, write-once values (chunks) next to small, often-read records
// (metadata, order, tags). See docs/caching.md for the reasoning behind each choice.
rocksdb::DBOptions db_options(const DiskTierOptions& o) {
  rocksdb::DBOptions d;
  d.create_if_missing = true;
  d.create_missing_column_families = true;
  d.max_background_jobs = 2;
  // With several column families a WAL file is kept until every family has flushed past it; the
  // small families would otherwise pin WAL files forever. This forces their flush.
  d.max_total_wal_size = std::max<std::uint64_t>(64ull << 20, 4 * o.write_buffer_bytes);
  // A torn tail from a crash is dropped; everything before it is recovered (a prefix of the
  // WAL, so a commit is never seen without the chunks written before it).
  d.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  d.bytes_per_sync = 1 << 20;
  d.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  d.keep_log_file_num = 2;
  d.max_log_file_size = 1 << 20;
  // Lets RocksDB resume by itself after a background "no space" error once space is freed.
  d.sst_file_manager.reset(rocksdb::NewSstFileManager(rocksdb::Env::Default()));
  return d;
}

rocksdb::ColumnFamilyOptions small_cf(const DiskTierOptions& o,
                                      const std::shared_ptr<rocksdb::Cache>& cache,
                                      std::uint64_t write_buffer) {
  rocksdb::ColumnFamilyOptions c;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  c.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  c.compression = has_lz4() ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  c.write_buffer_size = std::min<std::uint64_t>(write_buffer, o.write_buffer_bytes);
  c.level_compaction_dynamic_level_bytes = true;
  return c;
}

// Meta keys are "primary\0vary": the prefix up to the NUL names one URL. With it as the prefix
// extractor, the Bloom filters answer "no variant of this URL here" for an SST file without
// reading it, so a lookup miss (most lookups of a disk tier) costs no disk read.
class PrimaryKeyPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "ghala.PrimaryKeyPrefix.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    std::string_view k = key.ToStringView();
    return rocksdb::Slice(key.data(), k.find('\0') + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.ToStringView().find('\0') != std::string_view::npos;
  }
};

rocksdb::ColumnFamilyOptions meta_cf(const DiskTierOptions& o,
                                     const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions c = small_cf(o, cache, 16ull << 20);
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  c.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  c.prefix_extractor = std::make_shared<PrimaryKeyPrefix>();
  return c;
}

rocksdb::ColumnFamilyOptions chunk_cf(const DiskTierOptions& o) {
  rocksdb::ColumnFamilyOptions c;
  rocksdb::BlockBasedTableOptions t;
  // Bodies are served through the memory tier and the OS page cache; caching 256 KiB values in
  // the block cache would only evict the metadata blocks that every lookup needs.
  t.no_block_cache = true;
  c.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  c.compression = rocksdb::kNoCompression;  // bodies are mostly compressed already
  c.write_buffer_size = o.write_buffer_bytes;
  c.level_compaction_dynamic_level_bytes = true;
  if (o.separate_bodies) {
    // Key-value separation: chunks go to blob files once, and compaction rewrites only small
    // keys and blob references instead of the bodies themselves.
    c.enable_blob_files = true;
    c.min_blob_size = 4096;
    c.blob_file_size = 256ull << 20;
    c.blob_compression_type = rocksdb::kNoCompression;
    c.enable_blob_garbage_collection = true;
  }
  return c;
}

std::vector<rocksdb::ColumnFamilyDescriptor> families(const DiskTierOptions& o) {
  auto cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> f(kCfCount);
  f[kCfDefault] = {rocksdb::kDefaultColumnFamilyName, small_cf(o, cache, 4ull << 20)};
  f[kCfMeta] = {"meta", meta_cf(o, cache)};
  f[kCfChunks] = {"chunks", chunk_cf(o)};
  f[kCfOrder] = {"order", small_cf(o, cache, 8ull << 20)};
  f[kCfTags] = {"tags", small_cf(o, cache, 8ull << 20)};
  return f;
}

Status check_key(std::string_view key, std::string_view what) {
  if (key.find('\0') != std::string_view::npos) return invalid(std::string(what) + " contains NUL");
  return Ok{};
}

}  // namespace

DiskTier::DiskTier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DiskTier::~DiskTier() = default;

namespace {

// Deletes the chunks of streaming writes that never committed (their intent records are still
// there). Runs before anything else reads the store.
Status recover_pending(DiskTier::Impl& t) {
  rocksdb::WriteBatch batch;
  std::size_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(t.read_options(), t.state));
  for (it->Seek("p"); it->Valid() && it->key().starts_with("p"); it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (k.size() != 9) continue;
    std::uint64_t id = disk::read_be64(k.substr(1));
    (void)batch.DeleteRange(t.chunks, disk::chunk_key(id, 0), disk::chunk_range_end(id));
    (void)batch.Delete(t.state, it->key());
    t.next_id = std::max(t.next_id, id + 1);
    ++n;
  }
  if (!it->status().ok()) return t.fail(it->status(), "scan pending writes");
  it.reset();
  if (n == 0) return Ok{};
  log_info("disk tier: discarded " + std::to_string(n) + " uncommitted write(s)");
  return t.write(batch, true, "discard uncommitted writes");
}

// Recomputes the object and byte totals (they are not persisted, so they cannot disagree with
// the records) and drops metadata records that fail their checks.
Status scan_metadata(DiskTier::Impl& t) {
  rocksdb::WriteBatch bad;
  rocksdb::ReadOptions ro = t.read_options();
  ro.total_order_seek = true;  // the whole family, across prefixes
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(ro, t.meta));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string key = it->key().ToString();
    auto rec = disk::decode_meta(key, it->value().ToStringView());
    if (!rec.ok()) {
      (void)t.corrupt_error(rec.error().message);
      (void)bad.Delete(t.meta, key);
      continue;
    }
    t.account(1, static_cast<std::int64_t>(DiskTier::Impl::footprint(key, rec.value())));
    t.next_id = std::max({t.next_id, rec.value().object.id + 1, rec.value().seq + 1});
  }
  if (!it->status().ok()) return t.fail(it->status(), "scan metadata");
  it.reset();
  if (bad.Count() == 0) return Ok{};
  return t.write(bad, true, "drop corrupt metadata");
}

Status load_counter(DiskTier::Impl& t) {
  std::string v;
  rocksdb::Status s = t.db()->Get(t.read_options(), t.state, std::string(disk::kCounterKey), &v);
  if (!s.ok() && !s.IsNotFound()) return t.fail(s, "read id counter");
  if (s.ok()) {
    // A damaged counter is not fatal: the ids in use are also found in the metadata, order and
    // intent records, and the next allocation writes a fresh counter above all of them.
    auto n = disk::decode_u64(v);
    if (n.ok()) t.next_id = std::max(t.next_id, n.value());
    if (!n.ok()) log_warn("disk tier: id counter unreadable; recomputed from the records");
  }
  // Order records can outlive their metadata (until eviction reaches them): never reuse an id
  // or a sequence number they mention.
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(t.read_options(), t.order));
  it->SeekToLast();
  if (it->Valid()) {
    auto e = disk::decode_order(it->key().ToStringView(), it->value().ToStringView());
    if (e.ok()) t.next_id = std::max({t.next_id, e.value().seq + 1, e.value().id + 1});
  }
  if (!it->status().ok()) return t.fail(it->status(), "read order");
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<DiskTier>> DiskTier::open(Options options) {
  if (auto ok = check_options(options); !ok) return ok.error();
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return make_error(ErrorKind::Io, "disk tier: create " + options.path + ": " + ec.message());
  }

  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options(options), options.path, families(options), &handles, &db);
  if (!s.ok()) return impl->fail(s, "open " + options.path);
  impl->rocks = std::make_shared<RocksHandle>(db, std::move(handles));
  impl->state = impl->rocks->cf(kCfDefault);
  impl->meta = impl->rocks->cf(kCfMeta);
  impl->chunks = impl->rocks->cf(kCfChunks);
  impl->order = impl->rocks->cf(kCfOrder);
  impl->tags = impl->rocks->cf(kCfTags);

  for (auto step : {recover_pending, load_counter, scan_metadata}) {
    if (auto ok = step(*impl); !ok) return ok.error();
  }
  impl->reserved_until = impl->next_id;  // the next allocation persists a new block
  impl->evict_if_needed();               // max_bytes may have shrunk since the last run
  return std::unique_ptr<DiskTier>(new DiskTier(std::move(impl)));
}

DiskTier::ViewPtr DiskTier::view() {
  return std::make_shared<const View>(impl_->rocks);
}

Result<std::vector<ObjectPtr>> DiskTier::lookup(std::string_view primary_key, const View* view) {
  if (auto ok = check_key(primary_key, "primary key"); !ok) return ok.error();
  Impl& t = *impl_;
  std::string prefix = disk::meta_key(primary_key, "");
  std::string upper(primary_key);
  upper.push_back('\x01');
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro = t.read_options(view);
  ro.iterate_upper_bound = &upper_slice;
  ro.prefix_same_as_start = true;  // one URL: the prefix Bloom filters apply

  std::vector<ObjectPtr> found;
  std::vector<std::pair<std::string, std::string>> bad;  // key, the record as read
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(ro, t.meta));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    auto rec = disk::decode_meta(key, it->value().ToStringView());
    if (!rec.ok()) {
      (void)t.corrupt_error(rec.error().message);
      bad.emplace_back(key, it->value().ToString());
      continue;
    }
    found.push_back(std::make_shared<const StoredObject>(std::move(rec.value().object)));
  }
  if (!it->status().ok()) return t.fail(it->status(), "lookup");
  it.reset();
  if (!bad.empty()) {
    // Read through a view, a bad record may have been replaced since: delete only what is still
    // the same bytes.
    std::lock_guard lk(t.stripe(primary_key));
    rocksdb::WriteBatch batch;
    for (const auto& [k, record] : bad) {
      std::string now;
      if (view != nullptr &&
          (!t.db()->Get(t.read_options(), t.meta, k, &now).ok() || now != record)) {
        continue;
      }
      (void)batch.Delete(t.meta, k);
    }
    (void)t.write(batch, false, "drop corrupt metadata");  // counted; the lookup still answers
  }
  return found;
}

namespace {

// Removes an object after one of its chunks failed a check. Returns false if the object was no
// longer the stored variant (purged, evicted or replaced since the caller's lookup): then a
// missing chunk is a race, not damage.
bool drop_object(DiskTier::Impl& t, std::string_view primary_key, const StoredObject& object) {
  std::lock_guard lk(t.stripe(primary_key));
  std::string key = disk::meta_key(primary_key, object.vary_key);
  rocksdb::WriteBatch batch;
  auto rec = t.load_meta(key);
  if (!rec.ok()) return true;
  if (rec.value() && rec.value()->object.id == object.id) {
    t.add_removal(batch, key, *rec.value());
    if (t.write(batch, false, "drop object")) {
      t.account(-1, -static_cast<std::int64_t>(DiskTier::Impl::footprint(key, *rec.value())));
    }
    return true;
  }
  // Already replaced or gone: its chunks, if any are left, belong to nobody.
  (void)batch.DeleteRange(t.chunks, disk::chunk_key(object.id, 0),
                          disk::chunk_range_end(object.id));
  (void)t.write(batch, false, "drop chunks");
  return false;
}

}  // namespace

Result<Chunk> DiskTier::read_chunk(std::string_view primary_key, const StoredObject& object,
                                   std::uint32_t index, const View* view) {
  std::vector<Chunk> out;
  if (auto r = read_chunk_into(primary_key, object, index, view, false, out); !r) return r.error();
  return std::move(out.front());
}

Status DiskTier::read_chunk_into(std::string_view primary_key, const StoredObject& object,
                                 std::uint32_t index, const View* view, bool sendable,
                                 std::vector<Chunk>& out) {
  if (auto ok = check_key(primary_key, "primary key"); !ok) return ok.error();
  if (index >= object.chunk_count || object.chunk_size == 0) {
    return invalid("chunk index " + std::to_string(index) + " out of range");
  }
  Impl& t = *impl_;
  std::string key = disk::chunk_key(object.id, index);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = t.db()->Get(t.read_options(view), t.chunks, key, &value);
  if (s.IsNotFound()) {
    if (!drop_object(t, primary_key, object)) {
      return make_error(ErrorKind::NotFound, "disk tier: object no longer stored");
    }
    return t.corrupt_error("chunk " + std::to_string(index) + " missing");
  }
  if (s.IsCorruption()) {
    // RocksDB's own block or blob checksum failed before ours could: a bad chunk like any
    // other. Left stored, the object would fail every later read and never be refetched.
    (void)drop_object(t, primary_key, object);
    return t.corrupt_error("chunk " + std::to_string(index) + ": " + s.ToString());
  }
  if (!s.ok()) return t.fail(s, "read chunk");
  auto payload =
      disk::decode_chunk(key, value.ToStringView(), disk::expected_chunk_size(object, index));
  if (!payload.ok()) {
    (void)drop_object(t, primary_key, object);
    return t.corrupt_error(payload.error().message);
  }
  if (index == 0) t.mark_referenced(object.id);
  if (sendable) {
    Chunk::append_sendable(out, payload.value());
  } else {
    out.push_back(Chunk::copy_of(payload.value()));
  }
  return Ok{};
}

Result<std::vector<Chunk>> DiskTier::read_body(std::string_view primary_key,
                                               const StoredObject& object, const View* view) {
  std::vector<Chunk> body;
  body.reserve(object.chunk_count + 1);
  for (std::uint32_t i = 0; i < object.chunk_count; ++i) {
    if (auto r = read_chunk_into(primary_key, object, i, view, true, body); !r) return r.error();
  }
  return body;
}

DiskTierStats DiskTier::stats() const {
  const Impl& t = *impl_;
  DiskTierStats s;
  s.objects = t.objects.load(std::memory_order_relaxed);
  s.bytes = t.bytes.load(std::memory_order_relaxed);
  s.inserts = t.inserts.load(std::memory_order_relaxed);
  s.evictions = t.evictions.load(std::memory_order_relaxed);
  s.errors = t.errors.load(std::memory_order_relaxed);
  s.corrupt_dropped = t.corrupt.load(std::memory_order_relaxed);
  s.healthy = healthy();
  return s;
}

bool DiskTier::healthy() const {
  const Impl& t = *impl_;
  if (t.consecutive_errors.load() < t.opt.error_threshold) return true;
  // After a cool-down, report healthy again so that the next write probes the disk: a success
  // resets the count, a failure re-arms the cool-down.
  return t.now_steady() - t.unhealthy_since.load() >= t.opt.unhealthy_seconds;
}

}  // namespace ghala::cache
