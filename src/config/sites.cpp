// `sites:`: a list of virtual hosts, each with the Host names it answers and an ordered list of
// routes. Checks that need the whole list live here too: unique site names, each host claimed by
// one site only, at most one default site, and routes naming upstreams that exist.

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "config/sections.hpp"
#include "ghala/config/router.hpp"

namespace ghala::config {
namespace {

constexpr std::array<std::string_view, 5> kSiteKeys{"name", "hosts", "default", "cache", "routes"};
constexpr std::array<std::string_view, 4> kRouteKeys{"match", "upstream", "host_header", "cache"};
// Route keys that later versions add (output transforms, blue/green switch): named here so that
// a config written for a newer ghala gets "not supported yet", not "unknown key".
constexpr std::array<std::string_view, 2> kRouteReserved{"transforms", "switch"};

struct Claim {
  std::string site;
  int line = 0;
};

// State shared by all sites while reading the list.
struct SitesState {
  std::unordered_map<std::string, Claim> site_names;
  std::unordered_map<std::string, Claim> hosts;  // host -> the site that claimed it first
  std::optional<std::size_t> explicit_default;
  std::vector<std::pair<std::size_t, YAML::Mark>> hostless;  // sites declaring no hosts at all
};

int line_of(const YAML::Mark& m) {
  return m.is_null() ? 0 : m.line + 1;
}

std::string where(const Claim& c) {
  return c.line > 0 ? " (line " + std::to_string(c.line) + ")" : std::string();
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

// A DNS name or IPv4 literal: dot-separated labels of letters, digits, '-' and '_'.
bool valid_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Why `host` (already lower-cased) cannot be a site host; nullopt when it can.
std::optional<std::string> host_problem(std::string_view host) {
  if (host.empty()) return "empty host name";
  if (host.front() == '[') {
    in6_addr a{};
    const auto close = host.find(']');
    if (close != std::string_view::npos && close + 1 < host.size()) {
      return "hosts must not include a port (ghala matches the Host header without its port)";
    }
    const std::string inner(host.substr(1, close == std::string_view::npos ? 0 : close - 1));
    if (close == std::string_view::npos || inet_pton(AF_INET6, inner.c_str(), &a) != 1) {
      return "not a valid [IPv6] address";
    }
    return std::nullopt;
  }
  if (host.find(':') != std::string_view::npos) {
    return "hosts must not include a port (ghala matches the Host header without its port)";
  }
  if (host == "*") return "'*' is not a host name; mark the site default: true to catch all hosts";
  std::string_view name = host;
  if (name.rfind("*.", 0) == 0) name.remove_prefix(2);
  if (name.find('*') != std::string_view::npos) {
    return "a wildcard is only allowed as the whole first label, as in *.example.com";
  }
  if (!valid_dns_name(name)) return "not a valid host name";
  return std::nullopt;
}

void read_hosts(LoadContext& ctx, const Field& f, SitesState& st, Site& site) {
  auto items = list_items(f, ctx.diag);
  if (!items) return;
  for (const Field& item : *items) {
    std::string host;
    if (!read_string(item, ctx.diag, host)) continue;
    host = lower(std::move(host));
    if (!host.empty() && host.back() == '.' && host != ".") host.pop_back();  // "a.com." == "a.com"
    if (auto why = host_problem(host)) {
      ctx.diag.error(item.mark(), "host " + quote_value(item.value.Scalar()) + ": " + *why);
      continue;
    }
    const Claim mine{site.name, line_of(item.mark())};
    auto [it, fresh] = st.hosts.emplace(host, mine);
    if (!fresh) {
      const std::string by =
          it->second.site == site.name ? "this site" : "site " + quote_value(it->second.site);
      ctx.diag.error(item.mark(), "host " + quote_value(host) + " is already claimed by " + by +
                                      where(it->second));
      continue;
    }
    site.hosts.push_back(std::move(host));
  }
}

void read_route_upstream(LoadContext& ctx, const Field& f, const Config& c, Route& r) {
  if (!read_string(f, ctx.diag, r.upstream)) return;
  for (std::size_t i = 0; i < c.upstreams.size(); ++i) {
    if (c.upstreams[i].name == r.upstream) {
      r.upstream_index = i;
      return;
    }
  }
  std::vector<std::string_view> names;
  for (const Upstream& u : c.upstreams) names.push_back(u.name);
  std::string msg = "unknown upstream " + quote_value(r.upstream);
  const std::string_view hint = closest_match(r.upstream, names);
  if (!hint.empty()) {
    msg.append(" (did you mean '").append(hint).append("'?)");
  } else if (names.empty()) {
    msg.append(" (no upstreams are defined)");
  }
  ctx.diag.error(f.mark(), std::move(msg));
}

void read_host_header(LoadContext& ctx, const Field& f, Route& r) {
  std::string v;
  if (!read_string(f, ctx.diag, v)) return;
  if (v == "pass") return;
  v = lower(std::move(v));
  std::string_view host = v;
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos && host.front() != '[') {
    const std::string_view port = host.substr(colon + 1);
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
      ctx.diag.error(f.mark(), "host_header: bad port in " + quote_value(v));
      return;
    }
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.front() != '[' && !valid_dns_name(host)) {
    ctx.diag.error(f.mark(), "host_header: expected pass or a host name, found " + quote_value(v));
    return;
  }
  r.host_mode = HostHeaderMode::Rewrite;
  r.host_rewrite = std::move(v);
}

// A route evaluates its own rules, then its site's (which read_site reads before the routes).
void join_site_rules(LoadContext& ctx, const Field& at, const Site& site, Route& r) {
  auto& rules = r.cache_rules.rules;
  if (rules.size() + site.cache_rules.size() > RuleSet::kMaxRules) {
    ctx.diag.error(at.mark(), "route " + quote_value(r.match) + " has " +
                                  std::to_string(rules.size()) + " cache rules and its site " +
                                  std::to_string(site.cache_rules.size()) + ": at most " +
                                  std::to_string(RuleSet::kMaxRules) + " together");
    return;
  }
  rules.insert(rules.end(), site.cache_rules.begin(), site.cache_rules.end());
}

void read_route(LoadContext& ctx, const Field& item, const Config& c, Site& site) {
  MapView m(item, kRouteKeys, ctx.diag, kRouteReserved);
  if (!m.valid()) return;
  Route r;
  if (const Field* f = m.find("match")) {
    read_path_pattern(ctx, *f, r.match, r.kind);
  } else {
    ctx.diag.error(m.mark(),
                   "route needs 'match' (a path prefix such as /api/ or a glob such "
                   "as /img/*.jpg)");
  }
  if (const Field* f = m.find("upstream")) {
    read_route_upstream(ctx, *f, c, r);
  } else {
    ctx.diag.error(m.mark(), "route needs 'upstream' (the name of an entry under upstreams:)");
  }
  if (const Field* f = m.find("host_header")) read_host_header(ctx, *f, r);
  if (const Field* f = m.find("cache")) {
    r.cache_rules.rules = read_cache_rules(ctx, *f);
    join_site_rules(ctx, *f, site, r);
  } else {
    join_site_rules(ctx, item, site, r);
  }
  site.routes.push_back(std::move(r));
}

void read_site_name(LoadContext& ctx, const MapView& m, SitesState& st, Site& site) {
  const Field* f = m.find("name");
  if (!f) {
    ctx.diag.error(m.mark(), "site needs a 'name'");
    return;
  }
  if (!read_string(*f, ctx.diag, site.name)) return;
  if (!valid_name(site.name)) {
    ctx.diag.error(f->mark(), "site name " + quote_value(site.name) +
                                  " must be 1-64 letters, digits, '_', '-' or '.'");
    return;
  }
  auto [it, fresh] = st.site_names.emplace(site.name, Claim{site.name, line_of(f->mark())});
  if (!fresh) {
    ctx.diag.error(f->mark(), "duplicate site name " + quote_value(site.name) + where(it->second));
  }
}

void read_site(LoadContext& ctx, const Field& item, SitesState& st, Config& c) {
  Site site;
  MapView m(item, kSiteKeys, ctx.diag);
  if (m.valid()) {
    read_site_name(ctx, m, st, site);
    const Field* hosts = m.find("hosts");
    if (hosts) read_hosts(ctx, *hosts, st, site);
    if (!hosts || (hosts->value.IsSequence() && hosts->value.size() == 0)) {
      st.hostless.emplace_back(c.sites.size(), m.mark());
    }
    if (const Field* f = m.find("default");
        f && read_bool(*f, ctx.diag, site.is_default) && site.is_default) {
      if (st.explicit_default) {
        ctx.diag.error(f->mark(), "only one site can be the default, and site " +
                                      quote_value(c.sites[*st.explicit_default].name) +
                                      " already is");
      } else {
        st.explicit_default = c.sites.size();
      }
    }
    if (const Field* f = m.find("cache")) site.cache_rules = read_cache_rules(ctx, *f);
    const Field* routes = m.find("routes");
    auto items = routes ? list_items(*routes, ctx.diag) : std::nullopt;
    if (!routes || (items && items->empty())) {
      ctx.diag.error(routes ? routes->mark() : m.mark(),
                     "site " + quote_value(site.name) + " needs at least one route");
    }
    for (const Field& r : items.value_or(std::vector<Field>{})) read_route(ctx, r, c, site);
  }
  c.sites.push_back(std::move(site));
}

}  // namespace

