// Validation, RFC 9111 §4.3.1 (sending validators) and §4.3.4 (freshening with a 304).
#include "ghala/cache/validation.hpp"

#include <algorithm>

#include "ghala/http/date.hpp"
#include "ghala/http/frozen_headers.hpp"

namespace ghala::cache {

namespace {

bool same_date(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  if (!a || !b) return false;
  auto da = http::parse_http_date(*a);
  auto db = http::parse_http_date(*b);
  return da && db && *da == *db;
}

bool has_validator(const StoredValidators& v) noexcept {
  return v.etag || v.last_modified;
}

// All of the 304's weak validators must correspond to the stored response.
bool weak_matches(const StoredValidators& stored, const StoredValidators& fresh) {
  if (fresh.etag && !(stored.etag && http::weak_match(*stored.etag, *fresh.etag))) return false;
  if (fresh.last_modified && !same_date(stored.last_modified, fresh.last_modified)) return false;
  return true;
}

std::vector<std::size_t> select_strong(std::span<const StoredValidators> stored,
                                       const http::EntityTag& tag) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (stored[i].etag && http::strong_match(*stored[i].etag, tag)) out.push_back(i);
  }
  return out;
}

std::vector<std::size_t> select_most_recent_weak(std::span<const StoredValidators> stored,
                                                 const StoredValidators& fresh) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (!weak_matches(stored[i], fresh)) continue;
    if (!best || stored[i].response_time > stored[*best].response_time) best = i;
  }
  if (!best) return {};
  return {*best};
}

}  // namespace

template <http::ReadableHeaders H>
StoredValidators stored_validators(const H& headers, std::int64_t response_time) {
  StoredValidators v;
  v.response_time = response_time;
  if (auto etag = headers.get("ETag")) v.etag = http::parse_entity_tag(*etag);
  if (auto lm = headers.get("Last-Modified")) v.last_modified = std::string(http::trim_ows(*lm));
  return v;
}
template StoredValidators stored_validators(const http::HeaderMap&, std::int64_t);
template StoredValidators stored_validators(const http::FrozenHeaders&, std::int64_t);

ConditionalHeaders conditional_headers(std::span<const StoredValidators> stored) {
  ConditionalHeaders out;
  std::vector<http::EntityTag> sent;
  for (const auto& s : stored) {
    if (!s.etag || std::find(sent.begin(), sent.end(), *s.etag) != sent.end()) continue;
    sent.push_back(*s.etag);
  }
  for (const auto& tag : sent) {
    out.if_none_match = out.if_none_match ? *out.if_none_match + ", " : std::string();
    out.if_none_match->append(tag.to_string());
  }
  if (stored.size() == 1 && stored[0].last_modified &&
      http::parse_http_date(*stored[0].last_modified)) {
    out.if_modified_since = stored[0].last_modified;
  }
  return out;
}

std::vector<std::size_t> select_for_update(std::span<const StoredValidators> stored,
                                           const StoredValidators& fresh) {
  if (fresh.etag && !fresh.etag->weak) return select_strong(stored, *fresh.etag);
  if (has_validator(fresh)) return select_most_recent_weak(stored, fresh);
  if (stored.size() == 1 && !has_validator(stored[0])) return {0};
  return {};
}

}  // namespace ghala::cache
