// `cache:` rule lists under sites and routes: each rule is read, checked on its own (types,
// ranges, duplicates) and as a whole (contradictory or useless combinations), and compiled into
// a CacheRule. The meaning of every key is in docs/config.md "Cache rules".

#include <algorithm>
#include <array>

#include "config/sections.hpp"
#include "ghala/cache/cache_control.hpp"
#include "ghala/core/units.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::config {
namespace {

constexpr std::array<std::string_view, 13> kRuleKeys{"match",
                                                     "cache",
                                                     "ttl",
                                                     "force_ttl",
                                                     "min_ttl",
                                                     "max_ttl",
                                                     "negative_ttl",
                                                     "grace",
                                                     "stale_while_revalidate",
                                                     "stale_if_error",
                                                     "override_origin_cache_control",
                                                     "bypass",
                                                     "key"};
constexpr std::array<std::string_view, 4> kMatchKeys{"path", "methods", "content_type", "status"};
constexpr std::array<std::string_view, 3> kBypassKeys{"cookies", "authorization", "headers"};
constexpr std::array<std::string_view, 4> kKeyKeys{"ignore_query", "query_keep", "query_sort",
                                                   "headers"};
constexpr std::array<std::string_view, 9> kMethods{"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                                   "OPTIONS", "PATCH", "TRACE", "CONNECT"};

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// A list of strings, each checked by `check` (returns the error text, empty when fine) and
// made unique under `same`. Returns false when the value is not a list (already reported).
template <class Check, class Same>
bool read_string_list(LoadContext& ctx, const Field& f, std::vector<std::string>& out, Check check,
                      Same same) {
  auto items = list_items(f, ctx.diag);
  if (!items) return false;
  for (const Field& item : *items) {
    std::string s;
    if (!read_string(item, ctx.diag, s)) continue;
    if (std::string why = check(s); !why.empty()) {
      ctx.diag.error(item.mark(), f.name + ": " + quote_value(s) + " " + why);
      continue;
    }
    if (std::any_of(out.begin(), out.end(), [&](const std::string& o) { return same(o, s); })) {
      ctx.diag.error(item.mark(), f.name + ": " + quote_value(s) + " is listed twice");
      continue;
    }
    out.push_back(std::move(s));
  }
  return true;
}

bool exact(const std::string& a, const std::string& b) {
  return a == b;
}
bool caseless(const std::string& a, const std::string& b) {
  return http::iequals(a, b);
}

// Header names: tokens, stored lower-case, unique regardless of case.
void read_header_names(LoadContext& ctx, const Field& f, std::vector<std::string>& out) {
  read_string_list(
      ctx, f, out,
      [](const std::string& s) { return is_token(s) ? "" : "is not a header field name"; },
      caseless);
  for (std::string& h : out) h = lower(std::move(h));
}

// Durations of rules are whole seconds from 0 to 2^31 (RFC 9111 §1.2.2 delta-seconds).
std::optional<std::int64_t> read_seconds(LoadContext& ctx, const Field& f) {
  Millis ms{};
  if (!read_duration(f, ctx.diag, true, ms)) return std::nullopt;
  if (ms.count() % 1000 != 0) {
    ctx.diag.error(f.mark(), f.name + ": cache lifetimes are whole seconds, found " +
                                 quote_value(f.value.Scalar()));
    return std::nullopt;
  }
  const std::int64_t s = ms.count() / 1000;
  if (s > cache::kMaxDeltaSeconds) {
    ctx.diag.error(f.mark(), f.name + ": at most 2147483648s (about 68 years)");
    return std::nullopt;
  }
  return s;
}

void read_methods(LoadContext& ctx, const Field& f, CacheRule& r) {
  std::vector<std::string> names;
  read_string_list(
      ctx, f, names,
      [](const std::string& s) -> std::string {
        if (std::find(kMethods.begin(), kMethods.end(), s) != kMethods.end()) return "";
        return "is not a method ghala knows (write it in upper case: GET, HEAD, POST, ...)";
      },
      exact);
  for (const std::string& n : names) {
    r.methods |= 1u << static_cast<unsigned>(http::method_from_string(n));
  }
  if (f.value.IsSequence() && f.value.size() == 0) {
    ctx.diag.error(f.mark(), "methods: an empty list matches nothing; leave it out to match all");
  }
}

// "text/html" or "image/*", without parameters.
std::string media_range_problem(const std::string& s) {
  const auto slash = s.find('/');
  if (slash == std::string::npos) return "is not a media type such as text/html or image/*";
  const std::string_view type = std::string_view(s).substr(0, slash);
  const std::string_view sub = std::string_view(s).substr(slash + 1);
  if (s.find(';') != std::string::npos) return "must not have parameters (write just type/subtype)";
  if (type == "*" && sub == "*") return "matches every type: leave content_type out instead";
  if (!is_token(type) || type.find('*') != std::string_view::npos ||
      !(sub == "*" || (is_token(sub) && sub.find('*') == std::string_view::npos))) {
    return "is not a media type such as text/html or image/*";
  }
  return "";
}

void read_content_types(LoadContext& ctx, const Field& f, CacheRule& r) {
  std::vector<std::string> patterns;
  read_string_list(ctx, f, patterns, media_range_problem, caseless);
  for (const std::string& p : patterns) {
    const auto slash = p.find('/');
    const std::string sub = p.substr(slash + 1);
    r.content_types.push_back(MediaRange{lower(p.substr(0, slash)), sub == "*" ? "" : lower(sub)});
  }
  if (f.value.IsSequence() && f.value.size() == 0) {
    ctx.diag.error(f.mark(), "content_type: an empty list matches nothing; leave it out");
  }
}

// One status item: 100-599, or a class 1xx-5xx. Returns the codes it covers.
std::optional<std::pair<int, int>> parse_status(const std::string& s) {
  if (s.size() != 3) return std::nullopt;
  if (s[0] < '1' || s[0] > '5') return std::nullopt;
  const int hundreds = (s[0] - '0') * 100;
  if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
    return std::pair(hundreds, hundreds + 99);
  }
  if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') return std::nullopt;
  const int code = hundreds + (s[1] - '0') * 10 + (s[2] - '0');
  return std::pair(code, code);
}

void read_statuses(LoadContext& ctx, const Field& f, CacheRule& r) {
  auto items = list_items(f, ctx.diag);
  if (!items) return;
  if (items->empty()) {
    ctx.diag.error(f.mark(), "status: an empty list matches nothing; leave it out");
    return;
  }
  std::vector<std::string> seen;
  for (const Field& item : *items) {
    std::string s;
    if (!read_string(item, ctx.diag, s)) continue;
    const auto range = parse_status(s);
    if (!range) {
      ctx.diag.error(item.mark(),
                     "status: expected a code from 100 to 599 or a class such as "
                     "2xx, found " +
                         quote_value(s));
      continue;
    }
    if (std::find(seen.begin(), seen.end(), lower(s)) != seen.end()) {
      ctx.diag.error(item.mark(), "status: " + quote_value(s) + " is listed twice");
      continue;
    }
    seen.push_back(lower(s));
    for (int c = range->first; c <= range->second; ++c) r.statuses.set(static_cast<std::size_t>(c));
    r.any_status = false;
  }
}

void read_rule_match(LoadContext& ctx, const Field& f, CacheRule& r) {
  MapView m(f, kMatchKeys, ctx.diag);
  if (!m.valid()) return;
  if (const Field* x = m.find("path")) {
    std::string path;
    if (read_path_pattern(ctx, *x, path, r.path_kind)) r.path = std::move(path);
  }
  if (const Field* x = m.find("methods")) read_methods(ctx, *x, r);
  if (const Field* x = m.find("content_type")) read_content_types(ctx, *x, r);
  if (const Field* x = m.find("status")) read_statuses(ctx, *x, r);
}

void read_bypass(LoadContext& ctx, const Field& f, CacheRule& r) {
  MapView m(f, kBypassKeys, ctx.diag);
  if (!m.valid()) return;
  const std::size_t errors_before = ctx.diag.size();
  if (const Field* x = m.find("cookies")) {
    // RFC 6265 §4.1.1: a cookie-name is a token; names are case-sensitive.
    read_string_list(
        ctx, *x, r.bypass.cookies,
        [](const std::string& s) { return is_token(s) ? "" : "is not a cookie name"; }, exact);
  }
  if (const Field* x = m.find("authorization")) read_bool(*x, ctx.diag, r.bypass.authorization);
  if (const Field* x = m.find("headers")) read_header_names(ctx, *x, r.bypass.headers);
  if (r.bypass.empty() && ctx.diag.size() == errors_before) {
    ctx.diag.error(m.mark(),
                   "bypass: names nothing to bypass on (cookies, authorization: true "
                   "or headers)");
  }
}

// A query parameter name as it appears in the query: printable, no separators.
std::string query_name_problem(const std::string& s) {
  const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '&' && c != '=' && c != '#' && c != '?';
  });
  return ok ? "" : "is not a query parameter name (printable, without & = # ?)";
}

