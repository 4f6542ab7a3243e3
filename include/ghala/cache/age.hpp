#pragma once
// Age calculation, RFC 9111 §4.2.3. All times are Unix seconds (std::int64_t).
//
//   apparent_age          = max(0, response_time - date_value)
//   response_delay        = response_time - request_time
//   corrected_age_value   = age_value + response_delay
//   corrected_initial_age = max(apparent_age, corrected_age_value)
//   resident_time         = now - response_time
//   current_age           = corrected_initial_age + resident_time
//
// Clock skew never produces a negative delay or residence (they are clamped at 0), and every
// result is clamped to 2^31 (§1.2.2), so the Age header ghala sends is always a valid
// delta-seconds.

#include <cstdint>
#include <optional>
#include <string_view>

#include "ghala/http/header_map.hpp"

namespace ghala::cache {

// What a cache keeps about the exchange that produced (or last validated) a stored response.
struct StoredTimings {
  std::int64_t request_time = 0;   // when the request that fetched it was sent
  std::int64_t response_time = 0;  // when its response head was received
  std::int64_t date = 0;           // Date header; response_time when absent or invalid
  std::int64_t age = 0;            // Age header; 0 when absent or invalid
};

// RFC 9111 §5.1: the first member of a (wrongly) list-valued Age; a non-negative integer,
// clamped to 2^31. nullopt (ignore the field) for anything else.
std::optional<std::int64_t> parse_age(std::string_view value) noexcept;

// Reads Date and Age from a response received at response_time for a request sent at
// request_time. RFC 9110 §6.6.1: a response without a valid Date is dated when received.
StoredTimings stored_timings(const http::HeaderMap& response, std::int64_t request_time,
                             std::int64_t response_time);

std::int64_t apparent_age(const StoredTimings& t) noexcept;
std::int64_t response_delay(const StoredTimings& t) noexcept;
std::int64_t corrected_age_value(const StoredTimings& t) noexcept;
std::int64_t corrected_initial_age(const StoredTimings& t) noexcept;
std::int64_t resident_time(const StoredTimings& t, std::int64_t now) noexcept;
std::int64_t current_age(const StoredTimings& t, std::int64_t now) noexcept;

}  // namespace ghala::cache
