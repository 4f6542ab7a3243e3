#include "server/worker.hpp"

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ghala/core/log.hpp"
#include "server/balance.hpp"
#include "server/client_conn.hpp"
#include "server/exchange.hpp"
#include "server/revalidation.hpp"
#include "server/server.hpp"

namespace ghala::server {

namespace {
constexpr std::uint64_t kTickMs = 200;  // access-log flush and pool sweep interval
// worker_yield: how long a worker runs without waiting in its poll before it yields the CPU.
// 0 (every such pass) gave the same tail as 100 us in the bench, with a yield after nearly
// every pass at low load; 500 us doubled the tail (docs/benchmarks.md).
constexpr std::uint64_t kYieldQuantumNs = 100'000;
// accept() calls per readable event: a burst of connections does not hold up the loop's other
// work; the listener is level-triggered, so the rest are taken on the next loop iteration.
constexpr int kAcceptBatch = 64;
// How long a worker stops accepting after accept() ran out of descriptors or memory (as nginx
// does); meanwhile new connections wait in the kernel's listen queue.
constexpr std::uint64_t kAcceptPauseMs = 100;

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
  if (!admin) {
    // Idle time lets on_pass_end tell a pass that waited in the poll from one that found work
    // already waiting. Costs one epoll_wait(0) before each blocking wait.
    uv_loop_configure(&loop_, UV_METRICS_IDLE_TIME);
    uv_check_init(&loop_, &pacer_);
    pacer_.data = this;
    uv_check_start(&pacer_, &Worker::on_pass_end);
    uv_unref(reinterpret_cast<uv_handle_t*>(&pacer_));
  }
  uv_async_init(&loop_, &async_, &Worker::on_async);
  async_.data = this;
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_init(&loop_, &deadline_);
  deadline_.data = this;
  uv_check_init(&loop_, &reaper_);
  reaper_.data = this;
  uv_timer_init(&loop_, &accept_pause_);
  accept_pause_.data = this;
  apply_snapshot(std::move(snapshot));
  for (const auto& lf : listen_fds_) listen_on(lf);
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
  run_started_ns_ = uv_hrtime();
  if (!admin_) idle_at_start_ns_ = last_idle_ns_ = uv_metrics_idle_time(&loop_);
  uv_run(&loop_, UV_RUN_DEFAULT);
  access_log_.flush();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

// The end of each poll phase. If the loop's idle time did not move, the poll found events
// already waiting (or was told not to wait): the worker has been running since its last wait.
// Saturated, it would run on, since every pass finds more, and the scheduler would let it run
// until its tick preempts it (up to 4 ms at HZ=250) while the threads sharing its CPU wait: a
// client or an origin on the same host, a sidecar, the other worker. Their stalls come back to
// ghala's connections as multi-millisecond tails. So a worker that has run for kYieldQuantumNs
// without waiting calls sched_yield() after its pass; alone on its CPU it is back at once.
void Worker::on_pass_end(uv_check_t* c) {
  auto* w = static_cast<Worker*>(c->data);
  const std::uint64_t idle = uv_metrics_idle_time(&w->loop_);
  const bool waited = idle != w->last_idle_ns_;
  w->last_idle_ns_ = idle;
  const std::uint64_t now = uv_hrtime();
  const std::uint64_t busy = now - w->run_started_ns_ - (idle - w->idle_at_start_ns_);
  w->pace_.busy_ns.store(busy, std::memory_order_relaxed);
  if (waited) {
    w->running_since_ns_ = now;
    return;
  }
  if (now - w->running_since_ns_ >= kYieldQuantumNs && w->snapshot_ &&
      w->snapshot_->config->worker_yield) {
    sched_yield();
    w->running_since_ns_ = uv_hrtime();
    w->pace_.yields.store(w->pace_.yields.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
  }
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

// The async send happens under the lock: begin_shutdown closes handoffs_open_ under the same
// lock before the loop can close async_, so a connection that got in is always picked up.
bool Worker::post_connection(int fd, const sockaddr_storage& peer) {
  std::lock_guard lock(mu_);
  if (!handoffs_open_) return false;
  pending_conns_.push_back(HandedConn{fd, peer});
  load_.value.fetch_add(1, std::memory_order_relaxed);
  if (!admin_) server_->connections().fetch_add(1, std::memory_order_relaxed);
  uv_async_send(&async_);
  return true;
}

void Worker::on_async(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  SnapshotPtr snap;
  bool shutdown = false;
  bool flush = false;
  std::chrono::milliseconds grace{0};
  std::vector<WaitTokenPtr> wakes;
  std::vector<HandedConn> conns;
  {
    std::lock_guard lock(w->mu_);
    conns.swap(w->pending_conns_);
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
  w->open_handed(std::move(conns));
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

// Listening: the worker accepts itself (a uv_poll on the listening socket, accept4 in a bounded
// loop) rather than through uv_listen/uv_accept, because a connection that goes to another
// worker must leave as a plain descriptor: a uv handle cannot move between loops. accept4 also
// reports the peer address, which saves the getpeername a uv_accept'ed handle would need.

void Worker::listen_on(const ListenFd& lf) {
  auto l = std::make_unique<Listener>();
  l->fd = lf.fd;
  l->worker = this;
  l->poll.data = l.get();
  int rc = ::listen(lf.fd, lf.backlog) == 0 ? 0 : uv_translate_sys_error(errno);
  if (rc == 0) rc = uv_poll_init_socket(&loop_, &l->poll, lf.fd);
  if (rc != 0) {
    // The poll handle is not initialised: nothing to close but the socket.
    log_error(std::string("worker: cannot listen: ") + uv_strerror(rc));
    ::close(lf.fd);
    return;
  }
  uv_poll_start(&l->poll, UV_READABLE, &Worker::on_listener_readable);
  listeners_.push_back(std::move(l));
}

void Worker::on_listener_readable(uv_poll_t* poll, int status, int /*events*/) {
  auto* l = static_cast<Listener*>(poll->data);
  if (status < 0) {
    l->worker->pause_accepting(-status);
    return;
  }
  l->worker->accept_batch(*l);
}

// accept(2) on Linux also reports errors of the new connection itself (aborted, network down);
// as its manual advises, those are skipped and the next connection is accepted.
void Worker::accept_batch(Listener& l) {
  for (int i = 0; i < kAcceptBatch && !draining_; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd =
        ::accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_error_logged_ = false;
      dispatch(fd, peer);
      continue;
    }
    switch (errno) {
      case EAGAIN:
        return;
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        continue;
      default:  // EMFILE, ENFILE, ENOBUFS, ENOMEM; anything else would repeat at once too
        pause_accepting(errno);
        return;
    }
  }
}

void Worker::pause_accepting(int err) {
  if (accept_paused_ || draining_) return;
  accept_paused_ = true;
  if (!accept_error_logged_) {
    accept_error_logged_ = true;
    log_warn(std::string("accept failed: ") + std::strerror(err) + "; not accepting for " +
             std::to_string(kAcceptPauseMs) + " ms (new connections wait in the listen queue)");
  }
  for (auto& l : listeners_) uv_poll_stop(&l->poll);
  uv_timer_start(
      &accept_pause_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->resume_accepting(); },
      kAcceptPauseMs, 0);
}

void Worker::resume_accepting() {
  accept_paused_ = false;
  if (draining_) return;
  for (auto& l : listeners_) uv_poll_start(&l->poll, UV_READABLE, &Worker::on_listener_readable);
}

// A freshly accepted connection: refused over limits.max_connections, handed to a less loaded
// worker (server/balance.hpp), or served here.
void Worker::dispatch(int fd, const sockaddr_storage& peer) {
  const auto max = snapshot_->config->limits.max_connections;
  if (!admin_ && server_->connections().load(std::memory_order_relaxed) >= max) {
    // Over the limit: close at once, so the kernel's queue does not fill with connections that
    // would wait for a timeout.
    ::close(fd);
    observe::Metrics::get().connection_rejected();
    return;
  }
  if (Worker* to = balance_target(); to && to->post_connection(fd, peer)) {
    observe::Metrics::get().connection_handed_off();
    return;
  }
  auto* conn = new ClientConn(this);
  conn->open(fd, reinterpret_cast<const sockaddr*>(&peer), false);  // on failure it frees itself
}

Worker* Worker::balance_target() {
  if (admin_) return nullptr;
  const auto& workers = server_->workers();
  if (workers.size() < 2) return nullptr;
  loads_scratch_.resize(workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i) loads_scratch_[i] = workers[i]->load();
  const auto self = static_cast<std::size_t>(index_);
  const auto pick = pick_worker(loads_scratch_, self);
  return pick == self ? nullptr : workers[pick].get();
}

// Connections handed over by other workers; post_connection counted them already.
void Worker::open_handed(std::vector<HandedConn> conns) {
  for (auto& h : conns) {
    auto* conn = new ClientConn(this);
    conn->open(h.fd, reinterpret_cast<const sockaddr*>(&h.peer), true);
  }
}

void Worker::connection_opened(ClientConn* c, bool reserved) {
  c->next = conns_;
  c->prev = nullptr;
  if (conns_) conns_->prev = c;
  conns_ = c;
  ++conn_count_;
  if (reserved) return;
  load_.value.fetch_add(1, std::memory_order_relaxed);
  if (!admin_) server_->connections().fetch_add(1, std::memory_order_relaxed);
}

void Worker::connection_closed(ClientConn* c) {
  if (c->prev) c->prev->next = c->next;
  if (c->next) c->next->prev = c->prev;
  if (conns_ == c) conns_ = c->next;
  c->next = c->prev = nullptr;
  --conn_count_;
  load_.value.fetch_sub(1, std::memory_order_relaxed);
  if (!admin_) server_->connections().fetch_sub(1, std::memory_order_relaxed);
  if (draining_) maybe_finish_shutdown();
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown: stop accepting, let in-flight requests finish (their connections close
// after the response), close idle connections now, and force-close what is left at the deadline.

void Worker::begin_shutdown(std::chrono::milliseconds grace) {
  if (draining_) return;
  // No more handed connections from here on; those that got in are opened (they were accepted
  // before the shutdown, like the worker's own) and drained below with the others.
  std::vector<HandedConn> late;
  {
    std::lock_guard lock(mu_);
    handoffs_open_ = false;
    late.swap(pending_conns_);
  }
  open_handed(std::move(late));
  draining_ = true;
  uv_timer_stop(&accept_pause_);
  for (auto& l : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&l->poll), [](uv_handle_t* h) {
      ::close(static_cast<Listener*>(h->data)->fd);  // poll handles do not own their socket
    });
  }
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
  uv_close(reinterpret_cast<uv_handle_t*>(&accept_pause_), nullptr);
  retired_exchanges_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
  if (!admin_) uv_close(reinterpret_cast<uv_handle_t*>(&pacer_), nullptr);
  server_->worker_finished(this);
}

}  // namespace ghala::server
