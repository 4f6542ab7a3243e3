#pragma once
// Cache rules: the admin's per-site and per-route say over what the cache does, compiled by the
// loader into values that are cheap to evaluate per request. See docs/config.md "Cache rules".
//
// A route's RuleSet is its own rules followed by its site's rules. Evaluation has two steps,
// because a rule can look at things that only exist once the origin has answered:
//
//   1. Request step (match_request), before the cache lookup, from the request alone. The
//      *request rule* is the first rule whose request conditions (path, methods) hold and that
//      has no response conditions. It decides pass (`cache: false`), bypass and the cache key.
//      The step also records every rule whose request conditions hold (RequestMatch::candidates)
//      so that step 2 does not match paths again.
//   2. Response step (match_response_rule), when a response head arrives (from the origin, or
//      from the store on a lookup): the *response rule* is the first candidate whose response
//      conditions (content_type, status) hold too. It decides storing and freshness: ttl,
//      force_ttl, min/max_ttl, negative_ttl, grace, stale defaults, override, `cache: false`.
//
// A rule without response conditions therefore wins both steps unless an earlier rule with
// response conditions matches the response. Rules with response conditions cannot carry
// request-side actions (bypass, key): the loader rejects that, since the key is needed before
// any response exists.

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/config/path_match.hpp"
#include "ghala/http/header_map.hpp"
#include "ghala/http/message.hpp"

namespace ghala::config {

// A Content-Type pattern: "text/html", "image/*". Lower-case; subtype empty for "type/*".
struct MediaRange {
  std::string type;
  std::string subtype;
};

// `bypass:`: the request goes to the origin, the response is not stored, nothing is served from
// the cache, when any of these is present in the request.
struct Bypass {
  std::vector<std::string> cookies;  // cookie names, compared exactly (RFC 6265 names are
                                     // case-sensitive)
  bool authorization = false;        // an Authorization header
  std::vector<std::string> headers;  // header names, lower-case
  bool empty() const noexcept { return cookies.empty() && !authorization && headers.empty(); }
};

enum class QueryMode : std::uint8_t {
  Keep,      // the query as received (default)
  Ignore,    // no query in the key
  KeepList,  // only parameters named in query_keep, in request order
};

// `key:`: how the primary cache key is built (cache_key.hpp).
struct KeyOptions {
  QueryMode query = QueryMode::Keep;
  std::vector<std::string> query_keep;  // parameter names as they appear (percent-encoded)
  bool query_sort = false;              // order parameters by name (stable for repeated names)
  std::vector<std::string> headers;     // request header names, lower-case, appended in order
};

struct CacheRule {
  int line = 0;  // where the rule starts in the config, for logs ("cache rule at line 12")
  int col = 0;

  // Request conditions. Absent: any path / any method.
  std::optional<std::string> path;  // prefix or glob, like a route's match
  MatchKind path_kind = MatchKind::Prefix;
  std::uint32_t methods = 0;  // bit (1 << http::Method); 0 = any method

  // Response conditions. Absent: any content type / any status.
  std::vector<MediaRange> content_types;
  bool any_status = true;
  std::bitset<600> statuses;  // when !any_status: the statuses listed (codes and classes)

  // Request-side actions.
  bool cache = true;  // false: never cache (request rule: pass; response rule: do not store)
  Bypass bypass;
  KeyOptions key;

  // Response-side actions, in seconds (the cache works in whole seconds, RFC 9111 §1.2.2).
  std::optional<std::int64_t> ttl;        // freshness when the origin gives none
  std::optional<std::int64_t> force_ttl;  // freshness whatever the origin says
  std::optional<std::int64_t> min_ttl;
  std::optional<std::int64_t> max_ttl;
  std::optional<std::int64_t> negative_ttl;            // 404/410 without origin freshness
  std::optional<std::int64_t> grace;                   // stale while the origin fails (CachePolicy)
  std::optional<std::int64_t> stale_while_revalidate;  // when the origin gives none
  std::optional<std::int64_t> stale_if_error;          // when the origin gives none
  bool override_origin_cache_control = false;          // ignore origin no-store, private, no-cache

  bool has_response_conditions() const noexcept { return !content_types.empty() || !any_status; }
  bool matches_status(int status) const noexcept {
    return any_status || (status >= 0 && status < 600 && statuses.test(status));
  }
};

// A route's rules in evaluation order. At most kMaxRules, so that a request's candidates fit in
// one 64-bit mask (the loader enforces the limit).
struct RuleSet {
  static constexpr std::size_t kMaxRules = 64;
  std::vector<CacheRule> rules;
};

struct RequestMatch {
  const CacheRule* rule = nullptr;  // the request rule; nullptr: no rule, defaults apply
  std::uint64_t candidates = 0;     // bit i: rules[i]'s request conditions hold
};

// Step 1. path is the request target's path; anything from the first '?' on is ignored.
RequestMatch match_request(const RuleSet& set, http::Method method, std::string_view path);
inline const CacheRule* match_request_rule(const RuleSet& set, http::Method method,
                                           std::string_view path) {
  return match_request(set, method, path).rule;
}

// Step 2. content_type is the response's Content-Type value (parameters allowed), nullopt when
// absent: then only rules without content_type conditions match. nullptr: no rule.
const CacheRule* match_response_rule(const RuleSet& set, const RequestMatch& request, int status,
                                     std::optional<std::string_view> content_type);

// True when the media type of a Content-Type value ("Text/HTML; charset=utf-8") fits the range.
bool media_range_matches(const MediaRange& range, std::string_view content_type) noexcept;

// True when the rule's bypass conditions hold for the request: a named cookie, Authorization, or
// a named header is present (even with an empty value).
bool bypassed(const CacheRule& rule, const http::HeaderMap& request);

// RFC 6265 §5.4 from the server side: is there a cookie with exactly this name in any Cookie
// header? Pairs are split on ';', names and values trimmed of spaces and tabs; a pair without
// '=' or with an empty name is skipped (browsers vary; neither can name a cookie). Never fails
// on junk.
bool has_cookie(const http::HeaderMap& request, std::string_view name);

}  // namespace ghala::config
