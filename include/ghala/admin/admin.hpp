#pragma once
// The admin API, served on its own listener (admin.listen), never on the proxy ports:
//   GET  /metrics        Prometheus text exposition (prometheus-cpp TextSerializer)
//   GET  /healthz        200 while the process runs
//   GET  /readyz         200 while accepting traffic, 503 while draining for shutdown
//   POST /admin/reload   parse, validate and apply the config file (same as SIGHUP)
//   POST /admin/purge    purge cached objects by URL, prefix or tag (purge.hpp)
// Reload needs `Authorization: Bearer <admin.token>` when a token is configured; without one it
// is allowed from loopback clients only. Purge has its own token (cache.purge) and is off (404)
// without one: 401 without credentials, 403 with a wrong token, from anywhere.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/admin/purge.hpp"
#include "ghala/http/message.hpp"

namespace ghala::admin {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  http::HeaderMap headers;
};

struct ReloadOutcome {
  bool applied = false;
  std::string hash;                           // of the config now serving
  std::vector<std::string> errors;            // "file:line:col: message" when refused
  std::vector<std::string> restart_required;  // changes that wait for a restart
};

// Implemented by the server.
class Control {
 public:
  virtual ~Control() = default;
  virtual bool ready() const = 0;
  // Loads, validates and applies the config file, and calls done exactly once with the outcome,
  // on the admin loop (the server resolves upstream host names off the loop first; a test double
  // may answer at once).
  virtual void reload(std::function<void(const ReloadOutcome&)> done) = 0;
  virtual std::string admin_token() const = 0;
  // The purge API's bearer token; empty: the purge API is off.
  virtual std::string purge_token() const = 0;
  // Runs a parsed purge and calls done exactly once with the outcome, on the admin loop (the
  // server runs purges on the thread pool and answers later; a test double may answer at once).
  virtual void purge(PurgeRequest request, std::function<void(PurgeOutcome)> done) = 0;
};

// Answers one admin request: reply is called exactly once, before handle() returns for every
// endpoint but reload and purge, which may answer later (see Control::reload, Control::purge).
// body: the request body (only purge reads one; the server keeps at most kMaxPurgeBody + 1 bytes of
// it).
using Reply = std::function<void(Response)>;
void handle(const http::RequestHead& request, std::string_view body, std::string_view peer_ip,
            Control& control, Reply reply);

// Constant-time comparison of a presented bearer token with the configured one.
bool token_matches(std::string_view presented, std::string_view expected) noexcept;
bool is_loopback(std::string_view ip) noexcept;
std::string reload_json(const ReloadOutcome& outcome);

}  // namespace ghala::admin
