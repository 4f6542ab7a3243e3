// HTTP-date, RFC 9110 §5.6.7.
//
//   IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT    ; Sun, 06 Nov 1994 08:49:37 GMT
//   rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT  ; Sunday, 06-Nov-94 08:49:37 GMT
//   asctime-date = day-name SP date3 SP time-of-day SP year       ; Sun Nov  6 08:49:37 1994
//
// Recipients must accept all three; senders generate only IMF-fixdate. The names are
// case-sensitive in the grammar (%s"Jan"), so parsing is exact. The day name is checked to be a
// day name but not cross-checked against the date, as most servers do: a mismatch carries no
// meaning a cache could act on. Calendar arithmetic uses the proleptic Gregorian day-count
// algorithms (H. Hinnant, "chrono-compatible low-level date algorithms"), so nothing depends on
// the process time zone, locale or the range of time_t.
#include "ghala/http/date.hpp"

#include <array>
#include <cstdint>
#include <ctime>

#include "ghala/http/header_map.hpp"

namespace ghala::http {

namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::int64_t kMaxFormattable = 253402300799;  // 9999-12-31T23:59:59Z

// Days since 1970-01-01 for a proleptic Gregorian date (month 1..12).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

constexpr Civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).month == 3);

constexpr bool is_leap(std::int64_t y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// A forward-only reader over the field value; every accessor fails softly on short input.
class Cursor {
 public:
  explicit Cursor(std::string_view s) noexcept : s_(s) {}

  bool literal(std::string_view lit) noexcept {
    if (s_.substr(0, lit.size()) != lit) return false;
    s_.remove_prefix(lit.size());
    return true;
  }
  // Exactly n ASCII digits.
  std::optional<unsigned> digits(std::size_t n) noexcept {
    if (s_.size() < n) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[i];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    s_.remove_prefix(n);
    return v;
  }
  // Index of the name in the table that the input starts with.
  template <std::size_t N>
  std::optional<unsigned> name(const std::array<std::string_view, N>& table) noexcept {
    for (unsigned i = 0; i < N; ++i) {
      if (literal(table[i])) return i;
    }
    return std::nullopt;
  }
  bool done() const noexcept { return s_.empty(); }
  std::string_view rest() const noexcept { return s_; }

 private:
  std::string_view s_;
};

struct Fields {
  std::int64_t year = 0;
  unsigned month = 0;  // 1..12
  unsigned day = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
};

// time-of-day = hour ":" minute ":" second; second 60 is a leap second (RFC 9110 §5.6.7).
bool parse_time(Cursor& c, Fields& f) noexcept {
  auto h = c.digits(2);
  if (!h || !c.literal(":")) return false;
  auto m = c.digits(2);
  if (!m || !c.literal(":")) return false;
  auto s = c.digits(2);
  if (!s || *h > 23 || *m > 59 || *s > 60) return false;
  f.hour = *h;
  f.minute = *m;
  f.second = *s;
  return true;
}

bool parse_month(Cursor& c, Fields& f) noexcept {
  auto m = c.name(kMonthNames);
  if (!m) return false;
  f.month = *m + 1;
  return true;
}

// After "Sun, ": 06 Nov 1994 08:49:37 GMT
bool parse_imf_rest(Cursor& c, Fields& f) noexcept {
  auto d = c.digits(2);
  if (!d || !c.literal(" ") || !parse_month(c, f) || !c.literal(" ")) return false;
  auto y = c.digits(4);
  if (!y || !c.literal(" ") || !parse_time(c, f) || !c.literal(" GMT")) return false;
  f.day = *d;
  f.year = *y;
  return true;
}

// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future means the most recent
// past year with those digits.
std::int64_t expand_two_digit_year(unsigned yy, std::int64_t now) noexcept {
  const std::int64_t this_year = civil_from_days(now / kSecondsPerDay).year;
  std::int64_t year = this_year - this_year % 100 + yy;
  if (year > this_year + 50) year -= 100;
  return year;
}

// After "Sunday, ": 06-Nov-94 08:49:37 GMT
bool parse_rfc850_rest(Cursor& c, Fields& f, std::int64_t now) noexcept {
  auto d = c.digits(2);
  if (!d || !c.literal("-") || !parse_month(c, f) || !c.literal("-")) return false;
  auto y = c.digits(2);
  if (!y || !c.literal(" ") || !parse_time(c, f) || !c.literal(" GMT")) return false;
  f.day = *d;
  f.year = expand_two_digit_year(*y, now);
  return true;
}

// After "Sun ": Nov  6 08:49:37 1994 (day is two digits or SP DIGIT)
bool parse_asctime_rest(Cursor& c, Fields& f) noexcept {
  if (!parse_month(c, f) || !c.literal(" ")) return false;
  auto d = c.literal(" ") ? c.digits(1) : c.digits(2);
  if (!d || !c.literal(" ") || !parse_time(c, f) || !c.literal(" ")) return false;
  auto y = c.digits(4);
  if (!y) return false;
  f.day = *d;
  f.year = *y;
  return true;
}

bool parse_any(Cursor& c, Fields& f, std::int64_t now) noexcept {
  // Long names first: "Sunday" would otherwise match the short "Sun".
  if (c.name(kLongDayNames)) return c.literal(", ") && parse_rfc850_rest(c, f, now);
  if (!c.name(kDayNames)) return false;
  if (c.literal(", ")) return parse_imf_rest(c, f);
  return c.literal(" ") && parse_asctime_rest(c, f);
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now) noexcept {
  Cursor c(trim_ows(text));
  Fields f;
  if (!parse_any(c, f, now) || !c.done()) return std::nullopt;
  if (f.day < 1 || f.day > days_in_month(f.year, f.month)) return std::nullopt;
  const std::int64_t days = days_from_civil(f.year, f.month, f.day);
  return days * kSecondsPerDay + f.hour * 3600 + f.minute * 60 + f.second;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept {
  return parse_http_date(text, static_cast<std::int64_t>(std::time(nullptr)));
}

void format_http_date(std::int64_t unix_seconds, char (&out)[kHttpDateLength]) noexcept {
  const std::int64_t t =
      unix_seconds < 0 ? 0 : (unix_seconds > kMaxFormattable ? kMaxFormattable : unix_seconds);
  const std::int64_t days = t / kSecondsPerDay;
  const auto secs = static_cast<unsigned>(t % kSecondsPerDay);
  const Civil c = civil_from_days(days);
  const auto put2 = [&](std::size_t at, unsigned v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  const auto put_name = [&](std::size_t at, std::string_view name) {
    for (std::size_t i = 0; i < 3; ++i) out[at + i] = name[i];
  };
  // 1970-01-01 was a Thursday; t >= 0 so the modulo is non-negative.
  put_name(0, kDayNames[static_cast<std::size_t>((days + 4) % 7)]);
  out[3] = ',';
  out[4] = ' ';
  put2(5, c.day);
  out[7] = ' ';
  put_name(8, kMonthNames[c.month - 1]);
  out[11] = ' ';
  const auto year = static_cast<unsigned>(c.year);
  put2(12, year / 100);
  put2(14, year % 100);
  out[16] = ' ';
  put2(17, secs / 3600);
  out[19] = ':';
  put2(20, secs / 60 % 60);
  out[22] = ':';
  put2(23, secs % 60);
  out[25] = ' ';
  put_name(26, "GMT");
}

std::string format_http_date(std::int64_t unix_seconds) {
  char buf[kHttpDateLength];
  format_http_date(unix_seconds, buf);
  return std::string(buf, kHttpDateLength);
}

std::string_view cached_http_date(std::int64_t now_seconds) noexcept {
  // Per thread, so workers never share (or lock) the buffer. A new second reformats once.
  struct Cache {
    std::int64_t second = INT64_MIN;
    char text[kHttpDateLength] = {};
  };
  thread_local Cache cache;
  if (cache.second != now_seconds) {
    format_http_date(now_seconds, cache.text);
    cache.second = now_seconds;
  }
  return std::string_view(cache.text, kHttpDateLength);
}

std::string_view cached_http_date_now() noexcept {
  return cached_http_date(static_cast<std::int64_t>(std::time(nullptr)));
}

}  // namespace ghala::http
