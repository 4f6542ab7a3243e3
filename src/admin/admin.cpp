#include "ghala/admin/admin.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <optional>

#include "ghala/observe/metrics.hpp"
#include "observe/json_string.hpp"

namespace ghala::admin {

namespace {

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void append_json_list(const std::vector<std::string>& items, std::string& out) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    observe::append_json_string(items[i], out);
  }
  out += ']';
}

// Returns an error response when the request may not change state, nullopt when it may.
std::optional<Response> authorize(const http::RequestHead& req, std::string_view peer_ip,
                                  Control& control) {
  const std::string token = control.admin_token();
  if (token.empty()) {
    if (is_loopback(peer_ip)) return std::nullopt;
    return text(403, "admin changes are allowed from loopback only when no admin token is set\n");
  }
  auto auth = req.headers.get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth && auth->size() > kBearer.size() &&
      http::iequals(auth->substr(0, kBearer.size()), kBearer) &&
      token_matches(http::trim_ows(auth->substr(kBearer.size())), token)) {
    return std::nullopt;
  }
  Response r = text(401, "missing or wrong bearer token\n");
  r.headers.add("WWW-Authenticate", "Bearer realm=\"ghala-admin\"");
  return r;
}

}  // namespace

bool token_matches(std::string_view presented, std::string_view expected) noexcept {
  // Compare over the expected length whatever the presented length, so timing reveals nothing
  // about how much of the token matched.
  if (expected.empty()) return false;
  std::string padded(expected.size(), '\0');
  presented.copy(padded.data(), std::min(presented.size(), expected.size()));
  const bool same = CRYPTO_memcmp(padded.data(), expected.data(), expected.size()) == 0;
  return same && presented.size() == expected.size();
}

bool is_loopback(std::string_view ip) noexcept {
  return ip.starts_with("127.") || ip == "::1" || ip.starts_with("::ffff:127.");
}

std::string reload_json(const ReloadOutcome& o) {
  std::string out = "{\"result\":";
  out += o.applied ? "\"applied\"" : "\"refused\"";
  out += ",\"hash\":";
  observe::append_json_string(o.hash, out);
  out += ",\"errors\":";
  append_json_list(o.errors, out);
  out += ",\"restart_required\":";
  append_json_list(o.restart_required, out);
  out += "}\n";
  return out;
}

Response handle(const http::RequestHead& req, std::string_view peer_ip, Control& control) {
  const auto path = req.path();
  const bool get = req.method == http::Method::Get || req.method == http::Method::Head;
  auto only = [&](bool allowed, std::string_view allow) -> std::optional<Response> {
    if (allowed) return std::nullopt;
    Response r = text(405, "method not allowed\n");
    r.headers.add("Allow", allow);
    return r;
  };
  if (path == "/metrics") {
    if (auto r = only(get, "GET, HEAD")) return *r;
    Response r = text(200, observe::Metrics::get().serialize());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == "/healthz") {
    if (auto r = only(get, "GET, HEAD")) return *r;
    return text(200, "ok\n");
  }
  if (path == "/readyz") {
    if (auto r = only(get, "GET, HEAD")) return *r;
    return control.ready() ? text(200, "ready\n") : text(503, "draining\n");
  }
  if (path == "/admin/reload") {
    if (auto r = only(req.method == http::Method::Post, "POST")) return *r;
    if (auto denied = authorize(req, peer_ip, control)) return *denied;
    const auto outcome = control.reload();
    Response r = text(outcome.applied ? 200 : 400, reload_json(outcome));
    r.content_type = "application/json";
    return r;
  }
  if (path == "/") {
    if (auto r = only(get, "GET, HEAD")) return *r;
    return text(
        200,
        "ghala admin\n  GET  /metrics\n  GET  /healthz\n  GET  /readyz\n  POST /admin/reload\n");
  }
  return text(404, "not found\n");
}

}  // namespace ghala::admin
