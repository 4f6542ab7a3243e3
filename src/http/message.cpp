#include "ghala/http/message.hpp"

namespace ghala::http {

Method method_from_string(std::string_view s) noexcept {
  if (s == "GET") return Method::Get;
  if (s == "HEAD") return Method::Head;
  if (s == "POST") return Method::Post;
  if (s == "PUT") return Method::Put;
  if (s == "DELETE") return Method::Delete;
  if (s == "OPTIONS") return Method::Options;
  if (s == "PATCH") return Method::Patch;
  if (s == "TRACE") return Method::Trace;
  if (s == "CONNECT") return Method::Connect;
  return Method::Other;
}

std::string_view to_string(Method m) noexcept {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Head:
      return "HEAD";
    case Method::Post:
      return "POST";
    case Method::Put:
      return "PUT";
    case Method::Delete:
      return "DELETE";
    case Method::Options:
      return "OPTIONS";
    case Method::Patch:
      return "PATCH";
    case Method::Trace:
      return "TRACE";
    case Method::Connect:
      return "CONNECT";
    case Method::Other:
      return "OTHER";
  }
  return "OTHER";
}

bool is_idempotent(Method m) noexcept {
  switch (m) {
    case Method::Get:
    case Method::Head:
    case Method::Options:
    case Method::Trace:
    case Method::Put:
    case Method::Delete:
      return true;
    default:
      return false;
  }
}

bool is_safe(Method m) noexcept {
  return m == Method::Get || m == Method::Head || m == Method::Options || m == Method::Trace;
}

std::string_view RequestHead::path() const noexcept {
  std::string_view t(target);
  return t.substr(0, t.find('?'));
}

std::string_view RequestHead::query() const noexcept {
  std::string_view t(target);
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

std::string_view RequestHead::host() const noexcept {
  auto h = headers.get("Host");
  if (!h) return {};
  std::string_view v = *h;
  if (!v.empty() && v.front() == '[') {  // IPv6 literal
    auto close = v.find(']');
    return close == std::string_view::npos ? v : v.substr(0, close + 1);
  }
  return v.substr(0, v.find(':'));
}

void RequestHead::reset() noexcept {
  method = Method::Get;
  method_text.clear();
  target.clear();
  version_minor = 1;
  headers.clear();
  framing = BodyFraming::None;
  content_length = 0;
  keep_alive = true;
  expect_continue = false;
}

void ResponseHead::reset() noexcept {
  status = 200;
  reason.clear();
  version_minor = 1;
  headers.clear();
  framing = BodyFraming::None;
  content_length = 0;
  keep_alive = true;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace ghala::http
