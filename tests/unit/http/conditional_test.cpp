#include "ghala/http/conditional.hpp"

#include <doctest/doctest.h>

#include "ghala/http/date.hpp"

using namespace ghala::http;

namespace {

constexpr std::int64_t kModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
const char* const kModifiedText = "Sun, 06 Nov 1994 08:49:37 GMT";
const char* const kBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
const char* const kAfter = "Sun, 06 Nov 1994 08:49:38 GMT";

Validators current() {
  Validators v;
  v.etag = EntityTag{false, "abc"};
  v.last_modified = kModified;
  v.last_modified_is_strong = true;
  return v;
}

ConditionalResult eval(Method m, std::initializer_list<std::pair<const char*, const char*>> hs,
                       const Validators& v = current()) {
  HeaderMap h;
  for (const auto& [name, value] : hs) h.add(name, value);
  return evaluate_preconditions(conditional_request_from(m, h), v);
}

Precondition outcome(Method m, std::initializer_list<std::pair<const char*, const char*>> hs,
                     const Validators& v = current()) {
  return eval(m, hs, v).outcome;
}

}  // namespace

TEST_CASE("entity-tags parse strong and weak forms") {
  CHECK(parse_entity_tag("\"xyzzy\"") == EntityTag{false, "xyzzy"});
  CHECK(parse_entity_tag("W/\"xyzzy\"") == EntityTag{true, "xyzzy"});
  CHECK(parse_entity_tag(" \"\" ") == EntityTag{false, ""});
  CHECK(parse_entity_tag("\"a,b\"") == EntityTag{false, "a,b"});
  CHECK(parse_entity_tag("\"\x80\xff\"") == EntityTag{false, "\x80\xff"});
  CHECK(EntityTag{true, "x"}.to_string() == "W/\"x\"");
  CHECK(EntityTag{false, "x"}.to_string() == "\"x\"");
}

TEST_CASE("malformed entity-tags are rejected") {
  const char* bad[] = {"",           "xyzzy",        "\"xyzzy",  "xyzzy\"",  "w/\"x\"",
                       "W/x",        "W/",           "\"a\"b\"", "\"a b\"",  "\"a\tb\"",
                       "\"a\"\"b\"", "\"a\", \"b\"", "\"\x01\"", "\"\x7f\"", "*"};
  for (const char* s : bad) {
    CAPTURE(s);
    CHECK_FALSE(parse_entity_tag(s).has_value());
  }
}

TEST_CASE("strong and weak comparison follow the RFC 9110 §8.8.3.2 table") {
  const EntityTag w1{true, "1"}, w2{true, "2"}, s1{false, "1"};
  CHECK_FALSE(strong_match(w1, w1));
  CHECK(weak_match(w1, w1));
  CHECK_FALSE(strong_match(w1, w2));
  CHECK_FALSE(weak_match(w1, w2));
  CHECK_FALSE(strong_match(w1, s1));
  CHECK(weak_match(w1, s1));
  CHECK(strong_match(s1, s1));
  CHECK(weak_match(s1, s1));
}

TEST_CASE("entity-tag lists: star, commas inside quotes, empty elements") {
  auto star = parse_entity_tag_list(" * ");
  REQUIRE(star);
  CHECK(star->any);
  auto list = parse_entity_tag_list("\"a,b\", W/\"c\" ,,\"d\"");
  REQUIRE(list);
  CHECK_FALSE(list->any);
  REQUIRE(list->tags.size() == 3);
  CHECK(list->tags[0].opaque == "a,b");
  CHECK(list->tags[1] == EntityTag{true, "c"});
  CHECK(parse_entity_tag_list("")->tags.empty());
  CHECK_FALSE(parse_entity_tag_list("*, \"a\""));
  CHECK_FALSE(parse_entity_tag_list("\"a\" \"b\""));
  CHECK_FALSE(parse_entity_tag_list("\"a\", b"));
  CHECK_FALSE(parse_entity_tag_list("\"a"));
}

TEST_CASE("no precondition fields: proceed") {
  CHECK(outcome(Method::Get, {}) == Precondition::Proceed);
  CHECK_FALSE(eval(Method::Get, {}).range_allowed);
}

TEST_CASE("If-Match uses strong comparison and fails with 412") {
  CHECK(outcome(Method::Get, {{"If-Match", "\"abc\""}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-Match", "\"x\", \"abc\""}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-Match", "*"}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-Match", "W/\"abc\""}}) == Precondition::Failed);
  CHECK(outcome(Method::Get, {{"If-Match", "\"other\""}}) == Precondition::Failed);
  CHECK(outcome(Method::Put, {{"If-Match", "\"other\""}}) == Precondition::Failed);
  CHECK(outcome(Method::Get, {{"If-Match", "garbage"}}) == Precondition::Failed);
  Validators weak = current();
  weak.etag = EntityTag{true, "abc"};
  CHECK(outcome(Method::Get, {{"If-Match", "\"abc\""}}, weak) == Precondition::Failed);
  Validators none = current();
  none.etag.reset();
  CHECK(outcome(Method::Get, {{"If-Match", "\"abc\""}}, none) == Precondition::Failed);
  CHECK(outcome(Method::Get, {{"If-Match", "*"}}, none) == Precondition::Proceed);
}

TEST_CASE("repeated If-Match fields combine into one list") {
  CHECK(outcome(Method::Get, {{"If-Match", "\"x\""}, {"If-Match", "\"abc\""}}) ==
        Precondition::Proceed);
}

