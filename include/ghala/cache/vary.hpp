#pragma once
// Secondary cache keys from Vary, RFC 9111 §4.1.
//
// A stored response varies on the request fields its Vary names. The secondary key is those
// fields' values in the request that produced it, normalised so that requests the RFC says
// match produce the same bytes: field lines combined (RFC 9110 §5.3), optional whitespace at the
// ends and around list commas removed (outside quoted strings), and values of fields defined as
// case-insensitive lower-cased. An absent field differs from an empty one (§4.1: "a header
// field absent from a request can only match another request if it is also absent there").

#include <string>
#include <string_view>
#include <vector>

#include "ghala/http/header_map.hpp"

namespace ghala::cache {

struct VarySpec {
  bool any = false;                // "*": never matches (§4.1)
  std::vector<std::string> names;  // lower-cased, sorted, unique
  bool empty() const noexcept { return !any && names.empty(); }
  bool operator==(const VarySpec&) const = default;
};

// All Vary lines of a stored response.
template <http::ReadableHeaders H>
VarySpec parse_vary(const H& response);

// The value of one request field as the key records it (nullopt: absent).
std::optional<std::string> normalized_field(const http::HeaderMap& request, std::string_view name);

// The secondary key of `request` for a response that varies by `vary`. Empty when the response
// does not vary. Unambiguous: each name is followed by its value's length or an absence marker.
// Meaningless for vary.any (such responses are neither stored nor matched).
std::string vary_key(const http::HeaderMap& request, const VarySpec& vary);

// Whether `request` selects a stored response whose Vary is `vary` and whose secondary key is
// `stored_key`. Always false for Vary: *.
bool vary_matches(std::string_view stored_key, const VarySpec& vary,
                  const http::HeaderMap& request);

}  // namespace ghala::cache
