#pragma once
// What reading a list of header fields means, once for every representation: http::HeaderMap
// (mutable, for messages in flight) and http::FrozenHeaders (immutable and compact, for stored
// cache objects). Both implement their lookups with these algorithms, and code that only reads
// fields (the RFC 9111 functions) is written once against the ReadableHeaders concept.

#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace ghala::http {

namespace detail {
constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
}  // namespace detail

// ASCII case-insensitive equality (field names, tokens). Inline: every lookup calls it per field.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (detail::ascii_lower(a[i]) != detail::ascii_lower(b[i])) return false;
  }
  return true;
}

// One field: views into storage owned by the container it came from, valid as long as it.
struct Header {
  std::string_view name;
  std::string_view value;
};

// Without leading and trailing spaces and tabs (RFC 9110 §5.6.3 OWS).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each trimmed, non-empty element of a comma-separated header list, in
// order, without allocating (no quoted-string awareness; use the dedicated parsers for fields
// that carry quoted strings).
template <class F>
void for_each_list_element(std::string_view value, F&& f) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const auto part = trim_ows(value.substr(0, comma));
    if (!part.empty()) f(part);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// A sequence of fields that can be read: iteration yields Header (by value or reference), and
// the usual lookups exist. Satisfied by HeaderMap and FrozenHeaders.
template <class H>
concept ReadableHeaders = requires(const H& h, std::string_view s) {
  { *h.begin() } -> std::convertible_to<Header>;
  { h.begin() != h.end() } -> std::convertible_to<bool>;
  { h.size() } -> std::same_as<std::size_t>;
  { h.get(s) } -> std::same_as<std::optional<std::string_view>>;
  { h.get_combined(s) } -> std::same_as<std::optional<std::string>>;
  { h.has_token(s, s) } -> std::same_as<bool>;
};

// The lookups, over any range of fields. Containers call these from their members.
namespace fields {

template <class R>
std::optional<std::string_view> get(const R& r, std::string_view name) {
  for (const auto& h : r) {
    if (iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

template <class R>
std::size_t count(const R& r, std::string_view name) {
  std::size_t n = 0;
  for (const auto& h : r) n += iequals(h.name, name) ? 1 : 0;
  return n;
}

// All values of that name joined with ", " (RFC 9110 §5.3 list combination).
template <class R>
std::optional<std::string> get_combined(const R& r, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& h : r) {
    if (!iequals(h.name, name)) continue;
    if (!out) {
      out.emplace(h.value);
    } else {
      out->append(", ").append(h.value);
    }
  }
  return out;
}

template <class R>
bool has_token(const R& r, std::string_view name, std::string_view token) {
  for (const auto& h : r) {
    if (!iequals(h.name, name)) continue;
    bool found = false;
    for_each_list_element(h.value, [&](std::string_view t) { found = found || iequals(t, token); });
    if (found) return true;
  }
  return false;
}

}  // namespace fields

}  // namespace ghala::http
