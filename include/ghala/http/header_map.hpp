#pragma once
// An ordered list of HTTP header fields. Order and duplicates are kept as received (RFC 9110 §5.3:
// a recipient may combine repeated fields, but forwarding them as they came is always correct).
// Names compare case-insensitively. Small header counts make a flat vector faster than a map.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ghala::http {

bool iequals(std::string_view a, std::string_view b) noexcept;

struct Header {
  std::string name;
  std::string value;
};

class HeaderMap {
 public:
  using const_iterator = std::vector<Header>::const_iterator;

  void add(std::string_view name, std::string_view value) {
    fields_.push_back(Header{std::string(name), std::string(value)});
  }
  // Replaces every field of that name with one field.
  void set(std::string_view name, std::string_view value);
  // Removes every field of that name; returns how many were removed.
  std::size_t remove(std::string_view name);

  // The first field of that name.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  std::size_t count(std::string_view name) const;
  // All values of that name joined with ", " (RFC 9110 §5.3 list combination).
  std::optional<std::string> get_combined(std::string_view name) const;
  // True if the comma-separated list in any field of that name contains the token
  // (case-insensitive, optional whitespace trimmed), e.g. has_token("Connection", "close").
  bool has_token(std::string_view name, std::string_view token) const;

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  const_iterator begin() const noexcept { return fields_.begin(); }
  const_iterator end() const noexcept { return fields_.end(); }
  std::vector<Header>& fields() noexcept { return fields_; }
  const std::vector<Header>& fields() const noexcept { return fields_; }
  void clear() noexcept { fields_.clear(); }

 private:
  std::vector<Header> fields_;
};

// Splits a comma-separated header list into trimmed, non-empty elements (no quoted-string
// awareness; use the dedicated parsers for fields that carry quoted strings).
std::vector<std::string_view> split_list(std::string_view value);
std::string_view trim_ows(std::string_view s) noexcept;

}  // namespace ghala::http
