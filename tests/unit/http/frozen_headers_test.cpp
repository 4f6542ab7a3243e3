#include "ghala/http/frozen_headers.hpp"

#include <doctest/doctest.h>

#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "ghala/http/header_map.hpp"

using namespace ghala::http;

namespace {

template <class H>
std::string text(const H& h) {
  std::string out;
  for (const Header f : h) out.append(f.name).append(": ").append(f.value).append("\n");
  return out;
}

FrozenHeaders frozen(const HeaderMap& m) {
  auto f = FrozenHeaders::freeze(m);
  REQUIRE(f.has_value());
  return std::move(*f);
}

HeaderMap typical() {
  HeaderMap m;
  m.add("Content-Type", "image/jpeg");
  m.add("ETag", "\"5f1c-1\"");
  m.add("Cache-Control", "public");
  m.add("Vary", "Accept-Encoding");
  m.add("cache-control", "max-age=60 , no-transform");
  m.add("X-Empty", "");
  m.add("Server", "origin");
  return m;
}

}  // namespace

TEST_CASE("frozen headers keep order, case, duplicates and empty values; to_map round trips") {
  const HeaderMap m = typical();
  const FrozenHeaders f = frozen(m);
  CHECK(f.size() == 7);
  CHECK_FALSE(f.empty());
  CHECK(text(f) == text(m));
  CHECK(text(f.to_map()) == text(m));
  CHECK(f.to_map().size() == 7);
  CHECK(f.get("X-Empty") == std::string_view());
  CHECK(f.contains("x-empty"));
  // Freezing the map a frozen head converts back to gives the same block.
  const FrozenHeaders again = frozen(f.to_map());
  CHECK(again.storage_bytes() == f.storage_bytes());
  CHECK(text(again) == text(m));
}

TEST_CASE("frozen header lookups ignore case and agree with HeaderMap's") {
  const HeaderMap m = typical();
  const FrozenHeaders f = frozen(m);
  for (std::string_view name : {"content-type", "CACHE-CONTROL", "etag", "vary", "X-Empty",
                                "server", "Date", "", "Cache-Contro"}) {
    CAPTURE(name);
    CHECK(f.get(name) == m.get(name));
    CHECK(f.contains(name) == m.contains(name));
    CHECK(f.count(name) == m.count(name));
    CHECK(f.get_combined(name) == m.get_combined(name));
  }
  CHECK(f.get("cache-control") == "public");
  CHECK(f.count("Cache-Control") == 2);
  CHECK(f.get_combined("Cache-Control") == "public, max-age=60 , no-transform");
  CHECK(f.has_token("CACHE-CONTROL", "NO-TRANSFORM"));
  CHECK(f.has_token("vary", "accept-encoding"));
  CHECK_FALSE(f.has_token("Cache-Control", "max-age"));
  CHECK_FALSE(f.has_token("Date", "public"));
}

TEST_CASE("empty frozen headers hold no block") {
  const FrozenHeaders f = frozen(HeaderMap{});
  CHECK(f.empty());
  CHECK(f.size() == 0);
  CHECK(f.begin() == f.end());
  CHECK(f.storage_bytes() == 0);
  CHECK_FALSE(f.get("Date"));
  CHECK(f.to_map().empty());
  const FrozenHeaders copy = f;
  CHECK(copy.empty());
  CHECK(FrozenHeaders{}.empty());
}

TEST_CASE("frozen headers cost six bytes per field beyond the text, in one block") {
  const HeaderMap m = typical();
  std::size_t text_bytes = 0;
  for (const Header h : m) text_bytes += h.name.size() + h.value.size();
  CHECK(frozen(m).storage_bytes() == 8 + 6 * m.size() + text_bytes);
}

TEST_CASE("frozen header copies are deep and independent of the map they came from") {
  auto m = std::make_unique<HeaderMap>(typical());
  const FrozenHeaders f = frozen(*m);
  m.reset();  // the views point into the block, not into the map
  FrozenHeaders copy = f;
  CHECK(text(copy) == text(f));
  CHECK(copy.begin().operator*().name.data() != f.begin().operator*().name.data());
  FrozenHeaders moved = std::move(copy);
  CHECK(moved.get("Server") == "origin");
  copy = moved;
  CHECK(copy.get("ETag") == "\"5f1c-1\"");
}

TEST_CASE("large values and names up to the bound are kept whole; beyond it freeze refuses") {
  HeaderMap m;
  const std::string big_value(200'000, 'v');  // wider than a u16
  const std::string longest_name(FrozenHeaders::kMaxNameBytes, 'n');
  m.add("X-Big", big_value);
  m.add(longest_name, "x");
  m.add("X-After", "after");
  const FrozenHeaders f = frozen(m);
  CHECK(f.get("x-big")->size() == big_value.size());
  CHECK(*f.get("x-big") == big_value);
  CHECK(f.get(longest_name) == "x");
  CHECK(f.get("X-After") == "after");  // offsets past the large fields are right

  HeaderMap long_name;
  long_name.add(std::string(FrozenHeaders::kMaxNameBytes + 1, 'n'), "x");
  CHECK_FALSE(FrozenHeaders::freeze(long_name));

  HeaderMap too_much;
  const std::string half(FrozenHeaders::kMaxTextBytes / 2, 'v');
  too_much.add("A", half);
  CHECK(FrozenHeaders::freeze(too_much));
  too_much.add("B", half);  // 2 more bytes than the bound (the names)
  CHECK_FALSE(FrozenHeaders::freeze(too_much));
}

TEST_CASE("frozen headers satisfy the read concept, as HeaderMap does") {
  static_assert(ReadableHeaders<FrozenHeaders>);
  static_assert(ReadableHeaders<HeaderMap>);
  static_assert(std::forward_iterator<FrozenHeaders::const_iterator>);
}
