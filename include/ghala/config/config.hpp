#pragma once
// The configuration snapshot: an immutable value built from YAML, validated, and shared between
// worker threads as std::shared_ptr<const Config>. A reload builds a whole new snapshot; requests
// keep the snapshot they started with. See docs/config.md for every key.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ghala/cache/policy.hpp"
#include "ghala/config/cache_rules.hpp"

namespace ghala::config {

using Millis = std::chrono::milliseconds;
using namespace std::chrono_literals;

struct SocketAddress {
  std::string host;  // literal IPv4 or IPv6 address (no brackets); for an upstream server as
                     // loaded, also a host name, replaced by its addresses (config/resolve.hpp)
  std::uint16_t port = 0;
  std::string text;  // as written, for messages ("127.0.0.1:8080")
};

struct Listener {
  SocketAddress address;
  int backlog = 4096;
};

struct Limits {
  std::uint32_t max_connections = 20000;         // client connections per process
  std::uint32_t max_request_line = 8192;         // bytes; 414 beyond
  std::uint32_t max_header_bytes = 32768;        // bytes of all request header lines; 431 beyond
  std::uint32_t max_headers = 100;               // header fields; 431 beyond
  std::uint64_t max_request_body = 64ull << 20;  // bytes; 413 beyond
};

struct Timeouts {
  Millis header_read = 10s;         // first byte to end of request head; 408
  Millis keepalive_idle = 60s;      // idle keep-alive connection; close
  Millis body_read = 30s;           // gap between request body bytes; 408
  Millis client_write_stall = 30s;  // no progress writing to the client; close
  Millis shutdown_grace = 10s;      // SIGTERM: wait this long for in-flight requests
};

enum class AccessLogTarget { Off, Stdout, File };

struct AccessLog {
  AccessLogTarget target = AccessLogTarget::Stdout;
  std::string path;  // when target == File
};

struct Admin {
  std::optional<SocketAddress> listen;  // nullopt: no admin listener
  std::string token;                    // bearer token for mutating endpoints; empty: reload only
                                        // from loopback. Purge has its own token (CacheSettings).
};

// The disk (RocksDB) tier. Absent from CacheSettings: memory only.
struct DiskTier {
  std::string path;                      // absolute, lexically normal; created by the tier
  std::uint64_t max_size = 10ull << 30;  // bytes
};

// The top-level `cache:` section: storage and the policy every site shares. Per-site and
// per-route behaviour is in the cache rules (cache_rules.hpp).
struct CacheSettings {
  std::uint64_t memory_max_size = 512ull << 20;  // bytes held by the memory tier
  // Stored bodies at least this large are kept in memory files and sent with sendfile; 0: none.
  std::uint64_t memory_sendfile_min = 16 * 1024;
  std::optional<DiskTier> disk;
  std::uint64_t max_object_size = 256ull << 20;  // larger bodies are passed, not stored
  std::int64_t heuristic_percent = 10;           // RFC 9111 §4.2.2, of (Date - Last-Modified)
  Millis heuristic_max = 24h;                    // cap on a heuristic lifetime
  cache::ClientDirectives client_directives = cache::ClientDirectives::Ignore;
  // RFC 9213 targeted fields in precedence order (canonical case as written); empty: none.
  std::vector<std::string> targeted_fields{"Ghala-Cache-Control", "CDN-Cache-Control"};
  Millis lock_timeout = 5s;   // how long a coalesced request waits for the fetch in flight
  Millis hit_for_pass = 30s;  // how long an uncacheable answer sends a key straight to the
                              // origin; 0 = off
  std::string purge_token;    // bearer token of the purge API; empty: purge API off
};

enum class OriginKind { Http, Dir };
enum class Balance { RoundRobin, LeastConn };

struct UpstreamServer {
  SocketAddress address;
  std::uint32_t weight = 1;
  // The host name this server was resolved from ("origin.example.com"); empty for a server
  // written as a literal address, and in a config as loaded (before with_addresses).
  std::string host_name;
  int line = 0;  // where the server is written (1-based), for resolution errors; 0: unknown
  int col = 0;
};

struct Upstream {
  std::string name;
  OriginKind kind = OriginKind::Http;
  std::vector<UpstreamServer> servers;  // kind == Http
  std::string dir_root;                 // kind == Dir: absolute, canonical path
  Balance balance = Balance::RoundRobin;
  Millis connect_timeout = 3s;
  Millis first_byte_timeout = 30s;           // request fully sent to first response byte; 504
  Millis read_timeout = 30s;                 // gap between response body bytes; abort
  std::uint32_t keepalive_connections = 64;  // idle connections kept per worker per server
  Millis keepalive_idle = 60s;               // idle pooled connection lifetime
  Millis resolve_interval = 30s;  // re-resolve the servers' host names this often; 0 = never
};

enum class HostHeaderMode { Pass, Rewrite };

struct Route {
  std::string match;  // "/api/" (prefix) or "/img/*.jpg" (glob: * within a segment, ** across)
  MatchKind kind = MatchKind::Prefix;
  std::string upstream;            // upstream name
  std::size_t upstream_index = 0;  // index into Config::upstreams, resolved at load
  HostHeaderMode host_mode = HostHeaderMode::Pass;
  std::string host_rewrite;  // when host_mode == Rewrite
  // This route's cache rules followed by its site's, in evaluation order (see cache_rules.hpp).
  RuleSet cache_rules;
  // Later issues attach here: transforms, blue/green/canary switch.
};

struct Site {
  std::string name;
  std::vector<std::string> hosts;  // lower-case host names, without port; "*.example.com" allowed
  bool is_default = false;
  std::vector<Route> routes;           // evaluated in order; the first that matches wins
  std::vector<CacheRule> cache_rules;  // the site's own rules, as written (also in each route's)
};

// Host name -> site index, compiled by the loader (see build_host_index in router.hpp) so that
// match_site costs a few hash lookups instead of a scan over every site's hosts.
struct HostIndex {
  // Transparent hashing: lookups take a std::string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Map = std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>>;

