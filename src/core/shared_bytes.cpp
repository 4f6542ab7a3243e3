#include "ghala/core/shared_bytes.hpp"

#include <cstring>
#include <new>

#include "ghala/core/body_arena.hpp"

namespace ghala {

// The one place these buffers are allocated and freed: Rep, then the bytes, in one block.
SharedBytes SharedBytes::copy_of(std::string_view bytes) {
  if (bytes.size() > kMaxBytes) throw std::bad_alloc();
  void* block = ::operator new(sizeof(Rep) + bytes.size());
  Rep* rep = ::new (block) Rep{{1}, static_cast<std::uint32_t>(bytes.size())};
  if (!bytes.empty()) std::memcpy(bytes_of(rep), bytes.data(), bytes.size());
  SharedBytes out;
  out.rep_ = rep;
  return out;
}

bool SharedBytes::wants_arena(std::size_t size) noexcept {
  const std::size_t min = BodyArena::shared().min_bytes();
  return min != 0 && size >= min;
}

namespace {
BodyExtent extent_of(const auto& file) noexcept {
  return BodyArena::shared().extent_at(file.segment, file.page, file.size());
}
}  // namespace

std::optional<SharedBytes::FileSpan> SharedBytes::file_span() const noexcept {
  if (!rep_ || !rep_->in_file()) return std::nullopt;
  const BodyExtent e = extent_of(*static_cast<const FileRep*>(rep_));
  return FileSpan{e.fd, e.offset};
}

const char* SharedBytes::file_data() const noexcept {
  return extent_of(*static_cast<const FileRep*>(rep_)).data;
}

std::size_t SharedBytes::allocated_bytes() const noexcept {
  if (!rep_) return 0;
  if (rep_->in_file()) return sizeof(FileRep) + BodyArena::round_to_pages(rep_->size());
  return sizeof(Rep) + rep_->size();
}

// A copy in the arena, or null when it has no room.
SharedBytes SharedBytes::arena_copy(std::string_view bytes) {
  if (bytes.size() > kMaxBytes) return nullptr;
  auto extent = BodyArena::shared().allocate(bytes.size());
  if (!extent) return nullptr;
  FileRep* rep;
  try {
    rep = new FileRep{{{1}, static_cast<std::uint32_t>(bytes.size()) | Rep::kInFile},
                      extent->segment,
                      static_cast<std::uint32_t>(extent->offset / BodyArena::kPageBytes)};
  } catch (...) {
    BodyArena::shared().release(*extent);
    throw;
  }
  std::memcpy(extent->data, bytes.data(), bytes.size());
  SharedBytes out;
  out.rep_ = rep;
  return out;
}

SharedBytes SharedBytes::copy_sendable(std::string_view bytes) {
  if (!wants_arena(bytes.size())) return copy_of(bytes);
  SharedBytes out = arena_copy(bytes);
  return out ? out : copy_of(bytes);
}

void SharedBytes::append_sendable(std::vector<SharedBytes>& out, std::string_view bytes) {
  if (!wants_arena(bytes.size())) {
    out.push_back(copy_of(bytes));
    return;
  }
  const std::size_t lead = bytes.size() % BodyArena::kPageBytes;
  if (lead != 0) out.push_back(copy_of(bytes.substr(0, lead)));
  const std::string_view pages = bytes.substr(lead);
  if (pages.empty()) return;  // a min_bytes below a page
  SharedBytes file = arena_copy(pages);
  out.push_back(file ? std::move(file) : copy_of(pages));
}

void SharedBytes::release() noexcept {
  if (!rep_) return;
  // acq_rel: the last owner must see every other owner's reads finished before freeing.
  if (rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (rep_->in_file()) {
      auto* file = static_cast<FileRep*>(rep_);
      BodyArena::shared().release(extent_of(*file));
      delete file;
    } else {
      rep_->~Rep();
      ::operator delete(rep_);
    }
  }
  rep_ = nullptr;
}

}  // namespace ghala
