#include "server/snapshot.hpp"

#include "ghala/core/body_arena.hpp"

namespace ghala::server {

namespace {

bool same_log(const config::AccessLog& a, const config::AccessLog& b) {
  return a.target == b.target && a.path == b.path;
}

std::shared_ptr<const upstream::DirOrigin> find_dir(const Snapshot* previous,
                                                    const std::string& root) {
  if (!previous) return nullptr;
  for (const auto& u : previous->upstreams) {
    if (u.dir && u.dir->root() == root) return u.dir;
  }
  return nullptr;
}

}  // namespace

Result<SnapshotPtr> build_snapshot(config::ConfigPtr config, const Snapshot* previous) {
  auto snap = std::make_shared<Snapshot>();
  auto& metrics = observe::Metrics::get();
  const auto& cfg = *config;

  for (const auto& site : cfg.sites) {
    auto& routes = snap->route_metrics.emplace_back();
    for (const auto& route : site.routes) routes.push_back(metrics.route(site.name, route.match));
    snap->unrouted_metrics.push_back(metrics.route(site.name, "-"));
  }
  snap->invalid_metrics = metrics.route("-", "-");

  for (const auto& up : cfg.upstreams) {
    UpstreamRuntime rt;
    rt.metrics = metrics.upstream(up.name);
    if (up.kind == config::OriginKind::Dir) {
      rt.dir = find_dir(previous, up.dir_root);
      if (!rt.dir) {
        auto dir = upstream::DirOrigin::create(up.dir_root);
        if (!dir) {
          return make_error(dir.error().kind, "upstream " + up.name + ": " + dir.error().message);
        }
        rt.dir = std::make_shared<const upstream::DirOrigin>(std::move(dir).value());
      }
    }
    snap->upstreams.push_back(std::move(rt));
  }

  if (previous && previous->access_log &&
      same_log(previous->access_log->config(), cfg.access_log)) {
    snap->access_log = previous->access_log;
  } else {
    auto sink = observe::AccessLogSink::open(cfg.access_log);
    if (!sink) return make_error(sink.error().kind, "access_log: " + sink.error().message);
    snap->access_log = std::move(sink).value();
  }

  if (previous) {
    snap->memory = previous->memory;
    snap->coalescer = previous->coalescer;
  } else if (cfg.cache.memory_max_size > 0) {
    cache::MemoryTier::Options opts;
    opts.max_bytes = cfg.cache.memory_max_size;
    opts.max_object_bytes = cfg.cache.max_object_size;
    snap->memory = std::make_shared<cache::MemoryTier>(opts);
    snap->coalescer = std::make_shared<Coalescer>();
  }
  if (previous) {
    snap->disk = previous->disk;
  } else if (cfg.cache.disk) {
    cache::DiskTier::Options opts;
    opts.path = cfg.cache.disk->path;
    opts.max_bytes = cfg.cache.disk->max_size;
    opts.max_object_bytes = cfg.cache.max_object_size;
    auto disk = cache::DiskTier::open(std::move(opts));
    if (!disk) {
      return make_error(disk.error().kind, "cache.disk: cannot open the disk tier at " +
                                               cfg.cache.disk->path + ": " + disk.error().message);
    }
    snap->disk = std::shared_ptr<cache::DiskTier>(std::move(disk).value());
  }

  snap->limits.max_request_line = cfg.limits.max_request_line;
  snap->limits.max_header_bytes = cfg.limits.max_header_bytes;
  snap->limits.max_headers = cfg.limits.max_headers;
  snap->limits.max_body = cfg.limits.max_request_body;
  // The body arena is process-wide: the config loaded last decides what new objects put in it.
  BodyArena::shared().set_min_bytes(static_cast<std::size_t>(cfg.cache.memory_sendfile_min));
  snap->config = std::move(config);
  return SnapshotPtr(std::move(snap));
}

}  // namespace ghala::server