  bool built = false;  // false: match_site falls back to a linear scan (hand-built configs)
  Map exact;           // "www.example.com" -> site
  Map wildcard;        // ".example.com" (from "*.example.com") -> site
};

struct Config {
  std::string source;         // file path, or "<embedded>"
  std::string hash;           // hex SHA-256 prefix of the YAML text, for metrics and logs
  std::uint32_t workers = 0;  // 0 = number of CPU cores
  // A worker that has run 100 us without waiting in its poll calls sched_yield() after its
  // event-loop pass, so threads sharing its CPU run between its batches
  // (Worker::on_pass_end, docs/architecture.md "Worker pacing").
  bool worker_yield = true;
  std::vector<Listener> listeners;
  Admin admin;
  Limits limits;
  Timeouts timeouts;
  AccessLog access_log;
  CacheSettings cache;
  std::vector<Upstream> upstreams;
  std::vector<Site> sites;
  std::size_t default_site = 0;  // index into sites
  HostIndex host_index;          // derived from sites; rebuild after editing sites by hand

  const Upstream* find_upstream(std::string_view name) const;
};

using ConfigPtr = std::shared_ptr<const Config>;

// One validation error, located in the YAML text.
struct ConfigError {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int col = 0;   // 1-based
  std::string message;
  std::string format() const;  // "file:line:col: message"
};

struct LoadResult {
  ConfigPtr config;  // null when errors is not empty
  std::vector<ConfigError> errors;
};

// Parses and validates. Relative paths in the config (dir origins, log files) resolve against
// base_dir. Never throws.
LoadResult load_string(std::string_view yaml, const std::string& source_name,
                       const std::string& base_dir);
LoadResult load_file(const std::string& path);

// What a hot reload from `running` to `next` cannot apply, one human-readable line per change
// ("listener 127.0.0.1:8081 added", "workers 4 -> 8"). Empty: everything can be applied live.
// Covers listeners (address and backlog), the worker count, the admin listen address and the
// cache's storage (memory size, disk tier path and size).
std::vector<std::string> restart_required_changes(const Config& running, const Config& next);

}  // namespace ghala::config
