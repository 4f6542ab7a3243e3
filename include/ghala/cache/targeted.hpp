#pragma once
// Targeted cache-control fields (RFC 9213): CDN-Cache-Control and ghala's own configurable field
// (e.g. Ghala-Cache-Control). They are Structured Field Dictionaries (RFC 8941 §3.2) whose keys
// are Cache-Control directive names, so they are parsed strictly: a field that is not a valid
// dictionary is ignored as a whole and the next field in precedence order is used.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/cache/cache_control.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::cache {

// The RFC 8941 item types a dictionary member may hold. Inner lists are parsed (so a field that
// carries one stays valid) but their contents are not kept.
enum class SfType : std::uint8_t {
  Boolean,
  Integer,
  Decimal,
  String,
  Token,
  ByteSequence,
  InnerList
};

struct SfMember {
  std::string key;
  SfType type = SfType::Boolean;
  bool boolean = true;       // Boolean
  std::int64_t integer = 0;  // Integer
  std::string text;          // String (unescaped), Token, ByteSequence (still base64)
};

// RFC 8941 §4.2.2 dictionary parsing; parameters are validated and dropped (RFC 9213 §2.1:
// parameters on members are ignored). A repeated key keeps its last value (RFC 8941 §4.2.2).
// nullopt when the field does not parse (then RFC 8941 §4.2 says the whole field is ignored).
std::optional<std::vector<SfMember>> parse_sf_dictionary(std::string_view value);

// Maps a parsed targeted field onto directives (RFC 9213 §2.1): delta-seconds directives must be
// non-negative Integers, flags must be Booleans (?0 means absent), no-cache / private take a
// Boolean or a String list of field names. A member with another type is not consumed ("SHOULD
// NOT consume values that violate these inferred constraints"), except that no-cache and private
// with an unusable value apply to the whole response, which is never less safe.
// nullopt when the field is empty or not a valid dictionary.
std::optional<ResponseDirectives> parse_targeted_field(std::string_view value);

struct EffectiveDirectives {
  ResponseDirectives directives;
  // Which field the directives came from: "Cache-Control" or the targeted field's name as
  // configured.
  std::string source = "Cache-Control";
  // RFC 9213 §2.2: when a targeted field is used, Expires is ignored as well as Cache-Control.
  bool use_expires = true;
};

// RFC 9213 §2.2: the first field of `targeted_names` (in precedence order, e.g.
// {"Ghala-Cache-Control", "CDN-Cache-Control"}) that is present with a valid, non-empty value
// wins, and Cache-Control and Expires are then ignored; otherwise Cache-Control applies.
template <http::ReadableHeaders H>
EffectiveDirectives effective_directives(const H& response,
                                         std::span<const std::string> targeted_names);

}  // namespace ghala::cache
