#pragma once
// Immutable header fields in one allocation: the form a stored cache object keeps its head in,
// where a HeaderMap would cost two views per field, a field vector and a block list (about 45
// bytes per field beyond the text; this costs 6). Read like a HeaderMap (same lookups, iteration
// yields Header views into the block); to change fields, go through to_map() and freeze again.
//
// Layout of the block: field count (u32), text bytes (u32), the value sizes (u32 each), the name
// sizes (u16 each), then name and value of each field back to back. Names are bounded by
// kMaxNameBytes and the text by kMaxTextBytes; freeze() refuses anything larger rather than
// truncating. Every response head the parser accepts fits (static_assert in frozen_headers.cpp).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ghala/http/header_fields.hpp"

namespace ghala::http {

class HeaderMap;

class FrozenHeaders {
 public:
  static constexpr std::size_t kMaxNameBytes = std::numeric_limits<std::uint16_t>::max();
  // 16 MiB: the largest max_header_bytes the config accepts, far above the 64 KiB response heads
  // the parser accepts (a stored head is one response's, or two merged by a 304 update).
  static constexpr std::size_t kMaxTextBytes = std::size_t{16} << 20;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Header;

    const_iterator() = default;
    Header operator*() const noexcept {
      const std::size_t n = name_size(block_, i_);
      return Header{{text_ + offset_, n}, {text_ + offset_ + n, value_size(block_, i_)}};
    }
    const_iterator& operator++() noexcept {
      offset_ += name_size(block_, i_) + value_size(block_, i_);
      ++i_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const noexcept { return i_ == o.i_; }

   private:
    friend class FrozenHeaders;
    const_iterator(const unsigned char* block, std::size_t i) noexcept
        : block_(block), text_(block ? text_of(block) : nullptr), i_(i) {}
    const unsigned char* block_ = nullptr;
    const char* text_ = nullptr;
    std::size_t i_ = 0;
    std::size_t offset_ = 0;  // of field i_'s name in the text
  };

  FrozenHeaders() = default;
  FrozenHeaders(const FrozenHeaders& other);
  FrozenHeaders& operator=(const FrozenHeaders& other);
  FrozenHeaders(FrozenHeaders&&) noexcept = default;
  FrozenHeaders& operator=(FrozenHeaders&&) noexcept = default;
  ~FrozenHeaders() = default;

  // The fields of `map` in order; nullopt when a name is longer than kMaxNameBytes or all names
  // and values together exceed kMaxTextBytes.
  static std::optional<FrozenHeaders> freeze(const HeaderMap& map);
  // A HeaderMap with the same fields in the same order (one exactly sized block).
  HeaderMap to_map() const;

  std::optional<std::string_view> get(std::string_view name) const {
    return fields::get(*this, name);
  }
  bool contains(std::string_view name) const { return get(name).has_value(); }
  std::size_t count(std::string_view name) const { return fields::count(*this, name); }
  std::optional<std::string> get_combined(std::string_view name) const {
    return fields::get_combined(*this, name);
  }
  bool has_token(std::string_view name, std::string_view token) const {
    return fields::has_token(*this, name, token);
  }

  std::size_t size() const noexcept { return block_ ? load_u32(block_.get()) : 0; }
  bool empty() const noexcept { return size() == 0; }
  const_iterator begin() const noexcept { return {block_.get(), 0}; }
  const_iterator end() const noexcept { return {block_.get(), size()}; }
  // Bytes of the block (index and text), for memory accounting; 0 when empty.
  std::size_t storage_bytes() const noexcept {
    return block_ ? block_bytes(size(), load_u32(block_.get() + 4)) : 0;
  }

 private:
  static constexpr std::size_t kPrefix = 8;  // count, text bytes
  static std::size_t block_bytes(std::size_t fields, std::size_t text) noexcept {
    return kPrefix + fields * (sizeof(std::uint32_t) + sizeof(std::uint16_t)) + text;
  }
  static std::uint32_t load_u32(const unsigned char* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static std::size_t value_size(const unsigned char* block, std::size_t i) noexcept {
    return load_u32(block + kPrefix + i * sizeof(std::uint32_t));
  }
  static std::size_t name_size(const unsigned char* block, std::size_t i) noexcept {
    std::uint16_t v;
    std::memcpy(
        &v, block + kPrefix + load_u32(block) * sizeof(std::uint32_t) + i * sizeof(std::uint16_t),
        sizeof v);
    return v;
  }
  static const char* text_of(const unsigned char* block) noexcept {
    return reinterpret_cast<const char*>(block + block_bytes(load_u32(block), 0));
  }

  std::unique_ptr<unsigned char[]> block_;
};

}  // namespace ghala::http
