#pragma once
// Conditional requests (RFC 9110 §13): entity-tags, their comparison, and the evaluation order of
// the five precondition fields. Inputs are plain values so the cache can evaluate a stored
// response exactly as the directory origin evaluates a file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/http/header_map.hpp"
#include "ghala/http/message.hpp"

namespace ghala::http {

// entity-tag = [ weak ] opaque-tag (RFC 9110 §8.8.3). `opaque` excludes the quotes.
struct EntityTag {
  bool weak = false;
  std::string opaque;

  std::string to_string() const;  // W/"x" or "x"
  bool operator==(const EntityTag&) const = default;
};

// Exactly one entity-tag (surrounding OWS allowed), e.g. an ETag field value.
std::optional<EntityTag> parse_entity_tag(std::string_view text);

// RFC 9110 §8.8.3.2. Strong: both strong and the same opaque-tag. Weak: same opaque-tag.
bool strong_match(const EntityTag& a, const EntityTag& b) noexcept;
bool weak_match(const EntityTag& a, const EntityTag& b) noexcept;

// "*" / #entity-tag, as in If-Match and If-None-Match (RFC 9110 §13.1.1, §13.1.2). Commas inside
// quotes belong to the tag. nullopt when any element is not an entity-tag.
struct EntityTagList {
  bool any = false;  // "*"
  std::vector<EntityTag> tags;
};
std::optional<EntityTagList> parse_entity_tag_list(std::string_view text);

// The selected representation's current validators.
struct Validators {
  std::optional<EntityTag> etag;
  std::optional<std::int64_t> last_modified;  // Unix seconds, as sent in Last-Modified
  // RFC 9110 §8.8.2.2: a modification date is only a strong validator if the representation
  // cannot have changed twice within that second. False makes If-Range dates never match.
  bool last_modified_is_strong = false;
};

// The request's precondition fields. Repeated fields are combined with ", " (a repeated
// If-Modified-Since then becomes an invalid date and is ignored, as §13.1.3 asks).
struct ConditionalRequest {
  Method method = Method::Get;
  std::optional<std::string> if_match;
  std::optional<std::string> if_none_match;
  std::optional<std::string> if_modified_since;
  std::optional<std::string> if_unmodified_since;
  std::optional<std::string> if_range;
  bool has_range = false;
};
ConditionalRequest conditional_request_from(Method method, const HeaderMap& headers);

enum class Precondition : std::uint8_t {
  Proceed,      // respond normally (200, or 206 when a Range is honoured)
  NotModified,  // 304
  Failed,       // 412
};

struct ConditionalResult {
  Precondition outcome = Precondition::Proceed;
  // True when the request is a GET with a Range that may be honoured: no If-Range, or an
  // If-Range that matches (RFC 9110 §13.1.5, §14.2). False means serve the full representation.
  bool range_allowed = false;
};

// RFC 9110 §13.2.2. The caller has already decided the response would be 2xx without the
// preconditions (§13.2.1): do not evaluate for 404, 405 and the like.
// Invalid fields: an unparseable If-Match cannot match anything, so it fails (412); an
// unparseable If-None-Match, If-Modified-Since or If-Unmodified-Since is ignored; an unparseable
// If-Range is false, so the full representation is sent.
ConditionalResult evaluate_preconditions(const ConditionalRequest& request,
                                         const Validators& current);

}  // namespace ghala::http
