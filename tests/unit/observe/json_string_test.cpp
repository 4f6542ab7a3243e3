#include "observe/json_string.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using ghala::observe::append_json_string;

namespace {

std::string quote(std::string_view s) {
  std::string out;
  append_json_string(s, out);
  return out;
}

}  // namespace

TEST_CASE("json string: plain ASCII is copied between quotes") {
  CHECK(quote("") == R"("")");
  CHECK(quote("/index.html?a=1&b=2") == R"("/index.html?a=1&b=2")");
}

TEST_CASE("json string: quote and backslash are escaped") {
  CHECK(quote(R"(a"b\c)") == R"("a\"b\\c")");
}

TEST_CASE("json string: C0 controls and DEL become \\u00XX") {
  CHECK(quote(std::string_view("\x00\x01\n\r\t\x1b\x1f\x7f", 8)) ==
        R"("\u0000\u0001\u000a\u000d\u0009\u001b\u001f\u007f")");
}

TEST_CASE("json string: well-formed UTF-8 is copied") {
  CHECK(quote("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") ==
        "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  CHECK(quote("\xEF\xBF\xBF\xF4\x8F\xBF\xBF") == "\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"");
}

TEST_CASE("json string: C1 controls and line separators are escaped") {
  CHECK(quote("\xC2\x80\xC2\x9F\xC2\xA0") == "\"\\u0080\\u009f\xC2\xA0\"");
  CHECK(quote("a\xE2\x80\xA8"
              "b\xE2\x80\xA9") == R"("a\u2028b\u2029")");
}

TEST_CASE("json string: each invalid byte becomes U+FFFD") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(quote("\xFF") == "\"" + r + "\"");
  CHECK(quote("\x80x") == "\"" + r + "x\"");                        // stray continuation
  CHECK(quote("\xC0\xAF") == "\"" + r + r + "\"");                  // overlong '/'
  CHECK(quote("\xE0\x80\xAF") == "\"" + r + r + r + "\"");          // overlong, 3 bytes
  CHECK(quote("\xED\xA0\x80") == "\"" + r + r + r + "\"");          // UTF-16 surrogate
  CHECK(quote("\xF4\x90\x80\x80") == "\"" + r + r + r + r + "\"");  // above U+10FFFF
  CHECK(quote("\xF5") == "\"" + r + "\"");
  CHECK(quote("a\xE2\x82") == "\"a" + r + r + "\"");  // truncated at the end
  CHECK(quote("\xC3\"") == "\"" + r + "\\\"\"");      // lead byte then a quote
}

TEST_CASE("json string: appends to what is already there") {
  std::string out = "x=";
  append_json_string("y", out);
  CHECK(out == R"(x="y")");
}
