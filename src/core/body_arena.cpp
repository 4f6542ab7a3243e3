#include "ghala/core/body_arena.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "ghala/core/log.hpp"

namespace ghala {

BodyArena::BodyArena(std::uint64_t segment_bytes)
    : segment_bytes_(round_to_pages(segment_bytes == 0 ? kPageBytes : segment_bytes)) {}

BodyArena::~BodyArena() {
  for (std::uint32_t i = 0; i < slots_in_use_; ++i) {
    if (segments_[i]) close_segment(*segments_[i]);
  }
}

BodyArena& BodyArena::shared() {
  // Never destroyed: cached objects (and their extents) may outlive static destruction order.
  static auto* arena = new BodyArena();
  return *arena;
}

BodyArena::Segment* BodyArena::open_segment(std::uint32_t* index) noexcept {
  if (unsupported_) return nullptr;
  std::uint32_t slot = 0;
  while (slot < slots_in_use_ && segments_[slot]) ++slot;
  if (slot == kMaxSegments) return nullptr;
  const int fd = ::memfd_create("ghala-bodies", MFD_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOSYS || errno == EPERM || errno == EINVAL) {
      unsupported_ = true;
      log_warn(std::string("body arena: memfd_create failed (") + std::strerror(errno) +
               "); cached bodies are sent by copying");
    }
    return nullptr;
  }
  if (::ftruncate(fd, static_cast<off_t>(segment_bytes_)) != 0) {
    ::close(fd);
    return nullptr;
  }
  void* base = ::mmap(nullptr, segment_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<Segment> seg;
  try {
    seg = std::make_unique<Segment>();
    seg->free_by_offset.emplace(0, segment_bytes_);
    seg->free_by_length.emplace(segment_bytes_, 0);
  } catch (const std::bad_alloc&) {
    ::munmap(base, segment_bytes_);
    ::close(fd);
    return nullptr;
  }
  seg->fd = fd;
  seg->base = static_cast<char*>(base);
  segments_[slot] = std::move(seg);
  if (slot == slots_in_use_) ++slots_in_use_;
  *index = slot;
  return segments_[slot].get();
}

void BodyArena::close_segment(Segment& s) noexcept {
  if (s.base) ::munmap(s.base, segment_bytes_);
  if (s.fd >= 0) ::close(s.fd);
  s.base = nullptr;
  s.fd = -1;
}

void BodyArena::take(Segment& s, std::uint64_t offset, std::uint64_t length, std::uint64_t want) {
  s.free_by_length.erase({length, offset});
  s.free_by_offset.erase(offset);
  if (length > want) {
    s.free_by_offset.emplace(offset + want, length - want);
    s.free_by_length.emplace(length - want, offset + want);
  }
  s.used += want;
  ++s.extents;
}

void BodyArena::give(Segment& s, std::uint64_t offset, std::uint64_t length) {
  s.used -= length;
  --s.extents;
  auto next = s.free_by_offset.lower_bound(offset);
  if (next != s.free_by_offset.end() && offset + length == next->first) {
    length += next->second;
    s.free_by_length.erase({next->second, next->first});
    next = s.free_by_offset.erase(next);
  }
  if (next != s.free_by_offset.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      s.free_by_length.erase({prev->second, prev->first});
      offset = prev->first;
      length += prev->second;
      s.free_by_offset.erase(prev);
    }
  }
  s.free_by_offset.emplace(offset, length);
  s.free_by_length.emplace(length, offset);
}

std::optional<BodyArena::Extent> BodyArena::allocate(std::size_t size) noexcept {
  if (size == 0 || size > segment_bytes_) return std::nullopt;
  const std::uint64_t want = round_to_pages(size);
  try {
    std::lock_guard lock(mu_);
    Segment* chosen = nullptr;
    std::uint32_t index = 0;
    std::pair<std::uint64_t, std::uint64_t> fit;
    for (std::uint32_t i = 0; i < slots_in_use_; ++i) {
      Segment* s = segments_[i].get();
      if (!s) continue;
      auto it = s->free_by_length.lower_bound({want, 0});
      if (it == s->free_by_length.end()) continue;
      if (!chosen || it->first < fit.first) {
        chosen = s;
        index = i;
        fit = *it;
        if (fit.first == want) break;
      }
    }
    if (!chosen) {
      chosen = open_segment(&index);
      if (!chosen) return std::nullopt;
      fit = {segment_bytes_, 0};
    }
    take(*chosen, fit.second, fit.first, want);
    return Extent{chosen->base + fit.second, chosen->fd, fit.second, want, index};
  } catch (const std::bad_alloc&) {
    return std::nullopt;
  }
}

void BodyArena::release(const Extent& e) noexcept {
  // Before the range can be handed out again: the file lets go of its pages, which sockets may
  // still hold (see the header). Outside the lock: it is a system call per freed object.
  ::fallocate(e.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(e.offset),
              static_cast<off_t>(e.length));
  std::lock_guard lock(mu_);
  Segment* s = segments_[e.segment].get();
  try {
    give(*s, e.offset, e.length);
  } catch (const std::bad_alloc&) {
    // The range is lost to reuse (its pages are already freed): a leak of address space only.
    return;
  }
  if (s->extents != 0) return;
  std::size_t open = 0;
  for (std::uint32_t i = 0; i < slots_in_use_; ++i) open += segments_[i] ? 1 : 0;
  if (open > 1) {  // keep one empty segment for the next object, release the others
    close_segment(*s);
    segments_[e.segment].reset();
  }
}

BodyArena::Stats BodyArena::stats() const {
  std::lock_guard lock(mu_);
  Stats st;
  for (std::uint32_t i = 0; i < slots_in_use_; ++i) {
    const Segment* s = segments_[i].get();
    if (!s) continue;
    ++st.segments;
    st.used_bytes += s->used;
    st.extents += s->extents;
  }
  return st;
}

}  // namespace ghala
