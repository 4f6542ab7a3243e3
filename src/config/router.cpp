// Routing: Host -> site through the compiled host index, path -> route by a scan of the site's
// routes in order. Runs for every request, so the hot paths allocate nothing.

#include "ghala/config/router.hpp"

#include <array>
#include <cassert>
#include <cstring>

namespace ghala::config {
namespace {

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Index of the site whose wildcard covers host, preferring the longest suffix; nullopt if none.
// Scanning the dots left to right visits the longest suffix first. The search starts at 1 so
// that "*.example.com" never matches "example.com" or ".example.com".
template <class Lookup>
const std::size_t* find_wildcard(std::string_view host, Lookup&& lookup) {
  for (auto pos = host.find('.', 1); pos != std::string_view::npos; pos = host.find('.', pos + 1)) {
    if (const std::size_t* site = lookup(host.substr(pos))) return site;
  }
  return nullptr;
}

// For configs built by hand, without build_host_index: same answer, found by a scan.
const Site& match_site_slow(const Config& config, std::string_view host) {
  for (const Site& s : config.sites) {
    for (const std::string& h : s.hosts) {
      if (h == host) return s;
    }
  }
  std::size_t found = 0;
  auto lookup = [&](std::string_view suffix) -> const std::size_t* {
    for (std::size_t i = 0; i < config.sites.size(); ++i) {
      for (const std::string& h : config.sites[i].hosts) {
        if (h.size() > 1 && h[0] == '*' && std::string_view(h).substr(1) == suffix) {
          found = i;
          return &found;
        }
      }
    }
    return nullptr;
  };
  if (const std::size_t* i = find_wildcard(host, lookup)) return config.sites[*i];
  return config.sites[config.default_site];
}

}  // namespace

std::string normalize_host(std::string_view h) {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  std::string_view host = h;
  std::string_view port;
  if (!h.empty() && h.front() == '[') {  // "[v6]" or "[v6]:port"
    const auto close = h.find(']');
    if (close == std::string_view::npos) return {};
    host = h.substr(0, close + 1);
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
    if (!rest.empty()) port = rest.substr(1);
  } else if (const auto colon = h.find(':'); colon != std::string_view::npos) {
    host = h.substr(0, colon);
    port = h.substr(colon + 1);
  }
  if (!all_digits(port)) return {};
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) c = to_lower(c);
  return out;
}

void build_host_index(Config& config) {
  HostIndex index;
  for (std::size_t i = 0; i < config.sites.size(); ++i) {
    for (const std::string& h : config.sites[i].hosts) {
      if (h.size() > 2 && h[0] == '*' && h[1] == '.') {
        index.wildcard.emplace(h.substr(1), i);  // "*.example.com" -> ".example.com"
      } else {
        index.exact.emplace(h, i);
      }
    }
  }
  index.built = true;
  config.host_index = std::move(index);
}

const Site& match_site(const Config& config, std::string_view host) {
  assert(!config.sites.empty() && config.default_site < config.sites.size());
  const HostIndex& index = config.host_index;
  if (!index.built) return match_site_slow(config, host);
  if (const auto it = index.exact.find(host); it != index.exact.end()) {
    return config.sites[it->second];
  }
  if (!index.wildcard.empty()) {
    auto lookup = [&](std::string_view suffix) -> const std::size_t* {
      const auto it = index.wildcard.find(suffix);
      return it == index.wildcard.end() ? nullptr : &it->second;
    };
    if (const std::size_t* i = find_wildcard(host, lookup)) return config.sites[*i];
  }
  return config.sites[config.default_site];
}

const Route* match_route(const Site& site, std::string_view path) {
  if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  for (const Route& r : site.routes) {
    const bool hit =
        r.kind == MatchKind::Prefix ? path.starts_with(r.match) : glob_match(r.match, path);
    if (hit) return &r;
  }
  return nullptr;
}

namespace {

// The glob matcher simulates the pattern as a small NFA: state i means "pattern[0..i) has
// matched the text so far". Every text byte moves all live states at once, so the cost is
// O(path x pattern) with no backtracking blow-up on patterns like "/**/**/**/x", and the state
// sets live on the stack: no allocation on the request path.
class GlobNfa {
 public:
  explicit GlobNfa(std::string_view p) : p_(p) {}

  bool run(std::string_view text) noexcept {
    std::array<bool, kMaxGlobPattern + 1> a{};
    std::array<bool, kMaxGlobPattern + 1> b{};
    bool* cur = a.data();
    bool* next = b.data();
    add(cur, 0);
    for (char c : text) {
      std::memset(next, 0, p_.size() + 1);
      if (!step(cur, next, c)) return false;
      std::swap(cur, next);
    }
    return cur[p_.size()];
  }

 private:
  bool is_double(std::size_t i) const {
    return p_[i] == '*' && i + 1 < p_.size() && p_[i + 1] == '*';
  }

  // "**/" at the start of the pattern or right after a '/': zero or more whole segments.
  bool is_segments(std::size_t i) const {
    return is_double(i) && i + 2 < p_.size() && p_[i + 2] == '/' && (i == 0 || p_[i - 1] == '/');
  }

  // A "**/" that has consumed text lives in the state of its second '*': from there only a '/'
  // can finish it, so it cannot skip its '/' the way the untouched "**/" (zero segments) can.
  bool is_inside_segments(std::size_t i) const { return i > 0 && is_segments(i - 1); }

  // Enters state i and every state reachable from it without consuming text (stars that match
  // nothing).
  void add(bool* set, std::size_t i) const {
    while (!set[i]) {
      set[i] = true;
      if (i == p_.size() || p_[i] != '*' || is_inside_segments(i)) return;
      i += is_segments(i) ? 3 : is_double(i) ? 2 : 1;
    }
  }

  // Advances every live state over c; false when no state survives.
  bool step(const bool* cur, bool* next, char c) const {
    for (std::size_t i = 0; i < p_.size(); ++i) {
      if (!cur[i]) continue;
      const char pc = p_[i];
      if (is_segments(i) || is_inside_segments(i)) {
        const std::size_t inside = is_segments(i) ? i + 1 : i;
        add(next, inside);
        if (c == '/') add(next, inside + 2);
      } else if (pc == '*' && is_double(i)) {
        add(next, i);  // '**' consumes anything, '/' included
      } else if (pc == '*') {
        if (c != '/') add(next, i);
      } else if (pc == '?') {
        if (c != '/') add(next, i + 1);
      } else if (pc == c) {
        add(next, i + 1);
      }
    }
    bool alive = false;
    for (std::size_t i = 0; i <= p_.size(); ++i) alive = alive || next[i];
    return alive;
  }

  std::string_view p_;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) noexcept {
  if (pattern.size() > kMaxGlobPattern) return false;
  if (pattern.find_first_of("*?") == std::string_view::npos) return pattern == path;
  return GlobNfa(pattern).run(path);
}

}  // namespace ghala::config
