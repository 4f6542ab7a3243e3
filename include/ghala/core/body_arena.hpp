#pragma once
// Memory files for cached bodies that go out with sendfile(2).
//
// A cache hit written from ordinary memory is copied by the kernel into fresh socket buffers on
// every send; from a memory file (memfd, tmpfs pages) sendfile makes the socket buffers point at
// the file's pages instead: no copy, and every connection sending the same object reads the same
// few pages, which stay hot in the CPU cache. At 1,000 connections fetching one 100 KiB object
// the copies cost ghala about a fifth of its hit rate against nginx, which sends its cache files
// with sendfile (docs/benchmarks.md, "Zero-copy hits").
//
// The arena hands out page-aligned extents of a few large memory files (segments). Best fit per
// segment, neighbours merged on release. An extent's pages may still be referenced by socket
// buffers after its last owner lets go (sendfile queues page references, not copies), so release
// punches a hole first: the file drops those pages (the kernel frees them once the sockets are
// done) and the next owner of the range writes into new pages. Nothing in flight ever changes.
//
// Thread-safe: one mutex, taken when an object is stored or freed, never per hit.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "ghala/core/body_extent.hpp"

namespace ghala {

class BodyArena {
 public:
  using Extent = BodyExtent;
  struct Stats {
    std::size_t segments = 0;
    std::uint64_t used_bytes = 0;  // in extents handed out (pages rounded up)
    std::size_t extents = 0;
  };

  static constexpr std::uint64_t kPageBytes = 4096;
  static constexpr std::uint64_t kDefaultSegmentBytes = 64ull << 20;
  // Bodies this large go to the arena (config `cache.memory.sendfile_min_size`). Below it the
  // copy saved is small against the page rounding (up to 4 KiB) and the second system call
  // (head, then sendfile); gains were measured at 100 KiB (docs/benchmarks.md).
  static constexpr std::size_t kDefaultMinBytes = 16 * 1024;

  explicit BodyArena(std::uint64_t segment_bytes = kDefaultSegmentBytes);
  ~BodyArena();
  BodyArena(const BodyArena&) = delete;
  BodyArena& operator=(const BodyArena&) = delete;

  // The process-wide arena that SharedBytes::copy_sendable uses.
  static BodyArena& shared();

  // Room for `size` bytes (rounded up to whole pages), or nullopt: size 0 or larger than a
  // segment, memory files unsupported (the first failure of memfd_create turns the arena off),
  // or no memory for a new segment.
  std::optional<Extent> allocate(std::size_t size) noexcept;
  // Gives the extent back; its bytes must not be read any more.
  void release(const Extent& extent) noexcept;

  Stats stats() const;

  // Bodies of at least this many bytes are put in the arena by SharedBytes::copy_sendable;
  // 0: none. Set from the config each time one is loaded.
  std::size_t min_bytes() const noexcept { return min_bytes_.load(std::memory_order_relaxed); }
  void set_min_bytes(std::size_t n) noexcept { min_bytes_.store(n, std::memory_order_relaxed); }

 private:
  struct Segment {
    int fd = -1;
    char* base = nullptr;
    std::map<std::uint64_t, std::uint64_t> free_by_offset;             // offset -> length
    std::set<std::pair<std::uint64_t, std::uint64_t>> free_by_length;  // (length, offset)
    std::uint64_t used = 0;
    std::size_t extents = 0;
  };

  Segment* open_segment() noexcept;  // with the lock held
  void take(Segment& s, std::uint64_t offset, std::uint64_t length, std::uint64_t want);
  void give(Segment& s, std::uint64_t offset, std::uint64_t length);
  void close_segment(Segment& s) noexcept;

  const std::uint64_t segment_bytes_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Segment>> segments_;  // null where a segment was closed
  bool unsupported_ = false;
  std::atomic<std::size_t> min_bytes_{kDefaultMinBytes};
};

}  // namespace ghala
