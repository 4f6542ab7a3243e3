#include "ghala/core/buffer.hpp"

#include <cstdlib>

namespace ghala {

BlockPool::~BlockPool() {
  while (free_) {
    Block* next = free_->next_free;
    std::free(free_);
    free_ = next;
  }
}

Block* BlockPool::acquire() {
  Block* b = free_;
  if (b) {
    free_ = b->next_free;
    --free_count_;
  } else {
    void* mem = std::malloc(sizeof(Block) + kBlockSize);
    if (!mem) throw std::bad_alloc();
    b = static_cast<Block*>(mem);
  }
  b->pool = this;
  b->refs = 1;
  b->capacity = kBlockSize;
  b->next_free = nullptr;
  ++outstanding_;
  return b;
}

void BlockPool::recycle(Block* b) noexcept {
  --outstanding_;
  if (free_count_ < max_free_) {
    b->next_free = free_;
    free_ = b;
    ++free_count_;
  } else {
    std::free(b);
  }
}

}  // namespace ghala
