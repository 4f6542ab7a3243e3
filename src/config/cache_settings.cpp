// The top-level `cache:` section: the storage tiers and their sizes, the global freshness and
// coalescing settings, the targeted fields ghala obeys and the purge API token.

#include <algorithm>
#include <array>
#include <filesystem>

#include "config/sections.hpp"
#include "ghala/core/units.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::config {
namespace {

constexpr std::array<std::string_view, 9> kKeys{
    "memory",          "disk",         "max_object_size", "heuristic", "client_directives",
    "targeted_fields", "lock_timeout", "hit_for_pass",    "purge"};
constexpr std::array<std::string_view, 2> kMemoryKeys{"max_size", "sendfile_min_size"};
constexpr std::array<std::string_view, 2> kDiskKeys{"path", "max_size"};
constexpr std::array<std::string_view, 2> kHeuristicKeys{"percent", "max"};
constexpr std::array<std::string_view, 2> kPurgeKeys{"token", "token_env"};
constexpr std::array<std::string_view, 2> kClientDirectives{"ignore", "honour"};
constexpr std::uint64_t kMaxStorage = 1ull << 50;  // 1 PiB: a bound that only catches typos

void read_memory(LoadContext& ctx, const Field& f, CacheSettings& c) {
  MapView m(f, kMemoryKeys, ctx.diag);
  if (const Field* x = m.find("max_size")) {
    read_size(*x, ctx.diag, 1ull << 20, kMaxStorage, c.memory_max_size);
  }
  if (const Field* x = m.find("sendfile_min_size")) {
    read_size(*x, ctx.diag, 0, kMaxStorage, c.memory_sendfile_min);
  }
}

// The tier creates its directory; the parent must exist, so a typo is caught at load time.
void check_disk_path(LoadContext& ctx, const Field& f, const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (std::filesystem::exists(p, ec)) {
    if (!std::filesystem::is_directory(p, ec)) {
      ctx.diag.error(f.mark(), "disk.path: " + quote_value(path) + " is not a directory");
    }
  } else if (!std::filesystem::is_directory(p.parent_path(), ec)) {
    ctx.diag.error(f.mark(), "disk.path: parent directory " +
                                 quote_value(p.parent_path().string()) + " does not exist");
  }
}

void read_disk(LoadContext& ctx, const Field& f, CacheSettings& c) {
  MapView m(f, kDiskKeys, ctx.diag);
  if (!m.valid()) return;
  DiskTier disk;
  const Field* p = m.find("path");
  std::string path;
  if (!p) {
    ctx.diag.error(m.mark(),
                   "disk: needs a 'path' (remove the disk section for a memory-only "
                   "cache)");
  } else if (read_string(*p, ctx.diag, path)) {
    if (path.empty()) {
      ctx.diag.error(p->mark(), "disk.path: empty path");
    } else {
      disk.path = resolve_path(ctx, path);
      check_disk_path(ctx, *p, disk.path);
    }
  }
  if (const Field* x = m.find("max_size")) {
    read_size(*x, ctx.diag, 16ull << 20, kMaxStorage, disk.max_size);
  }
  c.disk = std::move(disk);
}

void read_heuristic(LoadContext& ctx, const Field& f, CacheSettings& c) {
  MapView m(f, kHeuristicKeys, ctx.diag);
  std::uint64_t percent = 0;
  if (const Field* x = m.find("percent"); x && read_uint(*x, ctx.diag, 0, 100, percent)) {
    c.heuristic_percent = static_cast<std::int64_t>(percent);
  }
  if (const Field* x = m.find("max")) read_duration(*x, ctx.diag, true, c.heuristic_max);
}

// RFC 9213 §2.2: the first valid targeted field in this order wins over Cache-Control.
void read_targeted_fields(LoadContext& ctx, const Field& f, CacheSettings& c) {
  auto items = list_items(f, ctx.diag);
  if (!items) return;
  std::vector<std::string> names;
  for (const Field& item : *items) {
    std::string name;
    if (!read_string(item, ctx.diag, name)) continue;
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.';
    });
    if (!token) {
      ctx.diag.error(item.mark(), "targeted_fields: " + quote_value(name) +
                                      " is not a header field name (letters, digits, '-')");
    } else if (http::iequals(name, "Cache-Control")) {
      ctx.diag.error(item.mark(),
                     "targeted_fields: Cache-Control is always used when no "
                     "targeted field applies; list only targeted fields");
    } else if (std::any_of(names.begin(), names.end(),
                           [&](const std::string& o) { return http::iequals(o, name); })) {
      ctx.diag.error(item.mark(), "targeted_fields: " + quote_value(name) + " is listed twice");
    } else {
      names.push_back(std::move(name));
    }
  }
  c.targeted_fields = std::move(names);
}

void read_purge(LoadContext& ctx, const Field& f, Config& c) {
  MapView m(f, kPurgeKeys, ctx.diag);
  if (!m.valid()) return;
  if (!m.find("token") && !m.find("token_env")) {
    ctx.diag.error(m.mark(),
                   "purge: needs token or token_env (remove the purge section to turn "
                   "the purge API off)");
    return;
  }
  c.cache.purge_token = read_token(m, ctx.diag, "purge.");
  if (!c.admin.listen) {
    ctx.diag.error(f.key.Mark(),
                   "purge: the purge API is served on the admin listener; add "
                   "admin: {listen: ...}");
  }
}

// An object larger than every tier could never be stored. The default shrinks to fit a small
// cache; a value written in the file is checked.
void check_object_size(LoadContext& ctx, const Field* f, CacheSettings& c) {
  const std::uint64_t room =
      c.disk ? std::max(c.disk->max_size, c.memory_max_size) : c.memory_max_size;
  if (c.max_object_size <= room) return;
  if (f == nullptr) {
    c.max_object_size = room;
    return;
  }
  const std::string where =
      c.disk ? "disk.max_size" : "memory.max_size (and there is no disk tier)";
  const std::string msg = "max_object_size (" + format_size(c.max_object_size) +
                          ") is larger than " + where + " (" + format_size(room) + ")";
  ctx.diag.error(f->mark(), msg);
}

}  // namespace

void read_cache_settings(LoadContext& ctx, const Field& field, Config& config) {
  MapView m(field, kKeys, ctx.diag);
  if (!m.valid()) return;
  Diagnostics& d = ctx.diag;
  CacheSettings& c = config.cache;
  if (const Field* f = m.find("memory")) read_memory(ctx, *f, c);
  if (const Field* f = m.find("disk")) read_disk(ctx, *f, c);
  const Field* object = m.find("max_object_size");
  if (object) read_size(*object, d, 1, kMaxStorage, c.max_object_size);
  if (const Field* f = m.find("heuristic")) read_heuristic(ctx, *f, c);
  if (const Field* f = m.find("client_directives")) {
    if (auto i = read_choice(*f, d, kClientDirectives)) {
      c.client_directives =
          *i == 0 ? cache::ClientDirectives::Ignore : cache::ClientDirectives::Honour;
    }
  }
  if (const Field* f = m.find("targeted_fields")) read_targeted_fields(ctx, *f, c);
  if (const Field* f = m.find("lock_timeout")) read_duration(*f, d, false, c.lock_timeout);
  if (const Field* f = m.find("hit_for_pass")) read_duration(*f, d, true, c.hit_for_pass);
  if (const Field* f = m.find("purge")) read_purge(ctx, *f, config);
  check_object_size(ctx, object, c);
}

}  // namespace ghala::config
