#include "server/client_conn.hpp"

#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>

#include "ghala/core/stream_write.hpp"
#include "ghala/http/date.hpp"
#include "ghala/http/serialize.hpp"
#include "ghala/observe/metrics.hpp"
#include "server/exchange.hpp"
#include "server/worker.hpp"

namespace ghala::server {

namespace {

Block* block_of(const uv_buf_t* buf) {
  return reinterpret_cast<Block*>(buf->base) - 1;
}

double now_unix() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::string ip_text(const sockaddr* peer) {
  char ip[64] = {0};
  if (peer->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(peer), ip, sizeof ip);
  } else if (peer->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(peer), ip, sizeof ip);
  }
  return ip;
}

observe::ParseErrorKind metric_kind(http::ParseErrorKind k) {
  switch (k) {
    case http::ParseErrorKind::UriTooLong:
      return observe::ParseErrorKind::UriTooLong;
    case http::ParseErrorKind::HeadersTooLarge:
      return observe::ParseErrorKind::HeadersTooLarge;
    case http::ParseErrorKind::BodyTooLarge:
      return observe::ParseErrorKind::BodyTooLarge;
    default:
      return observe::ParseErrorKind::BadRequest;
  }
}

}  // namespace

ClientConn::ClientConn(Worker* worker)
    : worker_(worker), parser_(worker->snapshot()->limits, this) {
  uv_tcp_init(worker->loop(), &tcp_);
  timer_.init(worker->loop(), this,
              [](void* owner) { static_cast<ClientConn*>(owner)->on_timer(); });
  tcp_.data = this;
  open_handles_ = 2;
}

ClientConn::~ClientConn() = default;

bool ClientConn::open(int fd, const sockaddr* peer, bool reserved) {
  counted_ = true;
  worker_->connection_opened(this, reserved);
  observe::Metrics::get().connection_opened();
  if (uv_tcp_open(&tcp_, fd) != 0) {
    ::close(fd);
    close();
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  peer_ip_ = ip_text(peer);
  start_reading();
  // Until its first byte a new connection is idle, like a kept-alive one: browsers open
  // connections ahead of need (preconnect), and header_read starts with the request's first byte.
  arm(TimerMode::Idle);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reading and parsing

void ClientConn::start_reading() {
  if (reading_ || closing_ || read_paused_) return;
  reading_ = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* self = static_cast<ClientConn*>(h->data);
        Block* b = self->worker_->blocks().acquire();
        *buf = uv_buf_init(b->data(), b->capacity);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<ClientConn*>(s->data)->on_read(nread, buf);
      });
}

