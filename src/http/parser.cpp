#include "ghala/http/parser.hpp"

#include <array>

namespace ghala::http {

namespace {

constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTokenTable = make_token_table();

bool has_ctl_line_break(std::string_view v) noexcept {
  // Two memchr scans: find_first_of("\r\n") searches the set once per byte of v.
  return v.find('\r') != std::string_view::npos || v.find('\n') != std::string_view::npos;
}

// llhttp leaves `reason` null when a span callback (on_body, on_url...) stops the parser.
const char* error_reason(const llhttp_t* p, llhttp_errno_t err) {
  const char* reason = llhttp_get_error_reason(p);
  return reason ? reason : llhttp_errno_name(err);
}

template <class P>
P* self(llhttp_t* p) {
  return static_cast<P*>(p->data);
}

}  // namespace

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenTable[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Request parser

struct RequestParserCallbacks {
  static int on_message_begin(llhttp_t* p) {
    auto* s = self<RequestParser>(p);
    s->head_ = RequestHead{};
    s->field_.clear();
    s->value_.clear();
    s->in_value_ = false;
    s->in_message_ = true;
    s->head_done_ = false;
    s->line_bytes_ = 0;
    s->header_bytes_ = 0;
    s->body_bytes_ = 0;
    return 0;
  }
  static int on_url(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<RequestParser>(p);
    s->line_bytes_ += static_cast<std::uint32_t>(len);
    if (s->line_bytes_ > s->limits_.max_request_line) {
      return s->fail(ParseErrorKind::UriTooLong, 414, "request line too long");
    }
    s->head_.target.append(at, len);
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<RequestParser>(p);
    if (s->in_value_) {
      if (int rc = s->finish_header_field(); rc != 0) return rc;
    }
    s->header_bytes_ += static_cast<std::uint32_t>(len);
    if (s->header_bytes_ > s->limits_.max_header_bytes) {
      return s->fail(ParseErrorKind::HeadersTooLarge, 431, "request header fields too large");
    }
    s->field_.append(at, len);
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<RequestParser>(p);
    // llhttp hands an obs-fold continuation line over as a further value span that starts right
    // after the line break (RFC 9112 §5.2): reject it.
    if (s->byte_before(at) == '\n')
      return s->fail(ParseErrorKind::BadRequest, 400, "obsolete line folding");
    s->in_value_ = true;
    s->header_bytes_ += static_cast<std::uint32_t>(len);
    if (s->header_bytes_ > s->limits_.max_header_bytes) {
      return s->fail(ParseErrorKind::HeadersTooLarge, 431, "request header fields too large");
    }
    s->value_.append(at, len);
    return 0;
  }
  static int on_headers_complete(llhttp_t* p) {
    return self<RequestParser>(p)->on_headers_complete();
  }
  static int on_body(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<RequestParser>(p);
    s->body_bytes_ += len;
    if (s->limits_.max_body != 0 && s->body_bytes_ > s->limits_.max_body) {
      return s->fail(ParseErrorKind::BodyTooLarge, 413, "request body too large");
    }
    return s->sink_->on_body(std::string_view(at, len)) ? 0 : HPE_USER;
  }
  static int on_message_complete(llhttp_t* p) {
    auto* s = self<RequestParser>(p);
    s->in_message_ = false;
    if (!s->sink_->on_complete()) return HPE_USER;
    return HPE_PAUSED;
  }
  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t kSettings = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);
      st.on_message_begin = on_message_begin;
      st.on_url = on_url;
      st.on_header_field = on_header_field;
      st.on_header_value = on_header_value;
      st.on_headers_complete = on_headers_complete;
      st.on_body = on_body;
      st.on_message_complete = on_message_complete;
      return st;
    }();
    return &kSettings;
  }
};

RequestParser::RequestParser(const ParserLimits& limits, MessageSink* sink)
    : limits_(limits), sink_(sink) {
  llhttp_init(&parser_, HTTP_REQUEST, RequestParserCallbacks::settings());
  parser_.data = this;
}

int RequestParser::fail(ParseErrorKind kind, int status, std::string reason) {
  error_ = ParseError{kind, status, std::move(reason)};
  return HPE_USER;
}

int RequestParser::finish_header_field() {
  in_value_ = false;
  if (!is_token(field_)) return fail(ParseErrorKind::BadRequest, 400, "invalid header field name");
  // obs-fold and stray CR/LF inside a value (RFC 9112 §5.2): reject rather than unfold.
  if (has_ctl_line_break(value_))
    return fail(ParseErrorKind::BadRequest, 400, "obsolete line folding");
  if (head_.headers.size() >= limits_.max_headers) {
    return fail(ParseErrorKind::HeadersTooLarge, 431, "too many request header fields");
  }
  header_bytes_ += 4;  // ": " and CRLF
  head_.headers.add(field_, trim_ows(value_));
  field_.clear();
  value_.clear();
  return 0;
}

