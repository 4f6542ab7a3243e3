#include "ghala/http/header_map.hpp"

#include <algorithm>

namespace ghala::http {

namespace {
inline char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_list(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto part = trim_ows(value.substr(0, comma));
    if (!part.empty()) out.push_back(part);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

std::size_t HeaderMap::remove(std::string_view name) {
  auto before = fields_.size();
  std::erase_if(fields_, [&](const Header& h) { return iequals(h.name, name); });
  return before - fields_.size();
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  for (const auto& h : fields_) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::size_t HeaderMap::count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(
      fields_.begin(), fields_.end(), [&](const Header& h) { return iequals(h.name, name); }));
}

std::optional<std::string> HeaderMap::get_combined(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& h : fields_) {
    if (!iequals(h.name, name)) continue;
    if (!out) {
      out = h.value;
    } else {
      out->append(", ").append(h.value);
    }
  }
  return out;
}

bool HeaderMap::has_token(std::string_view name, std::string_view token) const {
  for (const auto& h : fields_) {
    if (!iequals(h.name, name)) continue;
    for (auto t : split_list(h.value)) {
      if (iequals(t, token)) return true;
    }
  }
  return false;
}

}  // namespace ghala::http
