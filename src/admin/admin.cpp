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

std::optional<std::string_view> bearer_credentials(const http::RequestHead& req) {
  auto auth = req.headers.get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!auth || auth->size() <= kBearer.size() ||
      !http::iequals(auth->substr(0, kBearer.size()), kBearer)) {
    return std::nullopt;
  }
  return http::trim_ows(auth->substr(kBearer.size()));
}

// Returns an error response when the request may not change state, nullopt when it may.
std::optional<Response> authorize(const http::RequestHead& req, std::string_view peer_ip,
                                  Control& control) {
  const std::string token = control.admin_token();
  if (token.empty()) {
    if (is_loopback(peer_ip)) return std::nullopt;
    return text(403, "admin changes are allowed from loopback only when no admin token is set\n");
  }
  if (const auto presented = bearer_credentials(req);
      presented && token_matches(*presented, token)) {
    return std::nullopt;
  }
  Response r = text(401, "missing or wrong bearer token\n");
  r.headers.add("WWW-Authenticate", "Bearer realm=\"ghala-admin\"");
  return r;
}

// The purge API: off without a token; 401 without bearer credentials, 403 with a wrong token.
std::optional<Response> refuse_purge(const http::RequestHead& req, Control& control) {
  const std::string token = control.purge_token();
  if (token.empty()) {
    return text(404,
                "the purge API is off: set cache.purge.token or cache.purge.token_env in the "
                "config\n");
  }
  const auto presented = bearer_credentials(req);
  if (!presented) {
    Response r = text(401, "purge needs Authorization: Bearer <cache.purge token>\n");
    r.headers.add("WWW-Authenticate", "Bearer realm=\"ghala-purge\"");
    return r;
  }
  if (!token_matches(*presented, token)) return text(403, "wrong purge token\n");
  return std::nullopt;
}

bool form_content_type(const http::RequestHead& req) {
  const auto ct = req.headers.get("Content-Type");
  if (!ct) return true;
  const auto media = http::trim_ows(ct->substr(0, ct->find(';')));
  return http::iequals(media, "application/x-www-form-urlencoded");
}

void serve_purge(const http::RequestHead& req, std::string_view body, Control& control,
                 Reply reply) {
  if (auto refused = refuse_purge(req, control)) return reply(std::move(*refused));
  if (body.size() > kMaxPurgeBody) {
    return reply(text(413, "purge body larger than " + std::to_string(kMaxPurgeBody) +
                               " bytes; split the purge\n"));
  }
  if (!body.empty() && !form_content_type(req)) {
    return reply(text(415, "send the parameters as application/x-www-form-urlencoded\n"));
  }
  auto parsed = parse_purge_request(req.query(), body);
  if (!parsed) return reply(text(400, parsed.error().message + "\n"));
  control.purge(std::move(parsed).value(), [reply = std::move(reply)](PurgeOutcome outcome) {
    Response r = text(outcome.errors.empty() ? 200 : 500, purge_json(outcome));
    r.content_type = "application/json";
    reply(std::move(r));
  });
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

namespace {

Response handle_sync(const http::RequestHead& req, Control& control) {
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
  if (path == "/") {
    if (auto r = only(get, "GET, HEAD")) return *r;
    return text(
        200,
        "ghala admin\n  GET  /metrics\n  GET  /healthz\n  GET  /readyz\n  POST /admin/reload\n"
        "  POST /admin/purge\n");
  }
  return text(404, "not found\n");
}

// A reload answers when it is done: resolving upstream host names happens off the admin loop.
void serve_reload(const http::RequestHead& req, std::string_view peer_ip, Control& control,
                  Reply reply) {
  if (req.method != http::Method::Post) {
    Response r = text(405, "method not allowed\n");
    r.headers.add("Allow", "POST");
    return reply(std::move(r));
  }
  if (auto denied = authorize(req, peer_ip, control)) return reply(std::move(*denied));
  control.reload([reply = std::move(reply)](const ReloadOutcome& outcome) {
    Response r = text(outcome.applied ? 200 : 400, reload_json(outcome));
    r.content_type = "application/json";
    reply(std::move(r));
  });
}

}  // namespace

void handle(const http::RequestHead& req, std::string_view body, std::string_view peer_ip,
            Control& control, Reply reply) {
  if (req.path() == "/admin/reload") return serve_reload(req, peer_ip, control, std::move(reply));
  if (req.path() == "/admin/purge") {
    if (req.method != http::Method::Post) {
      Response r = text(405, "method not allowed\n");
      r.headers.add("Allow", "POST");
      return reply(std::move(r));
    }
    return serve_purge(req, body, control, std::move(reply));
  }
  reply(handle_sync(req, control));
}

}  // namespace ghala::admin
