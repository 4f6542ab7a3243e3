#pragma once
// The process: loads the config, binds the listening sockets (one SO_REUSEPORT socket per worker
// per listener), starts the worker threads, and runs the main loop, which carries the admin
// listener and the signals:
//   SIGHUP   reload the config (as POST /admin/reload)
//   SIGTERM, SIGINT   graceful shutdown within timeouts.shutdown_grace
//   SIGUSR1  reopen the access log (rotation)

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "ghala/admin/admin.hpp"
#include "ghala/config/config.hpp"
#include "server/snapshot.hpp"
#include "server/upstream_dns.hpp"
#include "server/worker.hpp"

namespace ghala::server {

struct ServerOptions {
  std::string config_path;    // empty: the embedded default config
  std::string embedded_yaml;  // used when config_path is empty
  std::string embedded_base_dir;
  std::string ready_file;  // written (atomically) once every listener is bound
};

class Server final : public admin::Control {
 public:
  explicit Server(ServerOptions options);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Blocks until shutdown; returns the process exit status.
  int run();

  // admin::Control
  bool ready() const override { return !draining_.load(); }
  void reload(std::function<void(const admin::ReloadOutcome&)> done) override;
  std::string admin_token() const override;
  std::string purge_token() const override;
  void purge(admin::PurgeRequest request, std::function<void(admin::PurgeOutcome)> done) override;

  std::atomic<std::uint32_t>& connections() noexcept { return connections_; }
  // The data-path workers, by index (not the admin worker). Fixed before the worker threads start
  // and until they have been joined, so any worker may read it (connection balancing).
  const std::vector<std::unique_ptr<Worker>>& workers() const noexcept { return workers_; }
  // Called by a worker (any thread) when its loop has nothing left to do.
  void worker_finished(Worker* worker);

 private:
  config::LoadResult load() const;
  bool bind_listeners(const config::Config& cfg, std::size_t workers,
                      std::vector<std::vector<ListenFd>>& per_worker, std::vector<ListenFd>& admin,
                      std::vector<std::string>& bound, std::string& admin_bound);
  bool write_ready_file(const std::vector<std::string>& bound,
                        const std::string& admin_bound) const;
  void start_reload();
  void finish_reload(const config::ConfigPtr& loaded, const DnsResults& results,
                     admin::ReloadOutcome& out);
  void refuse_reload(admin::ReloadOutcome& out);
  void swap_snapshot(SnapshotPtr snap);
  void start_dns();
  void schedule_dns();
  void on_dns_due();
  void rebuild_for_new_addresses();
  void start_signals();
  void begin_shutdown();
  void reopen_logs();

  ServerOptions options_;
  config::ConfigPtr startup_config_;
  SnapshotPtr snapshot_;  // main thread only
  // Main thread only: the running config as loaded (server host names not yet replaced by
  // addresses), the addresses and re-resolution schedule of its names, and the resolver.
  config::ConfigPtr loaded_config_;
  UpstreamDns dns_;
  std::unique_ptr<NameResolver> resolver_;
  uv_timer_t dns_timer_{};
  std::uint64_t generation_ = 0;  // bumped by each applied reload: older resolutions are dropped
  bool reload_running_ = false;
  // Reloads asked for while one runs: answered by the next reload, which starts when it ends.
  std::vector<std::function<void(const admin::ReloadOutcome&)>> reload_waiters_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Worker> admin_worker_;
  std::atomic<std::uint32_t> connections_{0};
  std::atomic<std::size_t> finished_workers_{0};
  std::atomic<bool> draining_{false};
  uv_signal_t sig_hup_{}, sig_term_{}, sig_int_{}, sig_usr1_{};
  uv_timer_t shutdown_poll_{};
};

}  // namespace ghala::server
