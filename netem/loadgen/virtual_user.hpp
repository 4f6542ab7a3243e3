#pragma once

#include <llhttp.h>
#include <netinet/in.h>
#include <uv.h>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "options.hpp"
#include "report.hpp"

namespace ghala::netem {

// State shared by every virtual user of one run (one thread, one loop).
struct RunContext {
  uv_loop_t* loop = nullptr;
  const LoadOptions* options = nullptr;
  sockaddr_in target{};
  std::uint64_t start_ns = 0;
  bool no_new_pages = false;  // the duration has passed
  std::vector<PageRecord> done;
  std::mt19937_64 rng;
  int active_users = 0;
  std::function<void()> on_all_finished;
  double now_ms() const { return static_cast<double>(uv_hrtime() - start_ns) / 1e6; }
};

class VirtualUser;

// One request's bytes and its libuv write request, owned by libuv from uv_write to the write
// callback. Each request has its own: the callback of a completed write runs only on the loop's
// next iteration, and under load one iteration can span the whole round trip, so the response
// (and the next request on the connection) can come before it. Reusing one uv_write_t per
// connection then put a queued request into libuv's write queue twice and crashed the
// generator (news page, 1000 users).
class Connection;
struct PendingWrite {
  uv_write_t req{};  // req.data points back to this PendingWrite
  std::string data;
  Connection* conn = nullptr;
};

// One keep-alive HTTP/1.1 connection of a user; one request at a time (no pipelining, as browsers).
class Connection {
 public:
  Connection(VirtualUser& user, int id);
  bool open(std::string& error);  // bind to the user's address and connect
  void send(int request);         // request index in the user's current page
  void close();                   // asynchronous; the object deletes itself in the close callback
  bool connected() const { return connected_; }
  bool busy() const { return request_ >= 0; }
  int request() const { return request_; }
  bool reused() const { return reused_; }

 private:
  friend class VirtualUser;
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t len);
  static int on_message_complete(llhttp_t* p);
  void fail(const std::string& error);

  VirtualUser& user_;
  int id_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  llhttp_t parser_{};
  llhttp_settings_t settings_{};
  std::string header_field_;
  std::string header_value_;
  bool in_value_ = false;
  int request_ = -1;
  bool connected_ = false;
  bool closing_ = false;
  bool initialised_ = false;
  bool reused_ = false;
  // Connected and left idle before its first request (a preconnect): Chrome counts such an
  // "unused idle" socket as reused for its one retry (HttpStreamParser::IsConnectionReused).
  bool idle_before_use_ = false;
  bool message_done_ = false;
  bool keep_alive_ = true;
  double connect_start_ms_ = 0;
  std::string body_;
};

// A browser tab loading pages one after another: the HTML, then its subresources over up to
// max_conns keep-alive connections, then a think time, until the page count or the run's
// duration is reached. Records each page and request; every failure is recorded with its cause.
class VirtualUser {
 public:
  VirtualUser(RunContext& ctx, int id, std::optional<sockaddr_in> source);
  VirtualUser(const VirtualUser&) = delete;
  VirtualUser& operator=(const VirtualUser&) = delete;
  void start(double delay_s);
  void abort_run();  // the grace period is over: record what is loading as aborted and stop
  void close_handles();

 private:
  friend class Connection;
  static void on_wake(uv_timer_t* t);
  static void on_page_timeout(uv_timer_t* t);
  void begin_page();
  void pump();
  void open_connections(std::size_t n);
  void finish_page();
  void finish_user();
  void request_done(Connection& c);
  void request_failed(Connection& c, const std::string& error);
  void connection_closed(Connection* c);
  std::string request_text(int index) const;
  void discover(const RequestRecord& html, const std::string& body);

  RunContext& ctx_;
  int id_;
  std::optional<sockaddr_in> source_;
  uv_timer_t wake_{};
  uv_timer_t page_timer_{};
  bool page_active_ = false;
  bool finished_ = false;
  int pages_started_ = 0;
  int next_conn_id_ = 0;
  PageRecord page_;
  std::deque<int> pending_;
  int outstanding_ = 0;
  std::vector<Connection*> conns_;  // owned by their uv handles (see Connection::close)
  std::unordered_map<std::string, std::size_t>
      learned_;  // page -> subresource count, for preconnect
};

}  // namespace ghala::netem
