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

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

namespace ghala {

// A range of pages in one of the arena's memory files.
struct BodyExtent {
  char* data = nullptr;       // the extent's bytes, mapped read-write
  int fd = -1;                // the memory file, for sendfile
  std::uint64_t offset = 0;   // of the extent in the file
  std::uint64_t length = 0;   // whole pages
  std::uint32_t segment = 0;  // index of the segment, for release
};

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
  // At most this many segments are open at once (256 GiB of bodies at the default size); then
  // allocate() says no and bodies stay on the heap.
  static constexpr std::uint32_t kMaxSegments = 4096;
  // Bodies this large go to the arena (config `cache.memory.sendfile_min_size`), their whole
  // pages (SharedBytes::append_sendable). Below it the copy saved is small against the second
  // system call (head, then sendfile); gains were measured at 100 KiB (docs/benchmarks.md).
  static constexpr std::size_t kDefaultMinBytes = 16 * 1024;

  explicit BodyArena(std::uint64_t segment_bytes = kDefaultSegmentBytes);
  ~BodyArena();
  BodyArena(const BodyArena&) = delete;
  BodyArena& operator=(const BodyArena&) = delete;

  // The process-wide arena that SharedBytes::append_sendable and copy_sendable use.
  static BodyArena& shared();

  // Room for `size` bytes (rounded up to whole pages), or nullopt: size 0 or larger than a
  // segment, memory files unsupported (the first failure of memfd_create turns the arena off),
  // or no memory for a new segment.
  std::optional<Extent> allocate(std::size_t size) noexcept;
  // Gives the extent back; its bytes must not be read any more.
  void release(const Extent& extent) noexcept;
  // The extent of `length` bytes at page `page` of segment `segment`, as allocate() handed it
  // out: SharedBytes keeps only those two numbers (8 bytes instead of the Extent's 40). Lock-free;
  // the extent must not have been released.
  Extent extent_at(std::uint32_t segment, std::uint32_t page, std::uint64_t length) const noexcept {
    const Segment& s = *segments_[segment];
    const std::uint64_t offset = std::uint64_t{page} * kPageBytes;
    return Extent{s.base + offset, s.fd, offset, round_to_pages(length), segment};
  }
  static constexpr std::uint64_t round_to_pages(std::uint64_t n) noexcept {
    return (n + kPageBytes - 1) / kPageBytes * kPageBytes;
  }

  Stats stats() const;

  // Bodies of at least this many bytes are put in the arena by SharedBytes::append_sendable;
  // 0: none. Set from the config each time one is loaded.
  std::size_t min_bytes() const noexcept { return min_bytes_.load(std::memory_order_relaxed); }
  void set_min_bytes(std::size_t n) noexcept { min_bytes_.store(n, std::memory_order_relaxed); }

 private:
  struct Segment {
    int fd = -1;  // fd and base do not change while the segment holds an extent
    char* base = nullptr;
    std::map<std::uint64_t, std::uint64_t> free_by_offset;             // offset -> length
    std::set<std::pair<std::uint64_t, std::uint64_t>> free_by_length;  // (length, offset)
    std::uint64_t used = 0;
    std::size_t extents = 0;
  };

  Segment* open_segment(std::uint32_t* index) noexcept;  // with the lock held
  void take(Segment& s, std::uint64_t offset, std::uint64_t length, std::uint64_t want);
  void give(Segment& s, std::uint64_t offset, std::uint64_t length);
  void close_segment(Segment& s) noexcept;

  const std::uint64_t segment_bytes_;
  mutable std::mutex mu_;
  // Null where no segment is open. A slot changes only under the lock and only while no extent
  // lies in it (opening, closing), so extent_at() may read the slot of a live extent without it.
  std::array<std::unique_ptr<Segment>, kMaxSegments> segments_;
  std::uint32_t slots_in_use_ = 0;  // the slots past this one have never been used
  bool unsupported_ = false;
  std::atomic<std::size_t> min_bytes_{kDefaultMinBytes};
};

}  // namespace ghala