bool read_path_pattern(LoadContext& ctx, const Field& f, std::string& out, MatchKind& kind) {
  if (!read_string(f, ctx.diag, out)) return false;
  const bool printable =
      std::all_of(out.begin(), out.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (out.empty() || out.front() != '/' || !printable) {
    ctx.diag.error(f.mark(), f.name + ": " + quote_value(out) +
                                 " must be a path starting with '/' (a prefix such as /api/ or a "
                                 "glob such as /img/*.jpg), without spaces");
    return false;
  }
  kind = out.find_first_of("*?") == std::string::npos ? MatchKind::Prefix : MatchKind::Glob;
  if (kind == MatchKind::Glob && out.size() > kMaxGlobPattern) {
    ctx.diag.error(f.mark(), f.name + ": glob patterns are limited to " +
                                 std::to_string(kMaxGlobPattern) + " characters");
    return false;
  }
  return true;
}

void read_sites(LoadContext& ctx, const Field* field, Config& config) {
  if (!field) {
    ctx.diag.error("missing 'sites': ghala needs at least one site");
    return;
  }
  auto items = list_items(*field, ctx.diag);
  if (!items) return;
  if (items->empty()) ctx.diag.error(field->mark(), "sites: needs at least one site");
  SitesState st;
  for (const Field& item : *items) read_site(ctx, item, st, config);
  config.default_site = st.explicit_default.value_or(0);
  for (const auto& [i, mark] : st.hostless) {
    if (i != config.default_site) {
      ctx.diag.error(mark, "site " + quote_value(config.sites[i].name) +
                               " has no hosts and is not the default site, so no request can "
                               "reach it");
    }
  }
}

}  // namespace ghala::config
