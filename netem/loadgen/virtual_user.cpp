#include "virtual_user.hpp"

#include <algorithm>
#include <cstring>

#include "content_decoding.hpp"
#include "page_model.hpp"

namespace ghala::netem {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string uv_error(const char* what, int status) {
  return std::string(what) + " " + uv_err_name(status) + ": " + uv_strerror(status);
}

}  // namespace

// ---- Connection --------------------------------------------------------------------------------

Connection::Connection(VirtualUser& user, int id) : user_(user), id_(id) {
  llhttp_settings_init(&settings_);
  settings_.on_header_field = on_header_field;
  settings_.on_header_value = on_header_value;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_body = on_body;
  settings_.on_message_complete = on_message_complete;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
}

bool Connection::open(std::string& error) {
  RunContext& ctx = user_.ctx_;
  int rc = uv_tcp_init(ctx.loop, &tcp_);
  if (rc != 0) {
    error = uv_error("tcp_init", rc);
    return false;
  }
  initialised_ = true;
  tcp_.data = this;
  (void)uv_tcp_nodelay(&tcp_, 1);
  if (user_.source_) {
    rc = uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(&*user_.source_), 0);
    if (rc != 0) {
      error = uv_error("bind", rc);
      return false;
    }
  }
  connect_req_.data = this;
  connect_start_ms_ = ctx.now_ms();
  rc = uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&ctx.target),
                      on_connect);
  if (rc != 0) {
    error = uv_error("connect", rc);
    return false;
  }
  return true;
}

void Connection::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->closing_) return;
  VirtualUser& u = c->user_;
  if (status != 0) {
    c->fail(uv_error("connect", status));
    return;
  }
  c->connected_ = true;
  if (u.page_active_ && u.page_.connect_ms < 0) {
    u.page_.connect_ms = u.ctx_.now_ms() - c->connect_start_ms_;
  }
  const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), on_alloc, on_read);
  if (rc != 0) {
    c->fail(uv_error("read_start", rc));
    return;
  }
  u.pump();
  if (!c->closing_ && !c->busy()) c->idle_before_use_ = true;
}

void Connection::send(int request) {
  request_ = request;
  message_done_ = false;
  body_.clear();
  RequestRecord& r = user_.page_.requests[static_cast<std::size_t>(request)];
  r.start_ms = user_.ctx_.now_ms() - user_.page_.start_ms;
  auto w = std::make_unique<PendingWrite>();
  w->data = user_.request_text(request);
  w->conn = this;
  w->req.data = w.get();
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, on_write);
  if (rc != 0) {
    fail(uv_error("write", rc));
    return;
  }
  (void)w.release();  // libuv owns it until on_write
}

void Connection::on_write(uv_write_t* req, int status) {
  // libuv runs every write callback before the handle's close callback deletes the Connection.
  std::unique_ptr<PendingWrite> w(static_cast<PendingWrite*>(req->data));
  Connection* c = w->conn;
  if (status != 0 && !c->closing_) c->fail(uv_error("write", status));
}

void Connection::on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
  static std::array<char, 65536> buffer;  // one loop, one thread: reads never overlap
  *buf = uv_buf_init(buffer.data(), static_cast<unsigned>(buffer.size()));
}

void Connection::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(s->data);
  if (c->closing_ || n == 0) return;
  if (n < 0) {
    c->fail(n == UV_EOF ? std::string("closed by server") : uv_error("read", static_cast<int>(n)));
    return;
  }
  if (c->request_ < 0) {
    c->fail("unexpected bytes on an idle connection");
    return;
  }
  VirtualUser& u = c->user_;
  RequestRecord& r = u.page_.requests[static_cast<std::size_t>(c->request_)];
  if (r.ttfb_ms < 0) r.ttfb_ms = u.ctx_.now_ms() - u.page_.start_ms;
  r.bytes += static_cast<std::uint64_t>(n);
  const llhttp_errno_t err = llhttp_execute(&c->parser_, buf->base, static_cast<std::size_t>(n));
  if (err != HPE_OK && err != HPE_PAUSED) {
    c->fail(std::string("http parse ") + llhttp_errno_name(err) + ": " +
            llhttp_get_error_reason(&c->parser_));
    return;
  }
  if (c->message_done_) {
    if (err == HPE_PAUSED) llhttp_resume(&c->parser_);
    c->message_done_ = false;
    u.request_done(*c);
  }
}

int Connection::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  auto* c = static_cast<Connection*>(p->data);
  if (c->in_value_) {
    c->header_field_.clear();
    c->in_value_ = false;
  }
  c->header_field_.append(at, len);
  c->header_value_.clear();
  return 0;
}

int Connection::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  auto* c = static_cast<Connection*>(p->data);
  c->in_value_ = true;
  c->header_value_.append(at, len);
  const std::string field = lower(c->header_field_);
  RequestRecord& r = c->user_.page_.requests[static_cast<std::size_t>(c->request_)];
  if (field == "content-encoding") {
    r.content_encoding = lower(c->header_value_);
  } else if (field == "cache-status" || field == "x-cache-status") {
    r.cache_status = c->header_value_;
  }
  return 0;
}