void read_key(LoadContext& ctx, const Field& f, CacheRule& r) {
  MapView m(f, kKeyKeys, ctx.diag);
  if (!m.valid()) return;
  bool ignore = false;
  const Field* ignore_f = m.find("ignore_query");
  const Field* keep_f = m.find("query_keep");
  const Field* sort_f = m.find("query_sort");
  if (ignore_f && read_bool(*ignore_f, ctx.diag, ignore) && ignore) r.key.query = QueryMode::Ignore;
  if (keep_f) {
    if (ignore) {
      ctx.diag.error(keep_f->key.Mark(),
                     "query_keep contradicts ignore_query: true (keep some "
                     "parameters, or none)");
    } else if (read_string_list(ctx, *keep_f, r.key.query_keep, query_name_problem, exact)) {
      r.key.query = QueryMode::KeepList;
      if (keep_f->value.size() == 0) {
        ctx.diag.error(keep_f->mark(),
                       "query_keep: an empty list keeps nothing; write "
                       "ignore_query: true");
      }
    }
  }
  if (sort_f && read_bool(*sort_f, ctx.diag, r.key.query_sort) && r.key.query_sort && ignore) {
    ctx.diag.error(sort_f->key.Mark(), "query_sort has nothing to sort with ignore_query: true");
  }
  if (const Field* x = m.find("headers")) read_header_names(ctx, *x, r.key.headers);
}

