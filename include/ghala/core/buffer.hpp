#pragma once
// Reference-counted I/O blocks from a per-thread pool. A socket read lands in a Block; body bytes
// parsed out of it are forwarded to the other side by taking a reference instead of copying, and
// the block returns to the pool when the last write that uses it completes. A pool belongs to one
// worker loop and is not thread-safe.

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>

namespace ghala {

class BlockPool;

struct Block {
  BlockPool* pool;
  std::uint32_t refs;
  std::uint32_t capacity;
  Block* next_free;
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
};

class BlockPool {
 public:
  static constexpr std::uint32_t kBlockSize = 64 * 1024;

  explicit BlockPool(std::size_t max_free = 256) : max_free_(max_free) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  Block* acquire();  // refs == 1
  static void ref(Block* b) noexcept { ++b->refs; }
  static void unref(Block* b) noexcept {
    if (--b->refs == 0) b->pool->recycle(b);
  }
  std::size_t outstanding() const noexcept { return outstanding_; }
  std::size_t free_count() const noexcept { return free_count_; }

 private:
  void recycle(Block* b) noexcept;
  Block* free_ = nullptr;
  std::size_t free_count_ = 0;
  std::size_t max_free_;
  std::size_t outstanding_ = 0;
};

// A counted reference to a slice of a block.
class BlockRef {
 public:
  BlockRef() = default;
  BlockRef(Block* b, std::string_view slice) noexcept : block_(b), slice_(slice) {
    if (block_) BlockPool::ref(block_);
  }
  BlockRef(const BlockRef& o) noexcept : BlockRef(o.block_, o.slice_) {}
  BlockRef(BlockRef&& o) noexcept : block_(o.block_), slice_(o.slice_) { o.block_ = nullptr; }
  BlockRef& operator=(BlockRef o) noexcept {
    std::swap(block_, o.block_);
    std::swap(slice_, o.slice_);
    return *this;
  }
  ~BlockRef() {
    if (block_) BlockPool::unref(block_);
  }
  std::string_view view() const noexcept { return slice_; }
  bool empty() const noexcept { return slice_.empty(); }
  const Block* block() const noexcept { return block_; }

 private:
  Block* block_ = nullptr;
  std::string_view slice_;
};

}  // namespace ghala
