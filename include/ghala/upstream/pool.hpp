#pragma once
// Connections to HTTP origins, per worker loop: one UpstreamPool per (upstream, server) holds idle
// keep-alive connections; UpstreamConn is one TCP connection that carries one request at a time.
// An exchange (the request state machine in server/) leases a connection, writes the request,
// and hears back through UpstreamListener. Nothing here crosses threads.
//
// Connection states:  Connecting -> Ready (leased) -> Idle (in the pool) -> Ready ... -> Closed
// A connection found broken while idle is closed and never handed out; a leased connection whose
// listener goes away mid-response is closed, never reused.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ghala/config/config.hpp"
#include "ghala/core/buffer.hpp"
#include "ghala/core/lazy_timer.hpp"
#include "ghala/http/parser.hpp"
#include "ghala/observe/metrics.hpp"

namespace ghala::upstream {

class UpstreamConn;
class UpstreamPool;

class UpstreamListener {
 public:
  virtual ~UpstreamListener() = default;
  virtual void on_upstream_connected() = 0;
  virtual void on_upstream_head(http::ResponseHead& head) = 0;
  virtual void on_upstream_body(BlockRef data) = 0;
  virtual void on_upstream_complete() = 0;
  // received_bytes: whether any response byte arrived (a retry is only safe when none did).
  virtual void on_upstream_error(observe::UpstreamErrorKind kind, bool received_bytes) = 0;
  // The request-body write queue drained below the low-water mark.
  virtual void on_upstream_writable() = 0;
  // Everything parsed from one socket read has been delivered (a good moment to flush).
  virtual void on_upstream_read_end() = 0;
};

class UpstreamConn final : private http::MessageSink {
 public:
  static constexpr std::size_t kHighWater = 256 * 1024;
  static constexpr std::size_t kLowWater = 64 * 1024;

  UpstreamConn(UpstreamPool* pool, uv_loop_t* loop, BlockPool* blocks);
  UpstreamConn(const UpstreamConn&) = delete;
  UpstreamConn& operator=(const UpstreamConn&) = delete;

  // Writes a piece of the request (head, body data, chunk framing).
  void write(std::string text, BlockRef body = {}, std::string_view suffix = {});
  // A request for `method` starts on this connection (call before writing its head).
  void begin_request(http::Method method);
  // The whole request was written: start the first-byte timer.
  void request_sent();
  // Flow control from the client side.
  void pause_reading();
  void resume_reading();
  std::size_t queued_bytes() const;
  bool write_blocked() const { return queued_bytes() > kHighWater; }

  // The exchange is done with the connection. reusable: the response was read completely and the
  // request fully sent; the pool keeps it idle if the response allowed keep-alive.
  void release(bool reusable);
  // Another listener takes over the response being read (a cache fetch whose client went away
  // but whose response other requests are waiting for). Same loop, same lease.
  void hand_over(UpstreamListener* listener) noexcept { listener_ = listener; }

  bool reused() const noexcept { return uses_ > 1; }
  const std::string& peer() const;
  double connect_seconds() const noexcept { return connect_seconds_; }

 private:
  friend class UpstreamPool;
  enum class State : std::uint8_t { Connecting, Ready, Idle, Closing };

  void start_connect(const struct sockaddr* addr);
  void lease(UpstreamListener* listener);
  void close();
  void fail(observe::UpstreamErrorKind kind);
  // One deadline at a time (connect, first byte, read, write stall, keep-alive idle), on a
  // LazyTimer: a keep-alive connection arms and disarms it several times per request.
  void arm_timer(config::Millis timeout, observe::UpstreamErrorKind kind);
  static void on_timer(void* owner);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void on_idle_read(ssize_t nread);

  bool on_head() override;
  bool on_body(std::string_view data) override;
  bool on_complete() override;

