// Purge execution: see purge.hpp.

#include "server/purge.hpp"

#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "ghala/config/purge_key.hpp"
#include "ghala/core/log.hpp"

namespace ghala::server {

namespace {

using observe::PurgeKind;

// What one target selects in the stores: a key (all its Vary variants), a key prefix or a tag.
struct Selection {
  enum class By { Key, Prefix, Tag } by = By::Key;
  std::string value;
};

// The selection for a target, or a note saying why it selects nothing.
std::optional<Selection> select_objects(const config::Config& config, PurgeKind kind,
                                        const std::string& target, std::string& note) {
  switch (kind) {
    case PurgeKind::Url: {
      auto k = config::url_purge_key(config, target);
      if (!k) {
        note = k.error().message;
        return std::nullopt;
      }
      if (k.value().key.empty()) {
        note = k.value().uncached;
        return std::nullopt;
      }
      const auto by = k.value().prefix ? Selection::By::Prefix : Selection::By::Key;
      return Selection{by, std::move(k.value().key)};
    }
    case PurgeKind::Prefix: {
      auto p = config::prefix_purge_key(target);
      if (!p) {
        note = p.error().message;
        return std::nullopt;
      }
      return Selection{Selection::By::Prefix, std::move(p.value())};
    }
    case PurgeKind::Tag:
    case PurgeKind::kCount:
      break;
  }
  return Selection{Selection::By::Tag, target};
}

std::uint64_t purge_memory(cache::MemoryTier& m, const Selection& s, bool soft, std::int64_t now) {
  switch (s.by) {
    case Selection::By::Key:
      return soft ? m.soft_purge(s.value, now) : m.erase(s.value);
    case Selection::By::Prefix:
      return soft ? m.soft_purge_prefix(s.value, now) : m.erase_prefix(s.value);
    case Selection::By::Tag:
      return soft ? m.soft_purge_tag(s.value, now) : m.erase_tag(s.value);
  }
  return 0;
}

Result<std::size_t> purge_disk(cache::DiskTier& d, const Selection& s, bool soft,
                               std::int64_t now) {
  const auto mode = soft ? cache::PurgeMode::Soft : cache::PurgeMode::Hard;
  switch (s.by) {
    case Selection::By::Key:
      return d.purge(s.value, mode, now);
    case Selection::By::Prefix:
      return d.purge_prefix(s.value, mode, now);
    case Selection::By::Tag:
      return d.purge_tag(s.value, mode, now);
  }
  return std::size_t{0};
}

void record(const admin::PurgeOutcome& o, bool has_disk) {
  auto& m = observe::Metrics::get();
  std::uint64_t memory = 0;
  std::uint64_t disk = 0;
  for (const auto& t : o.targets) {
    memory += t.memory;
    disk += t.disk.value_or(0);
  }
  m.cache_purge(o.kind, o.soft);
  m.cache_purged(o.kind, o.soft, observe::CacheTier::Memory, memory);
  if (has_disk) m.cache_purged(o.kind, o.soft, observe::CacheTier::Disk, disk);
  log_info("purge: " + std::string(observe::to_string(o.kind)) + (o.soft ? " soft" : " hard") +
           ", " + std::to_string(o.targets.size()) + " target(s), " +
           std::to_string(memory + disk) + " object(s)" +
           (o.errors.empty() ? "" : ", " + std::to_string(o.errors.size()) + " error(s)"));
}

struct PurgeWork {
  uv_work_t req{};
  config::ConfigPtr config;
  PurgeStores stores;
  admin::PurgeRequest request;
  std::function<void(admin::PurgeOutcome)> done;
  std::int64_t now = 0;
  admin::PurgeOutcome outcome;
};

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace

PurgeStores purge_stores(const Snapshot& snapshot) {
  return PurgeStores{snapshot.memory, snapshot.disk, snapshot.coalescer};
}

admin::PurgeOutcome execute_purge(const config::Config& config, const PurgeStores& stores,
                                  const admin::PurgeRequest& request, std::int64_t now) {
  admin::PurgeOutcome out;
  out.kind = request.kind;
  out.soft = request.soft;
  for (const std::string& target : request.targets) {
    admin::PurgeTargetOutcome t;
    t.target = target;
    if (stores.disk) t.disk = 0;
    const auto sel = select_objects(config, request.kind, target, t.note);
    if (sel) {
      t.key = sel->value;
      if (stores.memory) t.memory = purge_memory(*stores.memory, *sel, request.soft, now);
      // Hit-for-pass is not an object (not counted), but a hard or soft purge of a URL means
      // "look at the origin's answer again": an admin who fixed its Cache-Control expects that.
      if (stores.coalescer && sel->by != Selection::By::Tag) {
        (void)stores.coalescer->purge_pass(sel->value, sel->by == Selection::By::Prefix);
      }
      if (stores.disk) {
        auto n = purge_disk(*stores.disk, *sel, request.soft, now);
        if (n) {
          t.disk = n.value();
        } else {
          out.errors.push_back("disk tier: " + target + ": " + n.error().message);
        }
      }
    }
    out.targets.push_back(std::move(t));
  }
  record(out, stores.disk != nullptr);
  return out;
}

void run_purge(uv_loop_t* loop, config::ConfigPtr config, PurgeStores stores,
               admin::PurgeRequest request, std::function<void(admin::PurgeOutcome)> done) {
  auto* w = new PurgeWork{};  // owned by the libuv request until the after-work callback
  w->config = std::move(config);
  w->stores = std::move(stores);
  w->request = std::move(request);
  w->done = std::move(done);
  w->now = now_seconds();
  w->req.data = w;
  const int rc = uv_queue_work(
      loop, &w->req,
      [](uv_work_t* r) {
        auto* work = static_cast<PurgeWork*>(r->data);
        try {
          work->outcome = execute_purge(*work->config, work->stores, work->request, work->now);
        } catch (const std::exception& e) {
          work->outcome.errors.push_back(std::string("purge failed: ") + e.what());
        }
      },
      [](uv_work_t* r, int) {
        std::unique_ptr<PurgeWork> work(static_cast<PurgeWork*>(r->data));
        work->outcome.kind = work->request.kind;
        work->outcome.soft = work->request.soft;
        work->done(std::move(work->outcome));
      });
  if (rc != 0) {
    std::unique_ptr<PurgeWork> work(w);
    admin::PurgeOutcome failed;
    failed.kind = work->request.kind;
    failed.soft = work->request.soft;
    failed.errors.push_back(std::string("cannot queue the purge: ") + uv_strerror(rc));
    work->done(std::move(failed));
  }
}

}  // namespace ghala::server