void ClientConn::stop_reading() {
  if (!reading_) return;
  reading_ = false;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void ClientConn::pause_reading() {
  read_paused_ = true;
  stop_reading();
  // We hold the client back (the origin is slow to take the body): not the client's fault.
  if (timer_mode_ == TimerMode::BodyRead) timer_.disarm();
}

void ClientConn::resume_reading() {
  if (!read_paused_) return;
  read_paused_ = false;
  if (timer_mode_ == TimerMode::BodyRead) arm(TimerMode::BodyRead);
  if (!request_done_) start_reading();
}

void ClientConn::on_read(ssize_t nread, const uv_buf_t* buf) {
  Block* b = buf->base ? block_of(buf) : nullptr;
  if (lingering_) {
    if (nread < 0) close();  // the client closed too (or reset): done
  } else if (nread > 0 && !closing_) {
    bytes_in_ += static_cast<std::uint64_t>(nread);
    observe::Metrics::get().bytes_from_clients(static_cast<std::uint64_t>(nread));
    if (timer_mode_ == TimerMode::BodyRead) arm(TimerMode::BodyRead);
    process(b, buf->base, static_cast<std::size_t>(nread));
  } else if (nread < 0) {
    if (exchange_) exchange_->on_client_gone("client_closed");
    close();
  }
  if (b) BlockPool::unref(b);
}

void ClientConn::begin_request() {
  awaiting_request_ = false;
  request_start_ns_ = uv_hrtime();
  request_start_unix_ = now_unix();
  arm(TimerMode::HeaderRead);
}

void ClientConn::process(Block* block, const char* data, std::size_t len) {
  in_process_ = true;
  while (len > 0 && !closing_) {
    if (awaiting_request_) begin_request();
    cur_block_ = block;
    auto r = parser_.feed(data, len);
    cur_block_ = nullptr;
    if (closing_) break;
    if (r.status == http::FeedStatus::Error) {
      reject(parser_.error());
      break;
    }
    data += r.consumed;
    len -= r.consumed;
    if (r.status == http::FeedStatus::NeedMore) break;
    // A request completed. Pipelined bytes wait until its response is done.
    if (!response_finished_) {
      if (len > 0) {
        leftover_ = BlockRef(block, std::string_view(data, len));
        stop_reading();
      }
      break;
    }
    if (!keep_alive_) {
      close_after_flush();
      break;
    }
    reset_for_next();
  }
  in_process_ = false;
  if (!closing_ && !lingering_ && response_finished_ && request_done_) {
    // The response finished inside this parse, after the request's last byte.
    if (!keep_alive_) {
      close_after_flush();
    } else {
      reset_for_next();
      if (!reading_ && !read_paused_) start_reading();
    }
  }
}

bool ClientConn::on_head() {
  request_done_ = false;
  response_finished_ = false;
  keep_alive_ = true;
  const auto& head = parser_.head();
  arm(head.framing == http::BodyFraming::None ? TimerMode::None : TimerMode::BodyRead);
  exchange_ =
      std::make_unique<Exchange>(this, parser_.head(), worker_->snapshot(), request_start_ns_);
  exchange_->start();
  return !closing_;
}

bool ClientConn::on_body(std::string_view data) {
  if (exchange_) exchange_->on_request_body(BlockRef(cur_block_, data));
  return !closing_;
}

bool ClientConn::on_complete() {
  request_done_ = true;
  if (timer_mode_ == TimerMode::BodyRead) arm(TimerMode::None);
  if (exchange_) exchange_->on_request_complete();
  return !closing_;
}

void ClientConn::reject(const http::ParseError& e) {
  observe::Metrics::get().parse_error(metric_kind(e.kind));
  if (response_finished_) {
    // The response already went out and the rest of the body was being discarded: one request
    // gets one response, so just close.
    close_after_flush();
    return;
  }
  if (exchange_) {
    exchange_->on_client_error(e);
    close_after_flush();
    return;
  }
  // No exchange yet: the head itself was bad. Answer, log, close.
  http::ResponseHead head;
  head.status = e.status;
  std::string body = e.reason + "\n";
  head.headers.add("Content-Type", "text/plain; charset=utf-8");
  head.headers.add("Content-Length", std::to_string(body.size()));
  head.headers.add("Date", http::cached_http_date_now());
  head.headers.add("Connection", "close");
  std::string text;
  http::serialize_response_head(head, text);
  text += body;
  write(std::move(text));
  const double duration = static_cast<double>(uv_hrtime() - request_start_ns_) / 1e9;
  worker_->snapshot()->invalid_metrics->observe(parser_.head().method, e.status, duration);
  auto& log = worker_->access_log();
  if (log.enabled()) {
    observe::AccessRecord r;
    r.start_unix = request_start_unix_;
    r.client_addr = peer_ip_;
    r.method = parser_.head().method_text;
    r.target = parser_.head().target;
    r.status = e.status;
    r.bytes_sent = std::exchange(bytes_out_, 0);
    r.bytes_received = std::exchange(bytes_in_, 0);
    r.duration_s = duration;
    r.error = e.reason;
    log.log(r);
  }
  close_after_flush();
}

// ---------------------------------------------------------------------------------------------
// After a response

void ClientConn::exchange_done(bool keep_alive) {
  response_finished_ = true;
  keep_alive_ = keep_alive && !draining_ && !worker_->draining();
  worker_->retire(std::move(exchange_));
  if (in_process_) return;  // process() continues once the parser returns
  if (!request_done_) {
    // The response went out before the request body ended (an error, an early origin answer):
    // read and discard the rest of the body if the connection is to be kept, else close.
    if (!keep_alive_) {
      close_after_flush();
    } else {
      read_paused_ = false;
      start_reading();
    }
    return;
  }
  if (!keep_alive_) {
    close_after_flush();
    return;
  }
  if (!leftover_.empty()) {
    // Defer: we may be inside an upstream callback that must unwind before the next request.
    arm(TimerMode::Continue);
    return;
  }
  reset_for_next();
  start_reading();
}

void ClientConn::reset_for_next() {
  parser_.resume();
  parser_.set_limits(worker_->snapshot()->limits);  // a reload may have changed them
  request_done_ = false;
  response_finished_ = false;
  awaiting_request_ = true;
  read_paused_ = false;
  if (draining_ || worker_->draining()) {
    close_after_flush();
    return;
  }
  // While the last response is still being written the write-stall clock runs; the idle clock
  // starts when the queue drains (on_write_done).
  arm(queued_bytes() > 0 ? TimerMode::WriteStall : TimerMode::Idle);
}

void ClientConn::continue_after_exchange() {
  reset_for_next();
  if (closing_ || close_after_flush_ || lingering_) return;
  BlockRef pending = std::move(leftover_);
  leftover_ = BlockRef();
  if (!pending.empty()) {
    auto v = pending.view();
    // The block stays referenced by `pending` while it is parsed.
    process(const_cast<Block*>(pending.block()), v.data(), v.size());
  }
  // Read on when nothing waits in leftover_ and the current request (if any) still has body to
  // come; start_reading() respects backpressure (read_paused_).
  if (!closing_ && leftover_.empty() && (!exchange_ || !request_done_)) start_reading();
}

// ---------------------------------------------------------------------------------------------
// Writing

void ClientConn::write(std::string text, BlockRef body, std::string_view suffix,
                       SharedSlice shared) {
  if (closing_) return;
  bytes_out_ += text.size() + body.view().size() + suffix.size() + shared.length;
  std::size_t now = 0;
  auto outcome = stream_write(
      reinterpret_cast<uv_stream_t*>(&tcp_), std::move(text), std::move(body), suffix, this,
      [](void* owner, int status, std::size_t bytes) {
        static_cast<ClientConn*>(owner)->on_write_done(status, bytes);
      },
      &now, std::move(shared));
  if (now) observe::Metrics::get().bytes_to_clients(now);
  if (outcome == WriteOutcome::Failed) {
    if (exchange_) exchange_->on_client_gone("client_write_failed");
    close();
    return;
  }
  if (outcome == WriteOutcome::Queued && timer_mode_ == TimerMode::None) arm(TimerMode::WriteStall);
}

std::size_t ClientConn::queued_bytes() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
}

