#include "server/exchange.hpp"

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <ctime>

#include "ghala/admin/admin.hpp"
#include "ghala/config/router.hpp"
#include "ghala/core/log.hpp"
#include "ghala/core/text_pool.hpp"
#include "ghala/http/conditional.hpp"
#include "ghala/http/date.hpp"
#include "ghala/http/hop_by_hop.hpp"
#include "ghala/http/range.hpp"
#include "ghala/http/serialize.hpp"
#include "ghala/observe/access_log.hpp"
#include "ghala/upstream/file_response.hpp"
#include "server/client_conn.hpp"
#include "server/object_memo.hpp"
#include "server/revalidation.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace ghala::server {

using namespace std::string_view_literals;

using observe::UpstreamErrorKind;

const char* to_string(Phase p) noexcept {
  switch (p) {
    case Phase::Route:
      return "route";
    case Phase::Lookup:
      return "lookup";
    case Phase::Fetch:
      return "fetch";
    case Phase::Deliver:
      return "deliver";
    case Phase::Log:
      return "log";
    case Phase::Done:
      return "done";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Directory-origin file reads: open() runs on the libuv thread pool (it may touch the disk), then
// the body is read in blocks with uv_fs_read, one block at a time, paused while the client's
// write queue is full. The reader outlives its exchange if an operation is in flight.

struct FileReader {
  Exchange* owner = nullptr;
  Worker* worker = nullptr;
  std::shared_ptr<const upstream::DirOrigin> dir;
  std::string path;
  uv_work_t work{};
  uv_fs_t fs{};
  std::optional<Result<upstream::OpenedFile>> opened;
  upstream::UniqueFd fd;
  Block* block = nullptr;
  std::uint64_t offset = 0;
  std::uint64_t remaining = 0;
  bool busy = false;

  void open() {
    busy = true;
    work.data = this;
    uv_queue_work(
        worker->loop(), &work,
        [](uv_work_t* w) {
          auto* r = static_cast<FileReader*>(w->data);
          r->opened.emplace(r->dir->open(r->path));
        },
        [](uv_work_t* w, int) {
          auto* r = static_cast<FileReader*>(w->data);
          r->busy = false;
          if (!r->owner) {
            delete r;
            return;
          }
          auto result = std::move(*r->opened);
          r->opened.reset();
          r->owner->on_file_opened(std::move(result));
        });
  }

  void read_next() {
    if (busy || remaining == 0) return;
    busy = true;
    block = worker->blocks().acquire();
    const auto n = static_cast<unsigned>(std::min<std::uint64_t>(remaining, block->capacity));
    uv_buf_t buf = uv_buf_init(block->data(), n);
    fs.data = this;
    int rc = uv_fs_read(worker->loop(), &fs, fd.get(), &buf, 1, static_cast<std::int64_t>(offset),
                        [](uv_fs_t* req) { static_cast<FileReader*>(req->data)->on_read(); });
    if (rc < 0) {
      busy = false;
      BlockPool::unref(block);
      block = nullptr;
      if (owner) owner->on_file_error();
    }
  }

  void on_read() {
    const auto n = fs.result;
    uv_fs_req_cleanup(&fs);
    busy = false;
    Block* b = std::exchange(block, nullptr);
    if (!owner) {
      BlockPool::unref(b);
      delete this;
      return;
    }
    if (n <= 0) {  // error, or the file shrank under us
      BlockPool::unref(b);
      owner->on_file_error();
      return;
    }
    offset += static_cast<std::uint64_t>(n);
    remaining -= std::min<std::uint64_t>(remaining, static_cast<std::uint64_t>(n));
    BlockRef data(b, std::string_view(b->data(), static_cast<std::size_t>(n)));
    BlockPool::unref(b);
    owner->on_file_data(std::move(data), remaining == 0);
  }

  // The exchange is going away.
  void detach() {
    owner = nullptr;
    if (!busy) delete this;
  }
};

// ---------------------------------------------------------------------------------------------

namespace {

bool printable_id(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

void append_field(http::HeaderMap& h, std::string_view name, std::string_view value) {
  auto existing = h.get_combined(name);
  if (existing) {
    h.set(name, *existing + ", " + std::string(value));
  } else {
    h.add(name, value);
  }
}

// Whether the request carries a field that can turn a stored 200 into 304/412/206/416 (RFC 9110
// §13.1, §14.2). Most hits carry none: one pass over the request instead of parsing validators.
bool precondition_or_range(const http::HeaderMap& h) {
  for (const auto& f : h) {
    const auto& n = f.name;
    if (n.empty() || (n[0] != 'I' && n[0] != 'i' && n[0] != 'R' && n[0] != 'r')) continue;
    if (http::iequals(n, "If-Match") || http::iequals(n, "If-None-Match") ||
        http::iequals(n, "If-Modified-Since") || http::iequals(n, "If-Unmodified-Since") ||
        http::iequals(n, "If-Range") || http::iequals(n, "Range")) {
      return true;
    }
  }
  return false;
}

int status_for(UpstreamErrorKind kind) {
  switch (kind) {
    case UpstreamErrorKind::ConnectTimeout:
    case UpstreamErrorKind::FirstByteTimeout:
    case UpstreamErrorKind::ReadTimeout:
    case UpstreamErrorKind::WriteTimeout:
      return 504;
    default:
      return 502;
  }
}

const char* error_name(UpstreamErrorKind kind) {
  switch (kind) {
    case UpstreamErrorKind::ConnectRefused:
      return "upstream_connect_refused";
    case UpstreamErrorKind::ConnectTimeout:
      return "upstream_connect_timeout";
    case UpstreamErrorKind::FirstByteTimeout:
      return "upstream_first_byte_timeout";
    case UpstreamErrorKind::ReadTimeout:
      return "upstream_read_timeout";
    case UpstreamErrorKind::WriteTimeout:
      return "upstream_write_timeout";
    case UpstreamErrorKind::Reset:
      return "upstream_reset";
    case UpstreamErrorKind::InvalidResponse:
      return "upstream_invalid_response";
    case UpstreamErrorKind::NoServer:
      return "upstream_no_server";
    case UpstreamErrorKind::kCount:
      break;
  }
  return "upstream_error";
}

constexpr std::string_view kVia = "1.1 ghala";

}  // namespace

Exchange::Exchange(ClientConn* client, http::RequestHead& request, SnapshotPtr snapshot,
                   std::uint64_t start_ns)
    : client_(client), req_(request), snap_(std::move(snapshot)), start_ns_(start_ns) {}

Exchange::~Exchange() {
  stop_waiting();
  if (admin_alive_) *admin_alive_ = false;
  if (conn_) conn_->release(false);
  if (file_) file_->detach();
  if (disk_reader_) disk_reader_->detach();
}

// ---------------------------------------------------------------------------------------------
// Route

void Exchange::start() {
  if (auto v = req_.headers.get("Host")) host_ = *v;
  if (auto v = req_.headers.get("User-Agent")) user_agent_ = *v;
  if (auto v = req_.headers.get("Referer")) referer_ = *v;
  auto id = req_.headers.get("X-Request-Id");
  if (id && printable_id(*id)) {
    request_id_ = *id;
  } else {
    char generated[observe::kRequestIdLength];
    observe::generate_request_id(generated);
    request_id_ = req_.headers.set("X-Request-Id", std::string_view(generated, sizeof generated));
  }
  // Absolute-form (RFC 9112 §3.2.2): the authority replaces Host.
  std::string_view t = req_.target;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (t.size() > scheme.size() && http::iequals(t.substr(0, scheme.size()), scheme)) {
      auto rest = t.substr(scheme.size());
      auto slash = rest.find('/');
      std::string authority(rest.substr(0, slash));
      std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
      req_.headers.set("Host", authority);
      host_ = authority;
      req_.target = std::move(path);
      break;
    }
  }
  target_ = req_.target;
  if (client_->worker().admin()) {
    if (request_done_) serve_admin();
    return;
  }
  if (req_.target.empty() ||
      (req_.target[0] != '/' && !(req_.target == "*" && req_.method == http::Method::Options))) {
    error_ = "bad_target";
    respond_simple(400, "bad request target\n");
    return;
  }
  if (req_.method == http::Method::Connect) {
    respond_simple(405, "CONNECT is not supported\n");
    return;
  }
  route();
}

void Exchange::route() {
  phase_ = Phase::Route;
  const auto& cfg = *snap_->config;
  const auto& site = config::match_site(cfg, config::normalize_host(host_));
  site_ = &site;
  site_index_ = static_cast<std::size_t>(&site - cfg.sites.data());
  route_ = config::match_route(site, req_.path());
  if (!route_) {
    error_ = "no_route";
    respond_simple(404, "no route for this path\n");
    return;
  }
  route_index_ = static_cast<std::size_t>(route_ - site.routes.data());
  lookup();
}

// ---------------------------------------------------------------------------------------------
// Lookup: the cache (server/cache_flow.hpp). A servable object is delivered at once; a
// stale-while-revalidate one also starts the key's background revalidation (before serving:
// serving may end this exchange).

void Exchange::lookup() {
  phase_ = Phase::Lookup;
  looked_up_ = true;
  cache_.set_loop(client_->worker().loop());
  if (auto hit = cache_.lookup(*snap_, *route_, req_, host_)) {
    serve_lookup(std::move(hit));
    return;
  }
  if (cache_.disk_lookup_due(*snap_)) {
    lookup_disk();
    return;
  }
  missed();
}

// Nothing stored answers without the origin: only-if-cached gets its 504 (RFC 9111 §5.2.1.7);
// otherwise the request joins (or leads) the key's fetch, or fetches alone.
void Exchange::missed() {
  if (cache_.only_if_cached_miss()) {
    error_ = "only_if_cached";
    respond_simple(504, "not in cache (only-if-cached)\n");
    return;
  }
  if (cache_.coalesce(*snap_, req_) == CoalesceRole::Wait) {
    wait_for_fetch();
    return;
  }
  fetch();
}

void Exchange::serve_lookup(cache::ObjectPtr hit) {
  if (cache_.background_revalidation()) {
    BackgroundRevalidation::start(client_->worker(), snap_, *route_, cache_.for_background(), req_);
  }
  serve_hit(std::move(hit));
}

// A memory miss: the disk tier is asked on the thread pool, and the exchange waits in Lookup.
// If the client goes away meanwhile, the exchange ends (and may be destroyed): the job's link
// then expires, or response_done_ tells the callback that nobody waits any more.
void Exchange::lookup_disk() {
  if (!disk_link_) disk_link_ = std::make_shared<int>(0);
  const std::uint64_t memory_max = snap_->memory ? snap_->memory->max_object_bytes() : 0;
  disk_lookup(client_->worker().loop(), snap_->disk, cache_.key(), req_.headers, memory_max,
              disk_link_, [this](DiskFound found) { on_disk_lookup(std::move(found)); });
}

void Exchange::on_disk_lookup(DiskFound found) {
  if (response_done_) return;
  disk_first_chunk_ = std::move(found.first_chunk);
  disk_view_ = std::move(found.view);
  if (auto hit = cache_.on_disk_found(*snap_, req_, std::move(found.object))) {
    serve_lookup(std::move(hit));
    return;
  }
  missed();
}

// ---------------------------------------------------------------------------------------------
// Coalescing (server/coalescer.hpp): this request waits for another request's fetch of the same
// key, then streams that response as it arrives, or is served the complete object; or it goes
// to the origin itself (lock timeout, Vary mismatch, an answer that cannot be shared).

void Exchange::wait_for_fetch() {
  auto& w = client_->worker();
  wait_ = std::make_shared<WaitToken>();
  wait_->worker = &w;
  wait_->exchange = this;
  lock_deadline_ms_ =
      uv_now(w.loop()) + static_cast<std::uint64_t>(snap_->config->cache.lock_timeout.count());
  lock_waiting_ = true;
  w.waiting_started(this);
  observe::Metrics::get().cache_waiting(1);
  cache_.inflight()->add_waiter(wait_);  // may post a wake at once: it runs later on this loop
}

void Exchange::stop_waiting() {
  if (!wait_) return;
  if (const auto& f = cache_.inflight()) f->remove_waiter(wait_.get());
  wait_->exchange = nullptr;
  wait_.reset();
  end_lock_wait();
}

// The lock-timeout part of waiting ends: the response started streaming, or waiting ended.
void Exchange::end_lock_wait() {
  if (!lock_waiting_) return;
  lock_waiting_ = false;
  client_->worker().waiting_finished(this);
  observe::Metrics::get().cache_waiting(-1);
}

void Exchange::go_alone(const char* why) {
  stop_waiting();
  cache_.wait_ended(why);
  fetch();
}

// The fetch waited for brings another variant: share a fetch of this request's own variant.
void Exchange::wait_for_variant(const cache::StoredObject& other) {
  stop_waiting();
  cache_.wait_ended("vary-miss");
  const auto role = cache_.rejoin_for_variant(other, req_);
  if (role == CoalesceRole::Wait) {
    wait_for_fetch();
    return;
  }
  fetch();
}

void Exchange::on_lock_tick(std::uint64_t now_ms) {
  if (!wait_ || coalesced_streaming_ || now_ms < lock_deadline_ms_) return;
  go_alone("lock-timeout");
}

void Exchange::on_coalesced_wake() {
  if (!wait_ || response_done_) return;
  if (coalesced_streaming_) {
    pump_coalesced();
    return;
  }
  auto v = cache_.inflight()->read(SIZE_MAX);  // the state only, no pieces
  switch (v.state) {
    case InFlightFetch::State::Fetching:
      return;
    case InFlightFetch::State::Complete:
      if (v.object && CacheFlow::selects(*v.object, req_)) {
        stop_waiting();
        cache_.coalesced_hit(*v.object);
        serve_hit(std::move(v.object));
      } else if (v.object) {
        wait_for_variant(*v.object);
      } else {
        go_alone("failed");
      }
      return;
    case InFlightFetch::State::Pass:
      go_alone("pass");
      return;
    case InFlightFetch::State::Failed:
      go_alone("failed");
      return;
    case InFlightFetch::State::Streaming:
      if (!CacheFlow::selects(*v.head, req_)) {
        wait_for_variant(*v.head);
        return;
      }
      // Preconditions and Range are evaluated against the complete object (serve_hit).
      if (precondition_or_range(req_.headers)) return;
      start_coalesced_stream(*v.head, v.length_known);
      return;
  }
}

// Relays the leader's response as it arrives: the head now, the body pieces as they are
// published, with the same backpressure as an upstream body (pump_coalesced resumes from
// on_client_writable). Pieces are the leader's own shared chunks, never copied.
void Exchange::start_coalesced_stream(const cache::StoredObject& stored, bool length_known) {
  end_lock_wait();  // no lock timeout once the response started
  coalesced_streaming_ = true;
  served_from_cache_ = true;
  cache_.coalesced_hit(stored);
  phase_ = Phase::Deliver;
  http::ResponseHead head;
  head.status = stored.status;
  cache_.hit_headers(stored, head.headers);
  append_field(head.headers, "Via", kVia);
  if (!head.headers.contains("Date")) head.headers.add("Date", http::cached_http_date_now());
  head.headers.set("X-Request-Id", request_id_);
  const bool body = !http::response_has_no_body(req_.method, head.status);
  bool chunked = false;
  if (!length_known) {
    head.headers.remove("Content-Length");
    if (body && req_.version_minor >= 1) {
      chunked = true;
      head.headers.add("Transfer-Encoding", "chunked");
    } else if (body) {
      keep_alive_ = false;  // HTTP/1.0 client: the end of the body is the close
    }
  }
  send_response_head(head, body, chunked);
  if (!body) {
    stop_waiting();
    finish(keep_alive_);
    return;
  }
  pump_coalesced();
}

void Exchange::pump_coalesced() {
  const InFlightPtr fetch = cache_.inflight();
  if (!fetch) return;
  auto v = fetch->read(pieces_sent_);
  for (auto& piece : v.pieces) {
    if (client_->write_blocked()) return;  // on_client_writable pumps again
    ++pieces_sent_;
    if (piece.empty()) continue;
    if (chunked_out_) {
      std::string size;
      http::append_chunk_size(piece.size(), size);
      send_to_client(std::move(size), {}, http::kChunkEnd, piece);
    } else {
      send_to_client({}, {}, {}, piece);
    }
    if (response_done_) return;  // the client went away
  }
  if (v.state == InFlightFetch::State::Failed) {
    stop_waiting();
    abort("coalesced_fetch_failed");  // the message started: it cannot be completed otherwise
    return;
  }
  if (v.state == InFlightFetch::State::Complete) {
    if (chunked_out_) send_to_client(std::string(http::kLastChunk));
    stop_waiting();
    finish(keep_alive_);
  }
}

namespace {

// A stored object's fields as a hit sends them, serialised once per object and worker
// (server/object_memo.hpp): without Age and Content-Length, which hit_headers replaces. Objects
// whose stored fields include one that serve_hit or send_response_head replace or combine (Via,
// X-Request-Id, Connection) are not `usable`: they take the HeaderMap path.
struct HitFields {
  bool usable = false;
  bool has_date = false;
  std::string text;
};

const HitFields& hit_fields(const cache::ObjectPtr& obj) {
  thread_local ObjectMemo<HitFields> memo;
  return memo.get(obj, [&](HitFields& f) {
    f.usable = true;
    f.has_date = false;
    f.text.clear();
    for (const auto& h : obj->headers) {
      if (http::iequals(h.name, "Via") || http::iequals(h.name, "X-Request-Id") ||
          http::iequals(h.name, "Connection")) {
        f.usable = false;
        f.text.clear();
        return;
      }
      if (http::iequals(h.name, "Age") || http::iequals(h.name, "Content-Length")) continue;
      if (http::iequals(h.name, "Date")) f.has_date = true;
      f.text.append(h.name).append(": ").append(h.value).append("\r\n");
    }
  });
}

}  // namespace

// Delivers a stored object: the client's preconditions (RFC 9110 §13.2: 304 or 412) and Range
// (§14: 206 or 416) are evaluated against it when it is a 200. Body chunks are shared with the
// cache and queued by reference; for a range only the partial first and last chunks are copied.
void Exchange::serve_hit(cache::ObjectPtr object) {
  phase_ = Phase::Deliver;
  served_from_cache_ = true;
  const bool conditional = object->status == 200 && precondition_or_range(req_.headers);
  if (!conditional && !disk_backed(*object)) {
    if (const auto& fields = hit_fields(object); fields.usable) {
      const bool body =
          !http::response_has_no_body(req_.method, object->status) && object->body_size > 0;
      send_hit_head(*object, fields.text, fields.has_date, body);
      if (body) send_hit_body(*object, {0, object->body_size});
      if (!response_done_) finish(keep_alive_);
      return;
    }
  }
  http::ResponseHead head;
  head.status = object->status;
  cache_.hit_headers(*object, head.headers);
  append_field(head.headers, "Via", kVia);
  if (!head.headers.contains("Date")) head.headers.add("Date", http::cached_http_date_now());
  head.headers.set("X-Request-Id", request_id_);
  http::ByteRange range{0, object->body_size};
  if (conditional) {
    auto cond = http::conditional_request_from(req_.method, req_.headers);
    if (cache_.validating()) {  // those fields are ghala's own, added for the origin
      cond.if_none_match.reset();
      cond.if_modified_since.reset();
    }
    http::Validators current;
    if (auto v = object->headers.get("ETag")) current.etag = http::parse_entity_tag(*v);
    if (auto v = object->headers.get("Last-Modified")) {
      current.last_modified = http::parse_http_date(*v);
    }
    const auto pre = http::evaluate_preconditions(cond, current);
    if (pre.outcome == http::Precondition::Failed) {
      respond_simple(412, "precondition failed\n");
      return;
    }
    if (pre.outcome == http::Precondition::NotModified) {
      head.status = 304;
      head.headers.remove("Content-Length");
      send_response_head(head, false, false);
      finish(keep_alive_);
      return;
    }
    const auto field = req_.headers.get("Range");
    if (pre.range_allowed && field) {
      const auto r = http::resolve_range(*field, object->body_size);
      if (r.outcome == http::RangeOutcome::NotSatisfiable) {
        head.status = 416;
        head.headers.set("Content-Range", http::format_unsatisfied_range(object->body_size));
        head.headers.set("Content-Length", "0");
        send_response_head(head, false, false);
        finish(keep_alive_);
        return;
      }
      if (r.outcome == http::RangeOutcome::Satisfiable) {
        range = r.range;
        head.status = 206;
        head.headers.set("Content-Range", http::format_content_range(range, object->body_size));
        head.headers.set("Content-Length", std::to_string(range.length));
      }
    }
  }
  const bool body = !http::response_has_no_body(req_.method, head.status) && range.length > 0;
  send_response_head(head, body, false);
  if (body && disk_backed(*object)) {  // too large for memory: streamed from the disk tier
    disk_reader_ = new DiskBodyReader(client_->worker().loop(), snap_->disk, cache_.key(), object,
                                      std::move(disk_first_chunk_), std::move(disk_view_),
                                      range.offset, range.length, this);
    disk_reader_->read_next();
    return;
  }
  if (body) send_hit_body(*object, range);
  if (!response_done_) finish(keep_alive_);
}

// The head of a hit without preconditions or Range, written as text: the same bytes as
// hit_headers + serve_hit's fields + send_response_head for an object whose stored fields
// (`stored`, see hit_fields) hold no Via, X-Request-Id or Connection.
void Exchange::send_hit_head(const cache::StoredObject& object, std::string_view stored,
                             bool has_date, bool body_follows) {
  status_ = object.status;
  keep_alive_ = keep_alive_ && req_.keep_alive && !client_->worker().draining();
  if (out_head_.empty()) out_head_ = text_pool::take();
  std::string& out = out_head_;
  const std::size_t before = out.size();
  out.reserve(out.size() + stored.size() + 256 + request_id_.size());
  out.append("HTTP/1.1 "sv).append(std::to_string(object.status)).append(" "sv);
  out.append(http::reason_phrase(object.status)).append("\r\n"sv).append(stored);
  cache_.append_hit_fields(object, out);
  out.append("Via: "sv).append(kVia).append("\r\n"sv);
  if (!has_date) out.append("Date: "sv).append(http::cached_http_date_now()).append("\r\n"sv);
  out.append("X-Request-Id: "sv).append(request_id_).append("\r\n"sv);
  if (!keep_alive_) {
    out.append("Connection: close\r\n"sv);
  } else if (req_.version_minor == 0) {
    out.append("Connection: keep-alive\r\n"sv);
  }
  out.append("\r\n"sv);
  head_bytes_ += out.size() - before;
  head_sent_ = true;
  chunked_out_ = false;
  response_body_allowed_ = body_follows;
}

// Body chunks shared with the cache are queued by reference, a range's partial first and last
// chunks as slices of them. Stops early when the client goes away (response_done_).
void Exchange::send_hit_body(const cache::StoredObject& object, http::ByteRange range) {
  std::uint64_t skip = range.offset;
  std::uint64_t left = range.length;
  for (const auto& chunk : object.chunks) {
    if (left == 0) break;
    if (skip >= chunk.size()) {
      skip -= chunk.size();
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size() - skip, left));
    send_to_client({}, {}, {}, SharedSlice(chunk, static_cast<std::size_t>(skip), n));
    skip = 0;
    left -= n;
    if (response_done_) return;
  }
}

// The origin failed (fwd_status: its 5xx, or 0 when no response came): the stale object when the
// error fallback allows it (stale-if-error, grace), else the error.
void Exchange::serve_stale_or(int fwd_status, int status, std::string_view body) {
  if (auto stale = cache_.stale_on_error(fwd_status)) {
    drop_upstream(false);
    serve_hit(std::move(stale));
    return;
  }
  respond_simple(status, body);
}

// ---------------------------------------------------------------------------------------------
// Fetch

void Exchange::fetch() {
  phase_ = Phase::Fetch;
  const auto& up = snap_->config->upstreams[route_->upstream_index];
  if (up.kind == config::OriginKind::Dir) {
    fetch_dir();
  } else {
    fetch_http(nullptr, false);
  }
}

void Exchange::fetch_http(const upstream::UpstreamPool* exclude, bool fresh) {
  const auto& up = snap_->config->upstreams[route_->upstream_index];
  auto& pools = client_->worker().pools_for(*snap_, route_->upstream_index, scratch_pools_);
  const auto now_ms = uv_now(client_->worker().loop());
  pool_ = upstream::pick_server(pools, up.balance, now_ms, exclude);
  if (!pool_) {
    error_ = "upstream_no_server";
    serve_stale_or(0, 502, "no upstream server available\n");
    return;
  }
  // pick_server returns a suspect server only when every server is suspect (each failed within
  // the last few seconds: the backhaul is down). A request that may be answered stale does not
  // wait for another timeout: it is answered now, also while one request probes a server that
  // failed and has not answered since. Others still try, which is also what probes the origin's
  // return.
  if (attempts_ == 0 && pool_->avoid_for_stale(now_ms) && cache_.has_error_fallback()) {
    error_ = "upstream_suspect";
    serve_stale_or(0, 502, "upstream unavailable\n");
    return;
  }
  if (attempts_ == 0 && cache_.cacheable_request()) {
    observe::Metrics::get().cache_origin_fetch(false);
  }
  ++attempts_;
  upstream_addr_ = pool_->address_text();
  upstream_start_ns_ = uv_hrtime();
  bool ready = false;
  conn_ = pool_->acquire(this, fresh, &ready);
  conn_ready_ = ready;
  conn_reused_ = ready;
  if (ready) {
    upstream_connect_s_ = 0;
    send_upstream_head();
  }
}

void Exchange::on_upstream_connected() {
  conn_ready_ = true;
  upstream_connect_s_ = conn_->connect_seconds();
  send_upstream_head();
}

void Exchange::prepare_upstream_head() {
  if (upstream_head_ready_) return;
  upstream_head_ready_ = true;
  auto& h = req_.headers;
  http::strip_hop_by_hop(h);
  h.remove("Expect");
  cache_.add_conditionals(h);
  if (route_->host_mode == config::HostHeaderMode::Rewrite) h.set("Host", route_->host_rewrite);
  append_field(h, "X-Forwarded-For", client_->peer_ip());
  h.set("X-Forwarded-Proto", "http");
  if (!host_.empty()) h.set("X-Forwarded-Host", host_);
  append_field(h, "Via", kVia);
  if (req_.framing == http::BodyFraming::Chunked) h.add("Transfer-Encoding", "chunked");
}

void Exchange::send_upstream_head() {
  prepare_upstream_head();
  std::string text = text_pool::take();
  http::serialize_request_head(req_, text);
  conn_->begin_request(req_.method);
  conn_->write(std::move(text));
  if (req_.expect_continue && !continue_sent_ && !request_done_ && !body_started_) {
    continue_sent_ = true;
    client_->write(std::string("HTTP/1.1 100 Continue\r\n\r\n"));
  }
  std::size_t forwarded = 0;
  while (forwarded < pending_body_.size() && conn_) {
    forward_body(std::move(pending_body_[forwarded++]));
  }
  pending_body_.erase(pending_body_.begin(),
                      pending_body_.begin() + static_cast<std::ptrdiff_t>(forwarded));
  if (!conn_) return;
  // Reading may have been paused while the body waited for this connection; the client
  // connection only starts reading again if the request is not complete.
  client_->resume_reading();
  if (request_done_) finish_upstream_request();
}

void Exchange::forward_body(BlockRef data) {
  body_started_ = true;
  if (req_.framing == http::BodyFraming::Chunked) {
    std::string size;
    http::append_chunk_size(data.view().size(), size);
    conn_->write(std::move(size), std::move(data), http::kChunkEnd);
  } else {
    conn_->write({}, std::move(data));
  }
  if (conn_ && conn_->write_blocked()) client_->pause_reading();
}

void Exchange::finish_upstream_request() {
  if (request_sent_) return;
  request_sent_ = true;
  if (req_.framing == http::BodyFraming::Chunked) conn_->write(std::string(http::kLastChunk));
  if (conn_) conn_->request_sent();
}

void Exchange::on_request_body(BlockRef data) {
  if (client_->worker().admin()) {  // kept for the purge API, one byte past its limit at most
    const std::size_t room =
        admin::kMaxPurgeBody + 1 - std::min(admin_body_.size(), admin::kMaxPurgeBody + 1);
    admin_body_.append(data.view().substr(0, room));
    return;
  }
  if (response_done_) return;  // discarded
  if (conn_ && conn_ready_) {
    forward_body(std::move(data));
  } else if (!head_sent_ && route_ && !file_) {
    pending_body_.push_back(std::move(data));
    client_->pause_reading();
  }
}

void Exchange::on_request_complete() {
  request_done_ = true;
  if (client_->worker().admin()) {
    if (!response_done_) serve_admin();
    return;
  }
  if (conn_ && conn_ready_) finish_upstream_request();
}

void Exchange::on_upstream_writable() {
  client_->resume_reading();
}

void Exchange::on_upstream_error(UpstreamErrorKind kind, bool received_bytes) {
  const bool was_reused = conn_reused_;
  conn_ = nullptr;
  conn_ready_ = false;
  if (head_sent_) {
    abort(error_name(kind));
    return;
  }
  if (!received_bytes && !body_started_ && attempts_ < 2) {
    const bool simple = http::is_idempotent(req_.method) && req_.framing == http::BodyFraming::None;
    if (kind == UpstreamErrorKind::Reset && was_reused && simple) {
      request_sent_ = false;
      fetch_http(nullptr, true);  // a stale keep-alive connection: once more on a fresh one
      return;
    }
    const bool connect_failed =
        kind == UpstreamErrorKind::ConnectRefused || kind == UpstreamErrorKind::ConnectTimeout;
    if (connect_failed &&
        client_->worker().pools_for(*snap_, route_->upstream_index, scratch_pools_).size() > 1) {
      fetch_http(pool_, false);  // nothing was sent: another server may take it
      return;
    }
  }
  error_ = error_name(kind);
  // A server resolved from a host name is shown with it: "origin.example.com (10.0.0.5:8080)".
  const std::string& name = pool_ ? pool_->server().host_name : std::string();
  const std::string where = name.empty() ? upstream_addr_ : name + " (" + upstream_addr_ + ")";
  log_warn("upstream " + where + ": " + error_ + " for " + req_.method_text + " " + target_ +
           " (request " + std::string(request_id_) + ")");
  const int status = status_for(kind);
  serve_stale_or(0, status, status == 504 ? "upstream timed out\n" : "upstream unavailable\n");
}

// ---------------------------------------------------------------------------------------------
// Deliver

void Exchange::on_upstream_head(http::ResponseHead& head) {
  phase_ = Phase::Deliver;
  upstream_status_ = head.status;
  upstream_head_s_ = static_cast<double>(uv_hrtime() - upstream_start_ns_) / 1e9;
  pool_->metrics().observe_latency(upstream_head_s_);
  auto& h = head.headers;
  http::strip_hop_by_hop(h);
  switch (cache_.on_response_head(*snap_, req_, head)) {  // stores what the origin sent
    case HeadAction::Relay:
      break;
    case HeadAction::ServeStored:  // a 304 (no body): served when complete, conn kept
      serve_stored_ = true;
      return;
    case HeadAction::ServeStale:  // never relay a 5xx body to then switch to stale
      error_ = "upstream_error_status";
      serve_stale_or(head.status, 502, "upstream answered with an invalid response\n");
      return;
  }
  append_field(h, "Via", kVia);
  if (!h.contains("Date")) h.add("Date", http::cached_http_date_now());
  if (!h.contains("X-Request-Id")) h.add("X-Request-Id", request_id_);
  const bool body = !http::response_has_no_body(req_.method, head.status);
  bool chunked = false;
  if (body && head.framing != http::BodyFraming::ContentLength) {
    if (req_.version_minor >= 1) {
      chunked = true;
      h.remove("Content-Length");
      h.add("Transfer-Encoding", "chunked");
    } else {
      keep_alive_ = false;  // HTTP/1.0 client: the end of the body is the close
    }
  }
  send_response_head(head, body, chunked);
}

void Exchange::send_response_head(http::ResponseHead& head, bool body_follows, bool chunked) {
  status_ = head.status;
  keep_alive_ = keep_alive_ && req_.keep_alive && !client_->worker().draining();
  if (!keep_alive_) {
    head.headers.set("Connection", "close");
  } else if (req_.version_minor == 0) {
    head.headers.set("Connection", "keep-alive");
  }
  // The head waits in out_head_ so that it leaves with the first body bytes in one write
  // (see send_to_client); it is flushed alone at the end of an upstream read at the latest.
  if (out_head_.empty()) out_head_ = text_pool::take();
  const std::size_t before = out_head_.size();
  http::serialize_response_head(head, out_head_);
  head_bytes_ += out_head_.size() - before;
  head_sent_ = true;
  chunked_out_ = chunked;
  response_body_allowed_ = body_follows;
}

void Exchange::on_upstream_body(BlockRef data) {
  if (serve_stored_ || !response_body_allowed_ || data.empty()) return;
  // A leader's piece is shared with the cache and its waiters: the client gets the same bytes
  // by reference and the read block goes back to the pool at once.
  auto piece = cache_.on_body(data.view());
  if (piece) data = BlockRef();
  const std::size_t n = piece ? piece.size() : data.view().size();
  if (chunked_out_) {
    std::string size;
    http::append_chunk_size(n, size);
    send_to_client(std::move(size), std::move(data), http::kChunkEnd, std::move(piece));
  } else {
    send_to_client({}, std::move(data), {}, std::move(piece));
  }
  // A fetch that waiters share is not slowed to this client's pace: the bytes are bounded by
  // the object being stored, and the queue holds the same pieces the cache does.
  if (conn_ && !upstream_paused_ && client_->write_blocked() && !cache_.shared_fetch()) {
    upstream_paused_ = true;
    conn_->pause_reading();
  }
}

void Exchange::on_client_writable() {
  if (coalesced_streaming_ && wait_) pump_coalesced();
  if (upstream_paused_ && conn_) {
    upstream_paused_ = false;
    conn_->resume_reading();
  }
  if (file_ && !file_->busy && file_->remaining > 0) file_->read_next();
  if (disk_reader_ && !disk_reader_->busy() && !response_done_) disk_reader_->read_next();
}

// A piece of a disk-backed body, queued by reference (a range's partial first and last chunks as
// slices). The next chunk is read once the client can take more.
void Exchange::on_disk_body(cache::Chunk chunk, std::size_t offset, std::size_t length, bool last) {
  if (response_done_) return;
  send_to_client({}, {}, {}, SharedSlice(std::move(chunk), offset, length));
  if (response_done_) return;  // the write failed and ended this exchange
  if (last) {
    finish(keep_alive_);
    return;
  }
  if (!client_->write_blocked()) disk_reader_->read_next();
}

// A chunk failed its checksum (the tier dropped the object) or could not be read after the head
// went out: close the connection, so the client sees a truncated message, never a complete-looking
// wrong one.
void Exchange::on_disk_body_error() {
  if (response_done_) return;
  log_warn("disk tier: body of " + target_ +
           " unreadable mid-response, connection closed (request " + std::string(request_id_) +
           ")");
  abort("disk_read_error");
}

void Exchange::on_upstream_complete() {
  if (serve_stored_) {
    drop_upstream(request_done_ && request_sent_);
    serve_hit(cache_.revalidated());
    return;
  }
  if (chunked_out_ && response_body_allowed_) send_to_client(std::string(http::kLastChunk));
  cache_.on_complete(*snap_, req_, host_, upstream_status_);
  drop_upstream(request_done_ && request_sent_);
  finish(keep_alive_);
}

// ---------------------------------------------------------------------------------------------
// Directory origin

void Exchange::fetch_dir() {
  upstream_addr_ = "dir";
  if (req_.method != http::Method::Get && req_.method != http::Method::Head) {
    http::HeaderMap extra;
    extra.add("Allow", "GET, HEAD");
    respond_simple(405, "method not allowed\n", "text/plain; charset=utf-8", &extra);
    return;
  }
  upstream_start_ns_ = uv_hrtime();
  file_ = new FileReader;
  file_->owner = this;
  file_->worker = &client_->worker();
  file_->dir = snap_->upstreams[route_->upstream_index].dir;
  file_->path = std::string(req_.path());
  file_->open();
}

void Exchange::on_file_opened(Result<upstream::OpenedFile> result) {
  upstream_head_s_ = static_cast<double>(uv_hrtime() - upstream_start_ns_) / 1e9;
  if (!result) {
    const auto kind = result.error().kind;
    const int status = kind == ErrorKind::NotFound  ? 404
                       : kind == ErrorKind::Denied  ? 403
                       : kind == ErrorKind::Invalid ? 400
                                                    : 500;
    if (status == 500) log_error("dir origin: " + result.error().message);
    upstream_status_ = status;
    respond_simple(status, status == 404   ? "not found\n"
                           : status == 403 ? "forbidden\n"
                           : status == 400 ? "bad request\n"
                                           : "internal error\n");
    return;
  }
  auto& file = result.value();
  if (file.kind == upstream::OpenedKind::RedirectToSlash) {
    http::HeaderMap extra;
    // redirect_path collapses repeated slashes: "//evil.example" must not become a
    // protocol-relative Location that sends the browser to another host.
    std::string location = file.redirect_path;
    if (!req_.query().empty()) location.append("?").append(req_.query());
    extra.add("Location", location);
    upstream_status_ = 301;
    respond_simple(301, "moved permanently\n", "text/plain; charset=utf-8", &extra);
    return;
  }
  phase_ = Phase::Deliver;
  const auto plan =
      upstream::plan_file_response(req_, upstream::file_meta(file), std::time(nullptr));
  upstream_status_ = plan.status;
  http::ResponseHead head;
  head.status = plan.status;
  head.headers = plan.headers;
  head.headers.add("Date", http::cached_http_date_now());
  head.headers.add("X-Request-Id", request_id_);
  const bool body = plan.length > 0 && req_.method != http::Method::Head;
  send_response_head(head, body, false);
  if (!body) {
    finish(keep_alive_);
    return;
  }
  file_->fd = std::move(file.fd);
  file_->offset = plan.offset;
  file_->remaining = plan.length;
  file_->read_next();
}

void Exchange::on_file_data(BlockRef data, bool eof) {
  send_to_client({}, std::move(data));
  if (response_done_ || !file_) return;  // the write failed and ended this exchange
  if (eof) {
    finish(keep_alive_);
  } else if (!client_->write_blocked()) {
    file_->read_next();
  }
}

void Exchange::on_file_error() {
  log_error("dir origin: read failed for " + target_);
  abort("file_read_error");
}

// ---------------------------------------------------------------------------------------------
// Admin

void Exchange::serve_admin() {
  phase_ = Phase::Fetch;
  // A purge answers after running on the thread pool; the client may be gone by then.
  admin_alive_ = std::make_shared<bool>(true);
  admin::handle(req_, admin_body_, client_->peer_ip(), client_->worker().server(),
                [this, alive = admin_alive_](admin::Response r) {
                  if (*alive) respond_simple(r.status, r.body, r.content_type, &r.headers);
                });
}

// ---------------------------------------------------------------------------------------------
// Responses generated by ghala itself, finishing, logging

void Exchange::respond_simple(int status, std::string_view body, std::string_view content_type,
                              const http::HeaderMap* extra) {
  if (head_sent_) {
    abort("error_after_head");
    return;
  }
  drop_upstream(false);
  if (req_.expect_continue && !continue_sent_ && !request_done_) {
    keep_alive_ = false;  // the client may still send the body it was waiting to send
  }
  http::ResponseHead head;
  head.status = status;
  if (extra) head.headers = *extra;
  const bool has_body = !http::response_has_no_body(req_.method, status);
  head.headers.add("Content-Type", content_type);
  head.headers.add("Content-Length", std::to_string(body.size()));
  head.headers.add("Date", http::cached_http_date_now());
  if (!request_id_.empty()) head.headers.add("X-Request-Id", request_id_);
  if (status >= 400) head.headers.add("Cache-Control", "no-store");
  send_response_head(head, has_body, false);
  if (has_body && !body.empty()) send_to_client(std::string(body));
  finish(keep_alive_);
}

void Exchange::drop_upstream(bool reusable) {
  if (!reusable) cache_.abandon();  // an incomplete response is never stored
  if (conn_) {
    auto* c = std::exchange(conn_, nullptr);
    conn_ready_ = false;
    c->release(reusable);
  }
}

void Exchange::send_to_client(std::string text, BlockRef body, std::string_view suffix,
                              SharedSlice shared) {
  if (!out_head_.empty()) {
    std::string joined = std::move(out_head_);
    out_head_.clear();
    joined += text;
    text = std::move(joined);
  }
  client_->write(std::move(text), std::move(body), suffix, std::move(shared));
}

void Exchange::on_upstream_read_end() {
  if (!out_head_.empty()) send_to_client({});
}

void Exchange::finish(bool keep_alive) {
  if (!out_head_.empty()) send_to_client({});
  response_done_ = true;
  phase_ = Phase::Log;
  log();
  phase_ = Phase::Done;
  client_->exchange_done(keep_alive);  // may destroy this exchange: nothing after it
}

void Exchange::abort(const char* why) {
  stop_waiting();
  if (!*error_) error_ = why;
  drop_upstream(false);
  if (file_) {
    file_->detach();
    file_ = nullptr;
  }
  if (disk_reader_) {
    disk_reader_->detach();
    disk_reader_ = nullptr;
  }
  response_done_ = true;
  log();
  phase_ = Phase::Done;
  client_->close();
}

void Exchange::on_client_gone(const char* why) {
  stop_waiting();
  if (response_done_) return;
  if (!*error_) error_ = why;
  // Other requests stream this fetch's response: finish reading and storing it without a client.
  if (conn_ && upstream_status_ && !serve_stored_ && request_done_ && request_sent_ &&
      cache_.shared_fetch() && cache_.storing()) {
    auto* c = std::exchange(conn_, nullptr);
    upstream_paused_ = false;
    BackgroundRevalidation::adopt(client_->worker(), snap_, *route_, std::move(cache_), req_, c,
                                  pool_, upstream_status_);
  }
  if (!head_sent_) status_ = 499;  // client closed before a response (nginx's convention)
  drop_upstream(false);
  if (file_) {
    file_->detach();
    file_ = nullptr;
  }
  if (disk_reader_) {
    disk_reader_->detach();
    disk_reader_ = nullptr;
  }
  response_done_ = true;
  log();
  phase_ = Phase::Done;
}

void Exchange::on_client_error(const http::ParseError& error) {
  if (response_done_) return;
  error_ = "bad_request_body";
  keep_alive_ = false;
  if (head_sent_) {
    abort("bad_request_body");
    return;
  }
  respond_simple(error.status, error.reason + "\n");
}

void Exchange::log() {
  if (logged_) return;
  logged_ = true;
  const double duration = static_cast<double>(uv_hrtime() - start_ns_) / 1e9;
  const int status = status_ ? status_ : 499;
  if (site_ && route_) {
    snap_->route_metrics[site_index_][route_index_]->observe(req_.method, status, duration);
  } else if (site_) {
    snap_->unrouted_metrics[site_index_]->observe(req_.method, status, duration);
  } else {
    snap_->invalid_metrics->observe(req_.method, status, duration);
  }
  const std::uint64_t bytes_sent = client_->take_bytes_out();
  const std::uint64_t bytes_received = client_->take_bytes_in();
  if (looked_up_) {
    auto& m = observe::Metrics::get();
    m.cache_lookup(to_lookup(cache_.result()));
    // Body bytes (all sent but the head) by where they came from: the cache saves backhaul.
    const std::uint64_t body = bytes_sent > head_bytes_ ? bytes_sent - head_bytes_ : 0;
    if (served_from_cache_) {
      m.cache_served_bytes(true, body);
    } else if (upstream_status_ > 0) {
      m.cache_served_bytes(false, body);
    }
  }
  auto& writer = client_->worker().access_log();
  if (!writer.enabled()) return;
  observe::AccessRecord r;
  r.start_unix = client_->request_start_unix();
  r.client_addr = client_->peer_ip();
  r.method = req_.method_text;
  r.host = host_;
  r.target = target_;
  r.status = status;
  r.bytes_sent = bytes_sent;
  r.bytes_received = bytes_received;
  r.duration_s = duration;
  r.upstream_connect_s = upstream_connect_s_;
  r.upstream_head_s = upstream_head_s_;
  r.upstream_addr = upstream_addr_;
  r.upstream_status = upstream_status_;
  r.cache_status = looked_up_ ? to_string(cache_.result()) : "";
  r.request_id = request_id_;
  r.site = site_ ? std::string_view(site_->name) : std::string_view();
  r.route = route_ ? std::string_view(route_->match) : std::string_view();
  r.user_agent = user_agent_;
  r.referer = referer_;
  r.error = error_;
  writer.log(r);
}

}  // namespace ghala::server