int RequestParser::on_headers_complete() {
  if (in_value_ || !field_.empty()) {
    if (int rc = finish_header_field(); rc != 0) return rc;
  }
  if (parser_.http_major != 1)
    return fail(ParseErrorKind::BadVersion, 505, "HTTP version not supported");
  head_.version_minor = parser_.http_minor;
  head_.method_text = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  head_.method = method_from_string(head_.method_text);
  if (head_.target.empty()) return fail(ParseErrorKind::BadRequest, 400, "empty request target");

  const auto hosts = head_.headers.count("Host");
  if (hosts > 1) return fail(ParseErrorKind::BadRequest, 400, "repeated Host header");
  if (hosts == 0 && head_.version_minor >= 1)
    return fail(ParseErrorKind::BadRequest, 400, "missing Host header");

  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  const bool has_te = head_.headers.contains("Transfer-Encoding");
  if (has_te && head_.version_minor == 0) {
    return fail(ParseErrorKind::BadRequest, 400, "Transfer-Encoding in an HTTP/1.0 request");
  }
  if (chunked) {
    head_.framing = BodyFraming::Chunked;
  } else if ((parser_.flags & F_CONTENT_LENGTH) != 0) {
    head_.content_length = parser_.content_length;
    head_.framing = head_.content_length > 0 ? BodyFraming::ContentLength : BodyFraming::None;
    if (limits_.max_body != 0 && head_.content_length > limits_.max_body) {
      return fail(ParseErrorKind::BodyTooLarge, 413, "request body too large");
    }
  }
  if (auto expect = head_.headers.get("Expect")) {
    if (!iequals(trim_ows(*expect), "100-continue")) {
      return fail(ParseErrorKind::BadRequest, 417, "unsupported expectation");
    }
    head_.expect_continue = head_.version_minor >= 1;
  }
  head_.keep_alive = llhttp_should_keep_alive(&parser_) != 0 && parser_.upgrade == 0;
  head_done_ = true;
  if (!sink_->on_head()) return HPE_USER;
  return 0;
}

FeedResult RequestParser::feed(const char* data, std::size_t len) {
  // Still paused after the previous message: nothing of this buffer is consumed. (llhttp would
  // return its old HPE_PAUSED with an error position inside the previous buffer.)
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) return {FeedStatus::Paused, 0};
  feed_begin_ = data;
  auto err = llhttp_execute(&parser_, data, len);
  if (len > 0) prev_tail_ = data[len - 1];
  if (err == HPE_OK) return {FeedStatus::NeedMore, len};
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    const char* pos = llhttp_get_error_pos(&parser_);
    return {FeedStatus::Paused, static_cast<std::size_t>(pos - data)};
  }
  if (error_.kind == ParseErrorKind::None) {
    error_ = ParseError{ParseErrorKind::BadRequest, 400, error_reason(&parser_, err)};
  }
  const char* pos = llhttp_get_error_pos(&parser_);
  return {FeedStatus::Error, pos ? static_cast<std::size_t>(pos - data) : len};
}

void RequestParser::resume() {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) {
    llhttp_resume(&parser_);
  } else if (llhttp_get_errno(&parser_) == HPE_PAUSED_UPGRADE) {
    llhttp_resume_after_upgrade(&parser_);
  }
}

bool RequestParser::finish() {
  return !in_message_;
}

// ---------------------------------------------------------------------------------------------
// Response parser

struct ResponseParserCallbacks {
  static int on_message_begin(llhttp_t* p) {
    auto* s = self<ResponseParser>(p);
    // A fresh head that keeps the field list's and the header storage's memory: a keep-alive
    // upstream connection parses one response after another.
    HeaderMap headers = std::move(s->head_.headers);
    headers.clear();
    std::string reason = std::move(s->head_.reason);
    reason.clear();
    s->head_ = ResponseHead{};
    s->head_.headers = std::move(headers);
    s->head_.reason = std::move(reason);
    s->field_.clear();
    s->value_.clear();
    s->in_value_ = false;
    s->in_message_ = true;
    s->head_done_ = false;
    s->header_bytes_ = 0;
    return 0;
  }
  static int on_status(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<ResponseParser>(p);
    if (s->head_.reason.size() + len > 1024) return s->fail("status line too long");
    s->head_.reason.append(at, len);
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<ResponseParser>(p);
    if (s->in_value_) {
      if (int rc = s->finish_header_field(); rc != 0) return rc;
    }
    s->header_bytes_ += static_cast<std::uint32_t>(len);
    if (s->header_bytes_ > ResponseParser::kMaxHeaderBytes)
      return s->fail("response headers too large");
    s->field_.append(at, len);
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<ResponseParser>(p);
    if (s->byte_before(at) == '\n') return s->fail("obsolete line folding in response");
    s->in_value_ = true;
    s->header_bytes_ += static_cast<std::uint32_t>(len);
    if (s->header_bytes_ > ResponseParser::kMaxHeaderBytes)
      return s->fail("response headers too large");
    s->value_.append(at, len);
    return 0;
  }
  static int on_headers_complete(llhttp_t* p) {
    return self<ResponseParser>(p)->on_headers_complete();
  }
  static int on_body(llhttp_t* p, const char* at, std::size_t len) {
    auto* s = self<ResponseParser>(p);
    return s->sink_->on_body(std::string_view(at, len)) ? 0 : HPE_USER;
  }
  static int on_message_complete(llhttp_t* p) {
    auto* s = self<ResponseParser>(p);
    s->in_message_ = false;
    const int status = p->status_code;
    if (status >= 100 && status < 200) return 0;  // interim response: keep parsing
    if (!s->sink_->on_complete()) return HPE_USER;
    return HPE_PAUSED;
  }
  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t kSettings = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);
      st.on_message_begin = on_message_begin;
      st.on_status = on_status;
      st.on_header_field = on_header_field;
      st.on_header_value = on_header_value;
      st.on_headers_complete = on_headers_complete;
      st.on_body = on_body;
      st.on_message_complete = on_message_complete;
      return st;
    }();
    return &kSettings;
  }
};

