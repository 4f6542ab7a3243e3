// Vary secondary keys, RFC 9111 §4.1.
#include "ghala/cache/vary.hpp"

#include <algorithm>
#include <optional>

#include "ghala/http/frozen_headers.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::cache {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

// Fields whose values are case-insensitive by definition, so case can be normalised
// (§4.1 "case-normalization, where values are defined to be case-insensitive"):
// content-codings (RFC 9110 §8.4.1) and language tags (RFC 5646 §2.1.1).
bool case_insensitive_value(std::string_view name) noexcept {
  return name == "accept-encoding" || name == "accept-language";
}

// Removes OWS around commas that are outside quoted strings.
std::string squeeze_list_ows(std::string_view v) {
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size()) {
        out.push_back(v[++i]);
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') quoted = true;
    if (c == ',') {
      while (!out.empty() && is_ows(out.back())) out.pop_back();
      out.push_back(',');
      while (i + 1 < v.size() && is_ows(v[i + 1])) ++i;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string lower_copy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

}  // namespace

template <http::ReadableHeaders H>
VarySpec parse_vary(const H& response) {
  VarySpec spec;
  for (const auto& f : response) {
    if (!http::iequals(f.name, "Vary")) continue;
    for (auto member : http::split_list(f.value)) {
      if (member == "*") {
        spec.any = true;
      } else {
        spec.names.push_back(lower_copy(member));
      }
    }
  }
  std::sort(spec.names.begin(), spec.names.end());
  spec.names.erase(std::unique(spec.names.begin(), spec.names.end()), spec.names.end());
  return spec;
}
template VarySpec parse_vary(const http::HeaderMap&);
template VarySpec parse_vary(const http::FrozenHeaders&);

std::optional<std::string> normalized_field(const http::HeaderMap& request, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& f : request) {
    if (!http::iequals(f.name, name)) continue;
    auto value = http::trim_ows(f.value);
    if (!out) {
      out.emplace(value);
    } else {
      out->append(",").append(value);
    }
  }
  if (!out) return out;
  std::string v = squeeze_list_ows(*out);
  return case_insensitive_value(lower_copy(name)) ? lower_copy(v) : v;
}

std::string vary_key(const http::HeaderMap& request, const VarySpec& vary) {
  std::string key;
  for (const auto& name : vary.names) {
    key.append(name);
    auto value = normalized_field(request, name);
    if (!value) {
      key.append("!\n");
      continue;
    }
    key.append("=").append(std::to_string(value->size())).append(":").append(*value).append("\n");
  }
  return key;
}

bool vary_matches(std::string_view stored_key, const VarySpec& vary,
                  const http::HeaderMap& request) {
  if (vary.any) return false;
  return vary_key(request, vary) == stored_key;
}

}  // namespace ghala::cache
