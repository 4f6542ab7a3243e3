#include "ghala/http/frozen_headers.hpp"

#include <algorithm>

#include "ghala/http/header_map.hpp"
#include "ghala/http/parser.hpp"

namespace ghala::http {

// A field line counts name, value and 4 bytes of framing against the parser's limit.
static_assert(ResponseParser::kMaxHeaderBytes - 4 <= FrozenHeaders::kMaxNameBytes,
              "every field name the response parser accepts must fit a u16 name size");
static_assert(2 * std::size_t{ResponseParser::kMaxHeaderBytes} <= FrozenHeaders::kMaxTextBytes,
              "a stored head updated by a 304 must fit");
static_assert(FrozenHeaders::kMaxTextBytes <= std::numeric_limits<std::uint32_t>::max());

FrozenHeaders::FrozenHeaders(const FrozenHeaders& other) {
  if (!other.block_) return;
  const std::size_t bytes = other.storage_bytes();
  block_ = std::make_unique_for_overwrite<unsigned char[]>(bytes);
  std::memcpy(block_.get(), other.block_.get(), bytes);
}

FrozenHeaders& FrozenHeaders::operator=(const FrozenHeaders& other) {
  if (this != &other) *this = FrozenHeaders(other);
  return *this;
}

std::optional<FrozenHeaders> FrozenHeaders::freeze(const HeaderMap& map) {
  FrozenHeaders out;
  const std::size_t n = map.size();
  if (n == 0) return out;
  std::size_t text = 0;
  for (const Header& h : map) {
    if (h.name.size() > kMaxNameBytes) return std::nullopt;
    text += h.name.size() + h.value.size();
    if (text > kMaxTextBytes) return std::nullopt;
  }
  out.block_ = std::make_unique_for_overwrite<unsigned char[]>(block_bytes(n, text));
  unsigned char* p = out.block_.get();
  auto put = [&p](auto v) {
    std::memcpy(p, &v, sizeof v);
    p += sizeof v;
  };
  put(static_cast<std::uint32_t>(n));
  put(static_cast<std::uint32_t>(text));
  for (const Header& h : map) put(static_cast<std::uint32_t>(h.value.size()));
  for (const Header& h : map) put(static_cast<std::uint16_t>(h.name.size()));
  for (const Header& h : map) {
    p = std::copy(h.name.begin(), h.name.end(), p);
    p = std::copy(h.value.begin(), h.value.end(), p);
  }
  return out;
}

HeaderMap FrozenHeaders::to_map() const {
  HeaderMap out;
  out.reserve(size(), block_ ? load_u32(block_.get() + 4) : 0);
  for (const Header h : *this) out.add(h.name, h.value);
  return out;
}

}  // namespace ghala::http
