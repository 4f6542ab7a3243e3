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
//   body     a stored response copies its body into shared chunks (bounded by max_object_size).
//   done     the complete object is published to the memory tier; an unsafe method that
//            succeeded invalidates the URL (RFC 9111 §4.4).
//   error    the fetch failed before a response head (refused, reset, timeout): the stale
//            object answers when the error fallback allows it.
//
// Coalescing is not done yet: concurrent validations of one stale key each go to the origin.

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
#include "server/snapshot.hpp"

namespace ghala::server {

// For the access log and ghala_cache_lookups_total. Revalidated: a 304 from the origin refreshed
// the stored object (and the client was answered from it, or got the 304 it asked for). Stale:
// a stale object was served (stale-while-revalidate, stale-if-error, grace, max-stale) or
// fetched again in full.
enum class CacheResult : std::uint8_t { Pass, Bypass, Hit, Miss, Stale, Revalidated };
const char* to_string(CacheResult r) noexcept;
observe::CacheLookup to_lookup(CacheResult r) noexcept;  // the metric's label for it

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
  // Body bytes as they are relayed to the client.
  void on_body(std::string_view data);
  // The whole response was received. Publishes a stored object; invalidates after unsafe methods.
  void on_complete(const Snapshot& snap, const http::RequestHead& req, std::string_view host,
                   int status);
  // The fetch failed or was cut short: nothing is stored.
  void abandon();

  // Headers for a response served from `obj` (Age, Cache-Status, Content-Length).
  void hit_headers(const cache::StoredObject& obj, http::HeaderMap& out) const;
  // The same three fields serialised ("Name: value\r\n" each), for a head built as text.
  void append_hit_fields(const cache::StoredObject& obj, std::string& out) const;

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
  HeadAction on_not_modified(const Snapshot& snap, http::ResponseHead& head);

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
  std::string location_;  // of the origin's response, for invalidation
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