void read_rule_durations(LoadContext& ctx, const MapView& m, CacheRule& r) {
  const std::array<std::pair<std::string_view, std::optional<std::int64_t>*>, 8> fields{{
      {"ttl", &r.ttl},
      {"force_ttl", &r.force_ttl},
      {"min_ttl", &r.min_ttl},
      {"max_ttl", &r.max_ttl},
      {"negative_ttl", &r.negative_ttl},
      {"grace", &r.grace},
      {"stale_while_revalidate", &r.stale_while_revalidate},
      {"stale_if_error", &r.stale_if_error},
  }};
  for (const auto& [name, out] : fields) {
    if (const Field* f = m.find(name)) *out = read_seconds(ctx, *f);
  }
}

std::string secs(std::int64_t s) {
  return format_duration(Millis(s * 1000));
}

// Combinations that cannot mean what the admin wrote.
void check_ttls(LoadContext& ctx, const MapView& m, const CacheRule& r) {
  Diagnostics& d = ctx.diag;
  if (r.force_ttl) {
    for (std::string_view k : {"ttl", "min_ttl", "max_ttl"}) {
      if (const Field* f = m.find(k)) {
        d.error(f->key.Mark(), std::string(k) +
                                   " has no effect with force_ttl, which replaces "
                                   "every other lifetime; remove one of them");
      }
    }
  }
  if (r.min_ttl && r.max_ttl && *r.min_ttl > *r.max_ttl) {
    d.error(m.find("min_ttl")->mark(),
            "min_ttl (" + secs(*r.min_ttl) + ") is larger than max_ttl (" + secs(*r.max_ttl) + ")");
  }
  for (std::string_view k : {"ttl", "negative_ttl"}) {
    const auto& v = k == "ttl" ? r.ttl : r.negative_ttl;
    if (!v) continue;
    if (r.min_ttl && *v < *r.min_ttl) {
      d.error(m.find(k)->mark(),
              std::string(k) + " (" + secs(*v) + ") is below min_ttl (" + secs(*r.min_ttl) + ")");
    } else if (r.max_ttl && *v > *r.max_ttl) {
      d.error(m.find(k)->mark(),
              std::string(k) + " (" + secs(*v) + ") is above max_ttl (" + secs(*r.max_ttl) + ")");
    }
  }
  if (r.negative_ttl && !r.matches_status(404) && !r.matches_status(410)) {
    d.error(m.find("negative_ttl")->key.Mark(),
            "negative_ttl applies to 404 and 410 responses, but this rule's status list "
            "matches neither");
  }
  if (r.override_origin_cache_control && !r.ttl && !r.force_ttl) {
    d.error(m.find("override_origin_cache_control")->key.Mark(),
            "override_origin_cache_control needs ttl or force_ttl: a response whose origin "
            "said no-store has no lifetime of its own");
  }
}

