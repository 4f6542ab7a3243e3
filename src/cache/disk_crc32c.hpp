#pragma once
// CRC32C (Castagnoli), the checksum of the disk tier's records. RocksDB verifies its own blocks,
// but that only proves a block is the one RocksDB wrote; our checksum covers the record's key as
// well, so a chunk or metadata record that is intact but stored under the wrong key, or left over
// from another object, is detected too. Uses the SSE4.2 instruction when the CPU has it.

#include <cstdint>
#include <string_view>

namespace ghala::cache::disk {

// Continues a running CRC: crc32c_extend(crc32c_extend(0, a), b) == crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) noexcept;
inline std::uint32_t crc32c(std::string_view data) noexcept {
  return crc32c_extend(0, data);
}

}  // namespace ghala::cache::disk
