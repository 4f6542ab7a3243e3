#pragma once
// Internals of DiskTier shared by disk_tier.cpp (open, reads, purge, eviction) and
// disk_writer.cpp (inserts). Owns the RocksDB handles and the in-memory counters.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cache/disk_format.hpp"
#include "ghala/cache/disk_tier.hpp"

namespace ghala::cache {

// RocksDB's handles are raw pointers; this owns them, destroying the column family handles
// before the database (RocksDB requires that order).
class RocksHandle {
 public:
  RocksHandle() = default;
  RocksHandle(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> cfs)
      : db_(db), cfs_(std::move(cfs)) {}
  ~RocksHandle();
  RocksHandle(const RocksHandle&) = delete;
  RocksHandle& operator=(const RocksHandle&) = delete;

  rocksdb::DB* db() const noexcept { return db_; }
  rocksdb::ColumnFamilyHandle* cf(std::size_t i) const noexcept { return cfs_[i]; }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
};

// A RocksDB snapshot, released when the last holder lets go. It shares the database handle, so
// the database closes only after every view is released (Close() refuses open snapshots).
class DiskTier::View {
 public:
  explicit View(std::shared_ptr<RocksHandle> rocks)
      : rocks_(std::move(rocks)), snapshot_(rocks_->db()->GetSnapshot()) {}
  ~View() { rocks_->db()->ReleaseSnapshot(snapshot_); }
  View(const View&) = delete;
  View& operator=(const View&) = delete;

  const rocksdb::Snapshot* snapshot() const noexcept { return snapshot_; }

 private:
  std::shared_ptr<RocksHandle> rocks_;
  const rocksdb::Snapshot* snapshot_;
};

// Column family order in RocksHandle; kCfDefault must be first (RocksDB's default family).
enum CfIndex : std::size_t { kCfDefault = 0, kCfMeta, kCfChunks, kCfOrder, kCfTags, kCfCount };

struct DiskTier::Impl {
  Options opt;
  std::shared_ptr<RocksHandle> rocks;            // shared with open views
  rocksdb::ColumnFamilyHandle* state = nullptr;  // counter and pending-write intents
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* chunks = nullptr;
  rocksdb::ColumnFamilyHandle* order = nullptr;
  rocksdb::ColumnFamilyHandle* tags = nullptr;

  // Mutations of one primary key (read old metadata, write the replacement) are serialised by
  // a stripe lock; RocksDB itself is thread-safe.
  std::array<std::mutex, 64> stripes;
  std::mutex& stripe(std::string_view primary_key);

  std::mutex id_mu;
  std::uint64_t next_id = 1;
  std::uint64_t reserved_until = 1;  // ids below this are covered by the persisted counter

  std::atomic<std::uint64_t> objects{0}, bytes{0}, inserts{0}, evictions{0}, errors{0}, corrupt{0};
  std::atomic<int> consecutive_errors{0};
  std::atomic<std::int64_t> unhealthy_since{0};  // steady-clock seconds

  // Eviction: FIFO by sequence number with a second chance for objects read since they were
  // last considered (ids in `referenced`, kept in memory only).
  std::mutex evict_mu;
  std::uint64_t evict_cursor = 0;  // order keys below this were consumed (avoids tombstones)
  std::mutex ref_mu;
  std::unordered_set<std::uint64_t> referenced;
  void mark_referenced(std::uint64_t id);
  bool take_referenced(std::uint64_t id);

  rocksdb::DB* db() const noexcept { return rocks->db(); }
  rocksdb::WriteOptions write_options(bool commit) const;
  // Checksummed reads; as of `view` when given.
  rocksdb::ReadOptions read_options(const View* view = nullptr) const;

  // Converts a RocksDB status to an Error, counting it and updating health. NotFound is not
  // counted (it is an answer, not a failure).
  Error fail(const rocksdb::Status& s, std::string_view what);
  void succeeded() noexcept;
  Error corrupt_error(std::string_view what);

  Result<std::uint64_t> allocate_id();
  Status write(rocksdb::WriteBatch& batch, bool commit, std::string_view what);

  // Metadata of one variant; nullopt when absent. A corrupt record is deleted (its chunks are
  // reclaimed when eviction reaches its order record) and reported as absent.
  Result<std::optional<disk::MetaRecord>> load_meta(const std::string& key);
  // Adds to `batch` everything needed to remove / (re)write an object's records.
  void add_removal(rocksdb::WriteBatch& batch, const std::string& key, const disk::MetaRecord& r);
  // Sets r.encoded_size.
  void add_put(rocksdb::WriteBatch& batch, const std::string& key, disk::MetaRecord& r);
  // Approximate bytes an object costs on disk: body, its records and their keys.
  static std::uint64_t footprint(const std::string& key, const disk::MetaRecord& r) noexcept;
  void account(std::int64_t object_delta, std::int64_t byte_delta) noexcept;

  // Evicts oldest-first until bytes fit below the low watermark. One evictor at a time; others
  // return at once.
  void evict_if_needed();
  std::int64_t now_steady() const noexcept;
};

}  // namespace ghala::cache
