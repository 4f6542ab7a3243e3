// Access log: record formatting (pure), the shared sink (one fd, rotation by dup2) and the
// per-worker buffering writer. docs/access-log.md describes every field.

#include "ghala/observe/access_log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "ghala/core/log.hpp"
#include "observe/json_string.hpp"

namespace ghala::observe {
namespace {

// RFC 3339 UTC with milliseconds: 2024-05-01T12:34:56.789Z. Times before the epoch or not finite
// are written as the epoch: the field is always present and always parseable.
void append_time(double unix_s, std::string& out) {
  if (!std::isfinite(unix_s) || unix_s < 0) unix_s = 0;
  const auto total_ms = static_cast<long long>(std::floor(unix_s * 1000.0));
  const auto secs = static_cast<std::time_t>(total_ms / 1000);
  const auto ms = static_cast<int>(total_ms % 1000);
  std::tm tm{};
  if (::gmtime_r(&secs, &tm) == nullptr) tm = std::tm{};
  char buf[64];
  const int n =
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  if (n > 0) out.append(buf, static_cast<std::size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

template <class Int>
void append_int(Int v, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Seconds as milliseconds with microsecond precision ("12.345"); null when not applicable
// (negative: the record's "-1 = not applicable") or not a finite number (JSON has no NaN).
void append_ms(double seconds, std::string& out) {
  if (!std::isfinite(seconds) || seconds < 0) {
    out.append("null");
    return;
  }
  char buf[64];
  const auto r =
      std::to_chars(buf, buf + sizeof buf, seconds * 1000.0, std::chars_format::fixed, 3);
  if (r.ec != std::errc{}) {
    out.append("null");
    return;
  }
  out.append(buf, r.ptr);
}

void append_key(std::string_view key, std::string& out) {
  out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

void append_string_field(std::string_view key, std::string_view value, std::string& out) {
  append_key(key, out);
  append_json_string(value, out);
}

// Optional text: null when empty.
void append_optional_field(std::string_view key, std::string_view value, std::string& out) {
  append_key(key, out);
  if (value.empty()) {
    out.append("null");
  } else {
    append_json_string(value, out);
  }
}

// Drop warnings go to the diagnostic log at most once a minute: a full disk must not turn into a
// line per flush on stderr.
void warn_dropped(int err, std::size_t bytes) noexcept {
  static std::atomic<std::int64_t> last_warn_s{-3600};
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = last_warn_s.load(std::memory_order_relaxed);
  if (now - last < 60 || !last_warn_s.compare_exchange_strong(last, now)) return;
  try {
    log_warn("access log: dropped " + std::to_string(bytes) +
             " bytes: " + (err != 0 ? std::strerror(err) : "write returned 0"));
  } catch (...) {
  }
}

int open_log_file(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

Error open_error(const std::string& path, int err) {
  const ErrorKind kind = err == EACCES || err == EPERM ? ErrorKind::Denied
                         : err == ENOENT               ? ErrorKind::NotFound
                                                       : ErrorKind::Io;
  return make_error(kind, "access log: cannot open " + path + ": " + std::strerror(err));
}

// How long write() waits for a non-blocking descriptor (stdout inherited with O_NONBLOCK) to
// accept more bytes before it drops the batch.
constexpr int kPollMs = 100;
constexpr int kMaxPolls = 10;

}  // namespace

void format_access_record(const AccessRecord& r, std::string& out) {
  out.append("{\"time\":\"");
  append_time(r.start_unix, out);
  out.push_back('"');
  append_string_field("request_id", r.request_id, out);
  append_string_field("client", r.client_addr, out);
  append_string_field("method", r.method, out);
  append_string_field("host", r.host, out);
  append_string_field("target", r.target, out);
  append_key("status", out);
  append_int(r.status, out);
  append_key("bytes_sent", out);
  append_int(r.bytes_sent, out);
  append_key("bytes_received", out);
  append_int(r.bytes_received, out);
  append_key("duration_ms", out);
  append_ms(r.duration_s, out);
  append_optional_field("upstream_addr", r.upstream_addr, out);
  append_key("upstream_status", out);
  if (r.upstream_status > 0) {
    append_int(r.upstream_status, out);
  } else {
    out.append("null");
  }
  append_key("upstream_connect_ms", out);
  append_ms(r.upstream_connect_s, out);
  append_key("upstream_head_ms", out);
  append_ms(r.upstream_head_s, out);
  append_optional_field("cache_status", r.cache_status, out);
  append_optional_field("site", r.site, out);
  append_optional_field("route", r.route, out);
  append_optional_field("user_agent", r.user_agent, out);
  append_optional_field("referer", r.referer, out);
  append_optional_field("error", r.error, out);
  out.append("}\n");
}

Result<std::shared_ptr<AccessLogSink>> AccessLogSink::open(const config::AccessLog& cfg) {
  int fd = -1;
  switch (cfg.target) {
    case config::AccessLogTarget::Off:
      break;
    case config::AccessLogTarget::Stdout:
      // Our own descriptor for stdout, so the destructor may close it and stdout stays intact.
      fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) {
        return make_error(ErrorKind::Io,
                          std::string("access log: cannot use stdout: ") + std::strerror(errno));
      }
      break;
    case config::AccessLogTarget::File:
      if (cfg.path.empty()) return make_error(ErrorKind::Invalid, "access log: file path is empty");
      fd = open_log_file(cfg.path);
      if (fd < 0) return open_error(cfg.path, errno);
      break;
  }
  // The constructor is private; make_shared cannot reach it.
  return std::shared_ptr<AccessLogSink>(new AccessLogSink(cfg, fd));
}

AccessLogSink::~AccessLogSink() {
  if (fd_ >= 0) ::close(fd_);
}

void AccessLogSink::write(std::string_view lines) noexcept {
  if (fd_ < 0 || lines.empty()) return;
  std::lock_guard lock(mu_);
  const char* p = lines.data();
  std::size_t left = lines.size();
  int polls = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n > 0) {
      p += n;
      left -= static_cast<std::size_t>(n);
      continue;
    }
    const int err = n < 0 ? errno : 0;
    if (err == EINTR) continue;
    if ((err == EAGAIN || err == EWOULDBLOCK) && polls++ < kMaxPolls) {
      pollfd pfd{fd_, POLLOUT, 0};
      if (::poll(&pfd, 1, kPollMs) >= 0 || errno == EINTR) continue;
    }
    warn_dropped(err, left);
    return;
  }
}

Status AccessLogSink::reopen() {
  if (cfg_.target != config::AccessLogTarget::File || fd_ < 0) return Ok{};
  const int fresh = open_log_file(cfg_.path);
  if (fresh < 0) return open_error(cfg_.path, errno);
  // dup3 replaces fd_ atomically: a concurrent write() lands wholly in the old or the new file and
  // never sees a closed descriptor. The mutex keeps the batch in flight from being split across
  // both files.
  int rc;
  int err = 0;
  {
    std::lock_guard lock(mu_);
    do {
      rc = ::dup3(fresh, fd_, O_CLOEXEC);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) err = errno;
  }
  ::close(fresh);
  if (rc < 0) {
    return make_error(ErrorKind::Io,
                      "access log: cannot reopen " + cfg_.path + ": " + std::strerror(err));
  }
  return Ok{};
}

void AccessLogWriter::set_sink(std::shared_ptr<AccessLogSink> sink) {
  flush();
  sink_ = std::move(sink);
}

void AccessLogWriter::log(const AccessRecord& r) {
  if (!enabled()) return;
  if (buf_.capacity() < kFlushBytes) buf_.reserve(kFlushBytes + 4096);
  format_access_record(r, buf_);
  if (buf_.size() >= kFlushBytes) flush();
}

void AccessLogWriter::flush() {
  if (buf_.empty()) return;
  if (sink_) sink_->write(buf_);
  buf_.clear();
}

}  // namespace ghala::observe
