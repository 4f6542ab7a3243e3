#pragma once
// The purge API's contract (docs/caching.md, "Purge"): the request as the admin listener parses
// it, and the outcome the server reports back. Pure; the execution is server/purge.hpp.
//
//   POST /admin/purge   Authorization: Bearer <cache.purge token>
//   parameters (application/x-www-form-urlencoded, in the body or the query string, or both):
//     url=<absolute URL>       (repeatable) every stored variant of each URL
//     prefix=<absolute URL>    (repeatable) every object whose URL starts with it
//     tag=<tag>                (repeatable) every object tagged so (Surrogate-Key, Cache-Tag)
//     mode=hard|soft           hard (default) deletes; soft marks stale from now
//   One kind per request; 1 to kMaxPurgeTargets targets.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/core/result.hpp"
#include "ghala/observe/metrics.hpp"

namespace ghala::admin {

inline constexpr std::size_t kMaxPurgeTargets = 1000;
inline constexpr std::size_t kMaxPurgeBody = 256 * 1024;  // bytes of form body accepted

struct PurgeRequest {
  observe::PurgeKind kind = observe::PurgeKind::Url;
  bool soft = false;
  std::vector<std::string> targets;  // URLs, URL prefixes or tags, decoded, in request order
};

// Parses the parameters of a purge request. query: the request target's query (may be empty);
// body: the request body (may be empty). Error (Invalid) with a message for the client.
Result<PurgeRequest> parse_purge_request(std::string_view query, std::string_view body);

// application/x-www-form-urlencoded decoding of one name or value ('+' is a space, %XX a byte).
// nullopt on a malformed escape.
std::optional<std::string> form_decode(std::string_view text);

// What happened to one target.
struct PurgeTargetOutcome {
  std::string target;  // as requested
  std::string key;     // the stored key (or key prefix) it mapped to; empty: none
  std::string note;    // why nothing could be purged ("no route", "cache: false", an error)
  std::uint64_t memory = 0;
  std::optional<std::uint64_t> disk;  // nullopt: no disk tier
};

struct PurgeOutcome {
  observe::PurgeKind kind = observe::PurgeKind::Url;
  bool soft = false;
  std::vector<PurgeTargetOutcome> targets;
  std::vector<std::string> errors;  // storage errors (the disk tier); the purge may be partial
  std::uint64_t purged() const noexcept;
};

// The JSON answer: {"kind":"url","mode":"hard","purged":N,"targets":[{"target":...,"key":...,
// "memory":n[,"disk":n][,"note":...]}],"errors":[...]}
std::string purge_json(const PurgeOutcome& outcome);

}  // namespace ghala::admin