void ClientConn::on_write_done(int status, std::size_t bytes) {
  if (closing_) return;
  if (status < 0) {
    if (exchange_) exchange_->on_client_gone("client_write_failed");
    close();
    return;
  }
  observe::Metrics::get().bytes_to_clients(bytes);
  const auto queued = queued_bytes();
  if (queued == 0 && close_after_flush_) {
    linger_or_close();
    return;
  }
  if (timer_mode_ == TimerMode::WriteStall) {
    if (queued == 0) {
      arm(awaiting_request_ && !exchange_ ? TimerMode::Idle : TimerMode::None);
    } else {
      arm(TimerMode::WriteStall);  // progress: restart the stall clock
    }
  }
  if (exchange_ && queued <= kLowWater) exchange_->on_client_writable();
}

// ---------------------------------------------------------------------------------------------
// Timers

// One timer per connection; every request moves it through HeaderRead, None and Idle (or
// WriteStall). It is a LazyTimer (core/lazy_timer.hpp): a mode change only records a deadline.
void ClientConn::arm(TimerMode mode) {
  timer_mode_ = mode;
  if (closing_) return;
  const auto& t = worker_->snapshot()->config->timeouts;
  config::Millis timeout{0};
  switch (mode) {
    case TimerMode::None:
      timer_.disarm();
      return;
    case TimerMode::HeaderRead:
      timeout = t.header_read;
      break;
    case TimerMode::Idle:
      timeout = t.keepalive_idle;
      break;
    case TimerMode::BodyRead:
      timeout = t.body_read;
      break;
    case TimerMode::WriteStall:
      timeout = t.client_write_stall;
      break;
    case TimerMode::Continue:
      timeout = config::Millis(0);
      break;
    case TimerMode::Linger:
      timeout = config::Millis(kLingerMs);
      break;
  }
  timer_.arm(static_cast<std::uint64_t>(timeout.count()));
}

