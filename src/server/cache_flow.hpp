#pragma once
// The cache's part of the request state machine (the Lookup phase, and storing in Deliver),
// kept apart from exchange.cpp. All RFC 9111 logic lives in src/cache as pure functions and the
// rules in src/config; this file only sequences them for one request:
//
//   lookup   request rule (pass / bypass / key) -> memory tier -> Vary match -> age and
//            freshness (origin directives combined with the rule) -> reuse decision.
//            Fresh (or client max-stale): a HIT, delivered from the stored object.
//            Stale within stale-while-revalidate: a HIT served stale, and the caller starts one
//            background revalidation (server/revalidation.hpp). Stale otherwise: the request
//            goes to the origin, conditional (RFC 9111 §4.3.1) when the stored object has
//            validators and the client sent no conditional of its own; the stale object is
//            kept for the 304 and for the error fallback (stale-if-error, grace).
//   head     when the origin's head arrives: a 304 updates the stored headers (§4.3.4) and,
//            when ghala asked, the client is answered from the refreshed object; a 500, 502,
//            503 or 504 within the error fallback is replaced by the stale object (RFC 5861,
//            §4.2.4); otherwise the response rule and the RFC storability checks decide whether
//            to store; Cache-Status says what happened.
//   disk     a memory miss looks in the disk tier (server/disk_io.hpp, on the thread pool; the
//            Exchange suspends meanwhile): a variant found there goes through the same Vary and
//            freshness decision; one that fits in the memory tier is promoted to it.
//   body     a stored response copies its body into shared chunks (bounded by the memory tier's
//            per-object size); past that size, with a disk tier, the body is streamed to the disk
//            tier instead (bounded by max_object_size) and the memory copy is released.
//   done     the complete object is published to the memory tier and written through to the
//            disk tier (or the disk stream is committed); an unsafe method that succeeded
//            invalidates the URL in both tiers (RFC 9111 §4.4).
//   error    the fetch failed before a response head (refused, reset, timeout): the stale
//            object answers when the error fallback allows it.
//
// Coalescing (server/coalescer.hpp): after a miss or a stale lookup, coalesce() makes the request
// the key's leader (it fetches and publishes what it stores as it goes: head, body pieces, the
// complete object, or pass/failure), a waiter (the Exchange suspends until the leader publishes),
// or leaves it alone (hit-for-pass, client preconditions or Range, HEAD without a fetch to join).

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ghala/cache/cache_control.hpp"
#include "ghala/cache/cache_status.hpp"
#include "ghala/cache/object.hpp"
#include "ghala/cache/reuse.hpp"
#include "ghala/cache/validation.hpp"
#include "ghala/config/cache_rules.hpp"
#include "ghala/config/config.hpp"
#include "ghala/http/message.hpp"
#include "ghala/observe/metrics.hpp"
#include "server/coalescer.hpp"
#include "server/snapshot.hpp"

namespace ghala::server {

class DiskWriteStream;

// For the access log and ghala_cache_lookups_total. Revalidated: a 304 from the origin refreshed
// the stored object (and the client was answered from it, or got the 304 it asked for). Stale:
// a stale object was served (stale-while-revalidate, stale-if-error, grace, max-stale) or
// fetched again in full. Coalesced: answered from another request's fetch of the same key.
enum class CacheResult : std::uint8_t { Pass, Bypass, Hit, Miss, Stale, Revalidated, Coalesced };
const char* to_string(CacheResult r) noexcept;
observe::CacheLookup to_lookup(CacheResult r) noexcept;  // the metric's label for it

// What coalesce() made of a request that must go to the origin.
enum class CoalesceRole : std::uint8_t {
  Alone,   // fetch without sharing (not coalescible, or hit-for-pass)
  Leader,  // fetch, and publish to the waiters
  Wait,    // wait for the leader's fetch (inflight())
};

// A leader's claim on its InFlightFetch. Copies are empty (a copied flow is never the leader);
// destroying a live claim publishes failure, so waiters never wait on a leader that is gone.
class LeaderClaim {
 public:
  LeaderClaim() = default;
  LeaderClaim(const LeaderClaim&) noexcept {}
  LeaderClaim& operator=(const LeaderClaim&) noexcept { return *this; }
  // Moving hands the claim over (a fetch adopted when the leader's client left).
  LeaderClaim(LeaderClaim&& o) noexcept
      : coalescer_(std::move(o.coalescer_)), key_(std::move(o.key_)), fetch_(std::move(o.fetch_)) {}
  LeaderClaim& operator=(LeaderClaim&& o) noexcept {
    if (this != &o) {
      release(0);
      coalescer_ = std::move(o.coalescer_);
      key_ = std::move(o.key_);
      fetch_ = std::move(o.fetch_);
    }
    return *this;
  }
  ~LeaderClaim() { release(0); }

