// `ghala purge`: see purge_client.hpp. Plain blocking POSIX sockets: a command-line tool, not
// the server's loop.

#include "ghala/admin/purge_client.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "config/address.hpp"
#include "ghala/config/config.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::admin {

const char* const kPurgeUsage =
    "usage: ghala purge [--config FILE | --admin HOST:PORT] [--token TOKEN] [--soft]\n"
    "                   [--timeout SECONDS] (URL... | --prefix URL... | --tag TAG...)\n"
    "  URL          purge every stored variant of each absolute URL (http://host/path?query)\n"
    "  --prefix URL purge every object whose URL starts with URL (repeatable)\n"
    "  --tag TAG    purge every object tagged TAG by Surrogate-Key or Cache-Tag (repeatable)\n"
    "  --soft       mark stale instead of deleting (still usable for stale-if-error and grace)\n"
    "The admin address is --admin, else the config's admin.listen, else 127.0.0.1:9145.\n"
    "The token is --token, else $GHALA_PURGE_TOKEN, else the config's cache.purge section.\n";

namespace {

Error usage(std::string message) {
  return make_error(ErrorKind::Invalid, std::move(message));
}

// Sets the request's kind, refusing a second kind.
Status add_target(PurgeRequest& r, bool& have_kind, observe::PurgeKind kind,
                  std::string_view target) {
  if (have_kind && r.kind != kind) return usage("give URLs, --prefix or --tag, not a mix");
  have_kind = true;
  r.kind = kind;
  r.targets.emplace_back(target);
  return Ok{};
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<std::string> exchange(const config::SocketAddress& to, const std::string& request,
                             int timeout_seconds) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(to.port);
  if (int rc = ::getaddrinfo(to.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return make_error(ErrorKind::Io, to.text + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  Fd sock;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd s{::socket(a->ai_family, a->ai_socktype, a->ai_protocol)};
    if (s.fd < 0) continue;
    timeval tv{timeout_seconds, 0};
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) == 0) {
      std::swap(sock.fd, s.fd);
      break;
    }
    last = std::strerror(errno);
  }
  ::freeaddrinfo(found);
  if (sock.fd < 0)
    return make_error(ErrorKind::Refused, "cannot connect to " + to.text + ": " + last);
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return make_error(ErrorKind::Io, "sending to " + to.text + ": " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      const bool timeout = errno == EAGAIN || errno == EWOULDBLOCK;
      return make_error(timeout ? ErrorKind::Timeout : ErrorKind::Io,
                        "reading from " + to.text + ": " +
                            (timeout ? std::string("timed out") : std::strerror(errno)));
    }
    raw.append(buf, static_cast<std::size_t>(n));
  }
  return raw;
}

// 0.0.0.0 and :: listen everywhere; the client talks to the loopback address of that family.
config::SocketAddress reachable(config::SocketAddress a) {
  if (a.host == "0.0.0.0") a.host = "127.0.0.1";
  if (a.host == "::") a.host = "::1";
  return a;
}

struct Target {
  config::SocketAddress admin;
  std::string token;
};

// Where to send the purge and with which token (see purge_client.hpp for the order).
Result<Target> resolve(const PurgeCommand& cmd, const char* env_token) {
  Target t;
  std::optional<config::Config> cfg;
  if (!cmd.config_path.empty()) {
    auto loaded = config::load_file(cmd.config_path);
    if (!loaded.config) {
      std::string msg = cmd.config_path + ": the config does not load";
      if (!loaded.errors.empty()) msg += ": " + loaded.errors.front().format();
      return usage(msg);
    }
    cfg = *loaded.config;
  }
  if (!cmd.admin.empty()) {
    auto a = config::parse_upstream_url(cmd.admin);
    if (!a) return usage("--admin: " + a.error().message);
    t.admin = a.value();
  } else if (cfg) {
    if (!cfg->admin.listen) return usage(cmd.config_path + ": no admin listener (admin.listen)");
    if (cfg->admin.listen->port == 0) {
      return usage(cmd.config_path + ": admin.listen has port 0 (chosen by the OS); pass --admin");
    }
    t.admin = reachable(*cfg->admin.listen);
  } else {
    t.admin = config::SocketAddress{"127.0.0.1", 9145, "127.0.0.1:9145"};
  }
  if (cmd.token) {
    t.token = *cmd.token;
  } else if (env_token != nullptr && *env_token != '\0') {
    t.token = env_token;
  } else if (cfg) {
    t.token = cfg->cache.purge_token;
  }
  if (t.token.empty()) {
    return usage(
        "no purge token: pass --token, set GHALA_PURGE_TOKEN, or --config a file with "
        "cache.purge");
  }
  return t;
}

std::string host_header(const config::SocketAddress& a) {
  const bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

}  // namespace

