#include "server/revalidation.hpp"

#include <uv.h>

#include <mutex>
#include <unordered_set>

#include "ghala/core/log.hpp"
#include "ghala/http/hop_by_hop.hpp"
#include "ghala/http/serialize.hpp"
#include "server/worker.hpp"

namespace ghala::server {

namespace {

// Variants with a revalidation in flight, across all workers.
std::mutex g_claims_mu;
std::unordered_set<std::string>& claims() {
  static std::unordered_set<std::string> set;
  return set;
}

bool claim(const std::string& k) {
  std::lock_guard lock(g_claims_mu);
  return claims().insert(k).second;
}

void unclaim(const std::string& k) {
  std::lock_guard lock(g_claims_mu);
  claims().erase(k);
}

// Fields of the client's request that must not reach the origin on a request made for the cache:
// its own preconditions and range (the answer is for the cache, not for that client) and any
// body framing.
constexpr std::string_view kClientOnly[] = {"Expect",
                                            "Range",
                                            "If-Range",
                                            "If-Match",
                                            "If-None-Match",
                                            "If-Modified-Since",
                                            "If-Unmodified-Since",
                                            "Content-Length",
                                            "Transfer-Encoding"};

}  // namespace

void BackgroundRevalidation::start(Worker& worker, SnapshotPtr snap, const config::Route& route,
                                   CacheFlow flow, const http::RequestHead& client_request) {
  if (worker.draining() || !flow.stored()) return;
  std::string key = flow.key();
  key.push_back('\n');
  key += flow.stored()->vary_key;
  if (!claim(key)) return;  // one is already running for this variant
  auto* r =
      new BackgroundRevalidation(worker, std::move(snap), route, std::move(flow), std::move(key));
  r->build_request(client_request);
  worker.background_started(r);
  r->fetch();
}

void BackgroundRevalidation::adopt(Worker& worker, SnapshotPtr snap, const config::Route& route,
                                   CacheFlow flow, const http::RequestHead& request,
                                   upstream::UpstreamConn* conn, upstream::UpstreamPool* pool,
                                   int status) {
  auto* r = new BackgroundRevalidation(worker, std::move(snap), route, std::move(flow), {});
  r->req_.method = request.method;
  r->req_.method_text = request.method_text;
  r->req_.target = request.target;
  r->req_.version_minor = 1;
  r->pool_ = pool;
  r->conn_ = conn;
  r->status_ = status;
  r->start_ns_ = uv_hrtime();
  worker.background_started(r);
  conn->hand_over(r);
  conn->resume_reading();  // the leader may have paused it for its own client
}

BackgroundRevalidation::BackgroundRevalidation(Worker& worker, SnapshotPtr snap,
                                               const config::Route& route, CacheFlow flow,
                                               std::string claim)
    : worker_(worker),
      snap_(std::move(snap)),
      route_(route),
      flow_(std::move(flow)),
      claim_(std::move(claim)) {}

BackgroundRevalidation::~BackgroundRevalidation() {
  if (conn_) conn_->release(false);
  if (!claim_.empty()) unclaim(claim_);
  worker_.background_finished(this);
}

void BackgroundRevalidation::build_request(const http::RequestHead& client_request) {
  req_.method = http::Method::Get;  // a HEAD hit is revalidated with a GET: that is what is stored
  req_.method_text = "GET";
  req_.target = client_request.target;
  req_.version_minor = 1;
  req_.headers = client_request.headers;
  auto& h = req_.headers;
  http::strip_hop_by_hop(h);
  for (auto name : kClientOnly) h.remove(name);
  if (route_.host_mode == config::HostHeaderMode::Rewrite) h.set("Host", route_.host_rewrite);
  auto via = h.get_combined("Via");
  h.set("Via", via ? *via + ", 1.1 ghala" : std::string("1.1 ghala"));
  flow_.add_conditionals(h);
}

void BackgroundRevalidation::fetch() {
  const auto& up = snap_->config->upstreams[route_.upstream_index];
  auto& pools = worker_.pools_for(*snap_, route_.upstream_index, scratch_pools_);
  pool_ = upstream::pick_server(pools, up.balance, uv_now(worker_.loop()));
  if (!pool_) {
    delete this;
    return;
  }
  start_ns_ = uv_hrtime();
  observe::Metrics::get().cache_origin_fetch(true);
  bool ready = false;
  conn_ = pool_->acquire(this, false, &ready);
  if (ready) send();  // otherwise on_upstream_connected (errors are always reported later)
}

void BackgroundRevalidation::send() {
  std::string text;
  http::serialize_request_head(req_, text);
  conn_->begin_request(req_.method);
  conn_->write(std::move(text));
  if (conn_) conn_->request_sent();
}

void BackgroundRevalidation::on_upstream_connected() {
  send();
}

void BackgroundRevalidation::on_upstream_head(http::ResponseHead& head) {
  status_ = head.status;
  pool_->metrics().observe_latency(static_cast<double>(uv_hrtime() - start_ns_) / 1e9);
  http::strip_hop_by_hop(head.headers);
  const auto action = flow_.on_response_head(*snap_, req_, head);
  // A 304 has already refreshed the object; a storable response is read to its end; anything
  // else is not worth reading.
  if (action == HeadAction::ServeStored) return;
  if (!flow_.storing()) done(false);
}

void BackgroundRevalidation::on_upstream_body(BlockRef data) {
  flow_.on_body(data.view());
}

void BackgroundRevalidation::on_upstream_complete() {
  flow_.on_complete(*snap_, req_, {}, status_);
  done(true);
}

void BackgroundRevalidation::on_upstream_error(observe::UpstreamErrorKind kind, bool) {
  conn_ = nullptr;  // the connection has already let go of this listener
  log_info(std::string("background revalidation of ") + req_.target +
           " failed: " + std::string(observe::to_string(kind)));
  flow_.abandon();
  delete this;
}

void BackgroundRevalidation::done(bool reusable) {
  if (auto* c = std::exchange(conn_, nullptr)) c->release(reusable);
  flow_.abandon();
  delete this;
}

void BackgroundRevalidation::cancel() {
  done(false);
}

}  // namespace ghala::server
