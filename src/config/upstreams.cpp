// `upstreams:`: a map from name to either a local directory origin (`origin: dir:PATH`) or a set
// of HTTP servers (`servers: [...]`) with pool and timeout settings.

#include <algorithm>
#include <array>
#include <filesystem>

#include "config/address.hpp"
#include "config/sections.hpp"

namespace ghala::config {
namespace {

constexpr std::array<std::string_view, 9> kKeys{"origin",
                                                "servers",
                                                "balance",
                                                "connect_timeout",
                                                "first_byte_timeout",
                                                "read_timeout",
                                                "keepalive_connections",
                                                "keepalive_idle",
                                                "resolve_interval"};
// Keys that configure connections to HTTP servers, meaningless for a dir: origin.
constexpr std::array<std::string_view, 7> kServerOnlyKeys{
    "balance",         "connect_timeout",       "first_byte_timeout",
    "read_timeout",    "keepalive_connections", "keepalive_idle",
    "resolve_interval"};
constexpr std::array<std::string_view, 2> kBalanceNames{"round_robin", "least_conn"};
constexpr std::array<Balance, 2> kBalanceValues{Balance::RoundRobin, Balance::LeastConn};
constexpr std::uint32_t kMaxWeight = 1000;

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

void read_dir_origin(LoadContext& ctx, const Field& f, Upstream& u) {
  u.kind = OriginKind::Dir;
  std::string text;
  if (!read_string(f, ctx.diag, text)) return;
  if (text.rfind("dir:", 0) != 0) {
    std::string msg = "origin: expected dir:PATH, found " + quote_value(text);
    if (text.find("://") != std::string::npos)
      msg += " (for HTTP origins use servers: [" + text + "])";
    ctx.diag.error(f.mark(), std::move(msg));
    return;
  }
  const std::string path = text.substr(4);
  if (path.empty()) {
    ctx.diag.error(f.mark(), "origin: dir: needs a path, e.g. dir:public");
    return;
  }
  // Canonical (symlinks resolved) so that the file server's path-escape check compares like
  // with like.
  const std::string resolved = resolve_path(ctx, path);
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(resolved, ec);
  if (ec) {
    ctx.diag.error(f.mark(), "origin: directory " + quote_value(resolved) + ": " + ec.message());
  } else if (!std::filesystem::is_directory(canonical, ec)) {
    ctx.diag.error(f.mark(), "origin: " + quote_value(resolved) + " is not a directory");
  } else {
    u.dir_root = canonical.string();
  }
}

std::optional<UpstreamServer> read_server(LoadContext& ctx, const Field& item) {
  UpstreamServer s;
  const Field* url = &item;
  std::optional<MapView> m;
  if (item.value.IsMap()) {
    static constexpr std::array<std::string_view, 2> kServerKeys{"url", "weight"};
    m.emplace(item, kServerKeys, ctx.diag);
    url = m->find("url");
    if (!url) {
      ctx.diag.error(m->mark(), item.name + ": missing 'url' (http://host:port)");
      return std::nullopt;
    }
    if (const Field* w = m->find("weight")) read_uint32(*w, ctx.diag, 1, kMaxWeight, s.weight);
  }
  std::string text;
  if (!read_string(*url, ctx.diag, text)) return std::nullopt;
  auto addr = parse_upstream_url(text);
  if (!addr) {
    ctx.diag.error(url->mark(), url->name + ": " + addr.error().message);
    return std::nullopt;
  }
  s.address = std::move(addr).value();
  const YAML::Mark mark = url->mark();
  if (!mark.is_null() && mark.line >= 0 && mark.column >= 0) {
    s.line = mark.line + 1;
    s.col = mark.column + 1;
  }
  return s;
}

void read_servers(LoadContext& ctx, const Field& f, Upstream& u) {
  u.kind = OriginKind::Http;
  auto items = list_items(f, ctx.diag);
  if (!items) return;
  if (items->empty()) ctx.diag.error(f.mark(), "servers: needs at least one server");
  for (const Field& item : *items) {
    auto s = read_server(ctx, item);
    if (!s) continue;
    const bool dup = std::any_of(u.servers.begin(), u.servers.end(), [&](const UpstreamServer& o) {
      return o.address.host == s->address.host && o.address.port == s->address.port;
    });
    if (dup) {
      ctx.diag.error(item.mark(), "servers: " + quote_value(s->address.text) +
                                      " is listed twice (use weight: to favour a server)");
      continue;
    }
    u.servers.push_back(std::move(*s));
  }
}

void read_server_options(LoadContext& ctx, const MapView& m, Upstream& u) {
  Diagnostics& d = ctx.diag;
  if (const Field* f = m.find("balance")) {
    if (auto i = read_choice(*f, d, kBalanceNames)) u.balance = kBalanceValues[*i];
  }
  if (const Field* f = m.find("connect_timeout")) read_duration(*f, d, false, u.connect_timeout);
  if (const Field* f = m.find("first_byte_timeout")) {
    read_duration(*f, d, false, u.first_byte_timeout);
  }
  if (const Field* f = m.find("read_timeout")) read_duration(*f, d, false, u.read_timeout);
  if (const Field* f = m.find("keepalive_connections")) {
    read_uint32(*f, d, 0, 100'000, u.keepalive_connections);
  }
  if (const Field* f = m.find("keepalive_idle")) read_duration(*f, d, false, u.keepalive_idle);
  if (const Field* f = m.find("resolve_interval")) {
    Millis interval{};
    if (read_duration(*f, d, true, interval)) {
      if (interval.count() != 0 && interval < 1s) {
        d.error(f->mark(), "resolve_interval: at least 1s (or 0s to resolve only on load)");
      } else {
        u.resolve_interval = interval;
      }
    }
  }
}

void read_upstream(LoadContext& ctx, const Field& entry, Config& c) {
  Upstream u;
  u.name = entry.name;
  if (!valid_name(u.name)) {
    ctx.diag.error(entry.key.Mark(), "upstream name " + quote_value(u.name) +
                                         " must be 1-64 letters, digits, '_', '-' or '.'");
  }
  const Field named{"upstream " + quote_value(u.name), entry.key, entry.value};
  MapView m(named, kKeys, ctx.diag);
  if (m.valid()) {
    const Field* origin = m.find("origin");
    const Field* servers = m.find("servers");
    if (origin && servers) {
      ctx.diag.error(servers->key.Mark(),
                     named.name + ": use either origin: or servers:, not both");
    } else if (origin) {
      read_dir_origin(ctx, *origin, u);
      for (std::string_view key : kServerOnlyKeys) {
        if (const Field* f = m.find(key)) {
          ctx.diag.error(f->key.Mark(),
                         quote_value(key) + " applies to servers:, not to a dir: origin");
        }
      }
    } else if (servers) {
      read_servers(ctx, *servers, u);
      read_server_options(ctx, m, u);
    } else {
      ctx.diag.error(entry.key.Mark(),
                     named.name + ": needs origin: dir:PATH or servers: [http://host:port]");
    }
  }
  // Kept even when invalid, so that routes naming it are not reported as unknown as well.
  c.upstreams.push_back(std::move(u));
}

}  // namespace

void read_upstreams(LoadContext& ctx, const Field& field, Config& config) {
  auto entries = map_entries(field, ctx.diag);
  if (!entries) return;
  for (const Field& entry : *entries) read_upstream(ctx, entry, config);
}

}  // namespace ghala::config