int Connection::on_headers_complete(llhttp_t* p) {
  auto* c = static_cast<Connection*>(p->data);
  c->in_value_ = false;
  c->header_field_.clear();
  VirtualUser& u = c->user_;
  u.page_.requests[static_cast<std::size_t>(c->request_)].status = p->status_code;
  return 0;
}

int Connection::on_body(llhttp_t* p, const char* at, std::size_t len) {
  auto* c = static_cast<Connection*>(p->data);
  if (c->request_ == 0) c->body_.append(at, len);  // only the HTML is kept, to scan it
  return 0;
}

int Connection::on_message_complete(llhttp_t* p) {
  auto* c = static_cast<Connection*>(p->data);
  c->message_done_ = true;
  c->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;
}

void Connection::fail(const std::string& error) {
  if (closing_) return;
  VirtualUser& u = user_;
  if (request_ >= 0) {
    u.request_failed(*this, error);
  } else if (!connected_ && u.page_active_) {
    // A connection that could not even connect fails the requests waiting for one.
    while (!u.pending_.empty()) {
      RequestRecord& r = u.page_.requests[static_cast<std::size_t>(u.pending_.front())];
      r.error = error;
      u.page_.errors.push_back(error + " (" + r.path + ")");
      u.pending_.pop_front();
    }
  }
  close();
  u.pump();
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  user_.connection_closed(this);
  if (!initialised_) {
    std::unique_ptr<Connection> owned(this);
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    std::unique_ptr<Connection> owned(static_cast<Connection*>(h->data));
  });
}

// ---- VirtualUser -------------------------------------------------------------------------------

VirtualUser::VirtualUser(RunContext& ctx, int id, std::optional<sockaddr_in> source)
    : ctx_(ctx), id_(id), source_(source) {
  uv_timer_init(ctx.loop, &wake_);
  uv_timer_init(ctx.loop, &page_timer_);
  wake_.data = this;
  page_timer_.data = this;
}

void VirtualUser::start(double delay_s) {
  ctx_.active_users++;
  uv_timer_start(&wake_, on_wake, static_cast<std::uint64_t>(delay_s * 1000), 0);
}

void VirtualUser::on_wake(uv_timer_t* t) {
  static_cast<VirtualUser*>(t->data)->begin_page();
}

void VirtualUser::on_page_timeout(uv_timer_t* t) {
  auto* u = static_cast<VirtualUser*>(t->data);
  if (!u->page_active_) return;
  const std::string e = "timeout: page not loaded after " +
                        std::to_string(static_cast<int>(u->ctx_.options->timeout_s)) + " s";
  for (int idx : u->pending_) u->page_.requests[static_cast<std::size_t>(idx)].error = e;
  u->pending_.clear();
  for (Connection* c : std::vector<Connection*>(u->conns_)) {
    if (c->busy()) u->page_.requests[static_cast<std::size_t>(c->request())].error = e;
    c->close();
  }
  u->page_.errors.push_back(e);
  u->outstanding_ = 0;
  u->finish_page();
}

std::string VirtualUser::request_text(int index) const {
  const LoadOptions& o = *ctx_.options;
  const std::string& path = page_.requests[static_cast<std::size_t>(index)].path;
  const ResourceKind kind = kind_of_path(path);
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: " + o.host +
                  "\r\nUser-Agent: Mozilla/5.0 (Linux; Android 10) ghala-netem-loadgen/0.1"
                  "\r\nAccept: " +
                  accept_for(index == 0 ? ResourceKind::Document : kind) +
                  "\r\nAccept-Encoding: br, gzip\r\nAccept-Language: en\r\n";
  for (const auto& [name, value] : o.hints) r += name + ": " + value + "\r\n";
  if (!o.width_hint.empty() && kind == ResourceKind::Image) r += "Width: " + o.width_hint + "\r\n";
  r += "Connection: keep-alive\r\n\r\n";
  return r;
}

void VirtualUser::begin_page() {
  const LoadOptions& o = *ctx_.options;
  if (finished_) return;
  if (ctx_.no_new_pages || (o.pages_per_user > 0 && pages_started_ >= o.pages_per_user)) {
    finish_user();
    return;
  }
  const PageSpec& spec = o.pages[static_cast<std::size_t>(pages_started_) % o.pages.size()];
  page_ = PageRecord{};
  page_.user = id_;
  page_.seq = pages_started_++;
  page_.page = spec.path;
  page_.start_ms = ctx_.now_ms();
  page_.requests.push_back(RequestRecord{spec.path});
  page_active_ = true;
  pending_.assign({0});
  outstanding_ = 1;
  uv_timer_start(&page_timer_, on_page_timeout, static_cast<std::uint64_t>(o.timeout_s * 1000), 0);
  pump();
  if (o.preconnect) {
    // Like Chrome's loading predictor at navigation start, in parallel with the HTML's own
    // connection: on a first visit one more connection (Chrome preconnects at least 2 sockets to
    // the main frame's origin even with no history: kMinSockets in
    // chrome/browser/predictors/loading_predictor.cc), on a repeat visit as many as the page
    // needed last time (standing in for the sockets Chrome keeps from the previous page).
    const auto it = learned_.find(page_.page);
    open_connections(it != learned_.end() ? std::max<std::size_t>(it->second, 1) : 1);
  }
}