Result<PurgeCommand> parse_purge_command(const std::vector<std::string_view>& args) {
  PurgeCommand cmd;
  bool have_kind = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto need = [&](std::string_view name) { return usage(std::string(name) + " needs a value"); };
    if (a == "--help" || a == "-h") {
      cmd.help = true;
      return cmd;
    }
    if (a == "--soft") {
      cmd.request.soft = true;
    } else if (a == "--config" || a == "-c" || a == "--admin" || a == "--token" ||
               a == "--timeout" || a == "--prefix" || a == "--tag") {
      const auto v = value();
      if (!v) return need(a);
      Status s = Ok{};
      if (a == "--config" || a == "-c") {
        cmd.config_path = std::string(*v);
      } else if (a == "--admin") {
        cmd.admin = std::string(*v);
      } else if (a == "--token") {
        cmd.token = std::string(*v);
      } else if (a == "--timeout") {
        int n = 0;
        const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || p != v->data() + v->size() || n < 1 || n > 3600) {
          return usage("--timeout: whole seconds, 1 to 3600");
        }
        cmd.timeout_seconds = n;
      } else {
        const auto kind = a == "--tag" ? observe::PurgeKind::Tag : observe::PurgeKind::Prefix;
        s = add_target(cmd.request, have_kind, kind, *v);
      }
      if (!s) return s.error();
    } else if (a.starts_with("-")) {
      return usage("unknown option '" + std::string(a) + "'");
    } else if (auto s = add_target(cmd.request, have_kind, observe::PurgeKind::Url, a); !s) {
      return s.error();
    }
  }
  if (cmd.request.targets.empty()) return usage("nothing to purge: give URLs, --prefix or --tag");
  if (cmd.request.targets.size() > kMaxPurgeTargets) {
    return usage("more than " + std::to_string(kMaxPurgeTargets) + " targets; split the purge");
  }
  return cmd;
}

std::string form_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string purge_form(const PurgeRequest& r) {
  std::string out = r.soft ? "mode=soft" : "mode=hard";
  const std::string name(observe::to_string(r.kind));
  for (const std::string& t : r.targets) out += "&" + name + "=" + form_encode(t);
  return out;
}

Result<HttpReply> parse_http_reply(std::string_view raw) {
  const auto end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || end == std::string_view::npos || raw.size() < 12) {
    return usage("not an HTTP/1.x response");
  }
  HttpReply r;
  const std::string_view code = raw.substr(9, 3);
  const auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), r.status);
  if (ec != std::errc() || p != code.data() + code.size() || raw[8] != ' ') {
    return usage("bad HTTP status line");
  }
  std::string_view body = raw.substr(end + 4);
  // Content-Length, when present, bounds the body (the server may not have closed at once).
  std::string_view head = raw.substr(0, end + 2);
  for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos;) {
    const auto next = head.find("\r\n", pos + 2);
    if (next == std::string_view::npos) break;
    const std::string_view line = head.substr(pos + 2, next - pos - 2);
    constexpr std::string_view kCl = "content-length:";
    if (line.size() > kCl.size() && http::iequals(line.substr(0, kCl.size()), kCl)) {
      const auto v = http::trim_ows(line.substr(kCl.size()));
      std::size_t n = 0;
      const auto [q, e] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (e != std::errc() || q != v.data() + v.size()) return usage("bad Content-Length");
      if (n > body.size()) return usage("response body cut short");
      body = body.substr(0, n);
    }
    pos = next;
  }
  r.body = std::string(body);
  return r;
}

int run_purge_command(const std::vector<std::string_view>& args, const char* env_token) {
  auto cmd = parse_purge_command(args);
  if (!cmd) {
    std::fprintf(stderr, "ghala purge: %s\n%s", cmd.error().message.c_str(), kPurgeUsage);
    return 2;
  }
  if (cmd.value().help) {
    std::fputs(kPurgeUsage, stdout);
    return 0;
  }
  auto target = resolve(cmd.value(), env_token);
  if (!target) {
    std::fprintf(stderr, "ghala purge: %s\n", target.error().message.c_str());
    return 2;
  }
  const std::string body = purge_form(cmd.value().request);
  if (body.size() > kMaxPurgeBody) {
    std::fprintf(stderr, "ghala purge: the request would exceed %zu bytes; split the purge\n",
                 kMaxPurgeBody);
    return 2;
  }
  const Target& t = target.value();
  const std::string request = "POST /admin/purge HTTP/1.1\r\nHost: " + host_header(t.admin) +
                              "\r\nAuthorization: Bearer " + t.token +
                              "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  auto raw = exchange(t.admin, request, cmd.value().timeout_seconds);
  if (!raw) {
    std::fprintf(stderr, "ghala purge: %s\n", raw.error().message.c_str());
    return 1;
  }
  auto reply = parse_http_reply(raw.value());
  if (!reply) {
    std::fprintf(stderr, "ghala purge: %s: %s\n", t.admin.text.c_str(),
                 reply.error().message.c_str());
    return 1;
  }
  if (reply.value().status != 200) {
    std::fprintf(stderr, "ghala purge: %s answered %d: %s", t.admin.text.c_str(),
                 reply.value().status, reply.value().body.c_str());
    if (!reply.value().body.ends_with('\n')) std::fputc('\n', stderr);
    return 1;
  }
  std::fputs(reply.value().body.c_str(), stdout);
  return 0;
}

}  // namespace ghala::admin