  UpstreamPool* pool_;
  BlockPool* blocks_;
  uv_tcp_t tcp_{};
  LazyTimer timer_;
  uv_connect_t connect_req_{};
  http::ResponseParser parser_;
  UpstreamListener* listener_ = nullptr;
  Block* read_block_ = nullptr;  // the block being parsed, for zero-copy body refs
  State state_ = State::Connecting;
  observe::UpstreamErrorKind timer_kind_ = observe::UpstreamErrorKind::ConnectTimeout;
  std::uint32_t uses_ = 0;
  int open_handles_ = 0;
  bool response_started_ = false;
  bool response_done_ = false;
  bool reading_ = false;
  bool paused_ = false;
  bool in_read_ = false;
  bool write_failed_ = false;
  bool request_complete_ = true;
  std::uint64_t connect_start_ = 0;
  double connect_seconds_ = -1;
  UpstreamConn* next_idle_ = nullptr;
  UpstreamConn* prev_idle_ = nullptr;
};

// Idle connections and counts for one server of one upstream, on one worker loop.
class UpstreamPool {
 public:
  UpstreamPool(uv_loop_t* loop, BlockPool* blocks, config::UpstreamServer server,
               const config::Upstream& settings, std::shared_ptr<observe::UpstreamMetrics> metrics);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // An idle connection (ready now: *ready = true) or a new one that calls
  // listener->on_upstream_connected() later. fresh: never reuse an idle connection.
  UpstreamConn* acquire(UpstreamListener* listener, bool fresh, bool* ready);

  // Settings change on reload (timeouts, keep-alive counts) without dropping connections.
  void update(const config::Upstream& settings, std::shared_ptr<observe::UpstreamMetrics> metrics);
  // Closes idle connections and closes the rest as they are released. The pool may be deleted
  // once empty() is true.
  void retire();
  bool empty() const noexcept { return live_ == 0; }
  // Closes the longest-idle connections beyond keepalive_connections; the worker calls it on its
  // periodic tick, so a burst keeps its connections and a lull gives them back.
  void trim();
  static constexpr std::uint32_t kMaxIdleBurst = 4096;
  std::uint32_t idle_count() const noexcept { return idle_count_; }
  bool retired() const noexcept { return retired_; }

  std::uint32_t active() const noexcept { return active_; }
  std::uint32_t weight() const noexcept { return server_.address.port ? server_.weight : 1; }
  const std::string& address_text() const noexcept { return server_.address.text; }
  const config::UpstreamServer& server() const noexcept { return server_; }
  const config::Upstream& settings() const noexcept { return settings_; }
  observe::UpstreamMetrics& metrics() noexcept { return *metrics_; }

  // Passive health: a server that refused or timed out a connect, or did not answer a request
  // within the first-byte timeout, is skipped for a short while when another server can take the
  // request; a request that may be answered stale is answered stale at once when every server is
  // suspect (server/exchange.cpp, fetch_http).
  bool suspect(std::uint64_t now_ms) const noexcept { return now_ms < suspect_until_ms_; }
  void mark_failed(std::uint64_t now_ms) noexcept {
    suspect_until_ms_ = now_ms + kSuspectMs;
    failing_ = true;
  }
  void mark_answered() noexcept { failing_ = false; }  // a response head arrived
  // For requests that may be answered stale: suspect, or failing with a request already on its
  // way to it (a probe: one at a time finds out whether the server is back, the rest need not
  // wait for the same timeout).
  bool avoid_for_stale(std::uint64_t now_ms) const noexcept {
    return suspect(now_ms) || (failing_ && active_ > 0);
  }
  static constexpr std::uint64_t kSuspectMs = 5000;

  // Smooth weighted round-robin state (nginx's algorithm), owned by the caller's selector.
  std::int64_t current_weight = 0;

 private:
  friend class UpstreamConn;
  void park(UpstreamConn* c);    // into the idle list
  void unpark(UpstreamConn* c);  // out of the idle list
  void on_conn_closed(UpstreamConn* c);
  void close_idle();

  uv_loop_t* loop_;
  BlockPool* blocks_;
  config::UpstreamServer server_;
  config::Upstream settings_;
  std::shared_ptr<observe::UpstreamMetrics> metrics_;
  sockaddr_storage addr_{};
  bool addr_ok_ = false;
  UpstreamConn* idle_head_ = nullptr;  // most recently parked
  UpstreamConn* idle_tail_ = nullptr;  // idle the longest
  std::uint32_t idle_count_ = 0;
  std::uint32_t active_ = 0;
  std::uint32_t live_ = 0;
  bool retired_ = false;
  std::uint64_t suspect_until_ms_ = 0;
  bool failing_ = false;  // failed, and no response head since
};

// Picks the pool for the next request among a pool list of one upstream (round robin with
// weights, or least connections scaled by weight), skipping suspect servers when possible and
// `exclude` (the server that just failed) when another exists. Returns nullptr for an empty list.
UpstreamPool* pick_server(std::vector<UpstreamPool*>& pools, config::Balance balance,
                          std::uint64_t now_ms, const UpstreamPool* exclude = nullptr);

}  // namespace ghala::upstream