  void take(std::shared_ptr<Coalescer> coalescer, std::string key, InFlightPtr fetch);
  // Publishes failure unless the fetch finished, and lets later requests start a new fetch.
  void release(int fwd_status);
  InFlightFetch* get() const noexcept { return fetch_.get(); }
  Coalescer* coalescer() const noexcept { return coalescer_.get(); }

 private:
  std::shared_ptr<Coalescer> coalescer_;
  std::string key_;
  InFlightPtr fetch_;
};

// What the state machine does with an origin's response head.
enum class HeadAction : std::uint8_t {
  Relay,        // send it to the client (stored or not)
  ServeStored,  // a 304 answered ghala's own conditional: serve revalidated() once it completes
  ServeStale,   // a 5xx within the error fallback: discard it, serve stale_on_error()
};

class CacheFlow {
 public:
  // Lookup phase. Returns the object to serve now: a fresh hit, or a stale one that may be
  // served (client max-stale, stale-while-revalidate: then background_revalidation() is true).
  cache::ObjectPtr lookup(const Snapshot& snap, const config::Route& route,
                          const http::RequestHead& req, std::string_view host);
  // The object was served stale under stale-while-revalidate: one background revalidation is due.
  bool background_revalidation() const noexcept { return swr_; }

  // After a lookup that returned null with cacheable_request(): joins or leads the key's fetch.
  CoalesceRole coalesce(const Snapshot& snap, const http::RequestHead& req);
  const InFlightPtr& inflight() const noexcept { return waiting_on_; }
  // The response waited for is another variant (`other` selects by other request fields). Joins
  // (or leads) the fetch of this request's own variant, keyed by the key and the secondary key
  // that other's Vary names give this request, so that waiters wanting the same variant still
  // share one fetch. Once only: a second mismatch goes alone.
  CoalesceRole rejoin_for_variant(const cache::StoredObject& other, const http::RequestHead& req);
  // A waiter stops waiting: it was answered from the fetch (Coalesced), or goes to the origin
  // itself (`why` for Cache-Status: "lock-timeout", "vary-miss", "pass", "failed").
  void coalesced_hit(const cache::StoredObject& obj);
  void wait_ended(const char* why);
  // The leader's fetch has waiters: its relay must not be slowed by the leader's own client.
  bool shared_fetch() const noexcept;
  // Does this object's Vary selection match the request?
  static bool selects(const cache::StoredObject& obj, const http::RequestHead& req);
  // The loop that runs this flow's disk jobs (write-through, streaming, 304 updates).
  void set_loop(uv_loop_t* loop) noexcept { loop_ = loop; }
  // After lookup() found nothing in memory: the disk tier should be asked (it is configured
  // and healthy). When it is not healthy the request goes on as a memory-only cache.
  bool disk_lookup_due(const Snapshot& snap) const;
  // The disk tier's answer for this request (null: nothing there). An object with its body in
  // memory is promoted to the memory tier. Returns what lookup() would have returned for it.
  cache::ObjectPtr on_disk_found(const Snapshot& snap, const http::RequestHead& req,
                                 cache::ObjectPtr found);

  // Conditional fields for the upstream request (RFC 9111 §4.3.1), when ghala validates.
  void add_conditionals(http::HeaderMap& upstream_headers) const;

