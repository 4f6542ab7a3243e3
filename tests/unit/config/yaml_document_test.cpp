#include "config/yaml_document.hpp"

#include <doctest/doctest.h>

#include <string>

using ghala::config::Diagnostics;
using ghala::config::parse_document;

namespace {

// The single error of a failed parse, formatted.
std::string parse_error(std::string_view text) {
  Diagnostics d("t.yaml");
  const auto root = parse_document(text, d);
  CHECK_FALSE(root);
  auto errors = std::move(d).take();
  REQUIRE(errors.size() == 1);
  return errors[0].format();
}

}  // namespace

TEST_CASE("parse_document returns the root of a single document") {
  Diagnostics d("t.yaml");
  const auto root = parse_document("a: 1\nb: [x]\n", d);
  REQUIRE(root);
  CHECK(root->IsMap());
  CHECK(d.empty());
  const auto empty = parse_document("", d);
  REQUIRE(empty);
  CHECK(empty->IsNull());
  const auto explicit_start = parse_document("---\na: 1\n...\n", d);
  REQUIRE(explicit_start);
  CHECK(explicit_start->IsMap());
}

TEST_CASE("parse_document reports syntax errors at yaml-cpp's position") {
  CHECK(parse_error("a: 1\n b: 2\n").rfind("t.yaml:2:", 0) == 0);
  CHECK(parse_error("a: [1, 2\n").find("YAML syntax error: ") != std::string::npos);
  CHECK(parse_error("a: *nope\n").find("YAML syntax error: ") != std::string::npos);
}

TEST_CASE("parse_document refuses several documents") {
  CHECK(parse_error("a: 1\n---\nb: 2\n") ==
        "t.yaml:2:1: more than one YAML document ('---'): a config is one document");
}

TEST_CASE("a stray ',' is an error, not an endless loop or silently dropped text") {
  CHECK(parse_error(",") == "t.yaml:1:1: YAML syntax error: unexpected ','");
  CHECK(parse_error("- a\n,\n") == "t.yaml:2:1: YAML syntax error: unexpected ','");
}

TEST_CASE("deep nesting is refused instead of overflowing the stack") {
  CHECK(parse_error(std::string(100000, '[')).find("t.yaml:1:") == 0);
  CHECK(parse_error(std::string(5000, '{')).find("YAML") != std::string::npos);
}
