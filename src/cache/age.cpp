// RFC 9111 §4.2.3 age calculation; see the header for the formulas.
#include "ghala/cache/age.hpp"

#include <algorithm>

#include "ghala/cache/cache_control.hpp"
#include "ghala/http/date.hpp"

namespace ghala::cache {

std::optional<std::int64_t> parse_age(std::string_view value) noexcept {
  auto comma = value.find(',');
  return parse_delta_seconds(http::trim_ows(value.substr(0, comma)));
}

StoredTimings stored_timings(const http::HeaderMap& response, std::int64_t request_time,
                             std::int64_t response_time) {
  StoredTimings t;
  t.request_time = request_time;
  t.response_time = response_time;
  t.date = response_time;
  if (auto d = response.get("Date")) {
    t.date = http::parse_http_date(*d, response_time).value_or(response_time);
  }
  if (auto a = response.get("Age")) t.age = parse_age(*a).value_or(0);
  return t;
}

std::int64_t apparent_age(const StoredTimings& t) noexcept {
  return clamp_delta(std::max<std::int64_t>(0, t.response_time - t.date));
}

std::int64_t response_delay(const StoredTimings& t) noexcept {
  return clamp_delta(std::max<std::int64_t>(0, t.response_time - t.request_time));
}

std::int64_t corrected_age_value(const StoredTimings& t) noexcept {
  return clamp_delta(std::max<std::int64_t>(0, t.age) + response_delay(t));
}

std::int64_t corrected_initial_age(const StoredTimings& t) noexcept {
  return std::max(apparent_age(t), corrected_age_value(t));
}

std::int64_t resident_time(const StoredTimings& t, std::int64_t now) noexcept {
  return clamp_delta(std::max<std::int64_t>(0, now - t.response_time));
}

std::int64_t current_age(const StoredTimings& t, std::int64_t now) noexcept {
  return clamp_delta(corrected_initial_age(t) + resident_time(t, now));
}

}  // namespace ghala::cache