TEST_CASE("If-Unmodified-Since fails when modified after the date") {
  CHECK(outcome(Method::Get, {{"If-Unmodified-Since", kModifiedText}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-Unmodified-Since", kAfter}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-Unmodified-Since", kBefore}}) == Precondition::Failed);
  CHECK(outcome(Method::Get, {{"If-Unmodified-Since", "yesterday"}}) == Precondition::Proceed);
  Validators no_date = current();
  no_date.last_modified.reset();
  CHECK(outcome(Method::Get, {{"If-Unmodified-Since", kBefore}}, no_date) == Precondition::Proceed);
}

TEST_CASE("If-Match takes precedence over If-Unmodified-Since") {
  CHECK(outcome(Method::Get, {{"If-Match", "\"abc\""}, {"If-Unmodified-Since", kBefore}}) ==
        Precondition::Proceed);
}

TEST_CASE("If-None-Match uses weak comparison: 304 for GET/HEAD, 412 otherwise") {
  CHECK(outcome(Method::Get, {{"If-None-Match", "\"abc\""}}) == Precondition::NotModified);
  CHECK(outcome(Method::Head, {{"If-None-Match", "W/\"abc\""}}) == Precondition::NotModified);
  CHECK(outcome(Method::Get, {{"If-None-Match", "\"x\", W/\"abc\""}}) == Precondition::NotModified);
  CHECK(outcome(Method::Get, {{"If-None-Match", "*"}}) == Precondition::NotModified);
  CHECK(outcome(Method::Post, {{"If-None-Match", "\"abc\""}}) == Precondition::Failed);
  CHECK(outcome(Method::Put, {{"If-None-Match", "*"}}) == Precondition::Failed);
  CHECK(outcome(Method::Get, {{"If-None-Match", "\"other\""}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-None-Match", "garbage"}}) == Precondition::Proceed);
  Validators none = current();
  none.etag.reset();
  CHECK(outcome(Method::Get, {{"If-None-Match", "\"abc\""}}, none) == Precondition::Proceed);
}

TEST_CASE("If-Modified-Since gives 304 when not modified since the date") {
  CHECK(outcome(Method::Get, {{"If-Modified-Since", kModifiedText}}) == Precondition::NotModified);
  CHECK(outcome(Method::Head, {{"If-Modified-Since", kAfter}}) == Precondition::NotModified);
  CHECK(outcome(Method::Get, {{"If-Modified-Since", kBefore}}) == Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-Modified-Since", "not a date"}}) == Precondition::Proceed);
  // Only GET and HEAD.
  CHECK(outcome(Method::Post, {{"If-Modified-Since", kAfter}}) == Precondition::Proceed);
  // A repeated field is a list of dates, which is not a valid HTTP-date: ignored.
  CHECK(outcome(Method::Get, {{"If-Modified-Since", kAfter}, {"If-Modified-Since", kAfter}}) ==
        Precondition::Proceed);
  Validators no_date = current();
  no_date.last_modified.reset();
  CHECK(outcome(Method::Get, {{"If-Modified-Since", kAfter}}, no_date) == Precondition::Proceed);
}

TEST_CASE("If-None-Match makes If-Modified-Since ignored") {
  CHECK(outcome(Method::Get, {{"If-None-Match", "\"other\""}, {"If-Modified-Since", kAfter}}) ==
        Precondition::Proceed);
  CHECK(outcome(Method::Get, {{"If-None-Match", "\"abc\""}, {"If-Modified-Since", kBefore}}) ==
        Precondition::NotModified);
}

TEST_CASE("412 from If-Match wins over 304 from If-None-Match") {
  CHECK(outcome(Method::Get, {{"If-Match", "\"other\""}, {"If-None-Match", "\"abc\""}}) ==
        Precondition::Failed);
  CHECK(outcome(Method::Get, {{"If-Unmodified-Since", kBefore}, {"If-Modified-Since", kAfter}}) ==
        Precondition::Failed);
}

TEST_CASE("a Range may be honoured only for GET") {
  CHECK(eval(Method::Get, {{"Range", "bytes=0-1"}}).range_allowed);
  CHECK_FALSE(eval(Method::Head, {{"Range", "bytes=0-1"}}).range_allowed);
  CHECK_FALSE(eval(Method::Post, {{"Range", "bytes=0-1"}}).range_allowed);
}

TEST_CASE("If-Range with an entity-tag needs a strong match") {
  CHECK(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "\"abc\""}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "\"x\""}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "W/\"abc\""}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "\"abc"}}).range_allowed);
  Validators weak = current();
  weak.etag = EntityTag{true, "abc"};
  CHECK_FALSE(
      eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "\"abc\""}}, weak).range_allowed);
  // A failed If-Range is not a failed precondition: the full representation is sent.
  CHECK(outcome(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "\"x\""}}) ==
        Precondition::Proceed);
}

TEST_CASE("If-Range with a date needs an exact, strong Last-Modified") {
  CHECK(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", kModifiedText}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", kAfter}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", kBefore}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", "soon"}}).range_allowed);
  Validators fresh = current();
  fresh.last_modified_is_strong = false;
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Range", kModifiedText}}, fresh)
                  .range_allowed);
}

TEST_CASE("304 and 412 never allow a range") {
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-None-Match", "*"}}).range_allowed);
  CHECK_FALSE(eval(Method::Get, {{"Range", "bytes=0-1"}, {"If-Match", "\"x\""}}).range_allowed);
}

TEST_CASE("hostile precondition values never crash") {
  std::string s;
  for (int i = 0; i < 300; ++i) {
    s += static_cast<char>((i * 53 + 7) % 256);
    const char* names[] = {"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
                           "If-Range"};
    for (const char* name : names) {
      HeaderMap h;
      h.add(name, s);
      h.add("Range", "bytes=0-1");
      (void)evaluate_preconditions(conditional_request_from(Method::Get, h), current());
    }
    (void)parse_entity_tag_list(s);
  }
  CHECK(true);
}
