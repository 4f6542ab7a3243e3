#pragma once
// Immutable bytes shared by reference count, in one allocation: the count, the size and the
// bytes. A cached body chunk is one: the memory tier, the disk tier's readers and every
// connection writing it (until its uv_write completes) hold references, from any thread (the
// count is atomic). Against std::shared_ptr<const std::string> this saves the separate control
// block and string object (48 bytes in a 64-byte malloc chunk) and one allocation per chunk.
//
// The bytes are copied in once, by copy_of(); nothing can change them afterwards.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace ghala {

class SharedBytes {
 public:
  SharedBytes() noexcept = default;
  SharedBytes(std::nullptr_t) noexcept {}  // NOLINT: reads like the pointer it replaces
  // A new buffer holding a copy of `bytes`. Throws std::bad_alloc only.
  static SharedBytes copy_of(std::string_view bytes);

  SharedBytes(const SharedBytes& other) noexcept : rep_(other.rep_) {
    if (rep_) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedBytes(SharedBytes&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  SharedBytes& operator=(SharedBytes other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~SharedBytes() { release(); }

  const char* data() const noexcept { return rep_ ? bytes_of(rep_) : nullptr; }
  std::size_t size() const noexcept { return rep_ ? rep_->size : 0; }
  bool empty() const noexcept { return size() == 0; }
  std::string_view view() const noexcept { return {data(), size()}; }
  explicit operator bool() const noexcept { return rep_ != nullptr; }
  // Same buffer (not same bytes), as shared_ptr compares.
  friend bool operator==(const SharedBytes& a, const SharedBytes& b) noexcept {
    return a.rep_ == b.rep_;
  }
  friend bool operator==(const SharedBytes& a, std::nullptr_t) noexcept { return !a.rep_; }
  // Bytes of the allocation (header and bytes), for memory accounting; 0 when null.
  std::size_t allocated_bytes() const noexcept { return rep_ ? sizeof(Rep) + rep_->size : 0; }

 private:
  struct Rep {
    std::atomic<std::uint32_t> refs;
    std::size_t size;
  };
  static char* bytes_of(Rep* r) noexcept { return reinterpret_cast<char*>(r + 1); }
  void release() noexcept;

  Rep* rep_ = nullptr;
};

}  // namespace ghala
