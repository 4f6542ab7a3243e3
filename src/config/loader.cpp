// The YAML loader: parses the text, walks the schema section by section, collects every error
// with its position, and only returns a Config when there are none. yaml-cpp reports problems by
// throwing; load_string and load_file catch everything at this boundary, so callers (the reload
// path runs on a libuv loop) never see an exception.

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "config/address.hpp"
#include "config/sections.hpp"
#include "config/yaml_document.hpp"
#include "ghala/config/router.hpp"

namespace ghala::config {
namespace {

constexpr std::uint32_t kMaxWorkers = 1024;
constexpr std::size_t kMinTokenLength = 16;
constexpr std::size_t kMaxConfigBytes = 16u << 20;

std::string sha256_prefix(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 8 && i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

void read_workers(const Field& f, Diagnostics& diag, Config& c) {
  const std::string s = f.value.IsScalar() ? f.value.Scalar() : std::string();
  if (s == "auto") {
    c.workers = 0;
    return;
  }
  const bool digits = !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), [](char ch) {
    return ch >= '0' && ch <= '9';
  });
  const unsigned long n = digits ? std::stoul(s) : 0;
  if (n >= 1 && n <= kMaxWorkers) {
    c.workers = static_cast<std::uint32_t>(n);
    return;
  }
  diag.error(f.mark(), "workers: expected auto or an integer from 1 to " +
                           std::to_string(kMaxWorkers) + ", found " + describe(f.value));
}

std::optional<SocketAddress> read_address(const Field& f, Diagnostics& diag) {
  std::string text;
  if (!read_string(f, diag, text)) return std::nullopt;
  auto r = parse_listen_address(text);
  if (!r) {
    diag.error(f.mark(), f.name + ": " + r.error().message);
    return std::nullopt;
  }
  return std::move(r).value();
}

// Port 0 asks the OS for a free port, so two ":0" sockets never collide.
bool same_address(const SocketAddress& a, const SocketAddress& b) {
  return a.port != 0 && a.host == b.host && a.port == b.port;
}

std::optional<Listener> read_listener(const Field& item, Diagnostics& diag) {
  if (item.value.IsScalar()) {  // shorthand: "- 127.0.0.1:8080"
    auto a = read_address(item, diag);
    if (!a) return std::nullopt;
    return Listener{std::move(*a)};
  }
  static constexpr std::array<std::string_view, 2> kKeys{"address", "backlog"};
  MapView m(item, kKeys, diag);
  if (!m.valid()) return std::nullopt;
  Listener l;
  bool ok = true;
  if (const Field* f = m.find("address")) {
    auto a = read_address(*f, diag);
    ok = a.has_value();
    if (a) l.address = std::move(*a);
  } else {
    diag.error(m.mark(), item.name + ": missing 'address' (host:port)");
    ok = false;
  }
  if (const Field* f = m.find("backlog")) {
    std::uint32_t backlog = 0;
    if (read_uint32(*f, diag, 1, 65535, backlog)) l.backlog = static_cast<int>(backlog);
  }
  if (!ok) return std::nullopt;
  return l;
}

void read_listeners(const Field& f, Diagnostics& diag, Config& c) {
  auto items = list_items(f, diag);
  if (!items) return;
  if (items->empty()) diag.error(f.mark(), "listen: needs at least one address");
  for (const Field& item : *items) {
    auto l = read_listener(item, diag);
    if (!l) continue;
    const bool dup = std::any_of(c.listeners.begin(), c.listeners.end(), [&](const Listener& o) {
      return same_address(o.address, l->address);
    });
    if (dup) {
      diag.error(item.mark(), "listen: " + quote_value(l->address.text) + " is listed twice");
      continue;
    }
    c.listeners.push_back(std::move(*l));
  }
}

void read_admin(const Field& f, Diagnostics& diag, Config& c) {
  static constexpr std::array<std::string_view, 3> kKeys{"listen", "token", "token_env"};
  MapView m(f, kKeys, diag);
  if (!m.valid()) return;
  if (const Field* l = m.find("listen")) {
    c.admin.listen = read_address(*l, diag);
    if (c.admin.listen) {
      for (const Listener& other : c.listeners) {
        if (same_address(other.address, *c.admin.listen)) {
          diag.error(l->mark(), "admin.listen: " + quote_value(c.admin.listen->text) +
                                    " is also a client listener; use a separate port");
        }
      }
    }
  } else {
    diag.error(m.mark(), "admin: missing 'listen' (remove the admin section to run without one)");
  }
  c.admin.token = read_token(m, diag, "");
}

void read_limits(const Field& f, Diagnostics& diag, Limits& l) {
  static constexpr std::array<std::string_view, 5> kKeys{
      "max_connections", "max_request_line", "max_header_bytes", "max_headers", "max_request_body"};
  MapView m(f, kKeys, diag);
  std::uint64_t n = 0;
  if (const Field* x = m.find("max_connections"))
    read_uint32(*x, diag, 1, 10'000'000, l.max_connections);
  if (const Field* x = m.find("max_request_line"); x && read_size(*x, diag, 256, 1u << 20, n)) {
    l.max_request_line = static_cast<std::uint32_t>(n);
  }
  if (const Field* x = m.find("max_header_bytes"); x && read_size(*x, diag, 1024, 16u << 20, n)) {
    l.max_header_bytes = static_cast<std::uint32_t>(n);
  }
  if (const Field* x = m.find("max_headers")) read_uint32(*x, diag, 1, 10'000, l.max_headers);
  if (const Field* x = m.find("max_request_body")) {
    read_size(*x, diag, 0, UINT64_MAX, l.max_request_body);
  }
}

void read_timeouts(const Field& f, Diagnostics& diag, Timeouts& t) {
  static constexpr std::array<std::string_view, 5> kKeys{
      "header_read", "keepalive_idle", "body_read", "client_write_stall", "shutdown_grace"};
  MapView m(f, kKeys, diag);
  if (const Field* x = m.find("header_read")) read_duration(*x, diag, false, t.header_read);
  if (const Field* x = m.find("keepalive_idle")) read_duration(*x, diag, false, t.keepalive_idle);
  if (const Field* x = m.find("body_read")) read_duration(*x, diag, false, t.body_read);
  if (const Field* x = m.find("client_write_stall")) {
    read_duration(*x, diag, false, t.client_write_stall);
  }
  if (const Field* x = m.find("shutdown_grace")) read_duration(*x, diag, true, t.shutdown_grace);
}

void read_access_log(LoadContext& ctx, const Field& f, AccessLog& log) {
  static constexpr std::array<std::string_view, 2> kKeys{"target", "path"};
  static constexpr std::array<std::string_view, 3> kTargets{"off", "stdout", "file"};
  static constexpr std::array<AccessLogTarget, 3> kValues{
      AccessLogTarget::Off, AccessLogTarget::Stdout, AccessLogTarget::File};
  MapView m(f, kKeys, ctx.diag);
  if (!m.valid()) return;
  if (const Field* t = m.find("target")) {
    if (auto i = read_choice(*t, ctx.diag, kTargets)) log.target = kValues[*i];
  }
  const Field* p = m.find("path");
  if (log.target != AccessLogTarget::File) {
    if (p) ctx.diag.error(p->key.Mark(), "access_log.path is only used with target: file");
    return;
  }
  std::string path;
  if (!p) {
    ctx.diag.error(m.mark(), "access_log: target: file needs a 'path'");
  } else if (read_string(*p, ctx.diag, path)) {
    if (path.empty()) {
      ctx.diag.error(p->mark(), "access_log.path: empty path");
      return;
    }
    log.path = resolve_path(ctx, path);
    std::error_code ec;
    const auto dir = std::filesystem::path(log.path).parent_path();
    if (!std::filesystem::is_directory(dir, ec)) {
      ctx.diag.error(p->mark(),
                     "access_log.path: directory " + quote_value(dir.string()) + " does not exist");
    }
  }
}

constexpr std::array<std::string_view, 10> kTopKeys{
    "workers",  "worker_yield", "listen", "admin",     "limits",
    "timeouts", "access_log",   "cache",  "upstreams", "sites"};

void read_root(LoadContext& ctx, const YAML::Node& root, Config& c) {
  Diagnostics& diag = ctx.diag;
  const Field root_field{"config", YAML::Node(), root};
  if (!root.IsMap()) {
    diag.error(root_field.mark(),
               "the top level must be a map of sections (listen:, upstreams:, "
               "sites:, ...), found " +
                   describe(root));
    return;
  }
  MapView m(root_field, kTopKeys, diag);
  if (const Field* f = m.find("workers")) read_workers(*f, diag, c);
  if (const Field* f = m.find("worker_yield")) read_bool(*f, diag, c.worker_yield);
  if (const Field* f = m.find("listen")) {
    read_listeners(*f, diag, c);
  } else {
    diag.error("missing 'listen': ghala needs at least one address to listen on");
  }
  if (const Field* f = m.find("admin")) read_admin(*f, diag, c);
  if (const Field* f = m.find("limits")) read_limits(*f, diag, c.limits);
  if (const Field* f = m.find("timeouts")) read_timeouts(*f, diag, c.timeouts);
  if (const Field* f = m.find("access_log")) read_access_log(ctx, *f, c.access_log);
  if (const Field* f = m.find("cache")) read_cache_settings(ctx, *f, c);
  if (const Field* f = m.find("upstreams")) read_upstreams(ctx, *f, c);
  read_sites(ctx, m.find("sites"), c);
}

// Errors in file order read best; the section readers finish cross-checks (routes against
// upstreams) out of order.
std::vector<ConfigError> sorted(std::vector<ConfigError> errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.col) < std::pair(b.line, b.col);
  });
  return errors;
}

