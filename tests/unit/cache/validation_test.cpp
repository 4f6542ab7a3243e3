#include "ghala/cache/validation.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace ghala::cache;
using ghala::http::EntityTag;
using ghala::http::HeaderMap;

namespace {
const char* const kLm = "Sun, 06 Nov 1994 08:49:37 GMT";
const char* const kLmOther = "Mon, 07 Nov 1994 08:49:37 GMT";

StoredValidators sv(std::optional<EntityTag> etag, std::optional<std::string> lm,
                    std::int64_t t = 0) {
  return StoredValidators{std::move(etag), std::move(lm), t};
}
}  // namespace

TEST_CASE("validators are read from stored headers") {
  HeaderMap h;
  h.add("ETag", "W/\"abc\"");
  h.add("Last-Modified", std::string(" ") + kLm);
  auto v = stored_validators(h, 42);
  CHECK(v.etag == EntityTag{true, "abc"});
  CHECK(v.last_modified == kLm);
  CHECK(v.response_time == 42);
  HeaderMap bad;
  bad.add("ETag", "abc");
  CHECK_FALSE(stored_validators(bad, 0).etag.has_value());
}

TEST_CASE("the conditional request carries ETag and Last-Modified (RFC 9111 §4.3.1)") {
  std::vector<StoredValidators> one{sv(EntityTag{false, "v1"}, kLm)};
  auto c = conditional_headers(one);
  CHECK(c.if_none_match == "\"v1\"");
  CHECK(c.if_modified_since == kLm);
}

TEST_CASE("several stored variants: all entity-tags, no date") {
  std::vector<StoredValidators> many{sv(EntityTag{false, "a"}, kLm), sv(std::nullopt, kLm),
                                     sv(EntityTag{true, "b"}, std::nullopt)};
  auto c = conditional_headers(many);
  CHECK(c.if_none_match == "\"a\", W/\"b\"");
  many.push_back(sv(EntityTag{false, "a"}, std::nullopt));
  CHECK(conditional_headers(many).if_none_match == "\"a\", W/\"b\"");  // each tag once
  CHECK_FALSE(c.if_modified_since.has_value());
}

TEST_CASE("no validators, or an unparseable Last-Modified, gives an unconditional request") {
  std::vector<StoredValidators> none{sv(std::nullopt, std::nullopt)};
  CHECK(conditional_headers(none).empty());
  std::vector<StoredValidators> junk{sv(std::nullopt, std::string("yesterday"))};
  CHECK(conditional_headers(junk).empty());
  CHECK(conditional_headers({}).empty());
}

TEST_CASE("a strong ETag in a 304 selects every strongly matching stored response") {
  std::vector<StoredValidators> stored{
      sv(EntityTag{false, "a"}, kLm, 1), sv(EntityTag{false, "b"}, kLm, 2),
      sv(EntityTag{false, "a"}, kLmOther, 3), sv(EntityTag{true, "a"}, kLm, 4)};
  CHECK(select_for_update(stored, sv(EntityTag{false, "a"}, std::nullopt)) ==
        std::vector<std::size_t>{0, 2});
  CHECK(select_for_update(stored, sv(EntityTag{false, "zzz"}, kLm)).empty());
}

TEST_CASE("weak validators select the most recent matching stored response") {
  std::vector<StoredValidators> stored{sv(EntityTag{true, "a"}, kLm, 10),
                                       sv(EntityTag{false, "a"}, kLm, 30),
                                       sv(EntityTag{true, "a"}, kLmOther, 50)};
  CHECK(select_for_update(stored, sv(EntityTag{true, "a"}, std::nullopt)) ==
        std::vector<std::size_t>{2});
  CHECK(select_for_update(stored, sv(EntityTag{true, "a"}, kLm)) == std::vector<std::size_t>{1});
  CHECK(
      select_for_update(stored, sv(std::nullopt, std::string("Sunday, 06-Nov-94 08:49:37 GMT"))) ==
      std::vector<std::size_t>{1});
  CHECK(select_for_update(stored, sv(EntityTag{true, "x"}, std::nullopt)).empty());
}

TEST_CASE("a 304 without validators updates a lone stored response without validators") {
  std::vector<StoredValidators> lone{sv(std::nullopt, std::nullopt)};
  CHECK(select_for_update(lone, sv(std::nullopt, std::nullopt)) == std::vector<std::size_t>{0});
  std::vector<StoredValidators> with{sv(EntityTag{false, "a"}, std::nullopt)};
  CHECK(select_for_update(with, sv(std::nullopt, std::nullopt)).empty());
  std::vector<StoredValidators> two{sv(std::nullopt, std::nullopt), sv(std::nullopt, std::nullopt)};
  CHECK(select_for_update(two, sv(std::nullopt, std::nullopt)).empty());
  CHECK(select_for_update({}, sv(EntityTag{false, "a"}, std::nullopt)).empty());
}
