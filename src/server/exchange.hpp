#pragma once
// The request state machine: one Exchange per request, owned by its client connection.
//
// A request moves through named phases. Each phase either continues to the next one at once or
// suspends until a libuv callback (an upstream connection, a response byte, a file read, a
// drained client socket) resumes it. The same names appear in docs/architecture.md, in logs and,
// later, in cache-rule documentation.
//
//   Route    site by Host (exact, wildcard, default), then the first route whose path match fits;
//            no route -> 404. Admin listeners route to the admin handler instead.
//   Lookup   the cache (server/cache_flow.hpp): the request's cache rule (pass, bypass, key), the
//            memory tier, then on a memory miss the disk tier (a job on the thread pool: the
//            exchange suspends until it reports back, and a client that left meanwhile is not
//            called), the Vary match, then freshness; a fresh object (or a stale one under
//            stale-while-revalidate, which also starts one background revalidation per key) is
//            delivered at once (Deliver, with 304/412/206/416 for the client's preconditions and
//            Range); anything else goes to Fetch, conditional when a stale object has
//            validators, and may be stored as it is relayed.
//   Fetch    the route's upstream: an HTTP pool (pick a server, lease a keep-alive connection or
//            connect, send the head, stream the request body with backpressure) or a directory
//            origin (open the file on the thread pool, plan status and headers). Failures before
//            any response byte may retry once: a reused connection that died is retried on a fresh
//            one (idempotent requests without a body); a refused connect tries another server.
//            Otherwise 502 (refused, reset, invalid) or 504 (timeouts), unless a stale object
//            may answer (stale-if-error, grace): then Deliver serves it. A 500/502/503/504 head
//            within that fallback is discarded unread (the connection is closed) and the
//            stale object is served instead; a 304 to ghala's conditional refreshes the stored
//            object, which is then delivered.
//   Deliver  stream the response head and body to the client in order, with backpressure: when
//            the client's write queue passes the high-water mark the upstream (or file) stops
//            being read until it drains, so memory stays bounded however slow the client.
//   Log      one access-log line and the request metrics, exactly once, also for aborted requests.
//   Done     the connection reads the next (possibly pipelined) request or closes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/core/buffer.hpp"
#include "ghala/core/shared_bytes.hpp"
#include "ghala/core/thread_recycled.hpp"
#include "ghala/http/message.hpp"
#include "ghala/http/parser.hpp"
#include "ghala/http/range.hpp"
#include "ghala/upstream/pool.hpp"
#include "server/cache_flow.hpp"
#include "server/disk_io.hpp"
#include "server/snapshot.hpp"

