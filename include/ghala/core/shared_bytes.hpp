#pragma once
// Immutable bytes shared by reference count, in one allocation: the count, the size and the
// bytes. A cached body chunk is one: the memory tier, the disk tier's readers and every
// connection writing it (until its uv_write completes) hold references, from any thread (the
// count is atomic). Against std::shared_ptr<const std::string> this saves the separate control
// block and string object (48 bytes in a 64-byte malloc chunk) and one allocation per chunk.
//
// The bytes are copied in once, by copy_of() or copy_sendable(); nothing can change them
// afterwards. copy_sendable() puts large bodies in the body arena's memory files instead of the
// heap (core/body_arena.hpp): file_span() then says where, for sendfile.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "ghala/core/body_extent.hpp"

namespace ghala {

class SharedBytes {
 public:
  SharedBytes() noexcept = default;
  SharedBytes(std::nullptr_t) noexcept {}  // NOLINT: reads like the pointer it replaces
  // A new buffer holding a copy of `bytes`. Throws std::bad_alloc only.
  static SharedBytes copy_of(std::string_view bytes);
  // A copy in the shared body arena when `bytes` is at least its min_bytes() and it has room;
  // else copy_of(bytes). Throws std::bad_alloc only.
  static SharedBytes copy_sendable(std::string_view bytes);
  // `bytes` itself when it is already in the arena or copy_sendable would not move it there.
  static SharedBytes sendable(SharedBytes bytes);

  struct FileSpan {
    int fd;
    std::uint64_t offset;
  };
  // Where the bytes lie in a memory file, when they were copied into the body arena.
  std::optional<FileSpan> file_span() const noexcept {
    if (!rep_ || !rep_->in_file) return std::nullopt;
    const auto& e = static_cast<const FileRep*>(rep_)->extent;
    return FileSpan{e.fd, e.offset};
  }

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
    return rep_->in_file ? static_cast<const FileRep*>(rep_)->extent.data : bytes_of(rep_);
  }
  std::size_t size() const noexcept { return rep_ ? rep_->size : 0; }
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
  std::size_t allocated_bytes() const noexcept {
    if (!rep_) return 0;
    if (rep_->in_file) return sizeof(FileRep) + static_cast<const FileRep*>(rep_)->extent.length;
    return sizeof(Rep) + rep_->size;
  }

 private:
  struct Rep {
    std::atomic<std::uint32_t> refs;
    bool in_file;  // a FileRep; else the bytes follow the Rep
    std::size_t size;
  };
  struct FileRep : Rep {
    BodyExtent extent;
  };
  static char* bytes_of(Rep* r) noexcept { return reinterpret_cast<char*>(r + 1); }
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
