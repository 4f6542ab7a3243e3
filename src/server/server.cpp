#include "server/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "ghala/config/resolve.hpp"
#include "ghala/core/log.hpp"
#include "ghala/observe/metrics.hpp"
#include "ghala_build_config.h"
#include "observe/json_string.hpp"
#include "server/purge.hpp"

namespace ghala::server {

namespace {

// The tiers' totals are read at each scrape. The sources hold weak references: the metrics
// registry lives until exit and must not keep the RocksDB tier open past the server.
void export_cache_tiers(const Snapshot& snap) {
  auto& metrics = observe::Metrics::get();
  if (snap.memory) {
    std::weak_ptr<cache::MemoryTier> weak = snap.memory;
    metrics.cache_tier_source(observe::CacheTier::Memory, [weak] {
      observe::CacheTierStats out;
      if (auto tier = weak.lock()) {
        const auto s = tier->stats();
        out.objects = s.objects;
        out.bytes = s.bytes;
        out.capacity_bytes = s.capacity_bytes;
        out.evictions = s.evicted_capacity;
      }
      return out;
    });
  }
  if (snap.disk) {
    std::weak_ptr<cache::DiskTier> weak = snap.disk;
    const std::uint64_t capacity = snap.config->cache.disk ? snap.config->cache.disk->max_size : 0;
    metrics.cache_tier_source(observe::CacheTier::Disk, [weak, capacity] {
      observe::CacheTierStats out;
      out.capacity_bytes = capacity;
      out.healthy = false;
      if (auto tier = weak.lock()) {
        const auto s = tier->stats();
        out.objects = s.objects;
        out.bytes = s.bytes;
        out.evictions = s.evictions;
        out.corrupt_dropped = s.corrupt_dropped;
        out.healthy = s.healthy;
      }
      return out;
    });
  }
}

// A bound (not yet listening) TCP socket. SO_REUSEPORT lets every worker own a socket on the same
// address and the kernel spread connections across them; libuv 1.44 has no flag for it, so the
// socket is made here, and the worker listens and accepts on it (Worker::listen_on).
int bind_socket(const config::SocketAddress& a, std::uint16_t port, bool reuseport,
                std::string& err) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const std::string& host = a.host;  // a literal address: listeners take no names
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (uv_ip4_addr(host.c_str(), port, v4) == 0) {
    len = sizeof(sockaddr_in);
  } else if (uv_ip6_addr(host.c_str(), port, v6) == 0) {
    len = sizeof(sockaddr_in6);
  } else {
    err = "not an IP address: " + a.host;
    return -1;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

std::string host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// Every client connection costs a descriptor, and so does every upstream connection: raise the
// soft limit to the hard one (as nginx's worker_rlimit_nofile does) and say so when the
// configured max_connections cannot fit.
void raise_fd_limit(std::uint32_t max_connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  // Headroom: listeners, upstream connections, log files.
  const rlim_t need = static_cast<rlim_t>(max_connections) + 1024;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    log_warn(
        "open-file limit " + std::to_string(rl.rlim_cur) + " is below limits.max_connections (" +
        std::to_string(max_connections) +
        ") plus upstream connections; raise it (ulimit -n, LimitNOFILE=) or lower max_connections");
  }
}

void log_errors(const std::vector<config::ConfigError>& errors) {
  for (const auto& e : errors) log_error(e.format());
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() = default;

config::LoadResult Server::load() const {
  if (options_.config_path.empty()) {
    return config::load_string(options_.embedded_yaml, "<embedded>", options_.embedded_base_dir);
  }
  return config::load_file(options_.config_path);
}

bool Server::bind_listeners(const config::Config& cfg, std::size_t workers,
                            std::vector<std::vector<ListenFd>>& per_worker,
                            std::vector<ListenFd>& admin, std::vector<std::string>& bound,
                            std::string& admin_bound) {
  per_worker.assign(workers, {});
  std::string err;
  for (const auto& l : cfg.listeners) {
    std::uint16_t port = l.address.port;
    for (std::size_t w = 0; w < workers; ++w) {
      int fd = bind_socket(l.address, port, true, err);
      if (fd < 0) {
        log_error("cannot bind " + l.address.text + ": " + err);
        return false;
      }
      if (port == 0)
        port = bound_port(fd);  // the other workers share the port chosen for the first
      per_worker[w].push_back(ListenFd{fd, l.backlog});
    }
    bound.push_back(host_port(l.address.host, port));
  }
  if (cfg.admin.listen) {
    int fd = bind_socket(*cfg.admin.listen, cfg.admin.listen->port, false, err);
    if (fd < 0) {
      log_error("cannot bind admin " + cfg.admin.listen->text + ": " + err);
      return false;
    }
    admin.push_back(ListenFd{fd, 128});
    admin_bound = host_port(cfg.admin.listen->host, bound_port(fd));
  }
  return true;
}

bool Server::write_ready_file(const std::vector<std::string>& bound,
                              const std::string& admin_bound) const {
  if (options_.ready_file.empty()) return true;
  std::string json = "{\"pid\":" + std::to_string(::getpid()) + ",\"listen\":[";
  for (std::size_t i = 0; i < bound.size(); ++i) {
    if (i) json += ',';
    observe::append_json_string(bound[i], json);
  }
  json += "],\"admin\":";
  if (admin_bound.empty()) {
    json += "null";
  } else {
    observe::append_json_string(admin_bound, json);
  }
  json += "}\n";
  const std::string tmp = options_.ready_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), options_.ready_file.c_str()) == 0;
}

int Server::run() {
  auto loaded = load();
  if (!loaded.config) {
    log_errors(loaded.errors);
    log_error("configuration refused; not starting");
    return 1;
  }
  // Nothing is served yet, so the names are resolved here, blocking: a name that does not resolve
  // stops the start like any other config error.
  config::AddressBook book;
  if (auto errors = config::resolve_names(*loaded.config, config::resolve_with_system, book);
      !errors.empty()) {
    log_errors(errors);
    log_error("configuration refused; not starting");
    return 1;
  }
  auto snap = build_snapshot(config::with_addresses(*loaded.config, book), nullptr);
  if (!snap) {
    log_error(snap.error().message);
    return 1;
  }
  startup_config_ = loaded.config;
  loaded_config_ = loaded.config;
  raise_fd_limit(loaded.config->limits.max_connections);
  snapshot_ = snap.value();
  export_cache_tiers(*snapshot_);
  const auto& cfg = *startup_config_;
  std::size_t n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::vector<ListenFd>> per_worker;
  std::vector<ListenFd> admin_fds;
  std::vector<std::string> bound;
  std::string admin_bound;
  if (!bind_listeners(cfg, n, per_worker, admin_fds, bound, admin_bound)) return 1;

  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(
        std::make_unique<Worker>(this, static_cast<int>(i), false, per_worker[i], snapshot_));
  }
  admin_worker_ = std::make_unique<Worker>(this, -1, true, admin_fds, snapshot_);
  observe::Metrics::get().worker_stats_source([this] {
    std::vector<observe::Metrics::WorkerStats> stats;
    stats.reserve(workers_.size());
    for (const auto& w : workers_) stats.push_back({w->load(), w->busy_ns(), w->yields()});
    return stats;
  });
  observe::Metrics::get().config_reload(true, cfg.hash);
  start_signals();
  start_dns();
  dns_.reset(*loaded_config_, std::move(book), uv_now(admin_worker_->loop()));
  schedule_dns();
  for (auto& w : workers_) w->start();

