#include "observe/json_string.hpp"

#include <cstddef>
#include <cstdint>

namespace ghala::observe {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool is_cont(unsigned char c) noexcept {
  return (c & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence starting at p[0] (a byte >= 0x80), or 0 if it is not
// one. RFC 3629 §4: the second byte's range depends on the lead byte.
std::size_t utf8_sequence_length(const unsigned char* p, std::size_t n) noexcept {
  const unsigned char b0 = p[0];
  if (b0 >= 0xC2 && b0 <= 0xDF) return n >= 2 && is_cont(p[1]) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (n < 3) return 0;
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;  // no surrogates
    return p[1] >= lo && p[1] <= hi && is_cont(p[2]) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (n < 4) return 0;
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;  // no overlong
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return p[1] >= lo && p[1] <= hi && is_cont(p[2]) && is_cont(p[3]) ? 4 : 0;
  }
  return 0;
}

void append_u_escape(std::uint32_t cp, std::string& out) {
  const char esc[6] = {
      '\\',          'u', kHex[(cp >> 12) & 0xF], kHex[(cp >> 8) & 0xF], kHex[(cp >> 4) & 0xF],
      kHex[cp & 0xF]};
  out.append(esc, sizeof esc);
}

bool plain_ascii(unsigned char c) noexcept {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

}  // namespace

void append_json_string(std::string_view s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  out.reserve(out.size() + n + 2);
  out.push_back('"');
  std::size_t i = 0;
  while (i < n) {
    std::size_t run = i;
    while (run < n && plain_ascii(p[run])) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == n) break;

    const unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x80) {  // C0 control or DEL
      append_u_escape(c, out);
      ++i;
    } else if (const std::size_t len = utf8_sequence_length(p + i, n - i); len == 0) {
      out.append(kReplacement);
      ++i;
    } else if (len == 2 && c == 0xC2 && p[i + 1] <= 0x9F) {  // C1 control
      append_u_escape(p[i + 1], out);
      i += 2;
    } else if (len == 3 && c == 0xE2 && p[i + 1] == 0x80 &&
               (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
      append_u_escape(p[i + 2] == 0xA8 ? 0x2028 : 0x2029, out);  // line/paragraph separator
      i += 3;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  out.push_back('"');
}

}  // namespace ghala::observe
