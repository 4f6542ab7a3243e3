#pragma once
// Validation of stored responses, RFC 9111 §4.3: building the conditional request (§4.3.1) and
// choosing which stored responses a 304 updates (§4.3.4).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ghala/http/conditional.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::cache {

// The validators of one stored response, plus when it was received (to find the most recent).
struct StoredValidators {
  std::optional<http::EntityTag> etag;
  std::optional<std::string> last_modified;  // the Last-Modified field value as received
  std::int64_t response_time = 0;
};

// ETag (when it parses) and Last-Modified (verbatim, when present) from stored headers.
template <http::ReadableHeaders H>
StoredValidators stored_validators(const H& headers, std::int64_t response_time);

struct ConditionalHeaders {
  std::optional<std::string> if_none_match;      // every stored entity-tag, comma-separated
  std::optional<std::string> if_modified_since;  // the Last-Modified of a single stored response
  bool empty() const noexcept { return !if_none_match && !if_modified_since; }
};

// §4.3.1 for the responses being validated (several when variants share the URI):
// If-None-Match lists all their entity-tags (weak ones too: If-None-Match compares weakly).
// If-Modified-Since carries Last-Modified, copied verbatim so origins that compare strings
// exactly still match, and only when exactly one response is validated (a date cannot name
// several). Date is never used as a fallback: an origin without Last-Modified cannot evaluate it,
// and RFC 9110 §13.1.3 calls Last-Modified the interoperable choice.
ConditionalHeaders conditional_headers(std::span<const StoredValidators> stored);

// §4.3.4: the indices of the stored responses that a 304 with `fresh` validators updates.
//   - a strong ETag in the 304: every stored response whose ETag matches it strongly; none
//     matching means nothing is updated;
//   - otherwise weak validators (weak ETag, Last-Modified): the most recent stored response
//     that matches all of them (Last-Modified compared as dates);
//   - no validators: the only stored response, if there is exactly one and it has none either.
// Last-Modified is treated as weak (RFC 9110 §8.8.2.2: a cache rarely can prove it strong).
std::vector<std::size_t> select_for_update(std::span<const StoredValidators> stored,
                                           const StoredValidators& fresh);

}  // namespace ghala::cache