  std::string where;
  for (const auto& b : bound) where += (where.empty() ? "" : ", ") + b;
  log_info("ghala " GHALA_VERSION " serving on " + where +
           (admin_bound.empty() ? "" : "; admin on " + admin_bound) + " with " + std::to_string(n) +
           " workers (config " + cfg.source + ", hash " + cfg.hash + ")");
  if (!write_ready_file(bound, admin_bound))
    log_error("cannot write ready file " + options_.ready_file);

  admin_worker_->run();  // the main loop: admin listener and signals, until shutdown completes
  for (auto& w : workers_) w->join();
  observe::Metrics::get().worker_stats_source({});
  workers_.clear();
  admin_worker_.reset();
  log_info("ghala stopped");
  return 0;
}

void Server::start_signals() {
  uv_loop_t* loop = admin_worker_->loop();
  auto init = [&](uv_signal_t& s, int signum, uv_signal_cb cb) {
    uv_signal_init(loop, &s);
    s.data = this;
    uv_signal_start(&s, cb, signum);
  };
  init(sig_hup_, SIGHUP, [](uv_signal_t* s, int) {
    log_info("SIGHUP: reloading configuration");
    static_cast<Server*>(s->data)->reload([](const admin::ReloadOutcome&) {});
  });
  auto term = [](uv_signal_t* s, int signum) {
    log_info(std::string(signum == SIGINT ? "SIGINT" : "SIGTERM") + ": graceful shutdown");
    static_cast<Server*>(s->data)->begin_shutdown();
  };
  init(sig_term_, SIGTERM, term);
  init(sig_int_, SIGINT, term);
  init(sig_usr1_, SIGUSR1,
       [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->reopen_logs(); });
  uv_timer_init(loop, &shutdown_poll_);
  shutdown_poll_.data = this;
}