LoadResult parse_and_check(std::string_view yaml, const std::string& source_name,
                           const std::string& base_dir, Diagnostics& diag) {
  const auto root = parse_document(yaml, diag);
  if (!root) return {nullptr, std::move(diag).take()};
  if (root->IsNull()) {
    diag.error("the config is empty: it needs at least listen:, upstreams: and sites:");
  } else {
    Config c;
    c.source = source_name;
    c.hash = sha256_prefix(yaml);
    LoadContext ctx{diag, base_dir.empty() ? std::string(".") : base_dir};
    read_root(ctx, *root, c);
    if (diag.empty()) {
      build_host_index(c);
      return {std::make_shared<const Config>(std::move(c)), {}};
    }
  }
  return {nullptr, sorted(std::move(diag).take())};
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// Reads the whole file, refusing anything larger than kMaxConfigBytes (a config never is; a
// device file or a mistaken path could be endless).
std::optional<std::string> read_text_file(const std::string& path, std::string& why) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    why = "is a directory";
    return std::nullopt;
  }
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) {
    why = errno_text(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0 && text.size() <= kMaxConfigBytes) {
    text.append(buf, n);
  }
  const bool failed = std::ferror(fp) != 0;
  std::fclose(fp);
  if (failed) why = "read error";
  if (text.size() > kMaxConfigBytes) why = "larger than 16MiB; this is not a config file";
  if (!why.empty()) return std::nullopt;
  return text;
}

