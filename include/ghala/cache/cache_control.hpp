#pragma once
// Cache-Control (RFC 9111 §5.2) parsing for a shared cache.
//
// Grammar (RFC 9111 §5.2, RFC 9110 §5.6): Cache-Control = #( token [ "=" ( token /
// quoted-string ) ] ). Names are case-insensitive; arguments may use either form, so
// `max-age="60"` is accepted (§5.2: "recipients ought to accept both forms"). Commas inside a
// quoted string belong to the argument. A malformed element (junk after the argument, an
// unterminated quote, an empty argument) is skipped up to the next top-level comma and the rest
// of the field still counts.
//
// Invalid and conflicting values are resolved towards the most restrictive reading
// (RFC 9111 §4.2.1): see each field below and docs/caching.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/http/header_map.hpp"

namespace ghala::cache {

// RFC 9111 §1.2.2: a delta-seconds too large to represent, or a calculation that overflows,
// is taken as 2^31.
inline constexpr std::int64_t kMaxDeltaSeconds = 2147483648;

// 1*DIGIT, clamped to kMaxDeltaSeconds. nullopt for anything else (empty, sign, space, junk).
std::optional<std::int64_t> parse_delta_seconds(std::string_view text) noexcept;
// Clamps a computed number of seconds to [-2^31, 2^31] (§1.2.2 overflow rule).
std::int64_t clamp_delta(std::int64_t seconds) noexcept;

// One element of a Cache-Control list, before interpretation.
struct RawDirective {
  std::string name;  // lower-cased
  bool has_argument = false;
  std::string argument;  // unquoted, escapes resolved
  bool valid = true;     // false: malformed element (the name is still reported when readable)
};
std::vector<RawDirective> parse_directive_list(std::string_view value);

// no-cache and private take an optional list of field names (RFC 9111 §5.2.2.4, §5.2.2.7).
struct FieldScoped {
  bool present = false;
  bool all = false;                 // unqualified (or an unusable field list): the whole response
  std::vector<std::string> fields;  // lower-cased, sorted, unique; only meaningful when !all
  bool operator==(const FieldScoped&) const = default;
};

struct ResponseDirectives {
  // Invalid (max-age=abc, max-age=-1, max-age=) means 0: the response is stale (§4.2.1).
  // Repeated with different values: also 0 (§4.2.1 "the first occurrence should be used or the
  // response should be considered stale": we take the second, most restrictive, option).
  std::optional<std::int64_t> max_age;
  std::optional<std::int64_t> s_maxage;  // same rules as max-age
  FieldScoped no_cache;
  FieldScoped private_;
  bool no_store = false;
  bool public_ = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool must_understand = false;
  bool no_transform = false;
  bool immutable = false;
  // RFC 5861. Invalid values grant nothing (the directive is ignored); repeated: the smallest.
  std::optional<std::int64_t> stale_while_revalidate;
  std::optional<std::int64_t> stale_if_error;
  bool operator==(const ResponseDirectives&) const = default;
};

struct RequestDirectives {
  // Invalid values are ignored (a client's typo must not force revalidation); repeated values
  // take the most restrictive one: smallest max-age and max-stale, largest min-fresh.
  std::optional<std::int64_t> max_age;
  std::optional<std::int64_t> max_stale;  // valueless "max-stale": kMaxDeltaSeconds (any)
  std::optional<std::int64_t> min_fresh;
  std::optional<std::int64_t> stale_if_error;  // RFC 5861 §4, request form
  bool no_cache = false;
  bool no_store = false;
  bool only_if_cached = false;
  bool no_transform = false;
  bool operator==(const RequestDirectives&) const = default;
};

ResponseDirectives parse_response_directives(std::string_view value);
RequestDirectives parse_request_directives(std::string_view value);

// From all Cache-Control field lines of a message (combined as one list, RFC 9110 §5.3).
template <http::ReadableHeaders H>
ResponseDirectives response_directives(const H& headers);
// Same, plus RFC 9111 §5.4: without Cache-Control, "Pragma: no-cache" means no-cache.
RequestDirectives request_directives(const http::HeaderMap& headers);

// Field names from a no-cache / private argument ("Set-Cookie, X-Foo"): lower-cased, sorted,
// unique. nullopt when the list is empty or an element is not a token.
std::optional<std::vector<std::string>> parse_field_name_list(std::string_view text);

}  // namespace ghala::cache
