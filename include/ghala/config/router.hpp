#pragma once
// Routing: the site by Host, then the first route of that site whose match fits the path.
// Pure functions over an immutable Config.

#include <cstddef>
#include <string>
#include <string_view>

#include "ghala/config/config.hpp"

namespace ghala::config {

// The Host header value as match_site wants it: port removed ("a.com:8080", "[::1]:8080"), one
// trailing dot removed, ASCII lower-cased. Empty for an empty or malformed value.
std::string normalize_host(std::string_view host_header);

// Fills config.host_index from config.sites (the loader calls it; tests that build a Config by
// hand may too). Sites are assumed valid: no host claimed twice.
void build_host_index(Config& config);

// host: lower-case, without port (see normalize_host). Exact names first, then wildcards
// ("*.example.com" matches "a.example.com" and "a.b.example.com" but not "example.com"; the
// longest matching wildcard wins), then the default site.
const Site& match_site(const Config& config, std::string_view host);

// The first route (in config order) whose match fits the path; nullptr when none does. path is
// the request target's path; anything from the first '?' on (the query) is ignored.
const Route* match_route(const Site& site, std::string_view path);

// Glob over URL paths: '*' matches within one segment (no '/'), '**' across segments, '?' one
// character except '/'. Everything else is literal. A "**/" that starts the pattern or follows a
// '/' also matches zero segments ("/a/**/b" matches "/a/b"). The whole path must match. Patterns
// longer than kMaxGlobPattern never match (the loader rejects them).
inline constexpr std::size_t kMaxGlobPattern = 256;
bool glob_match(std::string_view pattern, std::string_view path) noexcept;

}  // namespace ghala::config
