#pragma once
// An ordered list of HTTP header fields. Order and duplicates are kept as received (RFC 9110 §5.3:
// a recipient may combine repeated fields, but forwarding them as they came is always correct).
// Names compare case-insensitively. Small header counts make a flat vector faster than a map.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/http/header_fields.hpp"

namespace ghala::http {

class HeaderMap {
 public:
  using const_iterator = std::vector<Header>::const_iterator;

  HeaderMap() = default;
  HeaderMap(const HeaderMap& other);
  HeaderMap& operator=(const HeaderMap& other);
  HeaderMap(HeaderMap&& other) noexcept;
  HeaderMap& operator=(HeaderMap&& other) noexcept;
  ~HeaderMap() = default;

  // Copies name and value into the map.
  // Returns the stored copy of value.
  std::string_view add(std::string_view name, std::string_view value) {
    const std::string_view n = keep(name);
    fields_.push_back(Header{n, keep(value)});
    return fields_.back().value;
  }
  // Replaces every field of that name with one field; returns the stored copy of value.
  std::string_view set(std::string_view name, std::string_view value);
  // Removes every field of that name; returns how many were removed.
  std::size_t remove(std::string_view name);

  // The first field of that name.
  std::optional<std::string_view> get(std::string_view name) const {
    return fields::get(fields_, name);
  }
  bool contains(std::string_view name) const { return get(name).has_value(); }
  std::size_t count(std::string_view name) const { return fields::count(fields_, name); }
  // All values of that name joined with ", " (RFC 9110 §5.3 list combination).
  std::optional<std::string> get_combined(std::string_view name) const {
    return fields::get_combined(fields_, name);
  }
  // True if the comma-separated list in any field of that name contains the token
  // (case-insensitive, optional whitespace trimmed), e.g. has_token("Connection", "close").
  bool has_token(std::string_view name, std::string_view token) const {
    return fields::has_token(fields_, name, token);
  }

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  const_iterator begin() const noexcept { return fields_.begin(); }
  const_iterator end() const noexcept { return fields_.end(); }
  // For removing or reordering fields in place. Only fields of this map may be put back: a
  // Header from elsewhere would point into storage this map does not own (use add).
  std::vector<Header>& fields() noexcept { return fields_; }
  const std::vector<Header>& fields() const noexcept { return fields_; }
  // Drops every field; the storage is kept for reuse.
  void clear() noexcept;
  // Room for `fields` fields and `bytes` bytes of names and values without another allocation.
  void reserve(std::size_t fields, std::size_t bytes);
  // Bytes of storage held (names and values, including removed ones), for memory accounting.
  std::size_t storage_bytes() const noexcept;
  // Rebuilds the storage as one exactly sized block (and the field list without spare room):
  // for maps that are kept, such as a stored cache object's.
  void shrink_to_fit();

 private:
  // Names and values live in blocks that never move once allocated, so the views in fields_
  // survive later additions, removals and moves of the map. One block for a typical head;
  // removed and replaced fields leave their bytes until clear().
  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
  };
  static constexpr std::size_t kFirstBlock = 512;
  std::string_view keep(std::string_view s) {
    if (s.empty()) return {};
    if (s.size() > room_) grow(s.size());
    char* at = next_;
    s.copy(at, s.size());
    next_ += s.size();
    room_ -= s.size();
    return {at, s.size()};
  }
  void grow(std::size_t need);
  void add_block(std::size_t size);
  void copy_from(const HeaderMap& other);

  std::vector<Header> fields_;
  std::vector<Block> blocks_;
  char* next_ = nullptr;  // free space in the last block
  std::size_t room_ = 0;
};

// The elements of a comma-separated header list, as for_each_list_element visits them.
std::vector<std::string_view> split_list(std::string_view value);

}  // namespace ghala::http
