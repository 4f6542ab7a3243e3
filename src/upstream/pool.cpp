#include "ghala/upstream/pool.hpp"

#include <cstring>

#include "ghala/core/log.hpp"
#include "ghala/core/stream_write.hpp"

namespace ghala::upstream {

using observe::UpstreamErrorKind;

namespace {

Block* block_of(const uv_buf_t* buf) {
  return reinterpret_cast<Block*>(buf->base) - 1;
}

// The address as a sockaddr. A snapshot's servers are literal addresses: host names were
// resolved when the snapshot was built (config/resolve.hpp), never here on the worker loop.
bool to_sockaddr(const config::SocketAddress& a, sockaddr_storage* out) {
  const std::string& host = a.host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (uv_ip4_addr(host.c_str(), a.port, v4) == 0) return true;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  return uv_ip6_addr(host.c_str(), a.port, v6) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// UpstreamConn

UpstreamConn::UpstreamConn(UpstreamPool* pool, uv_loop_t* loop, BlockPool* blocks)
    : pool_(pool), blocks_(blocks), parser_(this) {
  uv_tcp_init(loop, &tcp_);
  timer_.init(loop, this, &UpstreamConn::on_timer);
  tcp_.data = this;
  open_handles_ = 2;
}

const std::string& UpstreamConn::peer() const {
  return pool_->address_text();
}

void UpstreamConn::start_connect(const sockaddr* addr) {
  state_ = State::Connecting;
  connect_start_ = uv_hrtime();
  arm_timer(pool_->settings().connect_timeout, UpstreamErrorKind::ConnectTimeout);
  connect_req_.data = this;
  int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, [](uv_connect_t* req, int status) {
    auto* self = static_cast<UpstreamConn*>(req->data);
    if (self->state_ == State::Closing) return;
    if (status < 0) {
      self->fail(status == UV_ETIMEDOUT ? UpstreamErrorKind::ConnectTimeout
                                        : UpstreamErrorKind::ConnectRefused);
      return;
    }
    self->timer_.disarm();
    uv_tcp_nodelay(&self->tcp_, 1);
    self->connect_seconds_ = static_cast<double>(uv_hrtime() - self->connect_start_) / 1e9;
    self->state_ = State::Ready;
    self->uses_ = 1;
    self->resume_reading();
    if (self->listener_) self->listener_->on_upstream_connected();
  });
  if (rc != 0) {
    // Synchronous failure (e.g. no route, fd limit): report asynchronously through the timer
    // path so the listener is never called back from inside acquire().
    arm_timer(config::Millis(0), UpstreamErrorKind::ConnectRefused);
  }
}

void UpstreamConn::lease(UpstreamListener* listener) {
  listener_ = listener;
  write_failed_ = false;
  response_started_ = false;
  response_done_ = false;
  parser_.resume();
}

void UpstreamConn::write(std::string text, BlockRef body, std::string_view suffix) {
  if (state_ != State::Ready || write_failed_) return;
  std::size_t now = 0;
  auto outcome = stream_write(
      reinterpret_cast<uv_stream_t*>(&tcp_), std::move(text), std::move(body), suffix, this,
      [](void* owner, int status, std::size_t bytes) {
        auto* self = static_cast<UpstreamConn*>(owner);
        if (status < 0) {
          if (self->state_ != State::Closing) self->fail(UpstreamErrorKind::Reset);
          return;
        }
        observe::Metrics::get().bytes_to_upstreams(bytes);
        if (!self->request_complete_ && self->state_ == State::Ready) {
          // Progress on the request body: restart the send-stall clock, or stop it when drained.
          if (self->queued_bytes() == 0) {
            self->timer_.disarm();
          } else {
            self->arm_timer(self->pool_->settings().read_timeout, UpstreamErrorKind::WriteTimeout);
          }
        }
        if (self->listener_ && self->queued_bytes() <= kLowWater) {
          self->listener_->on_upstream_writable();
        }
      },
      &now);
  if (now) observe::Metrics::get().bytes_to_upstreams(now);
  if (outcome == WriteOutcome::Failed) {
    // Report on the next loop turn: the caller is in the middle of writing the request.
    write_failed_ = true;
    arm_timer(config::Millis(0), UpstreamErrorKind::Reset);
  } else if (outcome == WriteOutcome::Queued && !request_complete_ && !timer_.armed()) {
    // The origin is not taking the request (body) as fast as it comes: bound the wait.
    arm_timer(pool_->settings().read_timeout, UpstreamErrorKind::WriteTimeout);
  }
}

void UpstreamConn::begin_request(http::Method method) {
  // Set before any byte is sent: an origin may answer early (413) before the body is complete.
  parser_.expect(method);
  request_complete_ = false;
}

void UpstreamConn::request_sent() {
  request_complete_ = true;
  if (write_failed_) return;  // the failure report (0 ms timer) must not be replaced
  if (!response_started_) {
    arm_timer(pool_->settings().first_byte_timeout, UpstreamErrorKind::FirstByteTimeout);
  }
}

std::size_t UpstreamConn::queued_bytes() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
}

void UpstreamConn::pause_reading() {
  paused_ = true;
  // The client is slow, not the origin: the read timeout must not run while we hold back.
  if (state_ == State::Ready && response_started_ && !response_done_) timer_.disarm();
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void UpstreamConn::resume_reading() {
  const bool was_paused = std::exchange(paused_, false);
  if (was_paused && state_ == State::Ready && response_started_ && !response_done_) {
    arm_timer(pool_->settings().read_timeout, UpstreamErrorKind::ReadTimeout);
  }
  if (reading_ || state_ == State::Closing || state_ == State::Connecting) return;
  reading_ = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* self = static_cast<UpstreamConn*>(h->data);
        Block* b = self->blocks_->acquire();
        *buf = uv_buf_init(b->data(), b->capacity);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<UpstreamConn*>(s->data);
        if (buf->base) {
          self->read_block_ = block_of(buf);
          self->on_read(nread, buf);
          Block* b = self->read_block_ ? self->read_block_ : block_of(buf);
          self->read_block_ = nullptr;
          BlockPool::unref(b);
        } else {
          self->on_read(nread, buf);
        }
      });
}

