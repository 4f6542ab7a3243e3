#include "ghala/http/serialize.hpp"

#include <algorithm>
#include <charconv>

namespace ghala::http {

namespace {
std::size_t fields_size(const HeaderMap& headers) {
  std::size_t n = 2;
  for (const auto& h : headers) n += h.name.size() + h.value.size() + 4;
  return n;
}

// Sized once, then copied field by field: four append() calls per field each check the
// capacity and the length again.
void append_fields(const HeaderMap& headers, std::string& out) {
  std::size_t at = out.size();
  out.resize(at + fields_size(headers));
  char* p = out.data() + at;
  for (const auto& h : headers) {
    p = std::copy(h.name.begin(), h.name.end(), p);
    *p++ = ':';
    *p++ = ' ';
    p = std::copy(h.value.begin(), h.value.end(), p);
    *p++ = '\r';
    *p++ = '\n';
  }
  *p++ = '\r';
  *p++ = '\n';
}

}  // namespace

void serialize_request_head(const RequestHead& head, std::string& out) {
  out.reserve(out.size() + head.method_text.size() + head.target.size() + 12 +
              fields_size(head.headers));
  out.append(head.method_text).append(" ").append(head.target).append(" HTTP/1.1\r\n");
  append_fields(head.headers, out);
}

void serialize_response_head(const ResponseHead& head, std::string& out) {
  char status[4];
  auto r = std::to_chars(status, status + sizeof status, head.status);
  std::string_view reason =
      head.reason.empty() ? reason_phrase(head.status) : std::string_view(head.reason);
  out.reserve(out.size() + 16 + reason.size() + fields_size(head.headers));
  out.append("HTTP/1.1 ").append(status, r.ptr).append(" ").append(reason).append("\r\n");
  append_fields(head.headers, out);
}

void append_chunk_size(std::size_t n, std::string& out) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  out.append(buf, r.ptr).append("\r\n");
}

}  // namespace ghala::http
