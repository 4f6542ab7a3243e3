#pragma once
// A stored response, as the memory tier, the RocksDB tier and the request state machine see it.
// Immutable once published (shared as std::shared_ptr<const StoredObject> across worker
// threads); a change (a 304 header update, a soft purge) publishes a new object.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ghala/cache/age.hpp"
#include "ghala/core/shared_bytes.hpp"
#include "ghala/http/frozen_headers.hpp"

namespace ghala::cache {

// One piece of a body. Chunks are shared, never copied, between tiers and connections.
using Chunk = SharedBytes;

struct StoredObject {
  std::uint64_t id = 0;  // unique per stored object in this cache (names disk chunks)
  int status = 200;
  http::FrozenHeaders headers;  // as stored: headers_to_store() of the response
  StoredTimings timings;        // request/response time, Date, Age: for RFC 9111 §4.2.3
  std::string vary_key;         // secondary key of this variant ("" when the response has no Vary)
  std::vector<std::string> tags;  // Surrogate-Key / Cache-Tag values, for purge by tag
  std::uint64_t body_size = 0;
  // In memory: the whole body, in order. From disk: empty, and the body is read chunk by chunk
  // (chunk_count chunks of at most chunk_size bytes) so a large object never has to fit in RAM.
  std::vector<Chunk> chunks;
  std::uint32_t chunk_count = 0;
  std::uint32_t chunk_size = 0;
  std::int64_t soft_purged_at = 0;  // unix seconds; 0 = not purged. Soft purge = stale from then
};

using ObjectPtr = std::shared_ptr<const StoredObject>;

}  // namespace ghala::cache
