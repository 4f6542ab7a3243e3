#pragma once
// Client-less cache fetches. Mostly background revalidation for stale-while-revalidate
// (RFC 5861 §3), and also the rest of a coalesced fetch whose leader's client left (adopt()).
//
// Background revalidation: the client was answered from
// the stale object at once; this fetch, without a client, asks the origin whether the object
// is still good (a conditional GET when it has validators) and stores what comes back through
// CacheFlow, exactly as a foreground miss would: a 304 refreshes the stored object, a storable
// 200 replaces it, anything else leaves it as it is (it ages out of its window).
//
// Exactly one runs per stored variant (key and Vary key) in the whole process: a later stale hit
// on the same variant finds the key claimed and starts nothing. The claim is released when the
// fetch ends, however it ends.
//
// Lifetime: created by start(), owned by itself and registered with its worker; it deletes
// itself when the upstream completes or fails (bounded by the upstream's connect, first-byte and
// read timeouts), or when the worker cancels it at shutdown. It holds the config snapshot it
// started with, so a reload in between changes nothing for it (its connection may belong to a
// retired pool, which stays alive while a connection is leased).

#include <cstdint>
#include <string>
#include <vector>

#include "ghala/upstream/pool.hpp"
#include "server/cache_flow.hpp"
#include "server/snapshot.hpp"

namespace ghala::server {

class Worker;

class BackgroundRevalidation final : public upstream::UpstreamListener {
 public:
  // Starts the revalidation of flow.stored() (see CacheFlow::for_background) unless one is in
  // flight for that variant or the worker is draining.
  static void start(Worker& worker, SnapshotPtr snap, const config::Route& route, CacheFlow flow,
                    const http::RequestHead& client_request);
  // Takes over a fetch whose client went away while other requests wait for its response
  // (coalescing): `conn` is handed over mid-response, the rest of the body is read and stored
  // through `flow` (the leader's, with its claim), and the waiters keep streaming.
  static void adopt(Worker& worker, SnapshotPtr snap, const config::Route& route, CacheFlow flow,
                    const http::RequestHead& request, upstream::UpstreamConn* conn,
                    upstream::UpstreamPool* pool, int status);
  // Ends it now (worker shutdown): the connection is closed, nothing is stored.
  void cancel();

  BackgroundRevalidation(const BackgroundRevalidation&) = delete;
  BackgroundRevalidation& operator=(const BackgroundRevalidation&) = delete;

 private:
  BackgroundRevalidation(Worker& worker, SnapshotPtr snap, const config::Route& route,
                         CacheFlow flow, std::string claim);
  ~BackgroundRevalidation() override;

  void build_request(const http::RequestHead& client_request);
  void fetch();
  void send();
  void done(bool reusable);

  // upstream::UpstreamListener
  void on_upstream_connected() override;
  void on_upstream_head(http::ResponseHead& head) override;
  void on_upstream_body(BlockRef data) override;
  void on_upstream_complete() override;
  void on_upstream_error(observe::UpstreamErrorKind kind, bool received_bytes) override;
  void on_upstream_writable() override {}
  void on_upstream_read_end() override {}

  Worker& worker_;
  SnapshotPtr snap_;
  const config::Route& route_;
  CacheFlow flow_;
  std::string claim_;
  http::RequestHead req_;
  upstream::UpstreamPool* pool_ = nullptr;
  upstream::UpstreamConn* conn_ = nullptr;
  std::vector<upstream::UpstreamPool*> scratch_pools_;
  std::uint64_t start_ns_ = 0;
  int status_ = 0;
};

}  // namespace ghala::server
