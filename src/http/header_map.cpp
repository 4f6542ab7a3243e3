#include "ghala/http/header_map.hpp"

#include <algorithm>
#include <utility>

namespace ghala::http {

std::vector<std::string_view> split_list(std::string_view value) {
  std::vector<std::string_view> out;
  for_each_list_element(value, [&](std::string_view part) { out.push_back(part); });
  return out;
}

HeaderMap::HeaderMap(const HeaderMap& other) {
  copy_from(other);
}

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this != &other) {
    HeaderMap copy(other);
    *this = std::move(copy);
  }
  return *this;
}

HeaderMap::HeaderMap(HeaderMap&& other) noexcept
    : fields_(std::move(other.fields_)),
      blocks_(std::move(other.blocks_)),
      next_(std::exchange(other.next_, nullptr)),
      room_(std::exchange(other.room_, 0)) {
  other.fields_.clear();
  other.blocks_.clear();
}

HeaderMap& HeaderMap::operator=(HeaderMap&& other) noexcept {
  if (this != &other) {
    fields_ = std::move(other.fields_);
    blocks_ = std::move(other.blocks_);
    next_ = std::exchange(other.next_, nullptr);
    room_ = std::exchange(other.room_, 0);
    other.fields_.clear();
    other.blocks_.clear();
  }
  return *this;
}

// One exactly sized block: a copy (a stored cache object's head, for one) carries no slack.
void HeaderMap::copy_from(const HeaderMap& other) {
  std::size_t bytes = 0;
  for (const auto& h : other.fields_) bytes += h.name.size() + h.value.size();
  reserve(other.fields_.size(), bytes);
  for (const auto& h : other.fields_) add(h.name, h.value);
}

void HeaderMap::add_block(std::size_t size) {
  blocks_.push_back(Block{std::make_unique_for_overwrite<char[]>(size), size});
  next_ = blocks_.back().data.get();
  room_ = size;
}

void HeaderMap::grow(std::size_t need) {
  const std::size_t last = blocks_.empty() ? 0 : blocks_.back().size;
  add_block(std::max({need, kFirstBlock, 2 * last}));
}

void HeaderMap::reserve(std::size_t fields, std::size_t bytes) {
  fields_.reserve(fields);
  if (bytes > room_) add_block(bytes);
}

void HeaderMap::clear() noexcept {
  fields_.clear();
  if (blocks_.empty()) return;
  // Keep the largest block (the last one) for reuse.
  if (blocks_.size() > 1) {
    Block last = std::move(blocks_.back());
    blocks_.clear();
    blocks_.push_back(std::move(last));
  }
  next_ = blocks_.back().data.get();
  room_ = blocks_.back().size;
}

std::size_t HeaderMap::storage_bytes() const noexcept {
  std::size_t n = 0;
  for (const auto& b : blocks_) n += b.size;
  return n;
}

void HeaderMap::shrink_to_fit() {
  std::size_t used = 0;
  for (const auto& h : fields_) used += h.name.size() + h.value.size();
  if (blocks_.size() <= 1 && storage_bytes() == used && fields_.capacity() == fields_.size()) {
    return;
  }
  HeaderMap compact(*this);
  *this = std::move(compact);
}

std::string_view HeaderMap::set(std::string_view name, std::string_view value) {
  remove(name);
  return add(name, value);
}

std::size_t HeaderMap::remove(std::string_view name) {
  auto before = fields_.size();
  std::erase_if(fields_, [&](const Header& h) { return iequals(h.name, name); });
  return before - fields_.size();
}

}  // namespace ghala::http
