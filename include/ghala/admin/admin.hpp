#pragma once
// The admin API, served on its own listener (admin.listen), never on the proxy ports:
//   GET  /metrics        Prometheus text exposition (prometheus-cpp TextSerializer)
//   GET  /healthz        200 while the process runs
//   GET  /readyz         200 while accepting traffic, 503 while draining for shutdown
//   POST /admin/reload   parse, validate and apply the config file (same as SIGHUP)
// Mutating endpoints need `Authorization: Bearer <admin.token>` when a token is configured;
// without one they are allowed from loopback clients only.

#include <string>
#include <string_view>
#include <vector>

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
  virtual ReloadOutcome reload() = 0;
  virtual std::string admin_token() const = 0;
};

Response handle(const http::RequestHead& request, std::string_view peer_ip, Control& control);

// Constant-time comparison of a presented bearer token with the configured one.
bool token_matches(std::string_view presented, std::string_view expected) noexcept;
bool is_loopback(std::string_view ip) noexcept;
std::string reload_json(const ReloadOutcome& outcome);

}  // namespace ghala::admin
