#pragma once
// A worker: one thread, one uv loop, its own SO_REUSEPORT listening sockets, its own upstream
// pools and access-log buffer. Connections never leave their worker. The main thread talks to a
// worker only through post_snapshot() and post_shutdown(), which wake the loop with uv_async.
// The admin listener runs on a Worker too (admin mode), on the main thread's loop.

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
  void connection_opened(ClientConn* c);
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
  void apply_snapshot(SnapshotPtr snapshot);
  void begin_shutdown(std::chrono::milliseconds grace);
  void maybe_finish_shutdown();
  void force_close_all();
  void sweep_retired_pools();
  void on_accept(uv_stream_t* listener);
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
  std::vector<std::unique_ptr<Exchange>> retired_exchanges_;
  uv_timer_t deadline_{};  // shutdown grace
  std::vector<std::unique_ptr<uv_tcp_t>> listeners_;
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
  std::size_t conn_count_ = 0;
  bool draining_ = false;
  bool closed_ = false;
  std::thread thread_;

  std::mutex mu_;  // guards the pending_* fields, written by other threads
  SnapshotPtr pending_snapshot_;
  bool pending_shutdown_ = false;
  bool pending_flush_ = false;
  std::chrono::milliseconds pending_grace_{0};
  std::vector<WaitTokenPtr> pending_wakes_;
};

}  // namespace ghala::server
