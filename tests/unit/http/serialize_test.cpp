#include "ghala/http/serialize.hpp"

#include <doctest/doctest.h>

using namespace ghala::http;

TEST_CASE("request heads serialise as HTTP/1.1 with fields in order") {
  RequestHead h;
  h.method_text = "GET";
  h.target = "/a?b=1";
  h.version_minor = 0;
  h.headers.add("Host", "example.com");
  h.headers.add("X-A", "1");
  std::string out;
  serialize_request_head(h, out);
  CHECK(out == "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n\r\n");
}

TEST_CASE("response heads use the standard reason phrase when none was given") {
  ResponseHead h;
  h.status = 404;
  h.headers.add("Content-Length", "0");
  std::string out;
  serialize_response_head(h, out);
  CHECK(out == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  h.reason = "Nope";
  out.clear();
  serialize_response_head(h, out);
  CHECK(out.starts_with("HTTP/1.1 404 Nope\r\n"));
}

TEST_CASE("chunk sizes are lowercase hex lines") {
  std::string out;
  append_chunk_size(1, out);
  append_chunk_size(255, out);
  append_chunk_size(65536, out);
  CHECK(out == "1\r\nff\r\n10000\r\n");
}
