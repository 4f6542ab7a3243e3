#include "ghala/core/units.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace ghala {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// Ordered from largest to smallest: a chained duration must list its units in this order, and the
// formatter picks the largest unit first. "ms" precedes "m" so that the longest name wins.
constexpr std::array<Unit, 5> kDurationUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr std::uint64_t kKiB = 1024;
constexpr std::array<Unit, 9> kSizeUnits{{
    {"TiB", kKiB* kKiB* kKiB* kKiB},
    {"GiB", kKiB* kKiB* kKiB},
    {"MiB", kKiB* kKiB},
    {"KiB", kKiB},
    {"TB", 1'000'000'000'000},
    {"GB", 1'000'000'000},
    {"MB", 1'000'000},
    {"KB", 1'000},
    {"B", 1},
}};

constexpr std::string_view kDurationHint = "units: ms, s, m, h, d";
constexpr std::string_view kSizeHint = "units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB";

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// A character for an error message: printable as itself, anything else as \xNN.
std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
}

Error invalid(std::string_view what, std::string_view text, std::string_view why) {
  std::string msg;
  msg.append("invalid ").append(what).append(" '").append(text).append("': ").append(why);
  return make_error(ErrorKind::Invalid, std::move(msg));
}

// Reads a run of decimal digits at text[pos...]; nullopt-like failure via the bool.
bool read_number(std::string_view text, std::size_t& pos, std::uint64_t& out) noexcept {
  std::uint64_t n = 0;
  const std::size_t start = pos;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    if (__builtin_mul_overflow(n, 10u, &n) ||
        __builtin_add_overflow(n, static_cast<unsigned>(text[pos] - '0'), &n)) {
      return false;
    }
  }
  out = n;
  return pos > start;
}

std::string_view read_word(std::string_view text, std::size_t& pos) noexcept {
  const std::size_t start = pos;
  while (pos < text.size() && is_alpha(text[pos])) ++pos;
  return text.substr(start, pos - start);
}

// Common rejections shared by durations and sizes, with a message that says what to write instead.
std::optional<Error> reject_obvious(std::string_view what, std::string_view text) {
  if (text.empty()) return invalid(what, text, "empty value");
  if (text.front() == '-') return invalid(what, text, "negative values are not allowed");
  if (text.find('.') != std::string_view::npos || text.find(',') != std::string_view::npos) {
    return invalid(what, text, "use whole numbers (e.g. 1500ms rather than 1.5s)");
  }
  return std::nullopt;
}

Error unexpected_in_duration(std::string_view text, std::size_t pos) {
  if (text[pos] == ' ') return invalid("duration", text, "no spaces (write 10s or 1h30m)");
  return invalid("duration", text, "unexpected character '" + describe_char(text[pos]) + "'");
}

std::optional<std::size_t> find_duration_unit(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kDurationUnits.size(); ++i) {
    if (kDurationUnits[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  if (auto err = reject_obvious("duration", text)) return *err;
  std::uint64_t total = 0;
  std::size_t pos = 0;
  std::size_t next_allowed = 0;  // index into kDurationUnits: units must strictly decrease
  while (pos < text.size()) {
    std::uint64_t n = 0;
    if (!is_digit(text[pos])) {
      if (pos == 0) return invalid("duration", text, "expected a number");
      return unexpected_in_duration(text, pos);
    }
    if (!read_number(text, pos, n)) return invalid("duration", text, "value too large");
    const std::string_view unit = read_word(text, pos);
    if (unit.empty()) {
      if (pos == text.size()) {
        return invalid("duration", text,
                       "a duration needs a unit, e.g. '" + std::string(text) + "s' (" +
                           std::string(kDurationHint) + ")");
      }
      return unexpected_in_duration(text, pos);
    }
    const auto idx = find_duration_unit(unit);
    if (!idx) {
      return invalid(
          "duration", text,
          "unknown unit '" + std::string(unit) + "' (" + std::string(kDurationHint) + ")");
    }
    if (*idx < next_allowed) {
      return invalid("duration", text, "units must go from largest to smallest, each once");
    }
    next_allowed = *idx + 1;
    std::uint64_t part = 0;
    if (__builtin_mul_overflow(n, kDurationUnits[*idx].factor, &part) ||
        __builtin_add_overflow(total, part, &total) ||
        total > static_cast<std::uint64_t>(std::numeric_limits<Millis::rep>::max())) {
      return invalid("duration", text, "value too large");
    }
  }
  return Millis(static_cast<Millis::rep>(total));
}

Result<std::uint64_t> parse_size(std::string_view text) {
  if (auto err = reject_obvious("size", text)) return *err;
  std::size_t pos = 0;
  std::uint64_t n = 0;
  if (!is_digit(text[0])) return invalid("size", text, "expected a number");
  if (!read_number(text, pos, n)) return invalid("size", text, "value too large");
  while (pos < text.size() && text[pos] == ' ') ++pos;  // "512 MiB" reads naturally
  const std::string_view unit = read_word(text, pos);
  if (pos != text.size()) {
    return invalid("size", text, "unexpected character '" + describe_char(text[pos]) + "'");
  }
  std::uint64_t factor = 1;
  if (!unit.empty()) {
    factor = 0;
    for (const Unit& u : kSizeUnits) {
      if (u.name == unit) factor = u.factor;
    }
    if (factor == 0) {
      return invalid("size", text,
                     "unknown unit '" + std::string(unit) + "' (" + std::string(kSizeHint) + ")");
    }
  }
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, factor, &bytes)) return invalid("size", text, "value too large");
  return bytes;
}

std::string format_duration(Millis d) {
  Millis::rep ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  // Work on the unsigned magnitude so that the most negative value does not overflow.
  std::uint64_t left = static_cast<std::uint64_t>(ms);
  if (ms < 0) {
    out.push_back('-');
    left = 0 - left;
  }
  for (const Unit& u : kDurationUnits) {
    if (left >= u.factor) {
      out.append(std::to_string(left / u.factor)).append(u.name);
      left %= u.factor;
    }
  }
  return out;
}

std::string format_size(std::uint64_t bytes) {
  // The largest unit that represents the value exactly, so that parse_size(format_size(x)) == x.
  // Binary units come first in kSizeUnits, so 8192 prints as 8KiB rather than 8192B.
  for (const Unit& u : kSizeUnits) {
    if (bytes != 0 && bytes % u.factor == 0)
      return std::to_string(bytes / u.factor) + std::string(u.name);
  }
  return "0B";
}

}  // namespace ghala
