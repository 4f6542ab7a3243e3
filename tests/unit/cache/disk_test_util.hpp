#pragma once
// Helpers shared by the disk tier tests: temporary directories, deterministic bodies, and raw
// access to the RocksDB store underneath (to damage records the way a bad disk or a bug would).

#include <rocksdb/db.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../temp_dir.hpp"
#include "ghala/cache/disk_tier.hpp"

namespace ghala::cache::test {

using ghala::testing::TempDir;

// Byte `offset` of body number `seed`: different for every body and every position, so a chunk
// from the wrong object or the wrong index never passes for the right one.
inline char body_byte(std::uint64_t seed, std::uint64_t offset) {
  std::uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull + (offset / 8) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  return static_cast<char>((x >> (8 * (offset % 8))) & 0xFF);
}

inline std::string make_body(std::uint64_t seed, std::uint64_t from, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = body_byte(seed, from + i);
  return s;
}

// An in-memory object whose body is `size` bytes of body `seed`, in pieces of `piece` bytes.
inline StoredObject make_object(std::uint64_t seed, std::size_t size, std::size_t piece = 10000) {
  StoredObject o;
  o.status = 200;
  http::HeaderMap fields;
  fields.add("Content-Type", "application/octet-stream");
  std::string etag = std::to_string(seed);  // not `"\"" + ...`: GCC 12 -O3 warns falsely
  etag.insert(etag.begin(), '"');
  etag.push_back('"');
  fields.add("ETag", etag);
  o.headers = *http::FrozenHeaders::freeze(fields);
  o.timings = StoredTimings{1000, 1001, 999, 5};
  o.body_size = size;
  for (std::size_t at = 0; at < size; at += piece) {
    o.chunks.push_back(Chunk::copy_of(make_body(seed, at, std::min(piece, size - at))));
  }
  return o;
}

inline std::string join(const std::vector<Chunk>& chunks) {
  std::string s;
  for (const auto& c : chunks) s += c.view();
  return s;
}

inline DiskTierOptions small_options(const std::string& path) {
  DiskTierOptions o;
  o.path = path;
  o.max_bytes = 64ull << 20;
  o.max_object_bytes = 32ull << 20;
  o.chunk_size = 64u << 10;
  o.block_cache_bytes = 1u << 20;
  o.write_buffer_bytes = 4u << 20;
  return o;
}

// The store opened directly with RocksDB (the tier must be closed).
class RawStore {
 public:
  explicit RawStore(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "meta", "chunks", "order", "tags"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* db = nullptr;
    status_ = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles_, &db);
    db_.reset(db);
  }
  ~RawStore() {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  }
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  bool ok() const { return status_.ok(); }
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }
  std::vector<std::pair<std::string, std::string>> all(const std::string& family) const {
    std::vector<std::pair<std::string, std::string>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    return out;
  }

 private:
  rocksdb::Status status_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace ghala::cache::test
