#pragma once
// Immutable bytes shared by reference count, in one allocation: the count, the size and the
// bytes. A cached body chunk is one: the memory tier, the disk tier's readers and every
// connection writing it (until its uv_write completes) hold references, from any thread (the
// count is atomic). Against std::shared_ptr<const std::string> this saves the separate control
// block and string object (48 bytes in a 64-byte malloc chunk) and one allocation per chunk.
//
// The bytes are copied in once, by copy_of(), copy_sendable() or append_sendable(); nothing can
// change them afterwards. The last two put large bodies in the body arena's memory files instead
// of the heap (core/body_arena.hpp): file_span() then says where, for sendfile.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace ghala {

class SharedBytes {
 public:
  SharedBytes() noexcept = default;
  SharedBytes(std::nullptr_t) noexcept {}  // NOLINT: reads like the pointer it replaces
  // The most bytes one buffer holds (2 GiB - 1; the cache's chunks are at most 16 MiB).
  static constexpr std::size_t kMaxBytes = (std::size_t{1} << 31) - 1;
  // A new buffer holding a copy of `bytes`. Throws std::bad_alloc only, also for more than
  // kMaxBytes.
  static SharedBytes copy_of(std::string_view bytes);
  // A copy in one piece in the shared body arena (its size rounded up to whole pages) when
  // `bytes` is at least the arena's min_bytes() and it has room; else copy_of(bytes). The cache
  // keeps bodies with append_sendable instead, which rounds nothing up. Throws std::bad_alloc.
  static SharedBytes copy_sendable(std::string_view bytes);
  // Appends `bytes` to `out` as a cached body is best kept: when they are at least the arena's
  // min_bytes(), their whole pages go to the arena and the rest (size % page, when not 0) first,
  // on the heap, so that no page is rounded up. A hit then still takes two system calls: the head
  // and that lead in one writev, the pages with sendfile. Smaller bodies: one heap copy.
  // Throws std::bad_alloc only.
  static void append_sendable(std::vector<SharedBytes>& out, std::string_view bytes);
  // Whether append_sendable would move `size` bytes to the arena.
  static bool wants_arena(std::size_t size) noexcept;
  bool in_arena() const noexcept { return rep_ && rep_->in_file(); }

  struct FileSpan {
    int fd;
    std::uint64_t offset;
  };
  // Where the bytes lie in a memory file, when they were copied into the body arena.
  std::optional<FileSpan> file_span() const noexcept;

  SharedBytes(const SharedBytes& other) noexcept : rep_(other.rep_) {
    if (rep_) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedBytes(SharedBytes&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  SharedBytes& operator=(SharedBytes other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~SharedBytes() { release(); }

  const char* data() const noexcept {
    if (!rep_) return nullptr;
    return rep_->in_file() ? file_data() : bytes_of(rep_);
  }
  std::size_t size() const noexcept { return rep_ ? rep_->size() : 0; }
  bool empty() const noexcept { return size() == 0; }
  std::string_view view() const noexcept { return {data(), size()}; }
  explicit operator bool() const noexcept { return rep_ != nullptr; }
  // Same buffer (not same bytes), as shared_ptr compares.
  friend bool operator==(const SharedBytes& a, const SharedBytes& b) noexcept {
    return a.rep_ == b.rep_;
  }
  friend bool operator==(const SharedBytes& a, std::nullptr_t) noexcept { return !a.rep_; }
  // Bytes of the allocation (header and bytes, whole pages in the arena), for memory
  // accounting; 0 when null.
  std::size_t allocated_bytes() const noexcept;

 private:
  // 8 bytes before the bytes of a heap buffer: with malloc's own 8, a 200-byte body costs 24.
  struct Rep {
    static constexpr std::uint32_t kInFile = 1u << 31;
    std::atomic<std::uint32_t> refs;
    std::uint32_t bits;  // the size, and kInFile for a FileRep (else the bytes follow the Rep)
    std::size_t size() const noexcept { return bits & ~kInFile; }
    bool in_file() const noexcept { return (bits & kInFile) != 0; }
  };

  // In the body arena (BodyArena::extent_at): 16 bytes, in malloc's smallest chunk.
  struct FileRep : Rep {
    std::uint32_t segment;
    std::uint32_t page;
  };
  static char* bytes_of(Rep* r) noexcept { return reinterpret_cast<char*>(r + 1); }
  static SharedBytes arena_copy(std::string_view bytes);
  const char* file_data() const noexcept;
  void release() noexcept;

  Rep* rep_ = nullptr;
};

// A part of shared bytes to write: a Range response's partial chunk goes out without a copy.
// Converts from SharedBytes (the whole of it).
struct SharedSlice {
  SharedBytes bytes;
  std::size_t offset = 0;
  std::size_t length = 0;

  SharedSlice() noexcept = default;
  SharedSlice(SharedBytes whole) noexcept  // NOLINT: a whole buffer is a slice
      : bytes(std::move(whole)), length(bytes.size()) {}
  SharedSlice(SharedBytes b, std::size_t off, std::size_t len) noexcept
      : bytes(std::move(b)), offset(off), length(len) {}

  std::string_view view() const noexcept { return bytes.view().substr(offset, length); }
  explicit operator bool() const noexcept { return static_cast<bool>(bytes); }
};

}  // namespace ghala
