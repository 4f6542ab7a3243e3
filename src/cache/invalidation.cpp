// Invalidation, RFC 9111 §4.4, with the small part of RFC 3986 it needs: parsing absolute
// http(s) URIs and resolving Location / Content-Location references against the target.
#include "ghala/cache/invalidation.hpp"

#include <algorithm>

namespace ghala::cache {

namespace {

std::string lower_copy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::uint16_t default_port(std::string_view scheme) noexcept {
  return scheme == "https" ? 443 : 80;
}

// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view in) {
  std::vector<std::string_view> out;
  bool trailing_slash = false;
  std::size_t pos = 0;
  while (pos <= in.size()) {
    std::size_t slash = in.find('/', pos);
    std::string_view seg = in.substr(pos, slash == std::string_view::npos ? in.npos : slash - pos);
    bool last = slash == std::string_view::npos;
    trailing_slash = false;
    if (seg == "..") {
      if (out.size() > 1) out.pop_back();
      trailing_slash = true;
    } else if (seg == ".") {
      trailing_slash = true;
    } else {
      out.push_back(seg);
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string path;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) path.push_back('/');
    path.append(out[i]);
  }
  if (trailing_slash) path.push_back('/');
  return path;
}

// "/a/b?x" without a fragment, dot-segments removed, never empty.
std::string normalize_path_and_query(std::string_view pq) {
  pq = pq.substr(0, pq.find('#'));
  auto q = pq.find('?');
  std::string path = remove_dot_segments(pq.substr(0, q));
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  if (q != std::string_view::npos) path.append(pq.substr(q));
  return path;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

bool valid_host(std::string_view h) {
  if (h.empty()) return false;
  if (h.front() == '[') return h.back() == ']' && h.size() > 2;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '%';
  });
}

// authority = host [ ":" port ], no userinfo.
bool parse_authority(std::string_view a, AbsoluteUri& u) {
  if (a.find('@') != std::string_view::npos) return false;
  std::size_t colon = a.rfind(':');
  if (colon != std::string_view::npos && a.find(']', colon) == std::string_view::npos) {
    auto port = parse_port(a.substr(colon + 1));
    if (!port) return false;
    u.port = *port;
    a = a.substr(0, colon);
  } else {
    u.port = default_port(u.scheme);
  }
  u.host = lower_copy(a);
  return valid_host(u.host);
}

// "//authority/path?query" (the part after "scheme:").
std::optional<AbsoluteUri> parse_hier(std::string scheme, std::string_view rest) {
  if (rest.substr(0, 2) != "//") return std::nullopt;
  rest.remove_prefix(2);
  std::size_t end = rest.find_first_of("/?#");
  AbsoluteUri u;
  u.scheme = std::move(scheme);
  if (!parse_authority(rest.substr(0, end), u)) return std::nullopt;
  u.path_and_query =
      normalize_path_and_query(end == std::string_view::npos ? "" : rest.substr(end));
  return u;
}

// The base path up to and including its last '/' (RFC 3986 §5.2.3 merge).
std::string merge_path(const AbsoluteUri& base, std::string_view ref) {
  std::string_view bp = base.path_and_query;
  bp = bp.substr(0, bp.find('?'));
  return std::string(bp.substr(0, bp.rfind('/') + 1)).append(ref);
}

bool is_non_error(int status) noexcept {
  return status >= 200 && status < 400;
}

}  // namespace

std::string AbsoluteUri::to_string() const {
  std::string out = scheme + "://" + host;
  if (port != default_port(scheme)) out.append(":").append(std::to_string(port));
  return out + path_and_query;
}

std::optional<AbsoluteUri> parse_absolute_uri(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string scheme = lower_copy(text.substr(0, colon));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  return parse_hier(std::move(scheme), text.substr(colon + 1));
}

std::optional<AbsoluteUri> resolve_reference(const AbsoluteUri& base, std::string_view ref) {
  ref = http::trim_ows(ref);
  if (ref.empty()) return std::nullopt;
  auto first_delim = ref.find_first_of(":/?#");
  if (first_delim != std::string_view::npos && ref[first_delim] == ':') {
    return parse_absolute_uri(ref);
  }
  if (ref.substr(0, 2) == "//") return parse_hier(base.scheme, ref);
  AbsoluteUri u = base;
  if (ref.front() == '/') {
    u.path_and_query = normalize_path_and_query(ref);
  } else if (ref.front() == '?') {
    std::string_view bp = base.path_and_query;
    u.path_and_query =
        normalize_path_and_query(std::string(bp.substr(0, bp.find('?'))) + std::string(ref));
  } else if (ref.front() == '#') {
    return u;
  } else {
    u.path_and_query = normalize_path_and_query(merge_path(base, ref));
  }
  return u;
}

std::vector<AbsoluteUri> uris_to_invalidate(http::Method method, int status,
                                            const AbsoluteUri& target,
                                            const http::HeaderMap& response) {
  if (http::is_safe(method) || !is_non_error(status)) return {};
  std::vector<AbsoluteUri> out{target};
  for (std::string_view name : {"Location", "Content-Location"}) {
    auto value = response.get(name);
    if (!value) continue;
    auto uri = resolve_reference(target, *value);
    if (!uri || !uri->same_origin(target)) continue;
    if (std::find(out.begin(), out.end(), *uri) == out.end()) out.push_back(std::move(*uri));
  }
  return out;
}

}  // namespace ghala::cache
