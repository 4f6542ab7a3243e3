// Byte ranges, RFC 9110 §14.1.1 (syntax), §14.1.2 (byte ranges), §14.2 (Range), §14.4
// (Content-Range).
//
// Resolution turns each range-spec into an inclusive [start, end] within the representation,
// drops the unsatisfiable ones (a set is satisfiable when at least one spec is), then sorts and
// merges overlapping or adjacent intervals. One interval left: 206. None: 416. Several: we do
// not generate multipart/byteranges, so the Range is ignored and the client gets a 200.
#include "ghala/http/range.hpp"

#include <algorithm>
#include <limits>

#include "ghala/http/header_map.hpp"

namespace ghala::http {

namespace {

constexpr std::uint64_t kSaturated = std::numeric_limits<std::uint64_t>::max();

// 1*DIGIT at the front of s, saturating. nullopt if s does not start with a digit.
std::optional<std::uint64_t> take_number(std::string_view& s) noexcept {
  std::size_t i = 0;
  std::uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(s[i] - '0');
    v = v > (kSaturated - digit) / 10 ? kSaturated : v * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  s.remove_prefix(i);
  return v;
}

// range-spec = int-range / suffix-range (other-range is only for other units).
std::optional<RangeSpec> parse_spec(std::string_view s) noexcept {
  RangeSpec spec;
  spec.first = take_number(s);
  if (s.empty() || s.front() != '-') return std::nullopt;
  s.remove_prefix(1);
  spec.last = take_number(s);
  if (!s.empty()) return std::nullopt;
  if (!spec.first && !spec.last) return std::nullopt;                            // "-"
  if (spec.first && spec.last && *spec.last < *spec.first) return std::nullopt;  // §14.1.1
  return spec;
}

struct Interval {
  std::uint64_t start;
  std::uint64_t end;  // inclusive
};

// RFC 9110 §14.1.2; length > 0.
std::optional<Interval> to_interval(const RangeSpec& spec, std::uint64_t length) noexcept {
  if (spec.first) {
    if (*spec.first >= length) return std::nullopt;
    return Interval{*spec.first, std::min(spec.last.value_or(length - 1), length - 1)};
  }
  const std::uint64_t suffix = *spec.last;
  if (suffix == 0) return std::nullopt;
  return Interval{suffix >= length ? 0 : length - suffix, length - 1};
}

}  // namespace

std::optional<std::vector<RangeSpec>> parse_range(std::string_view field_value) {
  const std::string_view value = trim_ows(field_value);
  const auto eq = value.find('=');
  if (eq == std::string_view::npos || !iequals(value.substr(0, eq), "bytes")) return std::nullopt;
  std::vector<RangeSpec> specs;
  // split_list drops the empty list elements that RFC 9110 §5.6.1 tells recipients to accept.
  for (std::string_view element : split_list(value.substr(eq + 1))) {
    if (specs.size() == kMaxRangeSpecs) return std::nullopt;
    auto spec = parse_spec(element);
    if (!spec) return std::nullopt;
    specs.push_back(*spec);
  }
  if (specs.empty()) return std::nullopt;
  return specs;
}

RangeResult resolve_range(const std::vector<RangeSpec>& specs, std::uint64_t length) {
  if (length == 0 || specs.empty()) return RangeResult{RangeOutcome::Ignore, {}};
  std::vector<Interval> intervals;
  intervals.reserve(specs.size());
  for (const auto& spec : specs) {
    if (auto iv = to_interval(spec, length)) intervals.push_back(*iv);
  }
  if (intervals.empty()) return RangeResult{RangeOutcome::NotSatisfiable, {}};
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start < b.start; });
  Interval merged = intervals.front();
  for (std::size_t i = 1; i < intervals.size(); ++i) {
    // end < length <= UINT64_MAX, so end + 1 cannot overflow.
    if (intervals[i].start > merged.end + 1) return RangeResult{RangeOutcome::Ignore, {}};
    merged.end = std::max(merged.end, intervals[i].end);
  }
  return RangeResult{RangeOutcome::Satisfiable,
                     ByteRange{merged.start, merged.end - merged.start + 1}};
}

RangeResult resolve_range(std::string_view field_value, std::uint64_t length) {
  auto specs = parse_range(field_value);
  if (!specs) return RangeResult{RangeOutcome::Ignore, {}};
  return resolve_range(*specs, length);
}

std::string format_content_range(ByteRange range, std::uint64_t complete_length) {
  std::string out = "bytes ";
  out += std::to_string(range.offset);
  out += '-';
  out += std::to_string(range.offset + range.length - 1);
  out += '/';
  out += std::to_string(complete_length);
  return out;
}

std::string format_unsatisfied_range(std::uint64_t complete_length) {
  return "bytes */" + std::to_string(complete_length);
}

}  // namespace ghala::http