// A reload loads and validates the file on the main thread, resolves the new config's host names
// on resolver threads (the admin loop keeps answering meanwhile), then builds the snapshot and
// posts it to the workers. One reload runs at a time; reloads asked for meanwhile wait for the
// next one, which reads the file again.
void Server::reload(std::function<void(const admin::ReloadOutcome&)> done) {
  reload_waiters_.push_back(std::move(done));
  if (!reload_running_) start_reload();
}

void Server::start_reload() {
  auto waiters = std::move(reload_waiters_);
  reload_waiters_.clear();
  auto answer = [this, waiters = std::move(waiters)](const admin::ReloadOutcome& out) {
    reload_running_ = false;
    for (const auto& w : waiters) w(out);
    if (!reload_waiters_.empty()) start_reload();
  };
  admin::ReloadOutcome out;
  out.hash = snapshot_->config->hash;
  if (draining_) {
    out.errors.push_back("shutting down");
    return answer(out);
  }
  reload_running_ = true;
  auto loaded = load();
  if (!loaded.config) {
    for (const auto& e : loaded.errors) out.errors.push_back(e.format());
    log_errors(loaded.errors);
    refuse_reload(out);
    return answer(out);
  }
  auto names = config::host_names(*loaded.config);
  if (names.empty()) {
    finish_reload(loaded.config, {}, out);
    return answer(out);
  }
  resolver_->resolve(std::move(names), [this, config = loaded.config, out,
                                        answer](const DnsResults& results) mutable {
    finish_reload(config, results, out);
    answer(out);
  });
}

void Server::refuse_reload(admin::ReloadOutcome& out) {
  log_error("reload refused: the running configuration stays in force");
  observe::Metrics::get().config_reload(false, snapshot_->config->hash);
  out.hash = snapshot_->config->hash;
}

void Server::finish_reload(const config::ConfigPtr& loaded, const DnsResults& results,
                           admin::ReloadOutcome& out) {
  if (draining_) {
    out.errors.push_back("shutting down");
    return;
  }
  auto addresses = merge_for_reload(*loaded, results, dns_.book());
  if (!addresses.errors.empty()) {
    for (const auto& e : addresses.errors) out.errors.push_back(e.format());
    log_errors(addresses.errors);
    return refuse_reload(out);
  }
  for (const auto& w : addresses.warnings) log_warn(w);
  auto snap = build_snapshot(config::with_addresses(*loaded, addresses.book), snapshot_.get());
  if (!snap) {
    out.errors.push_back(snap.error().message);
    log_error(snap.error().message);
    return refuse_reload(out);
  }
  out.restart_required = config::restart_required_changes(*startup_config_, *loaded);
  swap_snapshot(snap.value());
  loaded_config_ = loaded;
  ++generation_;
  dns_.reset(*loaded, std::move(addresses.book), uv_now(admin_worker_->loop()));
  schedule_dns();
  observe::Metrics::get().config_reload(true, snapshot_->config->hash);
  out.applied = true;
  out.hash = snapshot_->config->hash;
  log_info("configuration reloaded (hash " + out.hash + ")");
  for (const auto& r : out.restart_required) log_warn("needs a restart to take effect: " + r);
}

