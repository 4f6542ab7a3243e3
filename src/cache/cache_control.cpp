// Cache-Control parsing, RFC 9111 §5.2.
//
// Two passes: parse_directive_list() tokenises the list (quoted-string aware, never fails as a
// whole), then the interpreters map known names onto the directive structs. Unknown extensions
// are ignored (§5.2.3). Merging rules for repeated directives live in small helpers so the
// "most restrictive wins" policy is written once per kind of value.
#include "ghala/cache/cache_control.hpp"

#include <algorithm>

#include "ghala/http/frozen_headers.hpp"
#include "ghala/http/parser.hpp"

namespace ghala::cache {

namespace {

bool is_tchar(char c) noexcept {
  return http::is_token(std::string_view(&c, 1));
}

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// A small cursor over the field value.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  bool done() const noexcept { return i >= s.size(); }
  char peek() const noexcept { return s[i]; }
  void skip_ows() noexcept {
    while (!done() && is_ows(peek())) ++i;
  }
  std::string_view take_token() noexcept {
    std::size_t start = i;
    while (!done() && is_tchar(peek())) ++i;
    return s.substr(start, i - start);
  }
  // Moves past the next comma that is not inside a quoted string (or to the end).
  void skip_element() noexcept {
    bool quoted = false;
    for (; !done(); ++i) {
      char c = peek();
      if (quoted && c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        return;
      }
    }
  }
};

// quoted-string (RFC 9110 §5.6.4) at the cursor, which is on the opening quote. Returns false
// when unterminated; the cursor is then at the end.
bool take_quoted(Cursor& c, std::string& out) {
  ++c.i;
  while (!c.done()) {
    char ch = c.peek();
    ++c.i;
    if (ch == '"') return true;
    if (ch == '\\') {
      if (c.done()) return false;
      ch = c.peek();
      ++c.i;
    }
    out.push_back(ch);
  }
  return false;
}

void take_argument(Cursor& c, RawDirective& d) {
  d.has_argument = true;
  c.skip_ows();
  if (!c.done() && c.peek() == '"') {
    if (!take_quoted(c, d.argument)) d.valid = false;
    return;
  }
  d.argument = std::string(c.take_token());
  if (d.argument.empty()) d.valid = false;
}

// One element starting at a non-comma, non-OWS byte. Leaves the cursor at the next top-level
// comma or at the end.
RawDirective take_directive(Cursor& c) {
  RawDirective d;
  d.name = to_lower(c.take_token());
  if (d.name.empty()) d.valid = false;
  c.skip_ows();
  if (d.valid && !c.done() && c.peek() == '=') {
    ++c.i;
    take_argument(c, d);
    c.skip_ows();
  }
  if (!c.done() && c.peek() != ',') {
    d.valid = false;
    c.skip_element();
  }
  return d;
}

// Merges a repeated max-age / s-maxage: invalid or disagreeing values make the response stale.
void merge_freshness(std::optional<std::int64_t>& slot, const RawDirective& d) {
  std::optional<std::int64_t> v;
  if (d.valid && d.has_argument) v = parse_delta_seconds(d.argument);
  std::int64_t value = v.value_or(0);
  if (slot && *slot != value) value = 0;
  slot = value;
}

// Merges a repeated directive that grants something: invalid grants nothing, repeats the least.
void merge_grant(std::optional<std::int64_t>& slot, const RawDirective& d) {
  if (!d.valid || !d.has_argument) return;
  auto v = parse_delta_seconds(d.argument);
  if (!v) return;
  slot = slot ? std::min(*slot, *v) : *v;
}

void merge_max(std::optional<std::int64_t>& slot, const RawDirective& d) {
  if (!d.valid || !d.has_argument) return;
  auto v = parse_delta_seconds(d.argument);
  if (!v) return;
  slot = slot ? std::max(*slot, *v) : *v;
}

// no-cache / private: a usable field list narrows the directive; anything else (no argument,
// malformed, empty list) applies it to the whole response, which is never less safe.
void merge_scoped(FieldScoped& slot, const RawDirective& d) {
  slot.present = true;
  std::optional<std::vector<std::string>> names;
  if (d.valid && d.has_argument) names = parse_field_name_list(d.argument);
  if (!names) {
    slot.all = true;
    slot.fields.clear();
    return;
  }
  if (slot.all) return;
  slot.fields.insert(slot.fields.end(), names->begin(), names->end());
  std::sort(slot.fields.begin(), slot.fields.end());
  slot.fields.erase(std::unique(slot.fields.begin(), slot.fields.end()), slot.fields.end());
}

// Directives that only restrict count whenever their name is readable; directives that grant
// (public, immutable) only when the element is well-formed.
void apply_response(ResponseDirectives& r, const RawDirective& d) {
  const std::string& n = d.name;
  if (n == "max-age") return merge_freshness(r.max_age, d);
  if (n == "s-maxage") return merge_freshness(r.s_maxage, d);
  if (n == "no-cache") return merge_scoped(r.no_cache, d);
  if (n == "private") return merge_scoped(r.private_, d);
  if (n == "stale-while-revalidate") return merge_grant(r.stale_while_revalidate, d);
  if (n == "stale-if-error") return merge_grant(r.stale_if_error, d);
  if (n == "no-store") r.no_store = true;
  if (n == "must-revalidate") r.must_revalidate = true;
  if (n == "proxy-revalidate") r.proxy_revalidate = true;
  if (n == "must-understand") r.must_understand = true;
  if (n == "no-transform") r.no_transform = true;
  if (n == "public" && d.valid) r.public_ = true;
  if (n == "immutable" && d.valid) r.immutable = true;
}

void apply_request(RequestDirectives& r, const RawDirective& d) {
  const std::string& n = d.name;
  if (n == "max-age") return merge_grant(r.max_age, d);
  if (n == "min-fresh") return merge_max(r.min_fresh, d);
  if (n == "stale-if-error") return merge_grant(r.stale_if_error, d);
  if (n == "max-stale") {
    if (!d.has_argument && d.valid) {
      r.max_stale = r.max_stale ? *r.max_stale : kMaxDeltaSeconds;
      return;
    }
    return merge_grant(r.max_stale, d);
  }
  if (n == "no-cache") r.no_cache = true;
  if (n == "no-store") r.no_store = true;
  if (n == "only-if-cached") r.only_if_cached = true;
  if (n == "no-transform") r.no_transform = true;
}

}  // namespace

