#pragma once
// HTTP-date (RFC 9110 §5.6.7): parsing of the three accepted forms and formatting of the one
// form senders must generate (IMF-fixdate). Times are Unix seconds (UTC) as std::int64_t, so the
// functions are pure and independent of the process time zone and locale.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ghala::http {

// "Sun, 06 Nov 1994 08:49:37 GMT" is always this long.
inline constexpr std::size_t kHttpDateLength = 29;

// Parses IMF-fixdate, the obsolete RFC 850 form and the asctime() form. Surrounding optional
// whitespace is ignored; anything else that is not exactly one of the three grammars (a list of
// dates, a wrong day count for the month, a time zone other than GMT) is nullopt.
// RFC 850 dates carry a two-digit year: `now` (Unix seconds) picks the century so that the date
// is not more than 50 years in the future (RFC 9110 §5.6.7).
std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now) noexcept;
// Same, with the current wall-clock time for the RFC 850 century rule.
std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept;

// Writes the IMF-fixdate for `unix_seconds` into out (no terminator). Times before 1970 or after
// 9999-12-31T23:59:59Z are clamped to those bounds: the format has a four-digit year.
void format_http_date(std::int64_t unix_seconds, char (&out)[kHttpDateLength]) noexcept;
std::string format_http_date(std::int64_t unix_seconds);

// The IMF-fixdate for `now_seconds`, formatted at most once per second per thread. The view stays
// valid until the next call on the same thread; copy it into the response before yielding.
std::string_view cached_http_date(std::int64_t now_seconds) noexcept;
// Same, for the current wall-clock time (a Date header value for "now").
std::string_view cached_http_date_now() noexcept;

}  // namespace ghala::http
