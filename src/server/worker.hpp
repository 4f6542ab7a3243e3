#pragma once
// A worker: one thread, one uv loop, its own SO_REUSEPORT listening sockets, its own upstream
// pools and access-log buffer. A connection is served by one worker for its whole life: the one
// that accepted it, or the less loaded worker it handed the socket to right after accept()
// (server/balance.hpp). Other threads talk to a worker only through the post_* functions, which
// wake the loop with uv_async. The admin listener runs on a Worker too (admin mode, never
// balanced), on the main thread's loop.

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ghala/core/buffer.hpp"
#include "ghala/observe/access_log.hpp"
#include "ghala/upstream/pool.hpp"
#include "server/coalescer.hpp"
#include "server/snapshot.hpp"

namespace ghala::server {

class BackgroundRevalidation;
class ClientConn;
class Exchange;
class Server;

struct ListenFd {
  int fd = -1;
  int backlog = 4096;
};

class Worker {
 public:
  Worker(Server* server, int index, bool admin, std::vector<ListenFd> listen_fds,
         SnapshotPtr snapshot);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs on a thread of its own (start) or on the caller's thread (run).
  void start();
  void run();
  void join();

  // Thread-safe: hand a new snapshot to the loop.
  void post_snapshot(SnapshotPtr snapshot);
  // Thread-safe: stop accepting, finish in-flight requests, close within `grace`.
  void post_shutdown(std::chrono::milliseconds grace);
  // Thread-safe: flush buffered access-log lines (before a log reopen or exit).
  void post_flush();
  // Thread-safe: wake a coalesced waiter of this loop (server/coalescer.hpp); several wakes of one
  // token before the loop runs make one call of Exchange::on_coalesced_wake.
  void post_wake(WaitTokenPtr token);
  // Thread-safe: take over `fd`, a connection another worker accepted (connection balancing).
  // Counts it in this worker's load and the process's connections at once. False when this
  // worker no longer takes connections (it is shutting down): the caller keeps the fd.
  bool post_connection(int fd, const sockaddr_storage& peer);
  // Thread-safe: open client connections plus connections being handed to this worker.
  std::uint32_t load() const noexcept { return load_.value.load(std::memory_order_relaxed); }
  // Thread-safe: time the loop spent running rather than waiting in its poll, and the passes
  // after which it yielded the CPU, as of the end of its last pass (for metrics).
  std::uint64_t busy_ns() const noexcept { return pace_.busy_ns.load(std::memory_order_relaxed); }
  std::uint64_t yields() const noexcept { return pace_.yields.load(std::memory_order_relaxed); }

  // Loop-thread accessors, used by connections and exchanges.
  uv_loop_t* loop() noexcept { return &loop_; }
  BlockPool& blocks() noexcept { return blocks_; }
  const SnapshotPtr& snapshot() const noexcept { return snapshot_; }
  observe::AccessLogWriter& access_log() noexcept { return access_log_; }
  Server& server() noexcept { return *server_; }
  bool admin() const noexcept { return admin_; }
  bool draining() const noexcept { return draining_; }
  // The pools for every server of upstream `upstream_index` of `snap`. For the current snapshot
  // that is the worker's list; a request that started on an older snapshot (a reload happened
  // since) gets the pools that still exist for its upstream's servers, current or retired,
  // collected into `scratch`.
  std::vector<upstream::UpstreamPool*>& pools_for(const Snapshot& snap, std::size_t upstream_index,
                                                  std::vector<upstream::UpstreamPool*>& scratch);
  // A pool of the current or a retired snapshot was released: delete retired, empty pools.
  // reserved: the connection was handed over, and post_connection already counted it.
  void connection_opened(ClientConn* c, bool reserved);
  void connection_closed(ClientConn* c);
  // Background revalidations (stale-while-revalidate) running on this loop; cancelled when the
  // worker closes, so none outlives its pools.
  void background_started(BackgroundRevalidation* r) { background_.insert(r); }
  void background_finished(BackgroundRevalidation* r) { background_.erase(r); }
  // A finished exchange, freed once the loop's callbacks of this iteration have returned (it
  // may still be on the call stack), so an idle keep-alive connection holds no exchange.
  void retire(std::unique_ptr<Exchange> e);
  // Exchanges waiting for another request's fetch, for their lock timeout (checked on the tick).
  void waiting_started(Exchange* e) { waiting_.insert(e); }
  void waiting_finished(Exchange* e) { waiting_.erase(e); }