void ClientConn::on_timer() {
  if (closing_ || timer_mode_ == TimerMode::None) return;
  auto& m = observe::Metrics::get();
  switch (timer_mode_) {
    case TimerMode::None:
      return;
    case TimerMode::Continue:
      continue_after_exchange();
      return;
    case TimerMode::Linger:
      close();
      return;
    case TimerMode::Idle:
      m.timeout(observe::TimeoutKind::KeepaliveIdle);
      close();
      return;
    case TimerMode::HeaderRead:
      m.timeout(observe::TimeoutKind::HeaderRead);
      if (parser_.in_message() && !exchange_) {
        reject(http::ParseError{http::ParseErrorKind::BadRequest, 408, "request header timeout"});
      } else {
        close();  // a connection that never sent a byte: just close
      }
      return;
    case TimerMode::BodyRead:
      m.timeout(observe::TimeoutKind::BodyRead);
      if (exchange_) {
        exchange_->on_client_error(
            http::ParseError{http::ParseErrorKind::BadRequest, 408, "request body timeout"});
      }
      close_after_flush();
      return;
    case TimerMode::WriteStall:
      m.timeout(observe::TimeoutKind::ClientWriteStall);
      if (exchange_) exchange_->on_client_gone("client_write_stall");
      close();
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Closing

void ClientConn::close_after_flush() {
  if (closing_ || lingering_) return;
  stop_reading();
  if (queued_bytes() == 0) {
    linger_or_close();
    return;
  }
  close_after_flush_ = true;
  if (timer_mode_ != TimerMode::WriteStall) arm(TimerMode::WriteStall);
}

void ClientConn::drain() {
  draining_ = true;
  if (exchange_ || (!awaiting_request_ && parser_.in_message())) return;  // after the response
  // A request already in our socket was sent before the drain: it is in flight for its client,
  // so read and answer it (with Connection: close) rather than close on it.
  if (awaiting_request_ && reading_ && input_pending()) return;
  close_after_flush();
}

// Bytes the kernel has received on this connection that no read has taken yet.
bool ClientConn::input_pending() const {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0) return false;
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

// Lingering close (what nginx's lingering_close does). close() on a socket that holds unread
// input makes the kernel send RST at once and drop the response bytes it has not transmitted
// yet: the client loses the end of the response it is reading. So when the client may have sent
// more than we read (bytes waiting in the socket, pipelined requests we will not answer, the rest
// of a request body), shut down the write side instead (FIN after the queued bytes) and read and
// discard until the client closes too, for kLingerMs at most. Called with nothing queued.
void ClientConn::linger_or_close() {
  const bool more_input =
      !leftover_.empty() || (!awaiting_request_ && !request_done_) || input_pending();
  if (exchange_ || !more_input) {
    close();
    return;
  }
  lingering_ = true;
  close_after_flush_ = false;
  read_paused_ = false;
  leftover_ = BlockRef();
  shutdown_req_.data = this;
  const int rc = uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_),
                             [](uv_shutdown_t* req, int status) {
                               auto* self = static_cast<ClientConn*>(req->data);
                               // ECANCELED when close() came first; nothing left to do then.
                               if (status < 0 && !self->closing_) self->close();
                             });
  if (rc != 0) {
    close();
    return;
  }
  start_reading();
  arm(TimerMode::Linger);
}

void ClientConn::close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  if (exchange_) exchange_->on_client_gone("connection_closed");
  if (counted_) {
    worker_->connection_closed(this);
    observe::Metrics::get().connection_closed();
  }
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<ClientConn*>(h->data);
    if (--self->open_handles_ == 0) self->on_closed();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
  uv_close(timer_.handle(), on_close);
}

void ClientConn::on_closed() {
  delete this;
}

}  // namespace ghala::server
