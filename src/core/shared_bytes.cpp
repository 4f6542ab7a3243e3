#include "ghala/core/shared_bytes.hpp"

#include <cstring>
#include <new>

#include "ghala/core/body_arena.hpp"

namespace ghala {

// The one place these buffers are allocated and freed: Rep, then the bytes, in one block.
SharedBytes SharedBytes::copy_of(std::string_view bytes) {
  void* block = ::operator new(sizeof(Rep) + bytes.size());
  Rep* rep = ::new (block) Rep{{1}, false, bytes.size()};
  if (!bytes.empty()) std::memcpy(bytes_of(rep), bytes.data(), bytes.size());
  SharedBytes out;
  out.rep_ = rep;
  return out;
}

namespace {
bool wants_arena(std::size_t size) {
  const std::size_t min = BodyArena::shared().min_bytes();
  return min != 0 && size >= min;
}
}  // namespace

SharedBytes SharedBytes::copy_sendable(std::string_view bytes) {
  if (!wants_arena(bytes.size())) return copy_of(bytes);
  auto extent = BodyArena::shared().allocate(bytes.size());
  if (!extent) return copy_of(bytes);
  FileRep* rep;
  try {
    rep = new FileRep{{{1}, true, bytes.size()}, *extent};
  } catch (...) {
    BodyArena::shared().release(*extent);
    throw;
  }
  std::memcpy(extent->data, bytes.data(), bytes.size());
  SharedBytes out;
  out.rep_ = rep;
  return out;
}

SharedBytes SharedBytes::sendable(SharedBytes bytes) {
  if (!bytes || bytes.rep_->in_file || !wants_arena(bytes.size())) return bytes;
  return copy_sendable(bytes.view());
}

void SharedBytes::release() noexcept {
  if (!rep_) return;
  // acq_rel: the last owner must see every other owner's reads finished before freeing.
  if (rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (rep_->in_file) {
      auto* file = static_cast<FileRep*>(rep_);
      BodyArena::shared().release(file->extent);
      delete file;
    } else {
      rep_->~Rep();
      ::operator delete(rep_);
    }
  }
  rep_ = nullptr;
}

}  // namespace ghala