namespace ghala::server {

class ClientConn;
struct FileReader;

enum class Phase : std::uint8_t { Route, Lookup, Fetch, Deliver, Log, Done };
const char* to_string(Phase p) noexcept;

// One per request, 1.3 KB: its memory is reused per worker thread (ThreadRecycled).
class Exchange final : public upstream::UpstreamListener,
                       public DiskBodySink,
                       public ThreadRecycled<Exchange> {
 public:
  Exchange(ClientConn* client, http::RequestHead& request, SnapshotPtr snapshot,
           std::uint64_t start_ns);
  ~Exchange() override;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Called by the client connection.
  void start();
  void on_request_body(BlockRef data);
  void on_request_complete();
  void on_client_writable();
  // The client went away (read error, write error, timeout) or sent a malformed body.
  void on_client_gone(const char* why);
  void on_client_error(const http::ParseError& error);

  Phase phase() const noexcept { return phase_; }
  bool request_complete() const noexcept { return request_done_; }

  // Called by the worker: the fetch this exchange waits for published something (coalescing),
  // and the periodic lock-timeout check.
  void on_coalesced_wake();
  void on_lock_tick(std::uint64_t now_ms);

  // Called by the file reader.
  void on_file_opened(Result<upstream::OpenedFile> file);
  void on_file_data(BlockRef data, bool eof);
  void on_file_error();

 private:
  // upstream::UpstreamListener
  void on_upstream_connected() override;
  void on_upstream_head(http::ResponseHead& head) override;
  void on_upstream_body(BlockRef data) override;
  void on_upstream_complete() override;
  void on_upstream_error(observe::UpstreamErrorKind kind, bool received_bytes) override;
  void on_upstream_writable() override;
  void on_upstream_read_end() override;

  // DiskBodySink: a disk-backed object's body, streamed with the client's backpressure.
  void on_disk_body(cache::Chunk chunk, std::size_t offset, std::size_t length, bool last) override;
  void on_disk_body_error() override;

  void route();
  void lookup();
  void lookup_disk();
  void on_disk_lookup(DiskFound found);
  void serve_lookup(cache::ObjectPtr hit);
  void fetch();
  void fetch_http(const upstream::UpstreamPool* exclude, bool fresh);
  void fetch_dir();
  void serve_admin();
  void serve_hit(cache::ObjectPtr object);
  void missed();
  void wait_for_fetch();
  void stop_waiting();
  void end_lock_wait();
  void go_alone(const char* why);
  void wait_for_variant(const cache::StoredObject& other);
  void start_coalesced_stream(const cache::StoredObject& head, bool length_known);
  void pump_coalesced();
  void send_hit_head(const cache::StoredObject& object, std::string_view stored, bool has_date,
                     bool body_follows);
  void send_hit_body(const cache::StoredObject& object, http::ByteRange range);
  void serve_stale_or(int fwd_status, int status, std::string_view body);
  void prepare_upstream_head();
  void send_upstream_head();
  void forward_body(BlockRef data);
  void finish_upstream_request();
  void send_response_head(http::ResponseHead& head, bool body_follows, bool chunked);
  void respond_simple(int status, std::string_view body,
                      std::string_view content_type = "text/plain; charset=utf-8",
                      const http::HeaderMap* extra = nullptr);
  // Writes to the client, prefixed with the response head if it has not left yet.
  void send_to_client(std::string text, BlockRef body = {}, std::string_view suffix = {},
                      SharedSlice shared = {});
  void finish(bool keep_alive);
  void abort(const char* why);
  void log();
  void drop_upstream(bool reusable);

  ClientConn* client_;
  http::RequestHead& req_;
  SnapshotPtr snap_;
  Phase phase_ = Phase::Route;
  std::uint64_t start_ns_;
  // A view into req_'s headers (the client's X-Request-Id, or the one generated into them), whose
  // storage lives as long as this exchange's request.
  std::string_view request_id_;
  std::string host_;  // Host as received (for X-Forwarded-Host and the log)
  std::string target_;
  std::string user_agent_;
  std::string referer_;
  std::string admin_body_;             // admin listener: the request body (purge)
  std::shared_ptr<bool> admin_alive_;  // admin listener: false once this exchange is gone

  std::size_t site_index_ = 0;
  const config::Site* site_ = nullptr;
  const config::Route* route_ = nullptr;
  std::size_t route_index_ = 0;

  CacheFlow cache_;
  bool looked_up_ = false;          // reached the Lookup phase (for the cache metric)
  bool serve_stored_ = false;       // a 304 refreshed the stored object: serve it on completion
  bool served_from_cache_ = false;  // the body came from a stored object (or a coalesced fetch)
  std::uint64_t head_bytes_ = 0;    // response head bytes, for the body-bytes metric
  WaitTokenPtr wait_;               // waiting for (or streaming from) another request's fetch
  std::uint64_t lock_deadline_ms_ = 0;
  bool lock_waiting_ = false;  // counted in the waiting gauge, subject to the lock timeout
  bool coalesced_streaming_ = false;
  std::size_t pieces_sent_ = 0;
  upstream::UpstreamPool* pool_ = nullptr;
  std::vector<upstream::UpstreamPool*> scratch_pools_;  // see Worker::pools_for
  upstream::UpstreamConn* conn_ = nullptr;
  bool conn_ready_ = false;
  bool conn_reused_ = false;
  bool upstream_head_ready_ = false;
  int attempts_ = 0;
  // Request body that arrived before the upstream was ready (a vector: a default-constructed
  // std::deque allocates, and most requests have no body).
  std::vector<BlockRef> pending_body_;
  bool body_started_ = false;  // some request body was sent upstream (no retry then)
  bool request_done_ = false;
  bool request_sent_ = false;
  bool continue_sent_ = false;
  bool upstream_paused_ = false;
  FileReader* file_ = nullptr;
  std::shared_ptr<void> disk_link_;        // alive while this exchange is (DiskLink)
  DiskBodyReader* disk_reader_ = nullptr;  // streaming a disk-backed body
  cache::Chunk disk_first_chunk_;          // chunk 0 of a disk-backed object, read at lookup
  cache::DiskTier::ViewPtr disk_view_;     // and the view it was found through (DiskFound)

  // Response state.
  bool head_sent_ = false;  // serialised (possibly still waiting in out_head_)
  std::string out_head_;
  bool keep_alive_ = true;
  bool chunked_out_ = false;
  bool response_body_allowed_ = true;
  bool response_done_ = false;
  bool logged_ = false;
  int status_ = 0;
  int upstream_status_ = 0;
  std::uint64_t upstream_start_ns_ = 0;
  double upstream_head_s_ = -1;
  double upstream_connect_s_ = -1;
  std::string upstream_addr_;
  const char* error_ = "";
};

}  // namespace ghala::server
