// Targeted cache-control fields: RFC 9213 on top of an RFC 8941 dictionary parser.
//
// The parser follows RFC 8941 §4.2 step by step (dictionary §4.2.2, bare items §4.2.3,
// parameters §4.2.3.2, keys §4.2.3.3, integers/decimals §4.2.4, strings §4.2.5, tokens §4.2.6,
// byte sequences §4.2.7, booleans §4.2.8) and fails as a whole on the first deviation, because
// RFC 8941 §4.2 tells recipients to ignore a field that does not parse exactly.
#include "ghala/cache/targeted.hpp"

#include "ghala/http/frozen_headers.hpp"
#include "ghala/http/parser.hpp"

namespace ghala::cache {

namespace {

bool is_lcalpha(char c) noexcept {
  return c >= 'a' && c <= 'z';
}
bool is_alpha(char c) noexcept {
  return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

class SfParser {
 public:
  explicit SfParser(std::string_view s) : s_(s) {}

  std::optional<std::vector<SfMember>> dictionary() {
    std::vector<SfMember> out;
    skip_sp();
    while (!done()) {
      auto member = dict_member();
      if (!member) return std::nullopt;
      store(out, std::move(*member));
      skip_ows();
      if (done()) return out;
      if (next() != ',') return std::nullopt;
      skip_ows();
      if (done()) return std::nullopt;  // trailing comma
    }
    return out;
  }

 private:
  bool done() const noexcept { return i_ >= s_.size(); }
  char peek() const noexcept { return done() ? '\0' : s_[i_]; }
  char next() noexcept { return s_[i_++]; }
  void skip_sp() noexcept {
    while (peek() == ' ') ++i_;
  }
  void skip_ows() noexcept {
    while (peek() == ' ' || peek() == '\t') ++i_;
  }

  static void store(std::vector<SfMember>& out, SfMember m) {
    for (auto& existing : out) {
      if (existing.key == m.key) {
        existing = std::move(m);
        return;
      }
    }
    out.push_back(std::move(m));
  }

  std::optional<SfMember> dict_member() {
    SfMember m;
    auto key = parse_key();
    if (!key) return std::nullopt;
    m.key = std::move(*key);
    if (peek() == '=') {
      ++i_;
      if (peek() == '(') {
        if (!inner_list()) return std::nullopt;
        m.type = SfType::InnerList;
      } else if (!bare_item(m)) {
        return std::nullopt;
      }
    }
    if (!parameters()) return std::nullopt;
    return m;
  }

  std::optional<std::string> parse_key() {
    char c = peek();
    if (!is_lcalpha(c) && c != '*') return std::nullopt;
    std::size_t start = i_;
    while (!done()) {
      c = peek();
      if (!is_lcalpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '.' && c != '*') break;
      ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }

  bool parameters() {
    while (peek() == ';') {
      ++i_;
      skip_sp();
      if (!parse_key()) return false;
      if (peek() == '=') {
        ++i_;
        SfMember ignored;
        if (!bare_item(ignored)) return false;
      }
    }
    return true;
  }

  bool inner_list() {
    ++i_;  // '('
    while (!done()) {
      skip_sp();
      if (peek() == ')') {
        ++i_;
        return parameters();
      }
      SfMember ignored;
      if (!bare_item(ignored) || !parameters()) return false;
      if (peek() != ' ' && peek() != ')') return false;
    }
    return false;
  }

  bool bare_item(SfMember& m) {
    char c = peek();
    if (c == '-' || is_digit(c)) return number(m);
    if (c == '"') return string(m);
    if (c == '*' || is_alpha(c)) return token(m);
    if (c == ':') return byte_sequence(m);
    if (c == '?') return boolean(m);
    return false;
  }

  bool number(SfMember& m) {
    bool negative = peek() == '-';
    if (negative) ++i_;
    if (!is_digit(peek())) return false;
    std::int64_t value = 0;
    std::size_t digits = 0, frac = 0;
    bool decimal = false;
    while (!done()) {
      char c = peek();
      if (is_digit(c)) {
        value = value * 10 + (c - '0');
        ++(decimal ? frac : digits);
      } else if (c == '.' && !decimal) {
        if (digits > 12) return false;
        decimal = true;
      } else {
        break;
      }
      ++i_;
      if (!decimal && digits > 15) return false;
      if (decimal && frac > 3) return false;
    }
    if (decimal && frac == 0) return false;
    m.type = decimal ? SfType::Decimal : SfType::Integer;
    m.integer = negative ? -value : value;
    return true;
  }

  bool string(SfMember& m) {
    ++i_;
    while (!done()) {
      char c = next();
      if (c == '\\') {
        if (done()) return false;
        c = next();
        if (c != '"' && c != '\\') return false;
      } else if (c == '"') {
        m.type = SfType::String;
        return true;
      } else if (c < 0x20 || c > 0x7e) {
        return false;
      }
      m.text.push_back(c);
    }
    return false;
  }

  bool token(SfMember& m) {
    std::size_t start = i_;
    ++i_;
    while (!done()) {
      char c = peek();
      if (c != ':' && c != '/' && !http::is_token(std::string_view(&c, 1))) break;
      ++i_;
    }
    m.type = SfType::Token;
    m.text = std::string(s_.substr(start, i_ - start));
    return true;
  }

  bool byte_sequence(SfMember& m) {
    ++i_;
    std::size_t start = i_;
    while (!done()) {
      char c = next();
      if (c == ':') {
        m.type = SfType::ByteSequence;
        m.text = std::string(s_.substr(start, i_ - 1 - start));
        return true;
      }
      if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/' && c != '=') return false;
    }
    return false;
  }

  bool boolean(SfMember& m) {
    ++i_;
    char c = done() ? '\0' : next();
    if (c != '0' && c != '1') return false;
    m.type = SfType::Boolean;
    m.boolean = c == '1';
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

void apply_delta(std::optional<std::int64_t>& slot, const SfMember& m) {
  if (m.type != SfType::Integer || m.integer < 0) return;
  slot = std::min(m.integer, kMaxDeltaSeconds);
}

void apply_flag(bool& slot, const SfMember& m) {
  if (m.type == SfType::Boolean) slot = m.boolean;
}

void apply_scoped(FieldScoped& slot, const SfMember& m) {
  if (m.type == SfType::Boolean && !m.boolean) {
    slot = FieldScoped{};
    return;
  }
  slot.present = true;
  std::optional<std::vector<std::string>> names;
  if (m.type == SfType::String) names = parse_field_name_list(m.text);
  slot.all = !names.has_value();
  slot.fields = names.value_or(std::vector<std::string>{});
}

void apply_member(ResponseDirectives& r, const SfMember& m) {
  const std::string& k = m.key;
  if (k == "max-age") return apply_delta(r.max_age, m);
  if (k == "s-maxage") return apply_delta(r.s_maxage, m);
  if (k == "stale-while-revalidate") return apply_delta(r.stale_while_revalidate, m);
  if (k == "stale-if-error") return apply_delta(r.stale_if_error, m);
  if (k == "no-cache") return apply_scoped(r.no_cache, m);
  if (k == "private") return apply_scoped(r.private_, m);
  if (k == "no-store") return apply_flag(r.no_store, m);
  if (k == "public") return apply_flag(r.public_, m);
  if (k == "must-revalidate") return apply_flag(r.must_revalidate, m);
  if (k == "proxy-revalidate") return apply_flag(r.proxy_revalidate, m);
  if (k == "must-understand") return apply_flag(r.must_understand, m);
  if (k == "no-transform") return apply_flag(r.no_transform, m);
  if (k == "immutable") return apply_flag(r.immutable, m);
}

}  // namespace

std::optional<std::vector<SfMember>> parse_sf_dictionary(std::string_view value) {
  // RFC 8941 §4.2 step 2: leading and trailing SP are discarded.
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return SfParser(value).dictionary();
}

std::optional<ResponseDirectives> parse_targeted_field(std::string_view value) {
  auto members = parse_sf_dictionary(value);
  if (!members || members->empty()) return std::nullopt;
  ResponseDirectives r;
  for (const auto& m : *members) apply_member(r, m);
  return r;
}

template <http::ReadableHeaders H>
EffectiveDirectives effective_directives(const H& response,
                                         std::span<const std::string> targeted_names) {
  for (const auto& name : targeted_names) {
    auto value = response.get_combined(name);
    if (!value) continue;
    auto parsed = parse_targeted_field(*value);
    if (!parsed) continue;
    return EffectiveDirectives{std::move(*parsed), name, false};
  }
  return EffectiveDirectives{response_directives(response), "Cache-Control", true};
}

template EffectiveDirectives effective_directives(const http::HeaderMap&,
                                                  std::span<const std::string>);
template EffectiveDirectives effective_directives(const http::FrozenHeaders&,
                                                  std::span<const std::string>);

}  // namespace ghala::cache