void UpstreamConn::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (state_ == State::Idle) return on_idle_read(nread);
  if (state_ != State::Ready) return;
  if (nread == 0) return;
  if (nread < 0) {
    if (parser_.in_message() && parser_.head_done() && parser_.finish()) {
      // A close-delimited body ended here; on_complete already ran.
      if (state_ != State::Closing && !listener_) close();
      return;
    }
    fail(UpstreamErrorKind::Reset);
    return;
  }
  observe::Metrics::get().bytes_from_upstreams(static_cast<std::uint64_t>(nread));
  response_started_ = true;
  if (parser_.head_done()) {
    arm_timer(pool_->settings().read_timeout, UpstreamErrorKind::ReadTimeout);
  }
  auto r = parser_.feed(buf->base, static_cast<std::size_t>(nread));
  if (listener_ && state_ == State::Ready) listener_->on_upstream_read_end();
  if (state_ == State::Closing) return;
  if (r.status == http::FeedStatus::Error) {
    log_warn("upstream " + peer() + ": invalid response: " + parser_.error().reason);
    fail(UpstreamErrorKind::InvalidResponse);
    return;
  }
  if (r.status == http::FeedStatus::Paused && r.consumed < static_cast<std::size_t>(nread)) {
    // Bytes after a complete response: the connection is out of step; never reuse it.
    if (state_ == State::Idle) {
      pool_->unpark(this);
      close();
    } else {
      response_done_ = false;
    }
  }
}

void UpstreamConn::on_idle_read(ssize_t nread) {
  // An idle connection has nothing to say: EOF, an error, or stray bytes all end it.
  (void)nread;
  pool_->unpark(this);
  close();
}

bool UpstreamConn::on_head() {
  if (!listener_) return false;
  arm_timer(pool_->settings().read_timeout, UpstreamErrorKind::ReadTimeout);
  pool_->mark_answered();
  listener_->on_upstream_head(parser_.head());
  return listener_ != nullptr && state_ != State::Closing;
}

