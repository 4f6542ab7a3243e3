#pragma once
// The section readers of the loader, one file per part of the schema: loader.cpp (top level,
// listeners, admin, limits, timeouts, access log), upstreams.cpp and sites.cpp. Each reports
// every problem it finds to the Diagnostics and fills what it could read, so that later sections
// can still be checked (a route can be checked against the upstreams that did load).

#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/yaml_fields.hpp"
#include "ghala/config/config.hpp"

namespace ghala::config {

struct LoadContext {
  Diagnostics& diag;
  std::string base_dir;  // relative paths in the config resolve against this directory
};

// base_dir/path for a relative path, path itself when absolute; lexically normalised.
std::string resolve_path(const LoadContext& ctx, const std::string& path);

// `upstreams:` (a map name -> upstream) into config.upstreams, in file order.
void read_upstreams(LoadContext& ctx, const Field& field, Config& config);

// `cache:` (the top-level storage and policy section) into config.cache. Reads after admin:, so
// that a purge token without an admin listener can be reported.
void read_cache_settings(LoadContext& ctx, const Field& field, Config& config);

// A `cache:` list of rules under a site or a route, compiled; invalid rules are reported and left
// out.
std::vector<CacheRule> read_cache_rules(LoadContext& ctx, const Field& field);

// A path pattern (route `match`, rule `match.path`): starts with '/', printable, no spaces; a
// glob when it contains '*' or '?'. Errors are prefixed with f.name.
bool read_path_pattern(LoadContext& ctx, const Field& f, std::string& out, MatchKind& kind);

// A bearer token from `token` or `token_env` of m (token wins when both are set); checked as
// admin.token is. `prefix` starts each message ("" for admin, "purge." for the purge API).
// Empty when neither key is set or the token is invalid (already reported).
std::string read_token(const MapView& m, Diagnostics& diag, std::string_view prefix);

// `sites:` into config.sites and config.default_site; resolves each route's upstream against
// config.upstreams (so read_upstreams runs first). `field` is null when the key is missing.
void read_sites(LoadContext& ctx, const Field* field, Config& config);

}  // namespace ghala::config