 private:
  static void on_async(uv_async_t* a);
  static void on_pass_end(uv_check_t* c);
  void apply_snapshot(SnapshotPtr snapshot);
  void begin_shutdown(std::chrono::milliseconds grace);
  void maybe_finish_shutdown();
  void force_close_all();
  void sweep_retired_pools();
  struct Listener {
    uv_poll_t poll{};
    int fd = -1;
    Worker* worker = nullptr;
  };
  struct HandedConn {
    int fd = -1;
    sockaddr_storage peer{};
  };
  void listen_on(const ListenFd& lf);
  static void on_listener_readable(uv_poll_t* poll, int status, int events);
  void accept_batch(Listener& l);
  void dispatch(int fd, const sockaddr_storage& peer);
  Worker* balance_target();
  void open_handed(std::vector<HandedConn> conns);
  void pause_accepting(int err);
  void resume_accepting();
  void run_wakes(std::vector<WaitTokenPtr> wakes);
  void check_lock_timeouts();

 public:
  int index() const noexcept { return index_; }

 private:
  Server* server_;
  int index_;
  bool admin_;
  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t tick_{};    // flushes the access log, sweeps retired pools
  uv_check_t reaper_{};  // frees retired exchanges after each loop iteration's I/O
  // After each poll phase: busy-time accounting and the cooperative yield (on_pass_end).
  uv_check_t pacer_{};
  std::uint64_t run_started_ns_ = 0;    // uv_hrtime() when run() began
  std::uint64_t idle_at_start_ns_ = 0;  // the loop's idle time then
  std::uint64_t last_idle_ns_ = 0;      // the loop's idle time at the end of the last pass
  std::uint64_t running_since_ns_ = 0;  // end of the last wait in the poll, or of the last yield
  std::vector<std::unique_ptr<Exchange>> retired_exchanges_;
  uv_timer_t deadline_{};      // shutdown grace
  uv_timer_t accept_pause_{};  // accepting again after running out of descriptors
  std::vector<std::unique_ptr<Listener>> listeners_;
  bool accept_paused_ = false;
  bool accept_error_logged_ = false;  // once per episode of failing accepts
  std::vector<std::uint32_t> loads_scratch_;
  std::vector<ListenFd> listen_fds_;
  BlockPool blocks_;
  SnapshotPtr snapshot_;
  observe::AccessLogWriter access_log_;
  // Pools by "upstream name|server address"; per_upstream_ follows the snapshot's upstream order.
  std::map<std::string, std::unique_ptr<upstream::UpstreamPool>> pools_;
  std::vector<std::vector<upstream::UpstreamPool*>> per_upstream_;
  std::vector<std::unique_ptr<upstream::UpstreamPool>> retired_pools_;
  ClientConn* conns_ = nullptr;  // intrusive list of open client connections
  std::set<BackgroundRevalidation*> background_;
  std::set<Exchange*> waiting_;
  std::size_t conn_count_ = 0;  // ClientConns in conns_
  // conn_count_ plus connections handed to this worker and not yet opened; read by every worker
  // at each accept, so it has a cache line of its own.
  struct alignas(64) Load {
    std::atomic<std::uint32_t> value{0};
  };
  Load load_;
  // Written by the loop thread once per pass, read by the metrics scrape: a line of their own.
  struct alignas(64) Pace {
    std::atomic<std::uint64_t> busy_ns{0};
    std::atomic<std::uint64_t> yields{0};
  };
  Pace pace_;
  bool draining_ = false;
  bool closed_ = false;
  std::thread thread_;

  std::mutex mu_;  // guards the pending_* fields, written by other threads
  SnapshotPtr pending_snapshot_;
  bool pending_shutdown_ = false;
  bool pending_flush_ = false;
  std::chrono::milliseconds pending_grace_{0};
  std::vector<WaitTokenPtr> pending_wakes_;
  std::vector<HandedConn> pending_conns_;
  bool handoffs_open_ = true;  // false from the start of shutdown on
};

}  // namespace ghala::server