bool UpstreamConn::on_body(std::string_view data) {
  if (!listener_) return false;
  listener_->on_upstream_body(BlockRef(read_block_, data));
  return listener_ != nullptr && state_ != State::Closing;
}

bool UpstreamConn::on_complete() {
  response_done_ = true;
  timer_.disarm();
  if (!listener_) return false;
  listener_->on_upstream_complete();
  return true;
}

void UpstreamConn::release(bool reusable) {
  if (listener_ == nullptr && state_ != State::Ready) return;
  listener_ = nullptr;
  --pool_->active_;
  const auto& s = pool_->settings();
  // Idle connections beyond keepalive_connections are trimmed lazily (UpstreamPool::trim), not
  // closed here: under a burst the next request takes this connection within microseconds, and
  // closing it would cost a new TCP handshake to the origin. kMaxIdleBurst bounds the burst.
  const bool keep = reusable && state_ == State::Ready && response_done_ &&
                    parser_.head().keep_alive && !pool_->retired_ && s.keepalive_connections > 0 &&
                    pool_->idle_count_ < UpstreamPool::kMaxIdleBurst && queued_bytes() == 0;
  if (!keep) {
    close();
    return;
  }
  ++uses_;
  state_ = State::Idle;
  pool_->park(this);
  arm_timer(s.keepalive_idle, UpstreamErrorKind::Reset);
  if (paused_) resume_reading();
}

void UpstreamConn::arm_timer(config::Millis timeout, UpstreamErrorKind kind) {
  timer_kind_ = kind;
  timer_.arm(static_cast<std::uint64_t>(timeout.count()));
}

void UpstreamConn::on_timer(void* owner) {
  auto* self = static_cast<UpstreamConn*>(owner);
  if (self->state_ == State::Idle) {
    self->pool_->unpark(self);
    self->close();
    return;
  }
  if (self->timer_kind_ == UpstreamErrorKind::ConnectTimeout) {
    observe::Metrics::get().timeout(observe::TimeoutKind::UpstreamConnect);
  } else if (self->timer_kind_ == UpstreamErrorKind::FirstByteTimeout) {
    observe::Metrics::get().timeout(observe::TimeoutKind::UpstreamFirstByte);
  } else if (self->timer_kind_ == UpstreamErrorKind::ReadTimeout) {
    observe::Metrics::get().timeout(observe::TimeoutKind::UpstreamRead);
  } else if (self->timer_kind_ == UpstreamErrorKind::WriteTimeout) {
    observe::Metrics::get().timeout(observe::TimeoutKind::UpstreamWrite);
  }
  self->fail(self->timer_kind_);
}

void UpstreamConn::fail(UpstreamErrorKind kind) {
  if (state_ == State::Closing) return;
  // A server that cannot be reached, or that took a request and did not answer within the
  // first-byte timeout, is suspect for a while (passive health, see UpstreamPool::suspect).
  if (state_ == State::Connecting || kind == UpstreamErrorKind::FirstByteTimeout) {
    pool_->mark_failed(uv_now(tcp_.loop));
  }
  pool_->metrics().error(kind);
  UpstreamListener* l = listener_;
  const bool got_bytes = response_started_;
  if (l) {
    listener_ = nullptr;
    --pool_->active_;
  }
  close();
  if (l) l->on_upstream_error(kind, got_bytes);
}

void UpstreamConn::close() {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  if (listener_) {
    listener_ = nullptr;
    --pool_->active_;
  }
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<UpstreamConn*>(h->data);
    if (--self->open_handles_ == 0) self->pool_->on_conn_closed(self);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
  uv_close(timer_.handle(), on_close);
}

// ---------------------------------------------------------------------------------------------
// UpstreamPool

UpstreamPool::UpstreamPool(uv_loop_t* loop, BlockPool* blocks, config::UpstreamServer server,
                           const config::Upstream& settings,
                           std::shared_ptr<observe::UpstreamMetrics> metrics)
    : loop_(loop),
      blocks_(blocks),
      server_(std::move(server)),
      settings_(settings),
      metrics_(std::move(metrics)) {
  addr_ok_ = to_sockaddr(server_.address, &addr_);
  if (!addr_ok_)
    log_error("upstream " + settings_.name + ": cannot use address " + server_.address.text +
              " (not a literal address)");
}

