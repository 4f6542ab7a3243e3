#pragma once
// The section readers of the loader, one file per part of the schema: loader.cpp (top level,
// listeners, admin, limits, timeouts, access log), upstreams.cpp and sites.cpp. Each reports
// every problem it finds to the Diagnostics and fills what it could read, so that later sections
// can still be checked (a route can be checked against the upstreams that did load).

#include <string>

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

// `sites:` into config.sites and config.default_site; resolves each route's upstream against
// config.upstreams (so read_upstreams runs first). `field` is null when the key is missing.
void read_sites(LoadContext& ctx, const Field* field, Config& config);

}  // namespace ghala::config
