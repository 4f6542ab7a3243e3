#include "server/worker.hpp"

#include "ghala/core/log.hpp"
#include "server/client_conn.hpp"
#include "server/exchange.hpp"
#include "server/revalidation.hpp"
#include "server/server.hpp"

namespace ghala::server {

namespace {
constexpr std::uint64_t kTickMs = 200;  // access-log flush and pool sweep interval

// A server resolved from a name has one pool per address: the key holds the address (in
// address.text) and the name it came from, so an address that leaves the name's answer retires
// its pool as a removed server's does on reload.
std::string pool_key(const config::Upstream& up, const config::UpstreamServer& s) {
  return up.name + "|" + s.host_name + "|" + s.address.text + "|" + std::to_string(s.weight);
}
}  // namespace

Worker::Worker(Server* server, int index, bool admin, std::vector<ListenFd> listen_fds,
               SnapshotPtr snapshot)
    : server_(server),
      index_(index),
      admin_(admin),
      listen_fds_(std::move(listen_fds)),
      access_log_(nullptr) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, &Worker::on_async);
  async_.data = this;
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_init(&loop_, &deadline_);
  deadline_.data = this;
  uv_check_init(&loop_, &reaper_);
  reaper_.data = this;
  apply_snapshot(std::move(snapshot));
  for (const auto& lf : listen_fds_) {
    auto tcp = std::make_unique<uv_tcp_t>();
    uv_tcp_init(&loop_, tcp.get());
    tcp->data = this;
    int rc = uv_tcp_open(tcp.get(), lf.fd);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp.get()), lf.backlog,
                     [](uv_stream_t* l, int status) {
                       if (status == 0) static_cast<Worker*>(l->data)->on_accept(l);
                     });
    }
    if (rc != 0) log_error(std::string("worker: cannot listen: ") + uv_strerror(rc));
    listeners_.push_back(std::move(tcp));
  }
  uv_timer_start(
      &tick_,
      [](uv_timer_t* t) {
        auto* w = static_cast<Worker*>(t->data);
        w->access_log_.flush();
        for (auto& [key, pool] : w->pools_) pool->trim();
        w->sweep_retired_pools();
        w->check_lock_timeouts();
      },
      kTickMs, kTickMs);
}

Worker::~Worker() {
  retired_exchanges_.clear();
  // The loop has ended: every handle is closed, so pools and their connections are gone too.
  per_upstream_.clear();
  pools_.clear();
  retired_pools_.clear();
  uv_loop_close(&loop_);
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  access_log_.flush();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------------------------------------
// Cross-thread requests

void Worker::post_snapshot(SnapshotPtr snapshot) {
  {
    std::lock_guard lock(mu_);
    pending_snapshot_ = std::move(snapshot);
  }
  uv_async_send(&async_);
}

void Worker::post_shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    pending_shutdown_ = true;
    pending_grace_ = grace;
  }
  uv_async_send(&async_);
}

void Worker::post_flush() {
  {
    std::lock_guard lock(mu_);
    pending_flush_ = true;
  }
  uv_async_send(&async_);
}

void Worker::post_wake(WaitTokenPtr token) {
  {
    std::lock_guard lock(mu_);
    if (token->queued) return;
    token->queued = true;
    pending_wakes_.push_back(std::move(token));
  }
  uv_async_send(&async_);
}

void Worker::on_async(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  SnapshotPtr snap;
  bool shutdown = false;
  bool flush = false;
  std::chrono::milliseconds grace{0};
  std::vector<WaitTokenPtr> wakes;
  {
    std::lock_guard lock(w->mu_);
    wakes.swap(w->pending_wakes_);
    for (auto& t : wakes) t->queued = false;
    snap = std::move(w->pending_snapshot_);
    w->pending_snapshot_.reset();
    shutdown = std::exchange(w->pending_shutdown_, false);
    flush = std::exchange(w->pending_flush_, false);
    grace = w->pending_grace_;
  }
  if (snap && !w->closed_) w->apply_snapshot(std::move(snap));
  if (flush) w->access_log_.flush();
  w->run_wakes(std::move(wakes));
  if (shutdown) w->begin_shutdown(grace);
}

// A token's exchange is null once that exchange stopped waiting or went away; running one wake
// never destroys another connection's exchange, so the rest of the batch stays valid.
void Worker::run_wakes(std::vector<WaitTokenPtr> wakes) {
  for (auto& t : wakes) {
    if (t->exchange) t->exchange->on_coalesced_wake();
  }
}

// The check phase runs after the poll phase's callbacks have returned: no retired exchange is on
// the stack any more. An exchange's destructor does not touch its (possibly closing) connection
// once it has finished.
void Worker::retire(std::unique_ptr<Exchange> e) {
  if (!e) return;
  if (retired_exchanges_.empty() && !closed_) {
    uv_check_start(&reaper_, [](uv_check_t* c) {
      auto* w = static_cast<Worker*>(c->data);
      w->retired_exchanges_.clear();
      uv_check_stop(c);
    });
  }
  retired_exchanges_.push_back(std::move(e));
}