LoadResult internal_error(const std::string& file, std::string_view what) {
  ConfigError e;
  e.file = file;
  e.message = "internal error while loading the config: " + std::string(what);
  return {nullptr, {std::move(e)}};
}

}  // namespace

namespace {

bool valid_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
  });
}

// The token travels in an HTTP header: printable ASCII without spaces, and long enough that
// guessing it is not practical.
std::optional<std::string> check_token(std::string_view token) {
  const bool printable =
      std::all_of(token.begin(), token.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
  if (!printable) return "must be printable ASCII without spaces";
  if (token.size() < kMinTokenLength) {
    return "is too short: use at least " + std::to_string(kMinTokenLength) +
           " characters (e.g. the output of 'openssl rand -hex 24')";
  }
  return std::nullopt;
}

}  // namespace

std::string read_token(const MapView& m, Diagnostics& diag, std::string_view prefix) {
  const std::string p(prefix);
  std::string token;
  const Field* token_f = m.find("token");
  const Field* env_f = m.find("token_env");
  if (env_f) {
    std::string name;
    if (read_string(*env_f, diag, name)) {
      if (!valid_env_name(name)) {
        diag.error(env_f->mark(),
                   p + "token_env: " + quote_value(name) + " is not an environment variable name");
      } else if (!token_f) {  // token wins when both are set
        const char* v = std::getenv(name.c_str());
        if (v == nullptr || *v == '\0') {
          diag.error(env_f->mark(),
                     p + "token_env: environment variable " + name + " is not set or empty");
          return {};
        }
        token = v;
        if (auto why = check_token(token)) {
          diag.error(env_f->mark(), p + "token from " + name + " " + *why);
          return {};
        }
      }
    }
  }
  if (token_f && read_string(*token_f, diag, token)) {
    if (auto why = check_token(token)) {
      diag.error(token_f->mark(), p + "token " + *why);
      return {};
    }
  }
  return token;
}

std::string resolve_path(const LoadContext& ctx, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(ctx.base_dir) / p;
  return p.lexically_normal().string();
}

LoadResult load_string(std::string_view yaml, const std::string& source_name,
                       const std::string& base_dir) {
  try {
    Diagnostics diag(source_name);
    return parse_and_check(yaml, source_name, base_dir, diag);
  } catch (const std::exception& e) {
    // The reader handles yaml-cpp's own errors; this is a bug or an allocation failure, and the
    // reload path must survive it.
    return internal_error(source_name, e.what());
  } catch (...) {
    return internal_error(source_name, "unknown exception");
  }
}

LoadResult load_file(const std::string& path) {
  try {
    std::string why;
    auto text = read_text_file(path, why);
    if (!text) {
      ConfigError e;
      e.file = path;
      e.message = "cannot read config file: " + why;
      return {nullptr, {std::move(e)}};
    }
    std::error_code ec;
    auto dir = std::filesystem::absolute(path, ec).parent_path();
    return load_string(*text, path, dir.string());
  } catch (const std::exception& e) {
    return internal_error(path, e.what());
  } catch (...) {
    return internal_error(path, "unknown exception");
  }
}

}  // namespace ghala::config
