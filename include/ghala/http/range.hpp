#pragma once
// Byte range requests (RFC 9110 §14): parsing the Range field, resolving it against the length of
// the selected representation, and formatting Content-Range.
//
// Only single-part responses are produced. A range set that collapses (after merging overlapping
// and adjacent ranges) to one contiguous range is served as that range; a set that stays in
// several pieces is ignored and the full representation is sent with 200, which RFC 9110 §14.2
// allows ("A server MAY ignore the Range header field"). This avoids multipart/byteranges, which
// almost no client needs, and removes the classic many-small-ranges amplification attack.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ghala::http {

// More range-specs than this and the whole field is ignored (RFC 9110 §14.3 lets a server
// ignore a Range with many small or overlapping ranges).
inline constexpr std::size_t kMaxRangeSpecs = 64;

// One range-spec as written by the client, before resolution.
//   int-range    "first-last": first set, last set
//   open range   "first-":     first set, last nullopt
//   suffix-range "-n":         first nullopt, last = n (the suffix length)
// Numbers too large for 64 bits saturate at UINT64_MAX, which resolves the same way (past any
// real length).
struct RangeSpec {
  std::optional<std::uint64_t> first;
  std::optional<std::uint64_t> last;
  bool operator==(const RangeSpec&) const = default;
};

// Parses "bytes=..." (unit case-insensitive). nullopt when the unit is not bytes, the syntax is
// invalid, an int-range has last < first, or there are more than kMaxRangeSpecs specs.
std::optional<std::vector<RangeSpec>> parse_range(std::string_view field_value);

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // never 0 in a Satisfiable result
  bool operator==(const ByteRange&) const = default;
};

enum class RangeOutcome : std::uint8_t {
  Ignore,          // serve the full representation with 200
  Satisfiable,     // serve `range` with 206 and Content-Range
  NotSatisfiable,  // 416 with Content-Range: bytes */length
};

struct RangeResult {
  RangeOutcome outcome = RangeOutcome::Ignore;
  ByteRange range;  // when Satisfiable
};

// Resolves parsed specs against a representation of `length` bytes (RFC 9110 §14.1.2).
// An empty representation ignores every Range: no byte range can describe it, and a 200 with an
// empty body is more useful to clients that send "bytes=0-" blindly than a 416.
RangeResult resolve_range(const std::vector<RangeSpec>& specs, std::uint64_t length);
// Parse and resolve; malformed fields are Ignore.
RangeResult resolve_range(std::string_view field_value, std::uint64_t length);

// "bytes 0-499/1234" (RFC 9110 §14.4). range must be non-empty.
std::string format_content_range(ByteRange range, std::uint64_t complete_length);
// "bytes */1234", for 416 responses.
std::string format_unsatisfied_range(std::uint64_t complete_length);

}  // namespace ghala::http
