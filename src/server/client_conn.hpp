#pragma once
// One client TCP connection: reads and parses requests (llhttp, strict), runs one Exchange at a
// time (pipelined requests wait, so responses leave in request order), writes responses with
// backpressure, and enforces the client-side timeouts:
//   header_read        first byte of a request head to its end       -> 408, close
//   keepalive_idle     idle between requests                          -> close
//   body_read          gap between request body bytes                 -> 408 (or close), close
//   client_write_stall queued response bytes and no write progress    -> close
//   kLingerMs          half-closed after the last response (see linger_or_close) -> close
// Memory per idle connection is the uv handles and this object: read blocks are taken from the
// worker's pool for each read and given back at once unless pipelined bytes wait in them.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "ghala/core/buffer.hpp"
#include "ghala/core/lazy_timer.hpp"
#include "ghala/core/shared_bytes.hpp"
#include "ghala/http/parser.hpp"

namespace ghala::server {

class Exchange;
class Worker;

class ClientConn final : private http::MessageSink {
 public:
  static constexpr std::size_t kHighWater = 256 * 1024;
  static constexpr std::size_t kLowWater = 64 * 1024;
  // How long a half-closed connection reads and discards the client's input, at most.
  static constexpr std::uint64_t kLingerMs = 2000;

  explicit ClientConn(Worker* worker);
  // Takes over `fd`, a connected socket accepted by this or another worker (server/balance.hpp),
  // whose peer address accept() reported. reserved: the worker's load already counts it (a
  // connection handed over). False (and the object closes itself and the fd) on failure.
  bool open(int fd, const sockaddr* peer, bool reserved);

  // Used by the exchange.
  void write(std::string text, BlockRef body = {}, std::string_view suffix = {},
             SharedSlice shared = {});
  std::size_t queued_bytes() const;
  bool write_blocked() const { return queued_bytes() > kHighWater; }
  void pause_reading();  // request-body backpressure
  void resume_reading();
  // The exchange finished its response. keep_alive: the response allows reuse.
  void exchange_done(bool keep_alive);
  // Stop now (abort): a response cannot be completed.
  void close();
  // Closes once queued writes are flushed (after an error response).
  void close_after_flush();

  const std::string& peer_ip() const noexcept { return peer_ip_; }
  double request_start_unix() const noexcept { return request_start_unix_; }
  Worker& worker() noexcept { return *worker_; }
  std::uint64_t take_bytes_in() noexcept { return std::exchange(bytes_in_, 0); }
  std::uint64_t take_bytes_out() noexcept { return std::exchange(bytes_out_, 0); }
  // Begin graceful close: close now if idle, else after the current response.
  void drain();
  bool idle() const noexcept { return !exchange_ && !parser_.in_message(); }

  ClientConn* next = nullptr;  // worker's intrusive list
  ClientConn* prev = nullptr;

 private:
  enum class TimerMode : std::uint8_t {
    None,
    HeaderRead,
    Idle,
    BodyRead,
    WriteStall,
    Continue,
    Linger
  };
  ~ClientConn();

  void start_reading();
  void stop_reading();
  void on_read(ssize_t nread, const uv_buf_t* buf);
  // Parses buffered bytes; returns false when the connection closed.
  void process(Block* block, const char* data, std::size_t len);
  void reject(const http::ParseError& e);
  void begin_request();
  void reset_for_next();
  void arm(TimerMode mode);
  void on_timer();
  void on_write_done(int status, std::size_t bytes);
  void continue_after_exchange();
  void on_closed();
  bool input_pending() const;
  void linger_or_close();

  bool on_head() override;
  bool on_body(std::string_view data) override;
  bool on_complete() override;

  Worker* worker_;
  uv_tcp_t tcp_{};
  LazyTimer timer_;  // the deadline of timer_mode_
  uv_shutdown_t shutdown_req_{};
  http::RequestParser parser_;
  std::unique_ptr<Exchange> exchange_;
  std::string peer_ip_;
  Block* cur_block_ = nullptr;  // block being parsed (for zero-copy body refs)
  BlockRef leftover_;           // pipelined bytes not yet parsed
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t request_start_ns_ = 0;
  double request_start_unix_ = 0;
  TimerMode timer_mode_ = TimerMode::None;
  int open_handles_ = 0;
  bool reading_ = false;
  bool read_paused_ = false;  // by backpressure
  bool closing_ = false;
  bool close_after_flush_ = false;
  bool lingering_ = false;  // write side shut down; input is read and discarded
  bool draining_ = false;
  bool request_done_ = false;     // the current request was fully read
  bool awaiting_request_ = true;  // no byte of the next request seen yet
  bool response_finished_ = false;
  bool keep_alive_ = true;
  bool in_process_ = false;
  bool counted_ = false;  // counted in the worker's connection list and metrics
};

}  // namespace ghala::server
