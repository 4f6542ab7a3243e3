#pragma once
// Incremental HTTP/1.1 parsers over llhttp, strict (no lenient flags), with ghala's limits and
// request-smuggling defences layered on top:
//  - llhttp rejects Content-Length with Transfer-Encoding, repeated or invalid Content-Length,
//    a request Transfer-Encoding whose final coding is not chunked, and bare LF (RFC 9112 §6.1,
//    §6.3, §2.2), and non-token bytes in a field name except the space.
//  - we add: a space in a field name or an empty name (RFC 9110 §5.1, RFC 9112 §5.1: "No
//    whitespace is allowed between the field name and colon"), obs-fold (§5.2, rejected), a version
//    other than HTTP/1.x (505), Transfer-Encoding in an HTTP/1.0 request (§6.1), missing or
//    repeated Host in HTTP/1.1 (§3.2), and the size limits (414, 431, 413).
// Every rejection names an HTTP status and closes the connection.
//
// The request parser pauses after each complete message so a connection handles pipelined
// requests one at a time: the caller finishes the response, then calls resume().

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ghala/http/message.hpp"

namespace ghala::http {

struct ParserLimits {
  std::uint32_t max_request_line = 8192;
  std::uint32_t max_header_bytes = 32768;
  std::uint32_t max_headers = 100;
  std::uint64_t max_body = 64ull << 20;  // 0: unlimited
};

enum class ParseErrorKind : std::uint8_t {
  None,
  BadRequest,
  UriTooLong,
  HeadersTooLarge,
  BodyTooLarge,
  BadVersion
};

struct ParseError {
  ParseErrorKind kind = ParseErrorKind::None;
  int status = 0;  // HTTP status to answer with
  std::string reason;
};

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Return false to stop parsing (the sink has already decided to close).
  virtual bool on_head() = 0;
  virtual bool on_body(std::string_view data) = 0;
  virtual bool on_complete() = 0;
};

namespace detail {

// One header field as llhttp hands it over, in spans. A name or value that arrives in one span
// stays a view into the buffer being parsed until the field is stored, so it is copied once (into
// the HeaderMap); one split over several spans (a read boundary, an obs-fold line) is gathered in
// a string of its own.
class FieldSpans {
 public:
  void add_name(const char* at, std::size_t len) {
    if (name_.empty()) {
      name_ = std::string_view(at, len);  // the usual case: the whole name in one span
    } else {
      gather(name_, own_name_, at, len);
    }
  }
  void add_value(const char* at, std::size_t len) {
    if (value_.empty()) {
      value_ = std::string_view(at, len);
    } else {
      gather(value_, own_value_, at, len);
    }
  }
  std::string_view name() const noexcept { return name_; }
  std::string_view value() const noexcept { return value_; }
  // The buffer being parsed is about to go away: copy what still points into it.
  void detach();
  void clear() noexcept {
    name_ = {};
    value_ = {};
    // The own strings are only ever read through the views: no need to empty them.
  }

 private:
  static void own(std::string_view& view, std::string& storage);
  static void gather(std::string_view& view, std::string& storage, const char* at, std::size_t len);
  std::string_view name_;
  std::string_view value_;
  std::string own_name_;
  std::string own_value_;
};

}  // namespace detail

enum class FeedStatus : std::uint8_t {
  NeedMore,  // all bytes consumed
  Paused,    // a message completed; `consumed` bytes were used, the rest is for the next one
  Error,     // see error()
};

struct FeedResult {
  FeedStatus status;
  std::size_t consumed;
};

class RequestParser {
 public:
  RequestParser(const ParserLimits& limits, MessageSink* sink);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  FeedResult feed(const char* data, std::size_t len);
  // After a Paused feed and the response is done: continue with the next request.
  void resume();
  // The peer closed: true when that was acceptable (between messages).
  bool finish();

  RequestHead& head() noexcept { return head_; }
  const ParseError& error() const noexcept { return error_; }
  bool in_message() const noexcept { return in_message_; }
  bool head_done() const noexcept { return head_done_; }
  std::uint64_t head_bytes() const noexcept { return head_bytes_; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }
  void set_limits(const ParserLimits& limits) noexcept { limits_ = limits; }

 private:
  friend struct RequestParserCallbacks;
  int fail(ParseErrorKind kind, int status, std::string reason);
  int finish_header_field();
  int on_headers_complete();

  // The byte just before `at` in the stream (the previous feed's last byte at a boundary).
  char byte_before(const char* at) const noexcept { return at > feed_begin_ ? at[-1] : prev_tail_; }
  const char* feed_begin_ = nullptr;
  char prev_tail_ = 0;
  llhttp_t parser_{};
  ParserLimits limits_;
  MessageSink* sink_;
  RequestHead head_;
  ParseError error_;
  detail::FieldSpans field_;
  bool in_message_ = false;
  bool head_done_ = false;
  std::uint32_t line_bytes_ = 0;
  std::uint32_t header_bytes_ = 0;
  std::uint64_t head_bytes_ = 0;
  std::uint64_t body_bytes_ = 0;
};

class ResponseParser {
 public:
  static constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
  static constexpr std::uint32_t kMaxHeaders = 200;

  explicit ResponseParser(MessageSink* sink);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Must be called before each response: the request method decides whether a body follows.
  void expect(Method request_method);
  FeedResult feed(const char* data, std::size_t len);
  // The upstream closed the connection: completes a close-delimited body. Returns false when the
  // message was incomplete (truncated response).
  bool finish();
  void resume();

  ResponseHead& head() noexcept { return head_; }
  const ParseError& error() const noexcept { return error_; }
  bool head_done() const noexcept { return head_done_; }
  bool in_message() const noexcept { return in_message_; }

 private:
  friend struct ResponseParserCallbacks;
  int fail(std::string reason);
  int finish_header_field();
  int on_headers_complete();

  // The byte just before `at` in the stream (the previous feed's last byte at a boundary).
  char byte_before(const char* at) const noexcept { return at > feed_begin_ ? at[-1] : prev_tail_; }
  const char* feed_begin_ = nullptr;
  char prev_tail_ = 0;
  llhttp_t parser_{};
  MessageSink* sink_;
  Method request_method_ = Method::Get;
  ResponseHead head_;
  ParseError error_;
  detail::FieldSpans field_;
  bool in_message_ = false;
  bool head_done_ = false;
  std::uint32_t header_bytes_ = 0;
};

// RFC 9110 §5.1 token characters.
bool is_token(std::string_view s) noexcept;

}  // namespace ghala::http
