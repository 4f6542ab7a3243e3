#pragma once
// Structured access log: one JSON object per line per request. A shared Sink owns the file
// descriptor (stdout or a file opened O_APPEND); each worker thread has its own Writer that
// buffers lines and flushes them in large writes (on size, on a timer, at shutdown). reopen()
// re-opens the file in place (dup2), so log rotation (SIGUSR1) needs no coordination with writers.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "ghala/config/config.hpp"
#include "ghala/core/result.hpp"

namespace ghala::observe {

struct AccessRecord {
  double start_unix = 0;  // request start, seconds since the epoch (fractional)
  std::string_view client_addr;
  std::string_view method;
  std::string_view host;
  std::string_view target;  // path and query
  int status = 0;
  std::uint64_t bytes_sent = 0;      // to the client, head and body
  std::uint64_t bytes_received = 0;  // from the client, head and body
  double duration_s = 0;             // first request byte to last response byte
  double upstream_connect_s = -1;    // -1: not applicable
  double upstream_head_s = -1;       // request sent to response head received
  std::string_view upstream_addr;    // "" when no upstream was used
  int upstream_status = 0;           // 0 when no upstream response
  std::string_view cache_status;     // RFC 9211 style; "" until the cache exists
  std::string_view request_id;
  std::string_view site;
  std::string_view route;
  std::string_view user_agent;
  std::string_view referer;
  std::string_view error;  // short cause when the request failed ("upstream_timeout", ...)
};

// Appends one JSON line (with '\n') for the record. Pure; strings are JSON-escaped, invalid UTF-8
// bytes become U+FFFD, so the line is valid JSON whatever the client sent. Fields without a value
// (no upstream, empty User-Agent, ...) are written as null; docs/access-log.md lists them.
void format_access_record(const AccessRecord& r, std::string& out);

class AccessLogSink {
 public:
  // target Off gives a sink that drops everything.
  static Result<std::shared_ptr<AccessLogSink>> open(const config::AccessLog& cfg);
  ~AccessLogSink();
  AccessLogSink(const AccessLogSink&) = delete;
  AccessLogSink& operator=(const AccessLogSink&) = delete;

  bool enabled() const noexcept { return fd_ >= 0; }
  // Writes whole lines; thread-safe (O_APPEND, and a mutex so that a batch larger than PIPE_BUF
  // written to a stdout pipe never interleaves with another thread's). Retries partial writes and
  // EINTR; drops the batch on any other error (logged to stderr at most once a minute). On stdout,
  // blocks while the reading end of a pipe is full (docs/access-log.md).
  void write(std::string_view lines) noexcept;
  // Re-opens the file at the same path (log rotation). No-op for stdout/off.
  Status reopen();
  const config::AccessLog& config() const noexcept { return cfg_; }

 private:
  AccessLogSink(config::AccessLog cfg, int fd) : cfg_(std::move(cfg)), fd_(fd) {}
  config::AccessLog cfg_;
  int fd_ = -1;    // never changes: reopen() dup2()s the new file onto this number
  std::mutex mu_;  // one batch at a time; reopen() waits for the batch in flight
};

// Per worker thread; not thread-safe.
class AccessLogWriter {
 public:
  explicit AccessLogWriter(std::shared_ptr<AccessLogSink> sink) : sink_(std::move(sink)) {}
  ~AccessLogWriter() { flush(); }
  void set_sink(std::shared_ptr<AccessLogSink> sink);  // on reload; flushes first
  // Formats the record into the buffer; writes the buffer out once it passes kFlushBytes.
  void log(const AccessRecord& r);
  // Writes out what is buffered. Call from a periodic timer (e.g. every 200 ms) and at shutdown.
  void flush();
  bool enabled() const noexcept { return sink_ && sink_->enabled(); }

  static constexpr std::size_t kFlushBytes = 32 * 1024;

 private:
  std::shared_ptr<AccessLogSink> sink_;
  std::string buf_;
};

// A new request id: 32 lowercase hex characters from a fast per-thread generator seeded from
// the OS. Not cryptographic; unique enough for correlation.
inline constexpr std::size_t kRequestIdLength = 32;
void generate_request_id(char (&out)[kRequestIdLength]) noexcept;
std::string generate_request_id();

}  // namespace ghala::observe
