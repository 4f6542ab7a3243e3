#include "ghala/core/shared_bytes.hpp"

#include <cstring>
#include <new>

namespace ghala {

// The one place these buffers are allocated and freed: Rep, then the bytes, in one block.
SharedBytes SharedBytes::copy_of(std::string_view bytes) {
  void* block = ::operator new(sizeof(Rep) + bytes.size());
  Rep* rep = ::new (block) Rep{{1}, bytes.size()};
  if (!bytes.empty()) std::memcpy(bytes_of(rep), bytes.data(), bytes.size());
  SharedBytes out;
  out.rep_ = rep;
  return out;
}

void SharedBytes::release() noexcept {
  if (!rep_) return;
  // acq_rel: the last owner must see every other owner's reads finished before freeing.
  if (rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rep_->~Rep();
    ::operator delete(rep_);
  }
  rep_ = nullptr;
}

}  // namespace ghala