void Server::swap_snapshot(SnapshotPtr snap) {
  snapshot_ = std::move(snap);
  for (auto& w : workers_) w->post_snapshot(snapshot_);
  admin_worker_->post_snapshot(snapshot_);
}

// ---------------------------------------------------------------------------------------------
// Re-resolution (resolve_interval): a one-shot timer on the main loop fires when the next
// upstream is due; its names are resolved on resolver threads; when an address set changed, a
// snapshot is built from the same loaded config with the new addresses and swapped in exactly as
// a reload's is (requests in flight finish on theirs; pools of vanished addresses retire).

void Server::start_dns() {
  uv_loop_t* loop = admin_worker_->loop();
  resolver_ = std::make_unique<NameResolver>(loop, config::resolve_with_system);
  uv_timer_init(loop, &dns_timer_);
  dns_timer_.data = this;
}

void Server::schedule_dns() {
  if (draining_) return;
  const auto in = dns_.next_due_in(uv_now(admin_worker_->loop()));
  if (!in) {
    uv_timer_stop(&dns_timer_);
    return;
  }
  uv_timer_start(
      &dns_timer_, [](uv_timer_t* t) { static_cast<Server*>(t->data)->on_dns_due(); }, *in, 0);
}

void Server::on_dns_due() {
  if (draining_) return;
  uv_loop_t* loop = admin_worker_->loop();
  for (const std::size_t entry : dns_.take_due(uv_now(loop))) {
    resolver_->resolve(dns_.names(entry),
                       [this, entry, generation = generation_](const DnsResults& results) {
                         // A reload since then has its own addresses and schedule.
                         if (generation != generation_ || draining_) return;
                         if (dns_.apply(entry, results, uv_now(admin_worker_->loop())))
                           rebuild_for_new_addresses();
                         schedule_dns();
                       });
  }
  schedule_dns();
}

void Server::rebuild_for_new_addresses() {
  auto snap = build_snapshot(config::with_addresses(*loaded_config_, dns_.book()), snapshot_.get());
  if (!snap) {
    log_error("upstream addresses changed, but the new snapshot failed: " + snap.error().message);
    return;
  }
  swap_snapshot(snap.value());
  log_info("upstream addresses changed: serving them (config hash " + snapshot_->config->hash +
           ")");
}

std::string Server::admin_token() const {
  return snapshot_->config->admin.token;
}

std::string Server::purge_token() const {
  return snapshot_->config->cache.purge_token;
}

void Server::purge(admin::PurgeRequest request, std::function<void(admin::PurgeOutcome)> done) {
  run_purge(admin_worker_->loop(), snapshot_->config, purge_stores(*snapshot_), std::move(request),
            std::move(done));
}

void Server::begin_shutdown() {
  if (draining_.exchange(true)) return;
  uv_timer_stop(&dns_timer_);
  const auto grace = snapshot_->config->timeouts.shutdown_grace;
  for (auto& w : workers_) w->post_shutdown(grace);
  // Poll until the workers are done, then stop the main loop's own handles.
  uv_timer_start(
      &shutdown_poll_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        if (self->finished_workers_.load() < self->workers_.size()) return;
        uv_timer_stop(t);
        uv_close(reinterpret_cast<uv_handle_t*>(&self->dns_timer_), nullptr);
        self->resolver_->close();
        for (uv_signal_t* s :
             {&self->sig_hup_, &self->sig_term_, &self->sig_int_, &self->sig_usr1_}) {
          uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
        }
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        self->admin_worker_->post_shutdown(std::chrono::milliseconds(1000));
      },
      20, 20);
}

void Server::worker_finished(Worker* worker) {
  if (worker->admin()) return;
  finished_workers_.fetch_add(1);
}

void Server::reopen_logs() {
  for (auto& w : workers_) w->post_flush();
  admin_worker_->access_log().flush();
  if (auto s = snapshot_->access_log->reopen(); !s) {
    log_error("access log reopen failed: " + s.error().message);
  } else {
    log_info("access log reopened");
  }
}

}  // namespace ghala::server
