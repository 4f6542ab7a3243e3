#pragma once
// The cache's part of the request state machine (the Lookup phase, and storing in Deliver),
// kept apart from exchange.cpp. All RFC 9111 logic lives in src/cache as pure functions and the
// rules in src/config; this file only sequences them for one request:
//
//   lookup   request rule (pass / bypass / key) -> memory tier -> Vary match -> age and
//            freshness (origin directives combined with the rule) -> reuse decision.
//            Fresh: a HIT, delivered from the stored object. Anything else goes to the origin.
//   head     when the origin's head arrives: the response rule and the RFC storability checks
//            decide whether to store; Cache-Status says what happened.
//   body     a stored response copies its body into shared chunks (bounded by max_object_size).
//   done     the complete object is published to the memory tier; an unsafe method that
//            succeeded invalidates the URL (RFC 9111 §4.4).
//
// This slice serves fresh objects only: a stale object is fetched again (no conditional
// revalidation, stale-while-revalidate, stale-if-error or coalescing yet).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ghala/cache/cache_control.hpp"
#include "ghala/cache/cache_status.hpp"
#include "ghala/cache/object.hpp"
#include "ghala/config/cache_rules.hpp"
#include "ghala/config/config.hpp"
#include "ghala/http/message.hpp"
#include "server/snapshot.hpp"

namespace ghala::server {

enum class CacheResult : std::uint8_t { Pass, Bypass, Hit, Miss, Stale };
const char* to_string(CacheResult r) noexcept;

class CacheFlow {
 public:
  // Lookup phase. Returns the object to serve when it is a fresh hit.
  cache::ObjectPtr lookup(const Snapshot& snap, const config::Route& route,
                          const http::RequestHead& req, std::string_view host);

  // The origin's response head arrived (hop-by-hop fields already removed). Decides whether to
  // store it; `head` gets its Cache-Status field.
  void on_response_head(const Snapshot& snap, const http::RequestHead& req,
                        http::ResponseHead& head);
  // Body bytes as they are relayed to the client.
  void on_body(std::string_view data);
  // The whole response was received. Publishes a stored object; invalidates after unsafe methods.
  void on_complete(const Snapshot& snap, const http::RequestHead& req, std::string_view host,
                   int status);
  // The fetch failed or was cut short: nothing is stored.
  void abandon();

  // Headers for a response served from `obj` (Age, Cache-Status, Content-Length).
  void hit_headers(const cache::StoredObject& obj, http::HeaderMap& out) const;

  CacheResult result() const noexcept { return result_; }
  bool cacheable_request() const noexcept { return enabled_; }

 private:
  void invalidate(const Snapshot& snap, const http::RequestHead& req, std::string_view host,
                  int status);

  const config::Route* route_ = nullptr;
  bool enabled_ = false;   // GET/HEAD to an HTTP upstream, not bypassed, keyable
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
  std::string location_;          // of the origin's response, for invalidation
  std::string content_location_;
};

}  // namespace ghala::server
