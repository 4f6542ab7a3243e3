// Conditional requests, RFC 9110 §13.
//
// Entity-tags (§8.8.3): opaque-tag = DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text,
// optionally prefixed by the case-sensitive "W/". Commas are legal inside the quotes, so lists
// are scanned tag by tag rather than split on commas.
//
// Evaluation order (§13.2.2), first decisive step wins:
//   1. If-Match present:       false -> 412.
//   2. else If-Unmodified-Since (valid date, Last-Modified known): modified after it -> 412.
//   3. If-None-Match present:  false -> 304 for GET/HEAD, else 412.
//   4. else If-Modified-Since (GET/HEAD, valid date, Last-Modified known): not modified -> 304.
//   5. GET with Range and If-Range: If-Range false -> ignore the Range (full 200).
// If-Match uses the strong comparison, If-None-Match the weak one (§13.1.1, §13.1.2).
#include "ghala/http/conditional.hpp"

#include "ghala/http/date.hpp"

namespace ghala::http {

namespace {

constexpr bool is_etagc(unsigned char c) noexcept {
  return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80;
}

constexpr bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

void skip_ows(std::string_view& s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
}

// One entity-tag at the front of s; consumes it on success.
std::optional<EntityTag> take_entity_tag(std::string_view& s) {
  EntityTag tag;
  std::string_view rest = s;
  if (rest.substr(0, 2) == "W/") {
    tag.weak = true;
    rest.remove_prefix(2);
  }
  if (rest.empty() || rest.front() != '"') return std::nullopt;
  rest.remove_prefix(1);
  std::size_t n = 0;
  while (n < rest.size() && is_etagc(static_cast<unsigned char>(rest[n]))) ++n;
  if (n == rest.size() || rest[n] != '"') return std::nullopt;
  tag.opaque.assign(rest.substr(0, n));
  s = rest.substr(n + 1);
  return tag;
}

bool get_or_head(Method m) noexcept {
  return m == Method::Get || m == Method::Head;
}

// §13.1.1: true if "*" (a current representation exists), or any listed tag strongly matches.
// An invalid field cannot be shown to match, so it is false.
bool if_match_true(std::string_view field, const Validators& cur) {
  auto list = parse_entity_tag_list(field);
  if (!list) return false;
  if (list->any) return true;
  if (!cur.etag) return false;
  for (const auto& tag : list->tags) {
    if (strong_match(tag, *cur.etag)) return true;
  }
  return false;
}

// §13.1.2: false if "*" or any listed tag weakly matches. An invalid field is ignored (true).
bool if_none_match_true(std::string_view field, const Validators& cur) {
  auto list = parse_entity_tag_list(field);
  if (!list) return true;
  if (list->any) return false;
  if (!cur.etag) return true;
  for (const auto& tag : list->tags) {
    if (weak_match(tag, *cur.etag)) return false;
  }
  return true;
}

// §13.1.4: false when the representation was modified after the date. Ignored (true) without a
// valid date or a known Last-Modified.
bool if_unmodified_since_true(std::string_view field, const Validators& cur) {
  auto date = parse_http_date(field);
  if (!date || !cur.last_modified) return true;
  return *cur.last_modified <= *date;
}

// §13.1.3: false (i.e. "not modified") when Last-Modified is at or before the date.
bool if_modified_since_true(std::string_view field, const Validators& cur) {
  auto date = parse_http_date(field);
  if (!date || !cur.last_modified) return true;
  return *cur.last_modified > *date;
}

// §13.1.5: an entity-tag must strongly match; a date must exactly equal a strong Last-Modified.
// Weak tags and anything unparseable make the condition false.
bool if_range_true(std::string_view field, const Validators& cur) {
  std::string_view value = trim_ows(field);
  if (value.starts_with('"') || value.starts_with("W/")) {
    auto tag = parse_entity_tag(value);
    return tag && !tag->weak && cur.etag && strong_match(*tag, *cur.etag);
  }
  auto date = parse_http_date(value);
  return date && cur.last_modified && cur.last_modified_is_strong && *date == *cur.last_modified;
}

// §14.2: Range is defined only for GET; §13.1.5: If-Range only matters with a Range.
bool range_allowed(const ConditionalRequest& req, const Validators& cur) {
  if (req.method != Method::Get || !req.has_range) return false;
  return !req.if_range || if_range_true(*req.if_range, cur);
}

}  // namespace

std::string EntityTag::to_string() const {
  std::string out = weak ? "W/\"" : "\"";
  out += opaque;
  out += '"';
  return out;
}

std::optional<EntityTag> parse_entity_tag(std::string_view text) {
  std::string_view s = trim_ows(text);
  auto tag = take_entity_tag(s);
  if (!tag || !s.empty()) return std::nullopt;
  return tag;
}

bool strong_match(const EntityTag& a, const EntityTag& b) noexcept {
  return !a.weak && !b.weak && a.opaque == b.opaque;
}

bool weak_match(const EntityTag& a, const EntityTag& b) noexcept {
  return a.opaque == b.opaque;
}

std::optional<EntityTagList> parse_entity_tag_list(std::string_view text) {
  EntityTagList out;
  std::string_view s = trim_ows(text);
  if (s == "*") {
    out.any = true;
    return out;
  }
  // #entity-tag: elements separated by OWS "," OWS; empty elements are allowed (§5.6.1).
  while (true) {
    while (!s.empty() && (is_ows(s.front()) || s.front() == ',')) s.remove_prefix(1);
    if (s.empty()) return out;
    auto tag = take_entity_tag(s);
    if (!tag) return std::nullopt;
    out.tags.push_back(std::move(*tag));
    skip_ows(s);
    if (!s.empty() && s.front() != ',') return std::nullopt;
  }
}

ConditionalRequest conditional_request_from(Method method, const HeaderMap& headers) {
  ConditionalRequest req;
  req.method = method;
  req.if_match = headers.get_combined("If-Match");
  req.if_none_match = headers.get_combined("If-None-Match");
  req.if_modified_since = headers.get_combined("If-Modified-Since");
  req.if_unmodified_since = headers.get_combined("If-Unmodified-Since");
  req.if_range = headers.get_combined("If-Range");
  req.has_range = headers.contains("Range");
  return req;
}

ConditionalResult evaluate_preconditions(const ConditionalRequest& req, const Validators& cur) {
  const ConditionalResult failed{Precondition::Failed, false};
  const ConditionalResult not_modified{Precondition::NotModified, false};
  if (req.if_match) {
    if (!if_match_true(*req.if_match, cur)) return failed;
  } else if (req.if_unmodified_since) {
    if (!if_unmodified_since_true(*req.if_unmodified_since, cur)) return failed;
  }
  if (req.if_none_match) {
    if (!if_none_match_true(*req.if_none_match, cur)) {
      return get_or_head(req.method) ? not_modified : failed;
    }
  } else if (req.if_modified_since && get_or_head(req.method)) {
    if (!if_modified_since_true(*req.if_modified_since, cur)) return not_modified;
  }
  return ConditionalResult{Precondition::Proceed, range_allowed(req, cur)};
}

}  // namespace ghala::http
