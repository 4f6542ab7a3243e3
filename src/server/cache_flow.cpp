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
#include "ghala/cache/vary.hpp"
#include "ghala/config/cache_key.hpp"
#include "ghala/config/rule_freshness.hpp"

namespace ghala::server {

namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;
std::atomic<std::uint64_t> g_next_object_id{1};

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

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

}  // namespace

const char* to_string(CacheResult r) noexcept {
  switch (r) {
    case CacheResult::Pass: return "pass";
    case CacheResult::Bypass: return "bypass";
    case CacheResult::Hit: return "hit";
    case CacheResult::Miss: return "miss";
    case CacheResult::Stale: return "stale";
  }
  return "pass";
}

// ---------------------------------------------------------------------------------------------
// Lookup

cache::ObjectPtr CacheFlow::lookup(const Snapshot& snap, const config::Route& route,
                                   const http::RequestHead& req, std::string_view host) {
  route_ = &route;
  result_ = CacheResult::Pass;
  const auto& cfg = *snap.config;
  if (!snap.memory || cfg.upstreams[route.upstream_index].kind != config::OriginKind::Http) {
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
  // Only the memory tier stores in this slice: its per-object bound is the one that matters, and
  // buffering beyond it would hold a body in memory for nothing.
  max_object_size_ = std::min<std::uint64_t>(cfg.cache.max_object_size,
                                             snap.memory->max_object_bytes());

  auto variants = snap.memory->lookup(key_);
  if (variants.empty()) {
    result_ = CacheResult::Miss;
    status_.fwd = cache::Forward::UriMiss;
    return nullptr;
  }
  cache::ObjectPtr chosen;
  for (auto& v : variants) {
    if (cache::vary_matches(v->vary_key, cache::parse_vary(v->headers), req.headers)) {
      chosen = std::move(v);
      break;
    }
  }
  if (!chosen) {
    result_ = CacheResult::Miss;
    status_.fwd = cache::Forward::VaryMiss;
    return nullptr;
  }
  // Freshness is recomputed from the stored headers with the current rules, so a reload that
  // changes a rule applies to objects already stored.
  const auto* response_rule = config::match_response_rule(route.cache_rules, match_, chosen->status,
                                                          chosen->headers.get("Content-Type"));
  const auto policy = config::cache_policy(cfg.cache, response_rule);
  const auto eff = cache::effective_directives(chosen->headers, cfg.cache.targeted_fields);
  const auto directives = config::rule_directives(eff.directives, response_rule);
  const auto facts = cache::freshness_facts(chosen->headers, chosen->status,
                                            chosen->timings.response_time, eff.use_expires);
  const auto ttl = config::effective_ttl(cache::freshness_lifetime(directives, facts, policy),
                                         chosen->status, response_rule);
  cache::ReuseFacts reuse;
  reuse.request = cache::request_directives(req.headers);
  reuse.response = directives;
  reuse.current_age = cache::current_age(chosen->timings, request_time_);
  // A soft-purged object is stale from the purge on.
  reuse.freshness_lifetime = chosen->soft_purged_at ? 0 : ttl.lifetime;
  const auto decision = cache::decide_reuse(reuse, policy);
  if (decision.action == cache::ReuseAction::Fresh) {
    result_ = CacheResult::Hit;
    status_.hit = true;
    status_.ttl = decision.ttl;
    hit_age_ = reuse.current_age;
    return chosen;
  }
  result_ = CacheResult::Stale;
  status_.fwd = cache::Forward::Stale;
  return nullptr;
}

void CacheFlow::hit_headers(const cache::StoredObject& obj, http::HeaderMap& out) const {
  out = obj.headers;
  out.set("Age", std::to_string(std::max<std::int64_t>(0, hit_age_)));
  out.set("Content-Length", std::to_string(obj.body_size));
  out.add("Cache-Status", cache::format_cache_status(status_));
}

// ---------------------------------------------------------------------------------------------
// Storing a response from the origin

void CacheFlow::on_response_head(const Snapshot& snap, const http::RequestHead& req,
                                 http::ResponseHead& head) {
  if (auto v = head.headers.get("Location")) location_ = *v;
  if (auto v = head.headers.get("Content-Location")) content_location_ = *v;
  if (!enabled_) {
    if (status_.fwd == cache::Forward::Bypass) {
      head.headers.add("Cache-Status", cache::format_cache_status(status_));
    }
    return;
  }
  status_.fwd_status = head.status;
  if (req.method != http::Method::Get) {  // HEAD misses are forwarded, not stored
    status_.detail = "method";
    head.headers.add("Cache-Status", cache::format_cache_status(status_));
    return;
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
    status_.detail = decision.refused_by_rule
                         ? std::string("rule")
                         : std::string(cache::to_string(decision.storability.reason));
  } else if (decision.ttl.lifetime <= 0) {
    // Stale on arrival: without conditional revalidation (not in this slice) it could never be
    // reused, so storing it would only cost memory.
    status_.detail = "no-ttl";
  } else if (head.framing == http::BodyFraming::ContentLength &&
             head.content_length > max_object_size_) {
    status_.detail = "too-large";
  } else {
    pending_ = std::make_shared<cache::StoredObject>();
    pending_->status = head.status;
    pending_->headers = cache::headers_to_store(head.headers, decision.storability.omit_fields);
    pending_->headers.remove("Content-Length");  // set from body_size on delivery
    pending_->headers.remove("X-Request-Id");    // belongs to the request that fetched it
    pending_->timings = cache::stored_timings(head.headers, request_time_, now);
    pending_->vary_key = cache::vary_key(req.headers, cache::parse_vary(head.headers));
    pending_->tags = tags_of(head.headers);
    storing_ = true;
    status_.stored = true;
  }
  head.headers.add("Cache-Status", cache::format_cache_status(status_));
}

void CacheFlow::on_body(std::string_view data) {
  if (!storing_) return;
  if (pending_->body_size + data.size() > max_object_size_) {  // larger than announced: give up
    abandon();
    return;
  }
  pending_->body_size += data.size();
  chunk_.append(data);
  if (chunk_.size() >= kChunkBytes) {
    pending_->chunks.push_back(std::make_shared<const std::string>(std::move(chunk_)));
    chunk_ = std::string();
  }
}

void CacheFlow::abandon() {
  storing_ = false;
  pending_.reset();
  chunk_ = std::string();
}

void CacheFlow::on_complete(const Snapshot& snap, const http::RequestHead& req,
                            std::string_view host, int status) {
  if (storing_ && pending_ && snap.memory) {
    if (!chunk_.empty()) {
      pending_->chunks.push_back(std::make_shared<const std::string>(std::move(chunk_)));
      chunk_ = std::string();
    }
    pending_->chunk_count = static_cast<std::uint32_t>(pending_->chunks.size());
    pending_->id = g_next_object_id.fetch_add(1, std::memory_order_relaxed);
    snap.memory->insert(key_, std::move(pending_));
  }
  storing_ = false;
  pending_.reset();
  if (!snap.memory || !route_ || http::is_safe(req.method) || status < 200 || status >= 400) return;
  invalidate(snap, req, host, status);
}

// RFC 9111 §4.4: a successful unsafe request invalidates the target URI, and the Location and
// Content-Location URIs when they are on the same origin. Keys are built as a GET would build
// them (the rule's key options for that path).
void CacheFlow::invalidate(const Snapshot& snap, const http::RequestHead& req, std::string_view host,
                           int status) {
  auto erase = [&](std::string_view key_host, std::string_view target) {
    const auto m = config::match_request(route_->cache_rules, http::Method::Get,
                                         target.substr(0, target.find('?')));
    if (auto key = config::cache_key(m.rule, key_host, target, req.headers)) snap.memory->erase(*key);
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