void check_rule(LoadContext& ctx, const MapView& m, const CacheRule& r) {
  Diagnostics& d = ctx.diag;
  const bool any_action = std::any_of(kRuleKeys.begin() + 1, kRuleKeys.end(),
                                      [&](std::string_view k) { return m.find(k) != nullptr; });
  if (!any_action) {
    d.error(m.mark(),
            "cache rule has no action (ttl, force_ttl, min_ttl, max_ttl, negative_ttl, "
            "grace, stale_while_revalidate, stale_if_error, bypass, key, "
            "override_origin_cache_control or cache: false)");
    return;
  }
  if (!r.cache) {
    for (auto it = kRuleKeys.begin() + 2; it != kRuleKeys.end(); ++it) {
      if (const Field* f = m.find(*it)) {
        d.error(f->key.Mark(), quote_value(*it) + " has no effect in a rule with cache: false");
      }
    }
    return;
  }
  if (r.has_response_conditions()) {
    for (std::string_view k : {"bypass", "key"}) {
      if (const Field* f = m.find(k)) {
        d.error(f->key.Mark(), std::string(k) +
                                   " is decided from the request, before the response exists, so "
                                   "it cannot be in a rule that matches content_type or status; "
                                   "put it in a separate rule");
      }
    }
  }
  check_ttls(ctx, m, r);
}

std::optional<CacheRule> read_rule(LoadContext& ctx, const Field& item) {
  MapView m(item, kRuleKeys, ctx.diag);
  if (!m.valid()) return std::nullopt;
  CacheRule r;
  const YAML::Mark at = m.mark();
  r.line = at.is_null() ? 0 : at.line + 1;
  r.col = at.is_null() ? 0 : at.column + 1;
  Diagnostics& d = ctx.diag;
  if (const Field* f = m.find("match")) read_rule_match(ctx, *f, r);
  if (const Field* f = m.find("cache")) read_bool(*f, d, r.cache);
  read_rule_durations(ctx, m, r);
  if (const Field* f = m.find("override_origin_cache_control")) {
    read_bool(*f, d, r.override_origin_cache_control);
  }
  if (const Field* f = m.find("bypass")) read_bypass(ctx, *f, r);
  if (const Field* f = m.find("key")) read_key(ctx, *f, r);
  check_rule(ctx, m, r);
  return r;
}

}  // namespace

std::vector<CacheRule> read_cache_rules(LoadContext& ctx, const Field& field) {
  std::vector<CacheRule> out;
  if (field.value.IsMap()) {
    ctx.diag.error(field.mark(),
                   "cache: expected a list of rules, found a map (start each rule "
                   "with '- ', e.g. cache: [{ttl: 1h}])");
    return out;
  }
  auto items = list_items(field, ctx.diag);
  if (!items) return out;
  if (items->size() > RuleSet::kMaxRules) {
    ctx.diag.error(field.mark(), "cache: at most " + std::to_string(RuleSet::kMaxRules) +
                                     " rules, found " + std::to_string(items->size()));
    return out;
  }
  for (const Field& item : *items) {
    if (auto r = read_rule(ctx, item)) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace ghala::config