UpstreamPool::~UpstreamPool() = default;

void UpstreamPool::update(const config::Upstream& settings,
                          std::shared_ptr<observe::UpstreamMetrics> metrics) {
  settings_ = settings;
  metrics_ = std::move(metrics);
  retired_ = false;
  trim();
}

void UpstreamPool::trim() {
  // The tail holds the connections idle the longest (acquire takes from the head).
  while (idle_count_ > settings_.keepalive_connections && idle_tail_) {
    UpstreamConn* c = idle_tail_;
    unpark(c);
    c->close();
  }
}

UpstreamConn* UpstreamPool::acquire(UpstreamListener* listener, bool fresh, bool* ready) {
  if (!fresh) {
    while (idle_head_) {
      UpstreamConn* c = idle_head_;
      unpark(c);
      c->state_ = UpstreamConn::State::Ready;
      ++active_;
      c->lease(listener);
      c->timer_.disarm();
      *ready = true;
      return c;
    }
  }
  auto* c = new UpstreamConn(this, loop_, blocks_);
  ++live_;
  ++active_;
  c->lease(listener);
  *ready = false;
  if (!addr_ok_) {
    c->arm_timer(config::Millis(0), observe::UpstreamErrorKind::NoServer);
  } else {
    c->start_connect(reinterpret_cast<const sockaddr*>(&addr_));
  }
  return c;
}

void UpstreamPool::park(UpstreamConn* c) {
  c->next_idle_ = idle_head_;
  c->prev_idle_ = nullptr;
  if (idle_head_) idle_head_->prev_idle_ = c;
  idle_head_ = c;
  if (!idle_tail_) idle_tail_ = c;
  ++idle_count_;
}

void UpstreamPool::unpark(UpstreamConn* c) {
  if (c->prev_idle_) c->prev_idle_->next_idle_ = c->next_idle_;
  if (c->next_idle_) c->next_idle_->prev_idle_ = c->prev_idle_;
  if (idle_head_ == c) idle_head_ = c->next_idle_;
  if (idle_tail_ == c) idle_tail_ = c->prev_idle_;
  c->next_idle_ = c->prev_idle_ = nullptr;
  --idle_count_;
}

void UpstreamPool::on_conn_closed(UpstreamConn* c) {
  delete c;
  --live_;
}

void UpstreamPool::close_idle() {
  while (idle_head_) {
    UpstreamConn* c = idle_head_;
    unpark(c);
    c->close();
  }
}

void UpstreamPool::retire() {
  retired_ = true;
  close_idle();
}

// ---------------------------------------------------------------------------------------------
// Selection

UpstreamPool* pick_server(std::vector<UpstreamPool*>& pools, config::Balance balance,
                          std::uint64_t now_ms, const UpstreamPool* exclude) {
  if (pools.empty()) return nullptr;
  if (pools.size() == 1) return pools.front();
  auto usable = [&](const UpstreamPool* p, bool allow_suspect) {
    return p != exclude && (allow_suspect || !p->suspect(now_ms));
  };
  for (bool allow_suspect : {false, true}) {
    UpstreamPool* best = nullptr;
    if (balance == config::Balance::LeastConn) {
      for (auto* p : pools) {
        if (!usable(p, allow_suspect)) continue;
        // active/weight, compared without division.
        if (!best || static_cast<std::uint64_t>(p->active()) * best->weight() <
                         static_cast<std::uint64_t>(best->active()) * p->weight()) {
          best = p;
        }
      }
    } else {
      // Smooth weighted round robin: each candidate gains its weight; the leader pays the total.
      std::int64_t total = 0;
      for (auto* p : pools) {
        if (!usable(p, allow_suspect)) continue;
        p->current_weight += p->weight();
        total += p->weight();
        if (!best || p->current_weight > best->current_weight) best = p;
      }
      if (best) best->current_weight -= total;
    }
    if (best) return best;
  }
  return exclude ? const_cast<UpstreamPool*>(exclude) : pools.front();
}

}  // namespace ghala::upstream