void VirtualUser::open_connections(std::size_t n) {
  const auto max = static_cast<std::size_t>(ctx_.options->max_conns);
  while (n-- > 0 && conns_.size() < max) {
    auto owned = std::make_unique<Connection>(*this, next_conn_id_++);
    Connection* c = owned.release();  // owned by its uv handle from here on; see close()
    conns_.push_back(c);
    page_.connections++;
    std::string error;
    if (!c->open(error)) c->fail(error);
  }
}

void VirtualUser::pump() {
  if (!page_active_) return;
  std::size_t connecting = 0;
  for (Connection* c : conns_) {
    if (pending_.empty()) break;
    if (!c->connected()) {
      ++connecting;
    } else if (!c->busy()) {
      const int idx = pending_.front();
      pending_.pop_front();
      c->send(idx);
    }
  }
  if (pending_.size() > connecting) open_connections(pending_.size() - connecting);
  if (pending_.empty() && outstanding_ == 0) finish_page();
}

void VirtualUser::discover(const RequestRecord& html, const std::string& body) {
  const LoadOptions& o = *ctx_.options;
  const PageSpec& spec = o.pages[static_cast<std::size_t>(page_.seq) % o.pages.size()];
  std::vector<std::string> paths = spec.manifest;
  if (paths.empty()) {
    const auto decoded = decode_body(html.content_encoding, body);
    if (!decoded) {
      page_.errors.push_back("decode: cannot decode " + html.content_encoding + " HTML");
      return;
    }
    paths = discover_subresources(*decoded, page_.page, o.host).paths;
  }
  learned_[page_.page] = paths.size();
  for (auto& p : paths) {
    page_.requests.push_back(RequestRecord{std::move(p)});
    pending_.push_back(static_cast<int>(page_.requests.size() - 1));
    outstanding_++;
  }
}

void VirtualUser::request_done(Connection& c) {
  const int idx = c.request_;
  c.request_ = -1;
  c.reused_ = true;
  RequestRecord& r = page_.requests[static_cast<std::size_t>(idx)];
  r.end_ms = ctx_.now_ms() - page_.start_ms;
  page_.bytes += r.bytes;
  outstanding_--;
  if (r.status >= 400 || r.status < 200) {
    r.error = "http " + std::to_string(r.status);
    page_.errors.push_back(r.error + ": " + r.path);
  }
  if (idx == 0) {
    page_.ttfb_ms = r.ttfb_ms;
    if (r.error.empty()) discover(r, c.body_);
    c.body_.clear();
  }
  if (!c.keep_alive_) c.close();
  pump();
}

void VirtualUser::request_failed(Connection& c, const std::string& error) {
  const int idx = c.request_;
  c.request_ = -1;
  RequestRecord& r = page_.requests[static_cast<std::size_t>(idx)];
  // A browser retries once when a reused keep-alive connection, or a preconnected one that sat
  // idle (a server may close it: ghala after header_read, 10 s from accept), closes before any
  // response byte.
  if ((c.reused_ || c.idle_before_use_) && r.bytes == 0 && r.retries == 0) {
    r.retries++;
    pending_.push_front(idx);
    return;
  }
  r.error = error;
  r.end_ms = ctx_.now_ms() - page_.start_ms;
  page_.bytes += r.bytes;
  page_.errors.push_back(error + " (" + r.path + ")");
  outstanding_--;
}

void VirtualUser::connection_closed(Connection* c) {
  conns_.erase(std::remove(conns_.begin(), conns_.end(), c), conns_.end());
}

void VirtualUser::finish_page() {
  if (!page_active_) return;
  page_active_ = false;
  uv_timer_stop(&page_timer_);
  page_.plt_ms = ctx_.now_ms() - page_.start_ms;
  page_.ok = page_.errors.empty();
  ctx_.done.push_back(std::move(page_));
  page_ = PageRecord{};
  if (!ctx_.options->keep_connections) {
    for (Connection* c : std::vector<Connection*>(conns_)) c->close();
  }
  const double think =
      ctx_.options->think_s * std::uniform_real_distribution<double>(0.5, 1.5)(ctx_.rng);
  uv_timer_start(&wake_, on_wake, static_cast<std::uint64_t>(think * 1000), 0);
}

void VirtualUser::finish_user() {
  if (finished_) return;
  finished_ = true;
  for (Connection* c : std::vector<Connection*>(conns_)) c->close();
  uv_timer_stop(&wake_);
  if (--ctx_.active_users == 0 && ctx_.on_all_finished) ctx_.on_all_finished();
}

void VirtualUser::abort_run() {
  if (page_active_) {
    page_active_ = false;
    uv_timer_stop(&page_timer_);
    page_.aborted = true;
    page_.errors.push_back("aborted: still loading when the run stopped");
    ctx_.done.push_back(std::move(page_));
  }
  finish_user();
}

void VirtualUser::close_handles() {
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&page_timer_), nullptr);
}

}  // namespace ghala::netem