std::optional<std::int64_t> parse_delta_seconds(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v < kMaxDeltaSeconds) v = v * 10 + (c - '0');
  }
  return std::min(v, kMaxDeltaSeconds);
}

std::int64_t clamp_delta(std::int64_t seconds) noexcept {
  return std::clamp(seconds, -kMaxDeltaSeconds, kMaxDeltaSeconds);
}

std::vector<RawDirective> parse_directive_list(std::string_view value) {
  std::vector<RawDirective> out;
  Cursor c{value};
  while (true) {
    while (!c.done() && (is_ows(c.peek()) || c.peek() == ',')) ++c.i;
    if (c.done()) break;
    out.push_back(take_directive(c));
  }
  return out;
}

std::optional<std::vector<std::string>> parse_field_name_list(std::string_view text) {
  std::vector<std::string> names;
  for (auto part : http::split_list(text)) {
    if (!http::is_token(part)) return std::nullopt;
    names.push_back(to_lower(part));
  }
  if (names.empty()) return std::nullopt;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

ResponseDirectives parse_response_directives(std::string_view value) {
  ResponseDirectives r;
  for (const auto& d : parse_directive_list(value)) apply_response(r, d);
  return r;
}

RequestDirectives parse_request_directives(std::string_view value) {
  RequestDirectives r;
  for (const auto& d : parse_directive_list(value)) apply_request(r, d);
  return r;
}

template <http::ReadableHeaders H>
ResponseDirectives response_directives(const H& headers) {
  auto value = headers.get_combined("Cache-Control");
  return value ? parse_response_directives(*value) : ResponseDirectives{};
}
template ResponseDirectives response_directives(const http::HeaderMap&);
template ResponseDirectives response_directives(const http::FrozenHeaders&);

RequestDirectives request_directives(const http::HeaderMap& headers) {
  auto value = headers.get_combined("Cache-Control");
  if (value) return parse_request_directives(*value);
  RequestDirectives r;
  r.no_cache = headers.has_token("Pragma", "no-cache");
  return r;
}

}  // namespace ghala::cache
