// Process-wide Prometheus metrics. docs/metrics.md lists every metric with its labels and meaning.
//
// Cost model, from hottest to coldest:
//  - byte counters: updated on every socket read/write. Sharded relaxed atomics (see ByteCounters),
//    folded into the prometheus counters when the registry is scraped.
//  - per-request updates (RouteMetrics::observe, UpstreamMetrics): pre-resolved Counter* in a
//    fixed table indexed by method slot and status class, and durations into a ShardedHistogram
//    (no lock: prometheus-cpp's Histogram::Observe takes a mutex); no label lookup, no
//    allocation.
//  - per-connection and per-event updates (connections, timeouts, parse errors): pre-resolved
//    prometheus counters and gauges.
//  - handle creation and config reloads: a mutex and label maps; called at config load only.
//
// prometheus-cpp throws on invalid names or labels. Every entry point that can reach such a
// throw catches at this boundary and degrades to a no-op handle, so nothing escapes.

#include "ghala/observe/metrics.hpp"

#include <dirent.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "ghala/core/log.hpp"
#include "ghala_build_config.h"

namespace ghala::observe {

std::string_view to_string(TimeoutKind k) noexcept {
  switch (k) {
    case TimeoutKind::HeaderRead:
      return "header_read";
    case TimeoutKind::BodyRead:
      return "body_read";
    case TimeoutKind::KeepaliveIdle:
      return "keepalive_idle";
    case TimeoutKind::ClientWriteStall:
      return "client_write_stall";
    case TimeoutKind::UpstreamConnect:
      return "upstream_connect";
    case TimeoutKind::UpstreamFirstByte:
      return "upstream_first_byte";
    case TimeoutKind::UpstreamRead:
      return "upstream_read";
    case TimeoutKind::UpstreamWrite:
      return "upstream_write";
    case TimeoutKind::Shutdown:
      return "shutdown";
    case TimeoutKind::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(DnsResult r) noexcept {
  switch (r) {
    case DnsResult::Ok:
      return "ok";
    case DnsResult::Changed:
      return "changed";
    case DnsResult::Error:
      return "error";
    case DnsResult::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(UpstreamErrorKind k) noexcept {
  switch (k) {
    case UpstreamErrorKind::ConnectRefused:
      return "connect_refused";
    case UpstreamErrorKind::ConnectTimeout:
      return "connect_timeout";
    case UpstreamErrorKind::FirstByteTimeout:
      return "first_byte_timeout";
    case UpstreamErrorKind::ReadTimeout:
      return "read_timeout";
    case UpstreamErrorKind::WriteTimeout:
      return "write_timeout";
    case UpstreamErrorKind::Reset:
      return "reset";
    case UpstreamErrorKind::InvalidResponse:
      return "invalid_response";
    case UpstreamErrorKind::NoServer:
      return "no_server";
    case UpstreamErrorKind::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(CacheLookup k) noexcept {
  switch (k) {
    case CacheLookup::Hit:
      return "hit";
    case CacheLookup::Miss:
      return "miss";
    case CacheLookup::Stale:
      return "stale";
    case CacheLookup::Bypass:
      return "bypass";
    case CacheLookup::Pass:
      return "pass";
    case CacheLookup::Revalidated:
      return "revalidated";
    case CacheLookup::Coalesced:
      return "coalesced";
    case CacheLookup::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(PurgeKind k) noexcept {
  switch (k) {
    case PurgeKind::Url:
      return "url";
    case PurgeKind::Prefix:
      return "prefix";
    case PurgeKind::Tag:
      return "tag";
    case PurgeKind::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(CacheTier t) noexcept {
  switch (t) {
    case CacheTier::Memory:
      return "memory";
    case CacheTier::Disk:
      return "disk";
    case CacheTier::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(StorageOp op) noexcept {
  switch (op) {
    case StorageOp::Lookup:
      return "lookup";
    case StorageOp::Read:
      return "read";
    case StorageOp::Insert:
      return "insert";
    case StorageOp::Stream:
      return "stream";
    case StorageOp::Update:
      return "update";
    case StorageOp::Purge:
      return "purge";
    case StorageOp::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(DiskWriteDrop d) noexcept {
  switch (d) {
    case DiskWriteDrop::Unhealthy:
      return "unhealthy";
    case DiskWriteDrop::Backlog:
      return "backlog";
    case DiskWriteDrop::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(ParseErrorKind k) noexcept {
  switch (k) {
    case ParseErrorKind::BadRequest:
      return "bad_request";
    case ParseErrorKind::UriTooLong:
      return "uri_too_long";
    case ParseErrorKind::HeadersTooLarge:
      return "headers_too_large";
    case ParseErrorKind::BodyTooLarge:
      return "body_too_large";
    case ParseErrorKind::kCount:
      break;
  }
  return "unknown";
}

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr std::size_t kMethodSlots = 8;
constexpr std::size_t kStatusClasses = 5;
constexpr std::array<const char*, kMethodSlots> kMethodLabels = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other"};
constexpr std::array<const char*, kStatusClasses> kStatusClassLabels = {"1xx", "2xx", "3xx", "4xx",
                                                                        "5xx"};
constexpr auto kTimeoutKinds = static_cast<std::size_t>(TimeoutKind::kCount);
constexpr auto kParseErrorKinds = static_cast<std::size_t>(ParseErrorKind::kCount);
constexpr auto kUpstreamErrorKinds = static_cast<std::size_t>(UpstreamErrorKind::kCount);
constexpr auto kPurgeKinds = static_cast<std::size_t>(PurgeKind::kCount);
constexpr auto kCacheTiers = static_cast<std::size_t>(CacheTier::kCount);
constexpr std::array<const char*, 2> kPurgeModes = {"hard", "soft"};

std::size_t method_slot(http::Method m) noexcept {
  switch (m) {
    case http::Method::Get:
      return 0;
    case http::Method::Head:
      return 1;
    case http::Method::Post:
      return 2;
    case http::Method::Put:
      return 3;
    case http::Method::Delete:
      return 4;
    case http::Method::Options:
      return 5;
    case http::Method::Patch:
      return 6;
    default:
      return 7;
  }
}

// A status outside 100..599 (0 when the connection died before any response) counts as 5xx: the
// request failed from the client's point of view. docs/metrics.md says so.
std::size_t status_slot(int status) noexcept {
  if (status < 100 || status > 599) return kStatusClasses - 1;
  return static_cast<std::size_t>(status / 100 - 1);
}

// Edge on slow links: sub-millisecond cache hits up to minute-long 2G downloads.
constexpr std::array<double, 16> kDurationBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60};

const Histogram::BucketBoundaries& duration_buckets() {
  static const Histogram::BucketBoundaries kBuckets(kDurationBounds.begin(), kDurationBounds.end());
  return kBuckets;
}

bool valid_seconds(double s) noexcept {
  return std::isfinite(s) && s >= 0;
}

std::string compiler_string() {
#if defined(__clang__)
  return "clang " + std::to_string(__clang_major__) + "." + std::to_string(__clang_minor__) + "." +
         std::to_string(__clang_patchlevel__);
#elif defined(__GNUC__)
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

// Byte counters are bumped on every socket read and write, from every worker thread. A
// prometheus::Counter is an atomic<double> updated with a compare-exchange loop on one shared
// cache line: under several busy workers that line ping-pongs between cores on every read.
// Instead each thread adds to its own cache-line-sized shard with a relaxed fetch_add (no
// contention, no fence, a few nanoseconds), and collect time sums the shards and adds the
// difference to the real prometheus counters (fold()). Compared with per-thread buffers flushed by
// a timer, nothing is lost or late: every byte counted before a scrape is in that scrape, and
// threads that exit leave their counts behind in the shard.
class ByteCounters {
 public:
  enum Index : std::size_t { kClientRx, kClientTx, kUpstreamRx, kUpstreamTx, kCount };

  void add(Index i, std::uint64_t n) noexcept {
    shards_[shard_index()].v[i].fetch_add(n, std::memory_order_relaxed);
  }
  // This thread's shard, below kShards (64).
  static std::size_t shard_index() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return index;
  }
  std::uint64_t sum(Index i) const noexcept {
    std::uint64_t total = 0;
    for (const Shard& s : shards_) total += s.v[i].load(std::memory_order_relaxed);
    return total;
  }

 private:
  static constexpr std::size_t kShards = 64;  // more threads than this share shards: still exact
  struct alignas(64) Shard {
    std::array<std::atomic<std::uint64_t>, kCount> v{};
  };
  std::array<Shard, kShards> shards_{};
};

// Durations are observed on every request by every worker. prometheus-cpp's Histogram::Observe
// takes a std::mutex, and a worker preempted while holding it stalls every other worker's
// requests until the scheduler runs it again: on a busy 2-core machine that lock-holder
// preemption put 10 % of cache hits at 4-8 ms (p90) while the median was 0.4 ms. So each thread
// counts into its own cache-line-aligned shard (relaxed atomics, sum in integer nanoseconds), and
// fold() adds the difference since the last fold to the prometheus histogram at scrape time, as
// ByteCounters does for bytes. Exact: every observation before a scrape is in it.
class ShardedHistogram {
 public:
  explicit ShardedHistogram(Histogram* target) : target_(target) {}

  void observe(double seconds) noexcept {
    std::size_t b = 0;  // prometheus: the first bound >= the value (le), else +Inf
    while (b < kDurationBounds.size() && seconds > kDurationBounds[b]) ++b;
    Shard& s = shards_[ByteCounters::shard_index() % kShards];
    s.counts[b].fetch_add(1, std::memory_order_relaxed);
    const double ns = seconds * 1e9;
    s.sum_ns.fetch_add(ns < 1.8e19 ? static_cast<std::uint64_t>(ns) : 0, std::memory_order_relaxed);
  }

  // Caller serialises folds (MetricsImpl::refresh_mu_).
  void fold() {
    std::vector<double> increments(kBuckets, 0.0);
    bool any = false;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      std::uint64_t total = 0;
      for (const Shard& s : shards_) total += s.counts[b].load(std::memory_order_relaxed);
      if (total > folded_[b]) {
        increments[b] = static_cast<double>(total - folded_[b]);
        folded_[b] = total;
        any = true;
      }
    }
    std::uint64_t sum = 0;
    for (const Shard& s : shards_) sum += s.sum_ns.load(std::memory_order_relaxed);
    const double sum_increment = static_cast<double>(sum - folded_sum_ns_) / 1e9;
    folded_sum_ns_ = sum;
    if (any || sum_increment > 0) target_->ObserveMultiple(increments, sum_increment);
  }

 private:
  static constexpr std::size_t kShards = 16;  // threads beyond this share shards: still exact
  static constexpr std::size_t kBuckets = kDurationBounds.size() + 1;  // and +Inf
  struct alignas(64) Shard {
    std::array<std::atomic<std::uint64_t>, kBuckets> counts{};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  Histogram* target_;
  std::array<Shard, kShards> shards_{};
  std::array<std::uint64_t, kBuckets> folded_{};
  std::uint64_t folded_sum_ns_ = 0;
};

class NullRouteMetrics final : public RouteMetrics {
 public:
  void observe(http::Method, int, double) noexcept override {}
};

class NullUpstreamMetrics final : public UpstreamMetrics {
 public:
  void observe_latency(double) noexcept override {}
  void error(UpstreamErrorKind) noexcept override {}
};

class RouteMetricsImpl final : public RouteMetrics {
 public:
  using Table = std::array<std::array<Counter*, kStatusClasses>, kMethodSlots>;
  RouteMetricsImpl(const Table& requests, Histogram* duration)
      : requests_(requests), duration_(duration) {}

  void observe(http::Method method, int status, double duration_seconds) noexcept override {
    requests_[method_slot(method)][status_slot(status)]->Increment();
    if (valid_seconds(duration_seconds)) duration_.observe(duration_seconds);
  }
  void fold() { duration_.fold(); }

 private:
  Table requests_;
  ShardedHistogram duration_;
};

class UpstreamMetricsImpl final : public UpstreamMetrics {
 public:
  using Errors = std::array<Counter*, kUpstreamErrorKinds>;
  UpstreamMetricsImpl(Histogram* latency, const Errors& errors)
      : latency_(latency), errors_(errors) {}

  void observe_latency(double seconds_to_head) noexcept override {
    if (valid_seconds(seconds_to_head)) latency_.observe(seconds_to_head);
  }
  void fold() { latency_.fold(); }
  void error(UpstreamErrorKind kind) noexcept override {
    const auto i = static_cast<std::size_t>(kind);
    if (i < errors_.size()) errors_[i]->Increment();
  }

 private:
  ShardedHistogram latency_;
  Errors errors_;
};

// Reads VmRSS from /proc/self/statm (pages) and counts /proc/self/fd. Linux only; on failure the
// gauges keep their previous value.
bool read_resident_bytes(double& out) {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return false;
  unsigned long size_pages = 0, resident_pages = 0;
  const int n = std::fscanf(f, "%lu %lu", &size_pages, &resident_pages);
  std::fclose(f);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (n != 2 || page <= 0) return false;
  out = static_cast<double>(resident_pages) * static_cast<double>(page);
  return true;
}

bool count_open_fds(double& out) {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return false;
  long count = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(d);
  out = static_cast<double>(count - 1);  // the directory stream's own descriptor
  return true;
}

class MetricsImpl final : public Metrics {
 public:
  MetricsImpl() : registry_(std::make_shared<prometheus::Registry>()) { build(); }

  prometheus::Registry& registry() override { return *registry_; }

  std::string serialize() override {
    try {
      refresh();
      return prometheus::TextSerializer().Serialize(registry_->Collect());
    } catch (const std::exception& e) {
      log_error(std::string("metrics: serialization failed: ") + e.what());
      return {};
    }
  }

  std::shared_ptr<RouteMetrics> route(std::string_view site, std::string_view route) override {
    try {
      std::lock_guard lock(handles_mu_);
      auto key = std::make_pair(std::string(site), std::string(route));
      if (auto it = routes_.find(key); it != routes_.end()) return it->second;
      RouteMetricsImpl::Table table{};
      for (std::size_t m = 0; m < kMethodSlots; ++m) {
        for (std::size_t s = 0; s < kStatusClasses; ++s) {
          table[m][s] = &requests_->Add({{"site", key.first},
                                         {"route", key.second},
                                         {"method", kMethodLabels[m]},
                                         {"status_class", kStatusClassLabels[s]}});
        }
      }
      Histogram* duration =
          &request_duration_->Add({{"site", key.first}, {"route", key.second}}, duration_buckets());
      auto handle = std::make_shared<RouteMetricsImpl>(table, duration);
      routes_.emplace(std::move(key), handle);
      return handle;
    } catch (const std::exception& e) {
      log_error(std::string("metrics: route handle failed: ") + e.what());
      return std::make_shared<NullRouteMetrics>();
    }
  }

  std::shared_ptr<UpstreamMetrics> upstream(std::string_view name) override {
    try {
      std::lock_guard lock(handles_mu_);
      std::string key(name);
      if (auto it = upstreams_.find(key); it != upstreams_.end()) return it->second;
      UpstreamMetricsImpl::Errors errors{};
      for (std::size_t k = 0; k < kUpstreamErrorKinds; ++k) {
        const auto kind = std::string(to_string(static_cast<UpstreamErrorKind>(k)));
        errors[k] = &upstream_errors_->Add({{"upstream", key}, {"kind", kind}});
      }
      Histogram* latency = &upstream_duration_->Add({{"upstream", key}}, duration_buckets());
      auto handle = std::make_shared<UpstreamMetricsImpl>(latency, errors);
      upstreams_.emplace(std::move(key), handle);
      return handle;
    } catch (const std::exception& e) {
      log_error(std::string("metrics: upstream handle failed: ") + e.what());
      return std::make_shared<NullUpstreamMetrics>();
    }
  }

  void connection_opened() noexcept override {
    connections_open_->Increment();
    connections_total_->Increment();
  }
  void connection_closed() noexcept override { connections_open_->Decrement(); }
  void connection_rejected() noexcept override { connections_rejected_->Increment(); }
  void connection_handed_off() noexcept override { connections_handed_off_->Increment(); }
  void worker_stats_source(std::function<std::vector<WorkerStats>()> source) override {
    std::lock_guard lock(refresh_mu_);
    worker_source_ = std::move(source);
  }

  void bytes_from_clients(std::uint64_t n) noexcept override {
    bytes_.add(ByteCounters::kClientRx, n);
  }
  void bytes_to_clients(std::uint64_t n) noexcept override {
    bytes_.add(ByteCounters::kClientTx, n);
  }
  void bytes_from_upstreams(std::uint64_t n) noexcept override {
    bytes_.add(ByteCounters::kUpstreamRx, n);
  }
  void bytes_to_upstreams(std::uint64_t n) noexcept override {
    bytes_.add(ByteCounters::kUpstreamTx, n);
  }

  void cache_lookup(CacheLookup result) noexcept override {
    const auto i = static_cast<std::size_t>(result);
    if (i < cache_lookups_.size()) cache_lookups_[i]->Increment();
  }
  void cache_waiting(int delta) noexcept override { cache_waiting_->Increment(delta); }
  void cache_served_bytes(bool from_cache, std::uint64_t n) noexcept override {
    cache_served_[from_cache ? 0 : 1]->Increment(static_cast<double>(n));
  }
  void cache_origin_fetch(bool background) noexcept override {
    origin_fetches_[background ? 1 : 0]->Increment();
  }
  void cache_tier_source(CacheTier tier, std::function<CacheTierStats()> source) override {
    const auto i = static_cast<std::size_t>(tier);
    if (i >= kCacheTiers) return;
    std::lock_guard lock(refresh_mu_);
    tier_sources_[i] = std::move(source);
  }
  void cache_disk_hit() noexcept override { disk_hits_->Increment(); }
  void cache_storage_error(CacheTier tier, StorageOp op) noexcept override {
    const auto t = static_cast<std::size_t>(tier);
    const auto o = static_cast<std::size_t>(op);
    if (t < kCacheTiers && o < kStorageOps) storage_errors_[t][o]->Increment();
  }
  void cache_disk_write_dropped(DiskWriteDrop why) noexcept override {
    const auto i = static_cast<std::size_t>(why);
    if (i < disk_drops_.size()) disk_drops_[i]->Increment();
  }
  void timeout(TimeoutKind kind) noexcept override {
    const auto i = static_cast<std::size_t>(kind);
    if (i < timeouts_.size()) timeouts_[i]->Increment();
  }
  void parse_error(ParseErrorKind kind) noexcept override {
    const auto i = static_cast<std::size_t>(kind);
    if (i < parse_errors_.size()) parse_errors_[i]->Increment();
  }

  void cache_purge(PurgeKind kind, bool soft) noexcept override {
    const auto k = static_cast<std::size_t>(kind);
    if (k < kPurgeKinds) purges_[k][soft ? 1 : 0]->Increment();
  }
  void cache_purged(PurgeKind kind, bool soft, CacheTier tier,
                    std::uint64_t objects) noexcept override {
    const auto k = static_cast<std::size_t>(kind);
    const auto t = static_cast<std::size_t>(tier);
    if (k < kPurgeKinds && t < kCacheTiers) {
      purged_objects_[k][soft ? 1 : 0][t]->Increment(static_cast<double>(objects));
    }
  }

  // Rare (a reload, a resolve_interval tick): the label lookup is fine here.
  void dns_resolution(std::string_view upstream, DnsResult result) noexcept override {
    try {
      std::lock_guard lock(handles_mu_);
      dns_resolutions_
          ->Add({{"upstream", std::string(upstream)}, {"result", std::string(to_string(result))}})
          .Increment();
    } catch (const std::exception& e) {
      try {
        log_error(std::string("metrics: dns_resolution failed: ") + e.what());
      } catch (...) {
      }
    }
  }

  void config_reload(bool success, std::string_view hash) noexcept override {
    try {
      std::lock_guard lock(config_mu_);
      if (!success) {
        reloads_failure_->Increment();
        return;  // the running config, and so ghala_config_info, is unchanged
      }
      reloads_success_->Increment();
      last_reload_success_->SetToCurrentTime();
      if (config_info_ != nullptr && hash == config_hash_) return;
      // Only the running config's hash is exported: drop the old series before adding the new.
      if (config_info_ != nullptr) config_info_family_->Remove(config_info_);
      config_info_ = nullptr;
      config_hash_.assign(hash);
      config_info_ = &config_info_family_->Add({{"hash", config_hash_}});
      config_info_->Set(1);
    } catch (const std::exception& e) {
      try {
        log_error(std::string("metrics: config_reload failed: ") + e.what());
      } catch (...) {
      }
    }
  }

 private:
  template <class Builder>
  static auto& family(Builder&& b, prometheus::Registry& r, const char* name, const char* help) {
    return b.Name(name).Help(help).Register(r);
  }

  void build();
  void build_cache_tiers();
  void refresh();
  void refresh_cache_tiers();
  void refresh_workers(const std::vector<WorkerStats>& stats);

  std::shared_ptr<prometheus::Registry> registry_;

  Family<Counter>* requests_ = nullptr;
  Family<Histogram>* request_duration_ = nullptr;
  Family<Histogram>* upstream_duration_ = nullptr;
  Family<Counter>* upstream_errors_ = nullptr;
  Family<Counter>* dns_resolutions_ = nullptr;

  Gauge* connections_open_ = nullptr;
  Gauge* cache_waiting_ = nullptr;
  std::array<Counter*, 2> cache_served_{};    // [cache, origin]
  std::array<Counter*, 2> origin_fetches_{};  // [foreground, background]
  Counter* connections_total_ = nullptr;
  Counter* connections_rejected_ = nullptr;
  Counter* connections_handed_off_ = nullptr;
  Family<Gauge>* worker_connections_ = nullptr;
  Family<Counter>* worker_busy_ = nullptr;
  Family<Counter>* worker_yields_ = nullptr;
  std::function<std::vector<WorkerStats>()> worker_source_;  // guarded by refresh_mu_
  std::vector<WorkerStats> workers_folded_;                  // guarded by refresh_mu_
  std::array<Counter*, kTimeoutKinds> timeouts_{};
  std::array<Counter*, static_cast<std::size_t>(CacheLookup::kCount)> cache_lookups_{};
  std::array<Counter*, kParseErrorKinds> parse_errors_{};
  std::array<std::array<Counter*, 2>, kPurgeKinds> purges_{};  // [kind][hard, soft]
  std::array<std::array<std::array<Counter*, kCacheTiers>, 2>, kPurgeKinds> purged_objects_{};

  // Cache tiers: gauges and counters filled from the tiers' own stats at scrape time.
  static constexpr std::size_t kStorageOps = static_cast<std::size_t>(StorageOp::kCount);
  struct TierSeries {
    Gauge* objects = nullptr;
    Gauge* bytes = nullptr;
    Gauge* capacity = nullptr;
    Gauge* healthy = nullptr;
    Counter* evictions = nullptr;
    Counter* corrupt = nullptr;
    std::uint64_t evictions_folded = 0;  // guarded by refresh_mu_
    std::uint64_t corrupt_folded = 0;    // guarded by refresh_mu_
  };
  std::array<TierSeries, kCacheTiers> tiers_{};
  std::array<std::function<CacheTierStats()>, kCacheTiers> tier_sources_{};  // refresh_mu_
  Counter* disk_hits_ = nullptr;
  std::array<std::array<Counter*, kStorageOps>, kCacheTiers> storage_errors_{};
  std::array<Counter*, static_cast<std::size_t>(DiskWriteDrop::kCount)> disk_drops_{};

  ByteCounters bytes_;
  std::array<Counter*, ByteCounters::kCount> byte_counters_{};
  std::array<std::uint64_t, ByteCounters::kCount> bytes_folded_{};  // guarded by refresh_mu_
  std::mutex refresh_mu_;

  Gauge* resident_memory_ = nullptr;
  Gauge* open_fds_ = nullptr;

  std::mutex config_mu_;
  Counter* reloads_success_ = nullptr;
  Counter* reloads_failure_ = nullptr;
  Gauge* last_reload_success_ = nullptr;
  Family<Gauge>* config_info_family_ = nullptr;
  Gauge* config_info_ = nullptr;  // guarded by config_mu_
  std::string config_hash_;       // guarded by config_mu_

  std::mutex handles_mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<RouteMetricsImpl>> routes_;
  std::map<std::string, std::shared_ptr<UpstreamMetricsImpl>, std::less<>> upstreams_;
};

void MetricsImpl::build() {
  prometheus::Registry& r = *registry_;
  requests_ = &family(prometheus::BuildCounter(), r, "ghala_requests_total",
                      "Client requests answered, by site, route, method and status class.");
  request_duration_ = &family(prometheus::BuildHistogram(), r, "ghala_request_duration_seconds",
                              "Time from the first request byte to the last response byte.");
  upstream_duration_ =
      &family(prometheus::BuildHistogram(), r, "ghala_upstream_duration_seconds",
              "Time from the request sent to the upstream until its response head arrived.");
  upstream_errors_ = &family(prometheus::BuildCounter(), r, "ghala_upstream_errors_total",
                             "Failed upstream exchanges, by upstream and kind.");
  dns_resolutions_ =
      &family(prometheus::BuildCounter(), r, "ghala_upstream_dns_resolutions_total",
              "Resolutions of upstream server host names, by upstream and result (ok, changed, "
              "error).");

  const std::array<std::pair<const char*, const char*>, ByteCounters::kCount> byte_families = {{
      {"ghala_client_received_bytes_total", "Bytes read from client connections."},
      {"ghala_client_sent_bytes_total", "Bytes written to client connections."},
      {"ghala_upstream_received_bytes_total", "Bytes read from upstream connections."},
      {"ghala_upstream_sent_bytes_total", "Bytes written to upstream connections."},
  }};
  for (std::size_t i = 0; i < byte_families.size(); ++i) {
    byte_counters_[i] =
        &family(prometheus::BuildCounter(), r, byte_families[i].first, byte_families[i].second)
             .Add({});
  }

  connections_open_ = &family(prometheus::BuildGauge(), r, "ghala_connections_open",
                              "Client connections currently open.")
                           .Add({});
  connections_total_ = &family(prometheus::BuildCounter(), r, "ghala_connections_total",
                               "Client connections accepted.")
                            .Add({});
  connections_rejected_ =
      &family(prometheus::BuildCounter(), r, "ghala_connections_rejected_total",
              "Client connections closed at accept because limits.max_connections was reached.")
           .Add({});
  connections_handed_off_ =
      &family(prometheus::BuildCounter(), r, "ghala_connections_handed_off_total",
              "Client connections accepted by one worker and handed to a less loaded one.")
           .Add({});
  worker_connections_ =
      &family(prometheus::BuildGauge(), r, "ghala_worker_connections",
              "Client connections open on each worker, plus those being handed to it.");
  worker_busy_ = &family(prometheus::BuildCounter(), r, "ghala_worker_busy_seconds_total",
                         "Time each worker's event loop spent running rather than waiting for "
                         "events.");
  worker_yields_ = &family(prometheus::BuildCounter(), r, "ghala_worker_yields_total",
                           "Event-loop passes after which the worker yielded the CPU, having "
                           "run 100 us without waiting for events (worker_yield).");

  auto& timeouts = family(prometheus::BuildCounter(), r, "ghala_timeouts_total",
                          "Timeouts that fired, by kind.");
  for (std::size_t k = 0; k < kTimeoutKinds; ++k) {
    timeouts_[k] = &timeouts.Add({{"kind", std::string(to_string(static_cast<TimeoutKind>(k)))}});
  }
  auto& lookups = family(prometheus::BuildCounter(), r, "ghala_cache_lookups_total",
                         "Cache lookups, by result.");
  for (std::size_t k = 0; k < cache_lookups_.size(); ++k) {
    cache_lookups_[k] =
        &lookups.Add({{"result", std::string(to_string(static_cast<CacheLookup>(k)))}});
  }
  cache_waiting_ = &family(prometheus::BuildGauge(), r, "ghala_cache_coalesce_waiting",
                           "Requests waiting for another request's fetch of the same key.")
                        .Add({});
  auto& served = family(prometheus::BuildCounter(), r, "ghala_cache_served_bytes_total",
                        "Response body bytes of cacheable-route requests, by source.");
  cache_served_[0] = &served.Add({{"source", "cache"}});
  cache_served_[1] = &served.Add({{"source", "origin"}});
  auto& fetches = family(prometheus::BuildCounter(), r, "ghala_cache_origin_fetches_total",
                         "Origin requests made for cacheable requests, by kind.");
  origin_fetches_[0] = &fetches.Add({{"kind", "foreground"}});
  origin_fetches_[1] = &fetches.Add({{"kind", "background"}});
  auto& purges = family(prometheus::BuildCounter(), r, "ghala_cache_purges_total",
                        "Purge API requests that ran, by kind (url, prefix, tag) and mode.");
  auto& purged = family(prometheus::BuildCounter(), r, "ghala_cache_purged_objects_total",
                        "Objects purged (deleted or marked stale), by kind, mode and tier.");
  for (std::size_t k = 0; k < kPurgeKinds; ++k) {
    const auto kind = std::string(to_string(static_cast<PurgeKind>(k)));
    for (std::size_t m = 0; m < kPurgeModes.size(); ++m) {
      purges_[k][m] = &purges.Add({{"kind", kind}, {"mode", kPurgeModes[m]}});
      for (std::size_t t = 0; t < kCacheTiers; ++t) {
        purged_objects_[k][m][t] =
            &purged.Add({{"kind", kind},
                         {"mode", kPurgeModes[m]},
                         {"tier", std::string(to_string(static_cast<CacheTier>(t)))}});
      }
    }
  }
  build_cache_tiers();
  auto& parse_errors = family(prometheus::BuildCounter(), r, "ghala_http_parse_errors_total",
                              "Client requests rejected while parsing, by kind.");
  for (std::size_t k = 0; k < kParseErrorKinds; ++k) {
    parse_errors_[k] =
        &parse_errors.Add({{"kind", std::string(to_string(static_cast<ParseErrorKind>(k)))}});
  }

  auto& reloads = family(prometheus::BuildCounter(), r, "ghala_config_reloads_total",
                         "Configuration loads, by result (the startup load included).");
  reloads_success_ = &reloads.Add({{"result", "success"}});
  reloads_failure_ = &reloads.Add({{"result", "failure"}});
  last_reload_success_ =
      &family(prometheus::BuildGauge(), r, "ghala_config_last_reload_success_timestamp_seconds",
              "Unix time of the last successful configuration load.")
           .Add({});
  config_info_family_ = &family(prometheus::BuildGauge(), r, "ghala_config_info",
                                "Always 1; the hash label identifies the running configuration.");

  family(prometheus::BuildGauge(), r, "ghala_build_info",
         "Always 1; labels identify the ghala build.")
      .Add({{"version", GHALA_VERSION}, {"compiler", compiler_string()}})
      .Set(1);

  resident_memory_ = &family(prometheus::BuildGauge(), r, "ghala_process_resident_memory_bytes",
                             "Resident set size of the ghala process.")
                          .Add({});
  open_fds_ = &family(prometheus::BuildGauge(), r, "ghala_process_open_fds",
                      "File descriptors open in the ghala process.")
                   .Add({});
}

void MetricsImpl::build_cache_tiers() {
  prometheus::Registry& r = *registry_;
  auto& objects = family(prometheus::BuildGauge(), r, "ghala_cache_objects",
                         "Objects stored in each cache tier.");
  auto& bytes = family(prometheus::BuildGauge(), r, "ghala_cache_bytes",
                       "Bytes charged to each cache tier (see docs/caching.md for what counts).");
  auto& capacity = family(prometheus::BuildGauge(), r, "ghala_cache_capacity_bytes",
                          "Configured size bound of each cache tier.");
  auto& healthy = family(prometheus::BuildGauge(), r, "ghala_cache_tier_healthy",
                         "1 when the tier is in use, 0 while it is bypassed after errors.");
  auto& evictions = family(prometheus::BuildCounter(), r, "ghala_cache_evictions_total",
                           "Objects evicted for space, by tier.");
  auto& corrupt = family(prometheus::BuildCounter(), r, "ghala_cache_corrupt_objects_total",
                         "Stored objects dropped because a checksum or length check failed.");
  disk_hits_ = &family(prometheus::BuildCounter(), r, "ghala_cache_disk_hits_total",
                       "Memory misses whose variant was found in the disk tier.")
                    .Add({});
  auto& errors = family(prometheus::BuildCounter(), r, "ghala_cache_storage_errors_total",
                        "Failed cache storage operations, by tier and operation.");
  auto& drops = family(prometheus::BuildCounter(), r, "ghala_cache_disk_writes_dropped_total",
                       "Responses not written to the disk tier, by reason.");
  for (std::size_t t = 0; t < kCacheTiers; ++t) {
    const std::string tier(to_string(static_cast<CacheTier>(t)));
    tiers_[t].objects = &objects.Add({{"tier", tier}});
    tiers_[t].bytes = &bytes.Add({{"tier", tier}});
    tiers_[t].capacity = &capacity.Add({{"tier", tier}});
    tiers_[t].healthy = &healthy.Add({{"tier", tier}});
    tiers_[t].evictions = &evictions.Add({{"tier", tier}});
    tiers_[t].corrupt = &corrupt.Add({{"tier", tier}});
    for (std::size_t o = 0; o < kStorageOps; ++o) {
      storage_errors_[t][o] =
          &errors.Add({{"tier", tier}, {"operation", std::string(to_string(StorageOp(o)))}});
    }
  }
  for (std::size_t d = 0; d < disk_drops_.size(); ++d) {
    disk_drops_[d] = &drops.Add({{"reason", std::string(to_string(DiskWriteDrop(d)))}});
  }
}

// Tier totals come from the tiers themselves; counters get the difference since the last fold.
// A tier without a source (not configured) exports zeros and healthy 0.
void MetricsImpl::refresh_cache_tiers() {
  for (std::size_t t = 0; t < kCacheTiers; ++t) {
    auto& series = tiers_[t];
    if (!tier_sources_[t]) {
      series.healthy->Set(0);
      continue;
    }
    const CacheTierStats s = tier_sources_[t]();
    series.objects->Set(static_cast<double>(s.objects));
    series.bytes->Set(static_cast<double>(s.bytes));
    series.capacity->Set(static_cast<double>(s.capacity_bytes));
    series.healthy->Set(s.healthy ? 1 : 0);
    if (s.evictions > series.evictions_folded) {
      series.evictions->Increment(static_cast<double>(s.evictions - series.evictions_folded));
      series.evictions_folded = s.evictions;
    }
    if (s.corrupt_dropped > series.corrupt_folded) {
      series.corrupt->Increment(static_cast<double>(s.corrupt_dropped - series.corrupt_folded));
      series.corrupt_folded = s.corrupt_dropped;
    }
  }
}

// Counters get the difference since the last fold. Worker indexes are stable for the life of
// the process (the worker count needs a restart).
void MetricsImpl::refresh_workers(const std::vector<WorkerStats>& stats) {
  if (workers_folded_.size() < stats.size()) workers_folded_.resize(stats.size());
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const prometheus::Labels labels{{"worker", std::to_string(i)}};
    const WorkerStats& s = stats[i];
    WorkerStats& folded = workers_folded_[i];
    worker_connections_->Add(labels).Set(s.connections);
    auto& busy = worker_busy_->Add(labels);
    auto& yields = worker_yields_->Add(labels);
    if (s.busy_ns > folded.busy_ns) {
      busy.Increment(static_cast<double>(s.busy_ns - folded.busy_ns) / 1e9);
      folded.busy_ns = s.busy_ns;
    }
    if (s.yields > folded.yields) {
      yields.Increment(static_cast<double>(s.yields - folded.yields));
      folded.yields = s.yields;
    }
  }
}

// Brings the values that are not maintained in the registry up to date; runs before each
// collection. Folding adds only the difference since the previous fold, so it is idempotent and
// safe against concurrent scrapes (the mutex orders them).
void MetricsImpl::refresh() {
  std::lock_guard lock(refresh_mu_);
  for (std::size_t i = 0; i < ByteCounters::kCount; ++i) {
    const std::uint64_t total = bytes_.sum(static_cast<ByteCounters::Index>(i));
    if (total > bytes_folded_[i]) {
      byte_counters_[i]->Increment(static_cast<double>(total - bytes_folded_[i]));
      bytes_folded_[i] = total;
    }
  }
  {
    std::lock_guard handles(handles_mu_);  // order: refresh_mu_, then handles_mu_
    for (auto& [key, route] : routes_) route->fold();
    for (auto& [key, upstream] : upstreams_) upstream->fold();
  }
  refresh_cache_tiers();
  if (worker_source_) refresh_workers(worker_source_());
  double value = 0;
  if (read_resident_bytes(value)) resident_memory_->Set(value);
  if (count_open_fds(value)) open_fds_->Set(value);
}

}  // namespace

std::unique_ptr<Metrics> Metrics::create() {
  return std::make_unique<MetricsImpl>();
}

Metrics& Metrics::get() {
  // Deliberately never destroyed: worker threads and atexit handlers may still count while the
  // process exits, and a destroyed registry would turn that into use-after-free.
  static Metrics* const instance = create().release();
  return *instance;
}

}  // namespace ghala::observe