  // The origin's response head arrived (hop-by-hop fields already removed). Decides whether to
  // store it; `head` gets its Cache-Status field when it is relayed.
  HeadAction on_response_head(const Snapshot& snap, const http::RequestHead& req,
                              http::ResponseHead& head);
  // After ServeStored: the refreshed object.
  const cache::ObjectPtr& revalidated() const noexcept { return revalidated_; }
  // The origin failed (fwd_status: its 5xx status, or 0 when no response came). The stale object
  // to serve instead, when the error fallback allows it (Cache-Status set for it), else null.
  cache::ObjectPtr stale_on_error(int fwd_status);
  // A stale object may answer if the origin fails (stale-if-error, grace).
  bool has_error_fallback() const noexcept {
    return stored_ && fallback_ != cache::ErrorFallback::None;
  }
  // Body bytes as they are relayed to the client. A leader returns the piece it stored and
  // published (the caller relays that instead of a copy); otherwise null.
  cache::Chunk on_body(std::string_view data);
  // The whole response was received. Publishes a stored object; invalidates after unsafe methods.
  void on_complete(const Snapshot& snap, const http::RequestHead& req, std::string_view host,
                   int status);
  // The fetch failed or was cut short: nothing is stored.
  void abandon();

  // Headers for a response served from `obj` (Age, Cache-Status, Content-Length).
  void hit_headers(const cache::StoredObject& obj, http::HeaderMap& out) const;
  // The same three fields serialised ("Name: value\r\n" each), for a head built as text.
  void append_hit_fields(const cache::StoredObject& obj, std::string& out) const;

  // RFC 9111 §5.2.1.7: the client sent only-if-cached and nothing stored can answer without the
  // origin (a miss, or a stored object that needs validation): answer 504, do not forward.
  bool only_if_cached_miss() const noexcept {
    return enabled_ && request_directives_.only_if_cached;
  }
  CacheResult result() const noexcept { return result_; }
  bool cacheable_request() const noexcept { return enabled_; }
  bool storing() const noexcept { return storing_; }
  // The upstream request carries ghala's own validators (the client sent no conditional).
  bool validating() const noexcept { return own_conditional_; }
  const std::string& key() const noexcept { return key_; }
  const cache::ObjectPtr& stored() const noexcept { return stored_; }

  // Prepares a copy of this flow for the background revalidation of stored(): conditional
  // fields from the stored object, nothing served.
  CacheFlow for_background() const;

 private:
  void invalidate(const Snapshot& snap, const http::RequestHead& req, std::string_view host,
                  int status);
  cache::ObjectPtr decide(const Snapshot& snap, const http::RequestHead& req,
                          cache::ObjectPtr chosen);
  void start_disk_stream();
  void start_disk_stream_from_memory();
  HeadAction on_not_modified(const Snapshot& snap, http::ResponseHead& head);
  void publish_head(const Snapshot& snap, const http::ResponseHead& head);

  const config::Route* route_ = nullptr;
  bool enabled_ = false;  // GET/HEAD to an HTTP upstream, not bypassed, keyable
  bool storing_ = false;
  CacheResult result_ = CacheResult::Pass;
  config::RequestMatch match_;
  std::string key_;
  std::int64_t request_time_ = 0;
  std::int64_t hit_age_ = 0;
  cache::CacheStatus status_;
  std::shared_ptr<cache::StoredObject> pending_;  // the object being filled from the origin
  std::string chunk_;                             // body bytes not yet cut into a chunk
  std::uint64_t max_object_size_ = 0;
  // Coalescing.
  std::shared_ptr<Coalescer> coalescer_;
  LeaderClaim leader_;
  InFlightPtr waiting_on_;
  bool hit_for_pass_ = false;
  bool rejoined_ = false;
  cache::RequestDirectives request_directives_;  // the request's Cache-Control (lookup)

  std::uint64_t memory_max_object_ = 0;  // larger bodies can only be stored on disk
  std::uint64_t announced_length_ = 0;   // Content-Length of the response being stored, or 0
  uv_loop_t* loop_ = nullptr;
  std::shared_ptr<cache::DiskTier> disk_;        // the snapshot's disk tier, while storing
  std::shared_ptr<DiskWriteStream> disk_write_;  // a body too large for memory, going to disk
  std::string location_;                         // of the origin's response, for invalidation
  std::string content_location_;

  // Validation and stale serving.
  cache::ObjectPtr stored_;       // the matching stored object, when it is not served fresh
  cache::ObjectPtr revalidated_;  // stored_ refreshed by a 304
  cache::ErrorFallback fallback_ = cache::ErrorFallback::None;
  std::int64_t stored_ttl_ = 0;   // decide_reuse's ttl for stored_ (negative: stale)
  bool own_conditional_ = false;  // the upstream request carries ghala's validators
  bool swr_ = false;
  cache::ConditionalHeaders conditional_;
};

}  // namespace ghala::server