ResponseParser::ResponseParser(MessageSink* sink) : sink_(sink) {
  llhttp_init(&parser_, HTTP_RESPONSE, ResponseParserCallbacks::settings());
  parser_.data = this;
}

void ResponseParser::expect(Method request_method) {
  request_method_ = request_method;
}

int ResponseParser::fail(std::string reason) {
  error_ = ParseError{ParseErrorKind::BadRequest, 502, std::move(reason)};
  return HPE_USER;
}

int ResponseParser::finish_header_field() {
  in_value_ = false;
  if (!is_token(field_)) return fail("invalid header field name in response");
  if (has_ctl_line_break(value_)) return fail("obsolete line folding in response");
  if (head_.headers.size() >= kMaxHeaders) return fail("too many response header fields");
  head_.headers.add(field_, trim_ows(value_));
  field_.clear();
  value_.clear();
  return 0;
}

int ResponseParser::on_headers_complete() {
  if (in_value_ || !field_.empty()) {
    if (int rc = finish_header_field(); rc != 0) return rc;
  }
  const int status = parser_.status_code;
  if (parser_.http_major != 1) return fail("unsupported HTTP version in response");
  if (status >= 100 && status < 200) {
    if (status == 101) return fail("protocol switch not supported");
    return 0;  // interim: ignored (RFC 9110 §15.2)
  }
  head_.status = status;
  head_.version_minor = parser_.http_minor;
  const bool no_body = response_has_no_body(request_method_, status);
  if (no_body) {
    head_.framing = BodyFraming::None;
    head_.content_length = (parser_.flags & F_CONTENT_LENGTH) ? parser_.content_length : 0;
  } else if ((parser_.flags & F_CHUNKED) != 0) {
    head_.framing = BodyFraming::Chunked;
  } else if ((parser_.flags & F_CONTENT_LENGTH) != 0) {
    head_.content_length = parser_.content_length;
    head_.framing = BodyFraming::ContentLength;
  } else {
    head_.framing = BodyFraming::UntilClose;
  }
  head_.keep_alive = head_.framing != BodyFraming::UntilClose &&
                     (parser_.flags & F_CONNECTION_CLOSE) == 0 &&
                     (head_.version_minor >= 1 || (parser_.flags & F_CONNECTION_KEEP_ALIVE) != 0);
  head_done_ = true;
  if (!sink_->on_head()) return HPE_USER;
  return no_body ? 1 : 0;
}

FeedResult ResponseParser::feed(const char* data, std::size_t len) {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) return {FeedStatus::Paused, 0};
  feed_begin_ = data;
  auto err = llhttp_execute(&parser_, data, len);
  if (len > 0) prev_tail_ = data[len - 1];
  if (err == HPE_OK) return {FeedStatus::NeedMore, len};
  if (err == HPE_PAUSED) {
    const char* pos = llhttp_get_error_pos(&parser_);
    return {FeedStatus::Paused, static_cast<std::size_t>(pos - data)};
  }
  if (error_.kind == ParseErrorKind::None) {
    error_ = ParseError{ParseErrorKind::BadRequest, 502, error_reason(&parser_, err)};
  }
  return {FeedStatus::Error, len};
}

bool ResponseParser::finish() {
  if (!in_message_) return true;
  auto err = llhttp_finish(&parser_);
  return (err == HPE_OK || err == HPE_PAUSED) && !in_message_;
}

void ResponseParser::resume() {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED) llhttp_resume(&parser_);
}

}  // namespace ghala::http
