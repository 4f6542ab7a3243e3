#pragma once
// Routing: the site by Host, then the first route of that site whose match fits the path.
// Pure functions over an immutable Config.

#include <string_view>

#include "ghala/config/config.hpp"

namespace ghala::config {

// host: lower-case, without port. Exact names first, then wildcards ("*.example.com" matches
// "a.example.com" but not "example.com"), then the default site.
const Site& match_site(const Config& config, std::string_view host);

// The first route (in config order) whose match fits the path; nullptr when none does.
const Route* match_route(const Site& site, std::string_view path);

// Glob over URL paths: '*' matches within one segment (no '/'), '**' across segments, '?' one
// character except '/'. Everything else is literal.
bool glob_match(std::string_view pattern, std::string_view path) noexcept;

}  // namespace ghala::config
