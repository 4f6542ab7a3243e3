// The Config value's own small helpers, and the comparison that tells a reload what it cannot
// apply without a restart.

#include "ghala/config/config.hpp"

#include <algorithm>

#include "ghala/core/units.hpp"

namespace ghala::config {

std::string ConfigError::format() const {
  std::string out = file.empty() ? std::string("<config>") : file;
  if (line > 0) {
    out.append(":").append(std::to_string(line)).append(":").append(std::to_string(col));
  }
  out.append(": ").append(message);
  return out;
}

const Upstream* Config::find_upstream(std::string_view name) const {
  const auto it = std::find_if(upstreams.begin(), upstreams.end(),
                               [&](const Upstream& u) { return u.name == name; });
  return it == upstreams.end() ? nullptr : &*it;
}

namespace {

bool same(const SocketAddress& a, const SocketAddress& b) {
  return a.host == b.host && a.port == b.port;
}

const Listener* find_listener(const std::vector<Listener>& list, const SocketAddress& a) {
  const auto it =
      std::find_if(list.begin(), list.end(), [&](const Listener& l) { return same(l.address, a); });
  return it == list.end() ? nullptr : &*it;
}

std::string workers_text(std::uint32_t n) {
  return n == 0 ? "auto" : std::to_string(n);
}

// Listening sockets are created once per worker at startup (SO_REUSEPORT), so any change to the
// set, or to a socket's backlog, needs new processes.
void listener_changes(const Config& running, const Config& next, std::vector<std::string>& out) {
  for (const Listener& l : running.listeners) {
    const Listener* n = find_listener(next.listeners, l.address);
    if (n == nullptr) {
      out.push_back("listener " + l.address.text + " removed");
    } else if (n->backlog != l.backlog) {
      out.push_back("listener " + l.address.text + " backlog " + std::to_string(l.backlog) +
                    " -> " + std::to_string(n->backlog));
    }
  }
  for (const Listener& l : next.listeners) {
    if (find_listener(running.listeners, l.address) == nullptr) {
      out.push_back("listener " + l.address.text + " added");
    }
  }
}

void admin_changes(const Config& running, const Config& next, std::vector<std::string>& out) {
  const auto& a = running.admin.listen;
  const auto& b = next.admin.listen;
  if (a && b && !same(*a, *b)) {
    out.push_back("admin listener " + a->text + " -> " + b->text);
  } else if (a && !b) {
    out.push_back("admin listener " + a->text + " removed");
  } else if (!a && b) {
    out.push_back("admin listener " + b->text + " added");
  }
}

std::string disk_text(const std::optional<DiskTier>& d) {
  return d ? d->path + " (" + format_size(d->max_size) + ")" : std::string("none");
}

// The tiers size their structures and open RocksDB once, at startup.
void cache_changes(const Config& running, const Config& next, std::vector<std::string>& out) {
  const CacheSettings& a = running.cache;
  const CacheSettings& b = next.cache;
  if (a.memory_max_size != b.memory_max_size) {
    out.push_back("cache.memory.max_size " + format_size(a.memory_max_size) + " -> " +
                  format_size(b.memory_max_size));
  }
  const bool same_disk =
      a.disk.has_value() == b.disk.has_value() &&
      (!a.disk || (a.disk->path == b.disk->path && a.disk->max_size == b.disk->max_size));
  if (!same_disk) out.push_back("cache.disk " + disk_text(a.disk) + " -> " + disk_text(b.disk));
}

}  // namespace

std::vector<std::string> restart_required_changes(const Config& running, const Config& next) {
  std::vector<std::string> out;
  listener_changes(running, next, out);
  if (running.workers != next.workers) {
    out.push_back("workers " + workers_text(running.workers) + " -> " + workers_text(next.workers));
  }
  admin_changes(running, next, out);
  cache_changes(running, next, out);
  return out;
}

}  // namespace ghala::config
