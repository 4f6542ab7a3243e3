#pragma once
// The disk tier's record formats: keys and values of its RocksDB column families (the layout is
// described in docs/caching.md, "Disk tier (RocksDB)"). Every value is versioned and carries a
// CRC32C over its key and its bytes; decoding is defensive: any malformed, truncated or
// mismatched record gives an error, never a crash or an allocation larger than the record.

#include <cstdint>
#include <string>
#include <string_view>

#include "ghala/cache/object.hpp"
#include "ghala/core/result.hpp"

namespace ghala::cache::disk {

inline constexpr std::uint8_t kFormatVersion = 1;
inline constexpr std::size_t kChunkHeaderBytes = 5;  // version + CRC32C

// "meta" CF key: primary key, NUL, vary key. Primary keys never contain NUL (checked), so the
// first NUL splits the two and "primary\0" is the prefix of all variants of one URL.
std::string meta_key(std::string_view primary_key, std::string_view vary_key);
std::string_view primary_of(std::string_view meta_key) noexcept;

// "chunks" CF key: object id and chunk index, big-endian so an object's chunks are contiguous
// and one DeleteRange [chunk_key(id, 0), chunk_range_end(id)) removes them all.
std::string chunk_key(std::uint64_t id, std::uint32_t index);
std::string chunk_range_end(std::uint64_t id);

// "order" CF key: the eviction sequence number, big-endian (oldest first). Value: object id
// and meta key, so an order record alone is enough to clean up an object whose metadata is lost.
std::string order_key(std::uint64_t seq);
std::string order_value(std::uint64_t id, std::string_view meta_key);
struct OrderEntry {
  std::uint64_t seq = 0;
  std::uint64_t id = 0;
  std::string meta_key;
};
Result<OrderEntry> decode_order(std::string_view key, std::string_view value);

// "tags" CF key: tag, NUL, meta key; empty value. Tags never contain NUL (checked).
std::string tag_key(std::string_view tag, std::string_view meta_key);

// Default CF: the id counter's high-water mark and the intents of streaming writes in progress.
inline constexpr std::string_view kCounterKey = "n";
std::string pending_key(std::uint64_t id);  // "p" + big-endian id
std::string encode_u64(std::uint64_t v);    // little-endian, fixed 8 bytes
Result<std::uint64_t> decode_u64(std::string_view v);
std::uint64_t read_be64(std::string_view b) noexcept;  // b.size() >= 8

// The metadata record: a StoredObject without chunks, plus the eviction sequence number.
struct MetaRecord {
  StoredObject object;  // chunks always empty
  std::uint64_t seq = 0;
  std::size_t encoded_size = 0;  // set by encode_meta / decode_meta, for byte accounting
};
std::string encode_meta(std::string_view key, MetaRecord& record);
Result<MetaRecord> decode_meta(std::string_view key, std::string_view value);

// Chunk values: version, CRC32C(key + version + payload), payload.
std::string encode_chunk(std::string_view key, std::string_view payload);
// The payload, if the record is intact and exactly expected_size bytes long.
Result<std::string_view> decode_chunk(std::string_view key, std::string_view value,
                                      std::size_t expected_size);

// Number of chunks of a body, and the size chunk `index` must have.
std::uint32_t chunk_count_for(std::uint64_t body_size, std::uint32_t chunk_size) noexcept;
std::size_t expected_chunk_size(const StoredObject& object, std::uint32_t index) noexcept;

}  // namespace ghala::cache::disk
