#include "server/cache_flow.hpp"

#include <algorithm>
#include <atomic>
#include <ctime>

#include "ghala/cache/age.hpp"
#include "ghala/cache/freshness.hpp"
#include "ghala/cache/invalidation.hpp"
#include "ghala/cache/memory_tier.hpp"
#include "ghala/cache/reuse.hpp"
#include "ghala/cache/storability.hpp"
#include "ghala/cache/stored_headers.hpp"
#include "ghala/cache/targeted.hpp"
#include "ghala/cache/validation.hpp"
#include "ghala/cache/vary.hpp"
#include "ghala/config/cache_key.hpp"
#include "ghala/config/rule_freshness.hpp"
#include "server/disk_io.hpp"
#include "server/object_memo.hpp"

namespace ghala::server {

using namespace std::string_view_literals;

namespace {

// Adds the Cache-Status field, formatted in a per-thread scratch string (every response has one).
void add_cache_status(http::HeaderMap& headers, const cache::CacheStatus& status) {
  thread_local std::string scratch;
  scratch.clear();
  cache::format_cache_status(status, scratch);
  headers.add("Cache-Status", scratch);
}

constexpr std::size_t kChunkBytes = 64 * 1024;
std::atomic<std::uint64_t> g_next_object_id{1};

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// Rules match requests by method; a HEAD is answered from (and keyed like) a GET.
http::Method rule_method(http::Method m) {
  return m == http::Method::Head ? http::Method::Get : m;
}

// Surrogate-Key (space-separated) and Cache-Tag (comma-separated) values, for purge by tag.
std::vector<std::string> tags_of(const http::HeaderMap& headers) {
  std::vector<std::string> tags;
  for (const auto& h : headers) {
    const bool surrogate = http::iequals(h.name, "Surrogate-Key");
    if (!surrogate && !http::iequals(h.name, "Cache-Tag")) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      auto sep = v.find_first_of(surrogate ? " \t" : ",");
      auto tag = http::trim_ows(v.substr(0, sep));
      if (!tag.empty() && tags.size() < 64) tags.emplace_back(tag);
      if (sep == std::string_view::npos) break;
      v.remove_prefix(sep + 1);
    }
  }
  return tags;
}

// A client's own conditional or range precondition: ghala then forwards the client's fields and
// does not add its validators (the answer is meant for the client).
bool client_conditional(const http::HeaderMap& h) {
  return h.contains("If-None-Match") || h.contains("If-Modified-Since") || h.contains("If-Match") ||
         h.contains("If-Unmodified-Since") || h.contains("If-Range");
}

// RFC 5861 §4 and RFC 9111 §4.2.4: the origin statuses that stale-if-error (and grace) replace.
bool is_error_status(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

bool has_validators(const http::HeaderMap& h) {
  const auto v = cache::stored_validators(h, 0);
  return v.etag || v.last_modified;
}

// The fields a stored object keeps (RFC 9111 §3.1), frozen. nullopt when FrozenHeaders cannot
// hold them, which the response parser's limits rule out; the response is then not stored.
std::optional<http::FrozenHeaders> freeze_stored(http::HeaderMap fields) {
  fields.remove("Content-Length");  // set from body_size on delivery
  fields.remove("X-Request-Id");    // belongs to the request that fetched it
  return http::FrozenHeaders::freeze(fields);
}

cache::StoredValidators validators_of(const cache::StoredObject& obj) {
  return cache::stored_validators(obj.headers, obj.timings.response_time);
}

// private="..." and no-cache="..." fields of a 304 are not taken into the stored headers.
std::vector<std::string> omitted_by(const cache::ResponseDirectives& d) {
  std::vector<std::string> out;
  if (d.private_.present && !d.private_.all) out = d.private_.fields;
  if (d.no_cache.present && !d.no_cache.all) {
    out.insert(out.end(), d.no_cache.fields.begin(), d.no_cache.fields.end());
  }
  return out;
}

// Pieces relayed by a leader are stored as they came (waiters already hold them), and a body
// buffered without one in kChunkBytes chunks. When the object is complete:
// - a body of at most kOneChunkMax becomes one chunk, so that a hit is one write (head and
//   body) rather than one write per piece: a 100 KiB image relayed in three reads cost three
//   write calls per hit;
// - a larger body whose pieces are small on average (a slow origin trickles) is cut again into
//   kChunkBytes chunks, so the stored object does not pay a chunk's overhead per trickle;
// - every chunk of at least `cache.memory.sendfile_min_size` goes to the body arena, from where
//   hits send it with sendfile (core/body_arena.hpp): its whole pages, after a heap chunk with
//   the rest (SharedBytes::append_sendable).
constexpr std::size_t kOneChunkMax = 256 * 1024;

// A piece kept as it came, unless it belongs in the arena.
void keep_or_move(std::vector<cache::Chunk>& out, cache::Chunk piece) {
  if (piece.in_arena() || !cache::Chunk::wants_arena(piece.size())) {
    out.push_back(std::move(piece));
  } else {
    cache::Chunk::append_sendable(out, piece.view());
  }
}

std::vector<cache::Chunk> recut(std::vector<cache::Chunk> pieces) {
  std::size_t total = 0;
  for (const auto& p : pieces) total += p.size();
  std::size_t target = kChunkBytes;
  if (total <= kOneChunkMax) {
    target = total;
  } else if (total / pieces.size() >= kChunkBytes / 4) {
    target = 0;  // the pieces stay as they are
  }
  std::vector<cache::Chunk> out;
  if (pieces.size() <= 1 || target == 0) {
    out.reserve(pieces.size() + 1);
    for (auto& p : pieces) keep_or_move(out, std::move(p));
    return out;
  }
  std::string chunk;
  chunk.reserve(target);
  for (const auto& p : pieces) {
    std::string_view v = p.view();
    while (!v.empty()) {
      const auto n = std::min(v.size(), target - chunk.size());
      chunk.append(v.substr(0, n));
      v.remove_prefix(n);
      if (chunk.size() == target) {
        cache::Chunk::append_sendable(out, chunk);
        chunk.clear();
      }
    }
  }
  if (!chunk.empty()) cache::Chunk::append_sendable(out, chunk);
  return out;
}

// What a hit parses from a stored object's headers: the effective directives (RFC 9213 targeted
// fields or Cache-Control) and the freshness facts (Date, Expires, Last-Modified), memoised per
// worker (server/object_memo.hpp) instead of parsed on every hit: about a sixth of a 1 KiB hit's
// instructions. They depend on the configured targeted fields too: a change clears the memo.
struct ParsedStored {
  cache::EffectiveDirectives eff;
  cache::FreshnessFacts facts;  // its expires view points into the object's headers
  cache::VarySpec vary;         // its Vary, matched against every request for its key
};

const ParsedStored& parsed_stored(const cache::ObjectPtr& obj,
                                  const std::vector<std::string>& targeted_fields) {
  thread_local std::vector<std::string> memo_fields;
  thread_local ObjectMemo<ParsedStored> memo;
  if (memo_fields != targeted_fields) {
    memo_fields = targeted_fields;
    memo.clear();
  }
  return memo.get(obj, [&](ParsedStored& p) {
    p.eff = cache::effective_directives(obj->headers, targeted_fields);
    p.facts = cache::freshness_facts(obj->headers, obj->status, obj->timings.response_time,
                                     p.eff.use_expires);
    p.vary = cache::parse_vary(obj->headers);
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Coalescing

void LeaderClaim::take(std::shared_ptr<Coalescer> coalescer, std::string key, InFlightPtr fetch) {
  coalescer_ = std::move(coalescer);
  key_ = std::move(key);
  fetch_ = std::move(fetch);
}

void LeaderClaim::release(int fwd_status) {
  if (!fetch_) return;
  if (!fetch_->finished()) fetch_->publish_failed(fwd_status);
  coalescer_->leave(key_, fetch_.get());
  fetch_.reset();
  coalescer_.reset();
}

bool CacheFlow::selects(const cache::StoredObject& obj, const http::RequestHead& req) {
  return cache::vary_matches(obj.vary_key, cache::parse_vary(obj.headers), req.headers);
}

CoalesceRole CacheFlow::coalesce(const Snapshot& snap, const http::RequestHead& req) {
  if (!enabled_ || !snap.coalescer) return CoalesceRole::Alone;
  coalescer_ = snap.coalescer;
  const auto now = Coalescer::Clock::now();
  // A request with its own preconditions or Range gets an answer meant for it alone: it may
  // wait for another fetch, never lead one. So does a HEAD (a HEAD miss is not stored).
  const bool can_lead = req.method == http::Method::Get && !client_conditional(req.headers) &&
                        !req.headers.contains("Range");
  if (!can_lead) {
    waiting_on_ = coalescer_->find(key_, now);
    rejoined_ = true;  // it cannot lead: a variant fetch of its own would have no leader
    return waiting_on_ ? CoalesceRole::Wait : CoalesceRole::Alone;
  }
  auto j = coalescer_->join(key_, now);
  if (!j.fetch) {  // hit-for-pass: straight to the origin, in parallel with the others
    hit_for_pass_ = true;
    result_ = CacheResult::Pass;
    status_.detail = "hit-for-pass";
    return CoalesceRole::Alone;
  }
  if (!j.leader) {
    waiting_on_ = std::move(j.fetch);
    return CoalesceRole::Wait;
  }
  leader_.take(coalescer_, key_, std::move(j.fetch));
  return CoalesceRole::Leader;
}

CoalesceRole CacheFlow::rejoin_for_variant(const cache::StoredObject& other,
                                           const http::RequestHead& req) {
  waiting_on_.reset();
  if (rejoined_ || !coalescer_) return CoalesceRole::Alone;
  rejoined_ = true;
  std::string variant_key = key_;
  variant_key.push_back('\n');
  variant_key += cache::vary_key(req.headers, cache::parse_vary(other.headers));
  auto j = coalescer_->join(variant_key, Coalescer::Clock::now());
  if (!j.fetch) return CoalesceRole::Alone;
  if (!j.leader) {
    waiting_on_ = std::move(j.fetch);
    return CoalesceRole::Wait;
  }
  leader_.take(coalescer_, std::move(variant_key), std::move(j.fetch));
  return CoalesceRole::Leader;
}

void CacheFlow::coalesced_hit(const cache::StoredObject& obj) {
  result_ = CacheResult::Coalesced;
  status_ = cache::CacheStatus{};
  status_.hit = true;
  status_.detail = "coalesced";
  hit_age_ = cache::current_age(obj.timings, now_seconds());
}

void CacheFlow::wait_ended(const char* why) {
  waiting_on_.reset();
  status_.detail = why;
}

bool CacheFlow::shared_fetch() const noexcept {
  return leader_.get() && leader_.get()->has_waiters();
}

const char* to_string(CacheResult r) noexcept {
  switch (r) {
    case CacheResult::Pass:
      return "pass";
    case CacheResult::Bypass:
      return "bypass";
    case CacheResult::Hit:
      return "hit";
    case CacheResult::Miss:
      return "miss";
    case CacheResult::Stale:
      return "stale";
    case CacheResult::Revalidated:
      return "revalidated";
    case CacheResult::Coalesced:
      return "coalesced";
  }
  return "pass";
}

observe::CacheLookup to_lookup(CacheResult r) noexcept {
  switch (r) {
    case CacheResult::Pass:
      return observe::CacheLookup::Pass;
    case CacheResult::Bypass:
      return observe::CacheLookup::Bypass;
    case CacheResult::Hit:
      return observe::CacheLookup::Hit;
    case CacheResult::Miss:
      return observe::CacheLookup::Miss;
    case CacheResult::Stale:
      return observe::CacheLookup::Stale;
    case CacheResult::Revalidated:
      return observe::CacheLookup::Revalidated;
    case CacheResult::Coalesced:
      return observe::CacheLookup::Coalesced;
  }
  return observe::CacheLookup::Pass;
}

// ---------------------------------------------------------------------------------------------
// Lookup

cache::ObjectPtr CacheFlow::lookup(const Snapshot& snap, const config::Route& route,
                                   const http::RequestHead& req, std::string_view host) {
  route_ = &route;
  result_ = CacheResult::Pass;
  const auto& cfg = *snap.config;
  if ((!snap.memory && !snap.disk) ||
      cfg.upstreams[route.upstream_index].kind != config::OriginKind::Http) {
    return nullptr;
  }
  if (req.method != http::Method::Get && req.method != http::Method::Head) return nullptr;
  match_ = config::match_request(route.cache_rules, rule_method(req.method), req.path());
  const auto* rule = match_.rule;
  if (rule && (!rule->cache || config::bypassed(*rule, req.headers))) {
    // RFC 9211 has one word for both ("configured not to use the cache"); the log and metrics
    // tell a route that never caches (pass) from a request that skipped it (bypass).
    result_ = rule->cache ? CacheResult::Bypass : CacheResult::Pass;
    status_.fwd = cache::Forward::Bypass;
    return nullptr;
  }
  auto key = config::cache_key(rule, host, req.target, req.headers);
  if (!key) return nullptr;  // a target that cannot be keyed unambiguously: pass
  key_ = std::move(*key);
  enabled_ = true;
  request_time_ = now_seconds();
  // Bodies up to the memory tier's per-object bound are buffered for it; with a disk tier,
  // larger ones (up to max_object_size) are streamed there instead. Without one, buffering
  // beyond the memory bound would hold a body in memory for nothing.
  memory_max_object_ = snap.memory ? snap.memory->max_object_bytes() : 0;
  max_object_size_ = snap.disk
                         ? cfg.cache.max_object_size
                         : std::min<std::uint64_t>(cfg.cache.max_object_size, memory_max_object_);

  request_directives_ = cache::request_directives(req.headers);  // parsed once per request
  auto variants = snap.memory ? snap.memory->lookup(key_) : std::vector<cache::ObjectPtr>{};
  if (variants.empty()) {
    result_ = CacheResult::Miss;
    status_.fwd = cache::Forward::UriMiss;
    return nullptr;
  }
  cache::ObjectPtr chosen;
  for (auto& v : variants) {
    const auto& vary = parsed_stored(v, cfg.cache.targeted_fields).vary;
    if (cache::vary_matches(v->vary_key, vary, req.headers)) {
      chosen = std::move(v);
      break;
    }
  }
  if (!chosen) {
    result_ = CacheResult::Miss;
    status_.fwd = cache::Forward::VaryMiss;
    return nullptr;
  }
  return decide(snap, req, std::move(chosen));
}

bool CacheFlow::disk_lookup_due(const Snapshot& snap) const {
  return enabled_ && result_ == CacheResult::Miss && snap.disk && snap.disk->healthy();
}

cache::ObjectPtr CacheFlow::on_disk_found(const Snapshot& snap, const http::RequestHead& req,
                                          cache::ObjectPtr found) {
  if (!found) return nullptr;  // still the miss lookup() recorded
  observe::Metrics::get().cache_disk_hit();
  if (snap.memory && !disk_backed(*found)) snap.memory->insert(key_, found);
  status_ = cache::CacheStatus{};
  auto served = decide(snap, req, std::move(found));
  if (served && result_ == CacheResult::Hit) status_.detail = "disk";
  return served;
}

// Freshness and the reuse decision for the stored variant that matches the request.
cache::ObjectPtr CacheFlow::decide(const Snapshot& snap, const http::RequestHead& req,
                                   cache::ObjectPtr chosen) {
  const auto& cfg = *snap.config;
  const auto& route = *route_;
  // Freshness is recomputed from the stored headers with the current rules, so a reload that
  // changes a rule applies to objects already stored.
  const auto* response_rule = config::match_response_rule(route.cache_rules, match_, chosen->status,
                                                          chosen->headers.get("Content-Type"));
  const auto policy = config::cache_policy(cfg.cache, response_rule);
  const auto& parsed = parsed_stored(chosen, cfg.cache.targeted_fields);
  const auto directives = config::rule_directives(parsed.eff.directives, response_rule);
  const auto& facts = parsed.facts;
  const auto ttl = config::effective_ttl(cache::freshness_lifetime(directives, facts, policy),
                                         chosen->status, response_rule);
  cache::ReuseFacts reuse;
  reuse.request = request_directives_;
  reuse.response = directives;
  reuse.current_age = cache::current_age(chosen->timings, request_time_);
  // A soft-purged object is stale from the purge on.
  reuse.freshness_lifetime = chosen->soft_purged_at ? 0 : ttl.lifetime;
  const auto decision = cache::decide_reuse(reuse, policy);
  hit_age_ = reuse.current_age;
  switch (decision.action) {
    case cache::ReuseAction::Fresh:
      result_ = CacheResult::Hit;
      status_.hit = true;
      status_.ttl = decision.ttl;
      return chosen;
    case cache::ReuseAction::ServeStale:
    case cache::ReuseAction::StaleWhileRevalidate:
      // RFC 9211 §2.1: a hit (this request is not forwarded), with a negative ttl.
      result_ = CacheResult::Stale;
      status_.hit = true;
      status_.ttl = decision.ttl;
      swr_ = decision.action == cache::ReuseAction::StaleWhileRevalidate;
      status_.detail = swr_ ? "stale-while-revalidate" : "max-stale";
      stored_ = chosen;
      return chosen;
    case cache::ReuseAction::GatewayTimeout:  // only-if-cached and nothing servable
    case cache::ReuseAction::Validate:
      break;
  }
  result_ = CacheResult::Stale;
  status_.fwd = cache::Forward::Stale;
  stored_ = std::move(chosen);
  stored_ttl_ = decision.ttl;
  fallback_ = decision.stale_on_error;
  if (!client_conditional(req.headers)) {
    const cache::StoredValidators mine[] = {validators_of(*stored_)};
    conditional_ = cache::conditional_headers(mine);
    own_conditional_ = !conditional_.empty();
  }
  return nullptr;
}

void CacheFlow::add_conditionals(http::HeaderMap& upstream_headers) const {
  if (!own_conditional_) return;
  if (conditional_.if_none_match)
    upstream_headers.set("If-None-Match", *conditional_.if_none_match);
  if (conditional_.if_modified_since) {
    upstream_headers.set("If-Modified-Since", *conditional_.if_modified_since);
  }
}

cache::ObjectPtr CacheFlow::stale_on_error(int fwd_status) {
  if (!stored_ || fallback_ == cache::ErrorFallback::None) return nullptr;
  abandon();
  // Forwarded, so not a `hit` (RFC 9211 §2.1); the negative ttl and the detail say that the
  // stored response answered.
  status_ = cache::CacheStatus{};
  status_.fwd = cache::Forward::Stale;
  if (fwd_status) status_.fwd_status = fwd_status;
  status_.ttl = stored_ttl_;
  status_.detail = fallback_ == cache::ErrorFallback::Grace ? "grace" : "stale-if-error";
  result_ = CacheResult::Stale;
  return stored_;
}

CacheFlow CacheFlow::for_background() const {
  CacheFlow f = *this;  // LeaderClaim copies empty: a background fetch leads nothing
  f.waiting_on_.reset();
  f.swr_ = false;
  f.status_ = cache::CacheStatus{};
  f.result_ = CacheResult::Stale;
  f.fallback_ = cache::ErrorFallback::None;
  f.request_time_ = now_seconds();
  f.conditional_ = {};
  f.own_conditional_ = false;
  f.disk_write_.reset();
  if (stored_) {
    const cache::StoredValidators mine[] = {validators_of(*stored_)};
    f.conditional_ = cache::conditional_headers(mine);
    f.own_conditional_ = !f.conditional_.empty();
  }
  return f;
}

// The stored fields in order without Age and Content-Length, then those two and Cache-Status:
// the same result as copying and set(), without rescanning and shifting the copy (hit path).
void CacheFlow::hit_headers(const cache::StoredObject& obj, http::HeaderMap& out) const {
  out.clear();
  // + Age, Content-Length, Cache-Status, Via, Date, id
  out.reserve(obj.headers.size() + 6, obj.headers.storage_bytes() + 160);
  for (const auto& h : obj.headers) {
    if (http::iequals(h.name, "Age") || http::iequals(h.name, "Content-Length")) continue;
    out.add(h.name, h.value);
  }
  out.add("Age", std::to_string(std::max<std::int64_t>(0, hit_age_)));
  out.add("Content-Length", std::to_string(obj.body_size));
  add_cache_status(out, status_);
}

void CacheFlow::append_hit_fields(const cache::StoredObject& obj, std::string& out) const {
  out.append("Age: "sv).append(std::to_string(std::max<std::int64_t>(0, hit_age_)));
  out.append("\r\nContent-Length: "sv).append(std::to_string(obj.body_size));
  out.append("\r\nCache-Status: "sv);
  cache::format_cache_status(status_, out);
  out.append("\r\n"sv);
}

// ---------------------------------------------------------------------------------------------
// Storing a response from the origin

HeadAction CacheFlow::on_response_head(const Snapshot& snap, const http::RequestHead& req,
                                       http::ResponseHead& head) {
  if (auto v = head.headers.get("Location")) location_ = *v;
  if (auto v = head.headers.get("Content-Location")) content_location_ = *v;
  if (!enabled_) {
    if (status_.fwd == cache::Forward::Bypass) {
      add_cache_status(head.headers, status_);
    }
    return HeadAction::Relay;
  }
  status_.fwd_status = head.status;
  if (stored_ && is_error_status(head.status) && fallback_ != cache::ErrorFallback::None) {
    leader_.release(head.status);  // waiters fall back to their own stale object
    return HeadAction::ServeStale;
  }
  if (stored_ && head.status == 304) return on_not_modified(snap, head);
  if (req.method != http::Method::Get) {  // HEAD misses are forwarded, not stored
    status_.detail = "method";
    add_cache_status(head.headers, status_);
    return HeadAction::Relay;
  }
  const auto& cfg = *snap.config;
  const std::int64_t now = now_seconds();
  const auto* rule = config::match_response_rule(route_->cache_rules, match_, head.status,
                                                 head.headers.get("Content-Type"));
  const auto policy = config::cache_policy(cfg.cache, rule);
  const auto eff = cache::effective_directives(head.headers, cfg.cache.targeted_fields);
  const auto facts = cache::store_facts(req, head, eff.directives, eff.use_expires);
  const auto freshness = cache::freshness_facts(head.headers, head.status, now, eff.use_expires);
  const auto decision = config::decide_store(facts, freshness, policy, rule);
  if (!decision.store()) {
    // A hit-for-pass request keeps saying why it was not coalesced; `stored` is absent anyway.
    if (!hit_for_pass_) {
      status_.detail = decision.refused_by_rule
                           ? std::string("rule")
                           : std::string(cache::to_string(decision.storability.reason));
    }
  } else if (decision.ttl.lifetime <= 0 && !has_validators(head.headers)) {
    // Stale on arrival and nothing to revalidate it with: it could never be reused, so storing
    // it would only cost memory. With a validator it is stored: the next request revalidates.
    status_.detail = "no-ttl";
  } else if (head.framing == http::BodyFraming::ContentLength &&
             head.content_length > max_object_size_) {
    status_.detail = "too-large";
  } else if (auto stored = freeze_stored(
                 cache::headers_to_store(head.headers, decision.storability.omit_fields));
             !stored) {
    status_.detail = "too-large";
  } else {
    pending_ = std::make_shared<cache::StoredObject>();
    pending_->status = head.status;
    pending_->headers = std::move(*stored);
    pending_->timings = cache::stored_timings(head.headers, request_time_, now);
    pending_->vary_key = cache::vary_key(req.headers, cache::parse_vary(head.headers));
    pending_->tags = tags_of(head.headers);
    announced_length_ = head.framing == http::BodyFraming::ContentLength ? head.content_length : 0;
    disk_ = snap.disk;
    storing_ = true;
    // Known to be too large for memory: straight to the disk tier, nothing buffered.
    if (announced_length_ > memory_max_object_) start_disk_stream();
    status_.stored = storing_;
  }
  publish_head(snap, head);
  add_cache_status(head.headers, status_);
  return HeadAction::Relay;
}

// Tells the waiters what the leader's response is: a head they can stream, or an answer they
// cannot share (then the key is hit-for-pass for a while, except after a server error, which
// says nothing lasting about the URL).
void CacheFlow::publish_head(const Snapshot& snap, const http::ResponseHead& head) {
  if (storing_) {
    if (hit_for_pass_) coalescer_->clear_pass(key_);
    auto* fetch = leader_.get();
    if (!fetch) return;
    if (disk_write_) {  // too large for memory, streamed to disk: not shared (caching.md)
      leader_.release(0);
      return;
    }
    auto shown = std::make_shared<cache::StoredObject>(*pending_);
    const bool known = head.framing == http::BodyFraming::ContentLength;
    shown->body_size = known ? head.content_length : 0;
    fetch->publish_head(std::move(shown), known);
    return;
  }
  auto* fetch = leader_.get();
  if (!fetch) return;
  if (head.status >= 500) {
    leader_.release(head.status);
    return;
  }
  const auto hfp = snap.config->cache.hit_for_pass;
  if (hfp.count() > 0) coalescer_->mark_pass(key_, Coalescer::Clock::now() + hfp);
  fetch->publish_pass();
  leader_.release(head.status);
}

// RFC 9111 §4.3.3, §4.3.4: a 304 refreshes the stored object it selects. The new object keeps
// the body chunks (shared, not copied), takes the updated headers (§3.2) and the timings of
// this validation exchange, and replaces the old one in the memory tier (same variant).
// When ghala sent its own validators for exactly one stored object, a 304 that carries no
// validator at all is taken to be about that object (§4.3.4 would select nothing; origins that
// omit ETag on 304 are common). A 304 naming other validators updates nothing; ghala then cannot
// answer its client from it and treats it as an origin error (ServeStale: stale or 502).
HeadAction CacheFlow::on_not_modified(const Snapshot& snap, http::ResponseHead& head) {
  const std::int64_t now = now_seconds();
  const auto fresh = cache::stored_validators(head.headers, now);
  const cache::StoredValidators mine[] = {validators_of(*stored_)};
  bool selected = !cache::select_for_update(mine, fresh).empty();
  if (!selected && own_conditional_ && !fresh.etag && !fresh.last_modified) selected = true;
  std::optional<http::FrozenHeaders> updated;
  if (selected) {
    const auto eff = cache::effective_directives(head.headers, snap.config->cache.targeted_fields);
    updated = freeze_stored(
        cache::updated_headers(stored_->headers, head.headers, omitted_by(eff.directives)));
    // Content-Length is update-exempt (§3.2), so freeze_stored removes nothing stored.
  }
  if (updated) {  // (a head too large to freeze updates nothing: served as a mismatch)
    auto obj = std::make_shared<cache::StoredObject>(*stored_);
    obj->headers = std::move(*updated);
    obj->timings = cache::stored_timings(head.headers, request_time_, now);
    obj->soft_purged_at = 0;  // validated: the origin vouches for it again
    revalidated_ = obj;
    if (snap.memory) snap.memory->insert(key_, obj);
    if (auto* fetch = leader_.get()) fetch->publish_complete(obj);
    if (snap.disk && loop_) disk_update(loop_, snap.disk, key_, obj);
    status_.stored = true;
    result_ = CacheResult::Revalidated;
    hit_age_ = cache::current_age(obj->timings, now);
  }
  if (!own_conditional_) {  // the client's conditional: the 304 is its answer
    add_cache_status(head.headers, status_);
    return HeadAction::Relay;
  }
  leader_.release(head.status);
  if (!revalidated_) {
    status_.detail = "validator-mismatch";
    return HeadAction::ServeStale;
  }
  return HeadAction::ServeStored;
}

cache::Chunk CacheFlow::on_body(std::string_view data) {
  if (!storing_) return nullptr;
  if (pending_->body_size + data.size() > max_object_size_) {  // larger than announced: give up
    abandon();
    return nullptr;
  }
  pending_->body_size += data.size();
  if (!disk_write_ && pending_->body_size > memory_max_object_) {
    // The body goes to disk from here on: waiters cannot be fed from it (docs/caching.md,
    // "Coalescing"), so they are released.
    leader_.release(0);
    start_disk_stream_from_memory();
    if (!storing_) return nullptr;
  }
  if (disk_write_) {
    disk_write_->append(data);
    if (disk_write_->dropped()) abandon();  // the disk fell behind or failed: not stored
    return nullptr;
  }
  if (auto* fetch = leader_.get()) {  // read-while-writer: each piece as it came
    auto piece = cache::Chunk::copy_of(data);
    pending_->chunks.push_back(piece);
    fetch->publish_piece(piece);
    return piece;
  }
  chunk_.append(data);
  if (chunk_.size() >= kChunkBytes) {
    pending_->chunks.push_back(cache::Chunk::copy_of(chunk_));
    chunk_.clear();  // its buffer is reused for the next chunk
  }
  return nullptr;
}

// A body too large for the memory tier: with a disk tier (and a loop to run its jobs) it is
// streamed there; otherwise it is not stored.
void CacheFlow::start_disk_stream() {
  if (!disk_ || !loop_) {
    abandon();
    return;
  }
  auto head = *pending_;
  head.body_size = announced_length_;  // 0: unknown, commit takes what was written
  disk_write_ = DiskWriteStream::begin(loop_, disk_, key_, std::move(head));
  if (!disk_write_) abandon();  // the tier is unhealthy: pass-through
}

// Crossing the memory bound mid-body (no Content-Length): what was buffered goes to the disk
// stream first, and the memory copy is released.
void CacheFlow::start_disk_stream_from_memory() {
  if (!disk_ || !loop_) {
    abandon();
    return;
  }
  auto head = *pending_;
  head.chunks.clear();
  head.body_size = 0;
  disk_write_ = DiskWriteStream::begin(loop_, disk_, key_, std::move(head));
  if (!disk_write_) {
    abandon();
    return;
  }
  for (const auto& c : pending_->chunks) disk_write_->append(c.view());
  disk_write_->append(chunk_);
  pending_->chunks.clear();
  pending_->chunks.shrink_to_fit();
  chunk_ = std::string();
  if (disk_write_->dropped()) abandon();
}

void CacheFlow::abandon() {
  leader_.release(0);
  if (disk_write_) disk_write_->abort();
  disk_write_.reset();
  storing_ = false;
  pending_.reset();
  chunk_ = std::string();
}

void CacheFlow::on_complete(const Snapshot& snap, const http::RequestHead& req,
                            std::string_view host, int status) {
  if (storing_ && pending_ && disk_write_) {
    disk_write_->commit();  // the stream finishes on its own; the flow lets go of it
    disk_write_.reset();
  } else if (storing_ && pending_) {
    if (pending_->chunks.empty()) {
      // The whole body in one piece goes straight where recut would copy it again.
      if (!chunk_.empty()) cache::Chunk::append_sendable(pending_->chunks, chunk_);
    } else {
      if (!chunk_.empty()) pending_->chunks.push_back(cache::Chunk::copy_of(chunk_));
      pending_->chunks = recut(std::move(pending_->chunks));
    }
    chunk_ = std::string();
    pending_->chunk_count = static_cast<std::uint32_t>(pending_->chunks.size());
    pending_->id = g_next_object_id.fetch_add(1, std::memory_order_relaxed);
    cache::ObjectPtr obj = std::move(pending_);
    if (snap.memory) snap.memory->insert(key_, obj);
    if (auto* fetch = leader_.get()) fetch->publish_complete(obj);
    if (snap.disk && loop_) disk_insert(loop_, snap.disk, key_, std::move(obj));
  }
  leader_.release(0);
  storing_ = false;
  pending_.reset();
  if ((!snap.memory && !snap.disk) || !route_ || http::is_safe(req.method) || status < 200 ||
      status >= 400) {
    return;
  }
  invalidate(snap, req, host, status);
}

// RFC 9111 §4.4: a successful unsafe request invalidates the target URI, and the Location and
// Content-Location URIs when they are on the same origin. Keys are built as a GET would build
// them (the rule's key options for that path).
void CacheFlow::invalidate(const Snapshot& snap, const http::RequestHead& req,
                           std::string_view host, int status) {
  auto erase = [&](std::string_view key_host, std::string_view target) {
    const auto m = config::match_request(route_->cache_rules, http::Method::Get,
                                         target.substr(0, target.find('?')));
    auto key = config::cache_key(m.rule, key_host, target, req.headers);
    if (!key) return;
    if (snap.memory) snap.memory->erase(*key);
    if (snap.disk && loop_) disk_erase(loop_, snap.disk, *key);
  };
  erase(host, req.target);
  std::string absolute;  // built with append: GCC 12 warns falsely (-Wrestrict) on operator+
  absolute.reserve(7 + host.size() + req.target.size());
  absolute.append("http://").append(host).append(req.target);
  auto base = cache::parse_absolute_uri(absolute);
  if (!base) return;
  http::HeaderMap response;
  if (!location_.empty()) response.add("Location", location_);
  if (!content_location_.empty()) response.add("Content-Location", content_location_);
  for (const auto& uri : cache::uris_to_invalidate(req.method, status, *base, response)) {
    std::string uri_host = uri.host;
    if (uri.port != 80) uri_host.append(":").append(std::to_string(uri.port));
    erase(uri_host, uri.path_and_query);
  }
}

}  // namespace ghala::server
