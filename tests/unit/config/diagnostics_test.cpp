#include "config/diagnostics.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>

using ghala::config::closest_match;
using ghala::config::Diagnostics;
using ghala::config::quote_value;

TEST_CASE("Diagnostics converts yaml-cpp's 0-based marks to 1-based positions") {
  Diagnostics d("ghala.yaml");
  YAML::Mark m;
  m.line = 4;
  m.column = 2;
  d.error(m, "bad thing");
  d.error("file-level problem");
  CHECK_FALSE(d.empty());
  const auto errors = std::move(d).take();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].file == "ghala.yaml");
  CHECK(errors[0].line == 5);
  CHECK(errors[0].col == 3);
  CHECK(errors[0].format() == "ghala.yaml:5:3: bad thing");
  CHECK(errors[1].line == 0);
  CHECK(errors[1].format() == "ghala.yaml: file-level problem");
}

TEST_CASE("closest_match suggests a near key and stays quiet for distant ones") {
  constexpr std::array<std::string_view, 4> keys{"keepalive_idle", "header_read", "body_read",
                                                 "shutdown_grace"};
  CHECK(closest_match("keepalive_idel", keys) == "keepalive_idle");
  CHECK(closest_match("header_red", keys) == "header_read");
  CHECK(closest_match("Body_read", keys) == "body_read");
  CHECK(closest_match("colour", keys).empty());
  CHECK(closest_match("", keys).empty());
  CHECK(closest_match("x", std::span<const std::string_view>{}).empty());
}

TEST_CASE("quote_value escapes control and non-ASCII bytes and shortens long text") {
  CHECK(quote_value("abc") == "'abc'");
  CHECK(quote_value(std::string_view("a\x01\xff", 3)) == "'a\\x01\\xff'");
  CHECK(quote_value("tab\there") == "'tab\\x09here'");
  const std::string long_text(200, 'x');
  const std::string q = quote_value(long_text);
  CHECK(q.size() < 100);
  CHECK(q.find("...") != std::string::npos);
}
