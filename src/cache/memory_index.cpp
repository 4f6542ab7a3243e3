#include "cache/memory_index.hpp"

#include <cstring>
#include <functional>
#include <new>

namespace ghala::cache {

// The key follows the struct directly; a 46-byte key fits the node in a 112-byte malloc chunk.
static_assert(sizeof(MemoryNode) <= 56);

std::uint32_t memory_key_hash(std::string_view key) noexcept {
  return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key));
}

MemoryNode::Ptr MemoryNode::make(std::string_view key) {
  void* mem = ::operator new(sizeof(MemoryNode) + key.size());
  Ptr n(new (mem) MemoryNode);
  n->hash_ = memory_key_hash(key);
  n->key_size_ = static_cast<std::uint32_t>(key.size());
  std::memcpy(reinterpret_cast<char*>(n.get() + 1), key.data(), key.size());
  return n;
}

void MemoryNode::Free::operator()(MemoryNode* n) const noexcept {
  const std::size_t bytes = sizeof(MemoryNode) + n->key_size_;
  n->~MemoryNode();
  ::operator delete(n, bytes);
}

MemoryIndex::~MemoryIndex() {
  for (MemoryNode* n : buckets_) {
    while (n != nullptr) {
      MemoryNode::Ptr owned(n);
      n = n->next_in_bucket_;
    }
  }
}

void MemoryIndex::insert(MemoryNode::Ptr n) {
  if (nodes_ + 1 > buckets_.size()) grow();
  MemoryNode*& head = buckets_[n->hash_ & mask()];
  n->next_in_bucket_ = head;
  head = n.release();
  ++nodes_;
  if (!has_other_with_key(head)) ++keys_;
}

MemoryNode::Ptr MemoryIndex::release(MemoryNode* n) noexcept {
  MemoryNode** link = &buckets_[n->hash_ & mask()];
  while (*link != n) link = &(*link)->next_in_bucket_;
  *link = n->next_in_bucket_;
  n->next_in_bucket_ = nullptr;
  --nodes_;
  if (!has_other_with_key(n)) --keys_;
  return MemoryNode::Ptr(n);
}

bool MemoryIndex::key_seen_before(const MemoryNode* n) const noexcept {
  for (const MemoryNode* m = buckets_[n->hash_ & mask()]; m != n; m = m->next_in_bucket_) {
    if (m->hash_ == n->hash_ && m->key() == n->key()) return true;
  }
  return false;
}

// Whether another node in n's bucket (n itself linked or not) has n's key.
bool MemoryIndex::has_other_with_key(const MemoryNode* n) const noexcept {
  for (const MemoryNode* m = buckets_[n->hash_ & mask()]; m != nullptr; m = m->next_in_bucket_) {
    if (m != n && m->hash_ == n->hash_ && m->key() == n->key()) return true;
  }
  return false;
}

// Doubles the buckets (64 at first) and relinks every node; a node's bucket follows from its
// stored hash, so no key is read. The new array is allocated before anything moves.
void MemoryIndex::grow() {
  std::vector<MemoryNode*> grown(buckets_.empty() ? 64 : 2 * buckets_.size(), nullptr);
  const std::size_t grown_mask = grown.size() - 1;
  for (MemoryNode* n : buckets_) {
    while (n != nullptr) {
      MemoryNode* next = n->next_in_bucket_;
      MemoryNode*& head = grown[n->hash_ & grown_mask];
      n->next_in_bucket_ = head;
      head = n;
      n = next;
    }
  }
  buckets_ = std::move(grown);
}

}  // namespace ghala::cache
