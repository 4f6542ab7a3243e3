#pragma once
// A stored response, as the memory tier, the RocksDB tier and the request state machine see it.
// Immutable once published (shared as std::shared_ptr<const StoredObject> across worker
// threads); a change (a 304 header update, a soft purge) publishes a new object.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ghala/cache/age.hpp"
#include "ghala/core/shared_bytes.hpp"
#include "ghala/http/frozen_headers.hpp"

namespace ghala::cache {

// One piece of a body. Chunks are shared, never copied, between tiers and connections.
using Chunk = SharedBytes;

// An object's tags (Surrogate-Key / Cache-Tag values, for purge by tag). Most objects have
// none, so the object holds one pointer (8 bytes, where a vector takes 24) and the strings live
// in a vector of their own when there are some. Reads like a const vector of strings.
class TagList {
 public:
  TagList() noexcept = default;
  TagList(std::vector<std::string> tags)  // NOLINT: a list of tags is one
      : v_(tags.empty() ? nullptr : std::make_unique<std::vector<std::string>>(std::move(tags))) {}
  TagList(std::initializer_list<std::string> tags) : TagList(std::vector<std::string>(tags)) {}
  TagList(const TagList& o)
      : v_(o.v_ ? std::make_unique<std::vector<std::string>>(*o.v_) : nullptr) {}
  TagList(TagList&&) noexcept = default;
  TagList& operator=(TagList o) noexcept {
    v_ = std::move(o.v_);
    return *this;
  }
  ~TagList() = default;

  const std::string* begin() const noexcept { return v_ ? v_->data() : nullptr; }
  const std::string* end() const noexcept { return v_ ? v_->data() + v_->size() : nullptr; }
  std::size_t size() const noexcept { return v_ ? v_->size() : 0; }
  bool empty() const noexcept { return !v_; }
  const std::string& operator[](std::size_t i) const noexcept { return (*v_)[i]; }
  void push_back(std::string tag) {
    if (!v_) v_ = std::make_unique<std::vector<std::string>>();
    v_->push_back(std::move(tag));
  }
  friend bool operator==(const TagList& a, const TagList& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const TagList& a, const std::vector<std::string>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  std::unique_ptr<std::vector<std::string>> v_;  // null when there are none
};

struct StoredObject {
  std::uint64_t id = 0;  // unique per stored object in this cache (names disk chunks)
  int status = 200;
  http::FrozenHeaders headers;  // as stored: headers_to_store() of the response
  StoredTimings timings;        // request/response time, Date, Age: for RFC 9111 §4.2.3
  std::string vary_key;         // secondary key of this variant ("" when the response has no Vary)
  TagList tags;                 // Surrogate-Key / Cache-Tag values, for purge by tag
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
