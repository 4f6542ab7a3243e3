#pragma once
// Parsing of human-written durations ("90s", "2h", "250ms", "1h30m") and sizes ("512MiB", "8KiB",
// "100MB", "4096"), as used in the YAML config. Pure functions.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "ghala/core/result.hpp"

namespace ghala {

using Millis = std::chrono::milliseconds;

// Units: ms, s, m, h, d; components may be chained ("1h30m"). A bare number is rejected (a
// duration needs a unit). Negative values are rejected.
Result<Millis> parse_duration(std::string_view text);
// Units: B, KiB, MiB, GiB, TiB (powers of 1024) and KB, MB, GB, TB (powers of 1000); a bare number
// is bytes. Overflow is an error.
Result<std::uint64_t> parse_size(std::string_view text);

std::string format_duration(Millis d);
std::string format_size(std::uint64_t bytes);

}  // namespace ghala