void Worker::check_lock_timeouts() {
  if (waiting_.empty()) return;
  const auto now = uv_now(&loop_);
  std::vector<Exchange*> due(waiting_.begin(), waiting_.end());
  for (auto* e : due) {
    if (waiting_.contains(e)) e->on_lock_tick(now);
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshots and pools

void Worker::apply_snapshot(SnapshotPtr snapshot) {
  snapshot_ = std::move(snapshot);
  access_log_.set_sink(snapshot_->access_log);
  const auto& cfg = *snapshot_->config;
  std::map<std::string, std::unique_ptr<upstream::UpstreamPool>> next;
  per_upstream_.assign(cfg.upstreams.size(), {});
  for (std::size_t i = 0; i < cfg.upstreams.size(); ++i) {
    const auto& up = cfg.upstreams[i];
    if (up.kind != config::OriginKind::Http) continue;
    for (const auto& s : up.servers) {
      auto key = pool_key(up, s);
      std::unique_ptr<upstream::UpstreamPool> pool;
      if (auto it = pools_.find(key); it != pools_.end()) {
        pool = std::move(it->second);
        pools_.erase(it);
        pool->update(up, snapshot_->upstreams[i].metrics);
      } else if (auto it2 = next.find(key); it2 == next.end()) {
        pool = std::make_unique<upstream::UpstreamPool>(&loop_, &blocks_, s, up,
                                                        snapshot_->upstreams[i].metrics);
      }
      if (pool) {
        per_upstream_[i].push_back(pool.get());
        next.emplace(key, std::move(pool));
      } else {
        per_upstream_[i].push_back(next[key].get());  // the same server listed twice
      }
    }
  }
  for (auto& [key, pool] : pools_) {
    pool->retire();
    retired_pools_.push_back(std::move(pool));
  }
  pools_ = std::move(next);
  sweep_retired_pools();
}

std::vector<upstream::UpstreamPool*>& Worker::pools_for(
    const Snapshot& snap, std::size_t upstream_index,
    std::vector<upstream::UpstreamPool*>& scratch) {
  if (&snap == snapshot_.get()) return per_upstream_[upstream_index];
  scratch.clear();
  const auto& up = snap.config->upstreams[upstream_index];
  for (const auto& s : up.servers) {
    const auto key = pool_key(up, s);
    if (auto it = pools_.find(key); it != pools_.end()) {
      scratch.push_back(it->second.get());
      continue;
    }
    for (auto& p : retired_pools_) {
      if (pool_key(p->settings(), p->server()) == key) {
        scratch.push_back(p.get());
        break;
      }
    }
  }
  return scratch;
}

void Worker::sweep_retired_pools() {
  std::erase_if(retired_pools_, [](const auto& p) { return p->empty(); });
}

// ---------------------------------------------------------------------------------------------
// Connections

void Worker::on_accept(uv_stream_t* listener) {
  if (draining_) return;
  const auto max = snapshot_->config->limits.max_connections;
  if (!admin_ && server_->connections().load(std::memory_order_relaxed) >= max) {
    // Over the limit: accept and close at once, so the kernel's queue does not fill with
    // connections that would wait for a timeout.
    auto* tmp = new uv_tcp_t;
    uv_tcp_init(&loop_, tmp);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(tmp)) == 0) {
      observe::Metrics::get().connection_rejected();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(tmp),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return;
  }
  auto* conn = new ClientConn(this);
  conn->accept(listener);  // on failure it closes and frees itself
}

void Worker::connection_opened(ClientConn* c) {
  c->next = conns_;
  c->prev = nullptr;
  if (conns_) conns_->prev = c;
  conns_ = c;
  ++conn_count_;
  if (!admin_) server_->connections().fetch_add(1, std::memory_order_relaxed);
}

void Worker::connection_closed(ClientConn* c) {
  if (c->prev) c->prev->next = c->next;
  if (c->next) c->next->prev = c->prev;
  if (conns_ == c) conns_ = c->next;
  c->next = c->prev = nullptr;
  --conn_count_;
  if (!admin_) server_->connections().fetch_sub(1, std::memory_order_relaxed);
  if (draining_) maybe_finish_shutdown();
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown: stop accepting, let in-flight requests finish (their connections close
// after the response), close idle connections now, and force-close what is left at the deadline.

void Worker::begin_shutdown(std::chrono::milliseconds grace) {
  if (draining_) return;
  draining_ = true;
  for (auto& l : listeners_) uv_close(reinterpret_cast<uv_handle_t*>(l.get()), nullptr);
  std::vector<ClientConn*> conns;
  for (auto* c = conns_; c; c = c->next) conns.push_back(c);
  for (auto* c : conns) c->drain();
  uv_timer_start(
      &deadline_,
      [](uv_timer_t* t) {
        auto* w = static_cast<Worker*>(t->data);
        observe::Metrics::get().timeout(observe::TimeoutKind::Shutdown);
        w->force_close_all();
      },
      static_cast<std::uint64_t>(grace.count()), 0);
  maybe_finish_shutdown();
}

void Worker::force_close_all() {
  std::vector<ClientConn*> conns;
  for (auto* c = conns_; c; c = c->next) conns.push_back(c);
  if (!conns.empty())
    log_warn("shutdown grace expired: closing " + std::to_string(conns.size()) + " connections");
  for (auto* c : conns) c->close();
}

void Worker::maybe_finish_shutdown() {
  if (!draining_ || closed_ || conn_count_ != 0) return;
  closed_ = true;
  while (!background_.empty()) (*background_.begin())->cancel();  // cancel() erases it
  access_log_.flush();
  for (auto& [key, pool] : pools_) pool->retire();
  for (auto& p : retired_pools_) p->retire();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
  retired_exchanges_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
  server_->worker_finished(this);
}

}  // namespace ghala::server
