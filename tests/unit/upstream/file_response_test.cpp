#include "ghala/upstream/file_response.hpp"

#include <doctest/doctest.h>

#include <string>

#include "ghala/http/conditional.hpp"
#include "ghala/http/date.hpp"
#include "ghala/upstream/dir_origin.hpp"

using namespace ghala;
using upstream::FileMeta;
using upstream::FilePlan;
using upstream::plan_file_response;

namespace {

constexpr std::int64_t kMtime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 GMT
const char* const kMtimeText = "Tue, 14 Nov 2023 22:13:20 GMT";
constexpr std::int64_t kNow = kMtime + 3600;

FileMeta meta(std::uint64_t size = 1000) {
  return FileMeta{size, kMtime, 500, 0x1234, "text/plain; charset=utf-8"};
}

http::RequestHead request(http::Method m,
                          std::initializer_list<std::pair<const char*, std::string>> hs = {}) {
  http::RequestHead r;
  r.method = m;
  r.target = "/f.txt";
  for (const auto& [name, value] : hs) r.headers.add(name, value);
  return r;
}

FilePlan plan(http::Method m, std::initializer_list<std::pair<const char*, std::string>> hs = {},
              const FileMeta& fm = meta(), std::int64_t now = kNow) {
  return plan_file_response(request(m, hs), fm, now);
}

std::string header(const FilePlan& p, std::string_view name) {
  return std::string(p.headers.get(name).value_or("<absent>"));
}

const std::string kEtag = upstream::file_etag(meta());

}  // namespace

TEST_CASE("GET serves the whole file with validators") {
  auto p = plan(http::Method::Get);
  CHECK(p.status == 200);
  CHECK(p.offset == 0);
  CHECK(p.length == 1000);
  CHECK(header(p, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(header(p, "Content-Length") == "1000");
  CHECK(header(p, "ETag") == kEtag);
  CHECK(header(p, "Last-Modified") == kMtimeText);
  CHECK(header(p, "Accept-Ranges") == "bytes");
  CHECK_FALSE(p.headers.contains("Content-Range"));
  CHECK_FALSE(p.headers.contains("Cache-Control"));
}

TEST_CASE("HEAD has the GET headers and sends no bytes") {
  auto p = plan(http::Method::Head);
  CHECK(p.status == 200);
  CHECK(p.length == 0);
  CHECK(header(p, "Content-Length") == "1000");
  CHECK(header(p, "ETag") == kEtag);
}

TEST_CASE("other methods get 405 with Allow") {
  for (auto m : {http::Method::Post, http::Method::Put, http::Method::Delete, http::Method::Options,
                 http::Method::Other}) {
    auto p = plan(m, {{"If-None-Match", kEtag}, {"Range", "bytes=0-1"}});
    CHECK(p.status == 405);
    CHECK(header(p, "Allow") == "GET, HEAD");
    CHECK(header(p, "Content-Length") == "0");
    CHECK(p.length == 0);
  }
}

TEST_CASE("the ETag is strong and changes with inode, size and nanosecond mtime") {
  CHECK(kEtag == "\"1234-3e8-17979cfe362a01f4\"");
  FileMeta m = meta();
  m.inode = 0x1235;
  CHECK(upstream::file_etag(m) != kEtag);
  m = meta(1001);
  CHECK(upstream::file_etag(m) != kEtag);
  m = meta();
  m.mtime_nsec = 501;
  CHECK(upstream::file_etag(m) != kEtag);
  CHECK(http::parse_entity_tag(kEtag).has_value());
  CHECK_FALSE(http::parse_entity_tag(kEtag)->weak);
}

TEST_CASE("If-None-Match with the current ETag gives 304 with only the ETag") {
  for (auto m : {http::Method::Get, http::Method::Head}) {
    auto p = plan(m, {{"If-None-Match", kEtag}});
    CHECK(p.status == 304);
    CHECK(p.length == 0);
    CHECK(header(p, "ETag") == kEtag);
    CHECK(p.headers.size() == 1);
  }
  CHECK(plan(http::Method::Get, {{"If-None-Match", "W/" + kEtag}}).status == 304);
  CHECK(plan(http::Method::Get, {{"If-None-Match", "\"stale\""}}).status == 200);
}

TEST_CASE("If-Modified-Since at or after Last-Modified gives 304") {
  CHECK(plan(http::Method::Get, {{"If-Modified-Since", kMtimeText}}).status == 304);
  CHECK(plan(http::Method::Get, {{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}).status ==
        200);
}

TEST_CASE("failed If-Match or If-Unmodified-Since gives 412") {
  auto p = plan(http::Method::Get, {{"If-Match", "\"other\""}});
  CHECK(p.status == 412);
  CHECK(p.length == 0);
  CHECK(header(p, "Content-Length") == "0");
  CHECK(plan(http::Method::Get, {{"If-Match", kEtag}}).status == 200);
  CHECK(
      plan(http::Method::Get, {{"If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}).status ==
      412);
}

TEST_CASE("a satisfiable Range gives 206 with Content-Range") {
  auto p = plan(http::Method::Get, {{"Range", "bytes=100-199"}});
  CHECK(p.status == 206);
  CHECK(p.offset == 100);
  CHECK(p.length == 100);
  CHECK(header(p, "Content-Length") == "100");
  CHECK(header(p, "Content-Range") == "bytes 100-199/1000");
  CHECK(header(p, "ETag") == kEtag);
  CHECK(p.headers.count("Content-Length") == 1);

  auto suffix = plan(http::Method::Get, {{"Range", "bytes=-10"}});
  CHECK(suffix.status == 206);
  CHECK(suffix.offset == 990);
  CHECK(header(suffix, "Content-Range") == "bytes 990-999/1000");
}

TEST_CASE("an unsatisfiable Range gives 416 with bytes */length") {
  auto p = plan(http::Method::Get, {{"Range", "bytes=1000-"}});
  CHECK(p.status == 416);
  CHECK(p.length == 0);
  CHECK(header(p, "Content-Range") == "bytes */1000");
  CHECK(header(p, "Content-Length") == "0");
}

TEST_CASE("ignored Ranges give the full 200") {
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-1, 5-6"}}).status == 200);     // disjoint
  CHECK(plan(http::Method::Get, {{"Range", "lines=0-1"}}).status == 200);          // other unit
  CHECK(plan(http::Method::Get, {{"Range", "bytes=9-1"}}).status == 200);          // invalid
  CHECK(plan(http::Method::Head, {{"Range", "bytes=0-1"}}).status == 200);         // HEAD
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-"}}, meta(0)).status == 200);  // empty file
  auto empty = plan(http::Method::Get, {{"Range", "bytes=0-"}}, meta(0));
  CHECK(empty.length == 0);
  CHECK(header(empty, "Content-Length") == "0");
}

TEST_CASE("If-Range decides between 206 and 200") {
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", kEtag}}).status == 206);
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", "\"old\""}}).status == 200);
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", kMtimeText}}).status == 206);
  // A file modified within the last second has no strong Last-Modified (RFC 9110 §8.8.2.2).
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", kMtimeText}}, meta(), kMtime)
            .status == 200);
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", kMtimeText}}, meta(),
             kMtime + 1)
            .status == 200);
  CHECK(plan(http::Method::Get, {{"Range", "bytes=0-9"}, {"If-Range", kMtimeText}}, meta(),
             kMtime + 2)
            .status == 206);
}

TEST_CASE("Last-Modified in the future is replaced by now (RFC 9110 §8.8.2.1)") {
  FileMeta future = meta();
  future.mtime_sec = kNow + 86400;
  auto p = plan(http::Method::Get, {}, future);
  CHECK(header(p, "Last-Modified") == http::format_http_date(kNow));
}

TEST_CASE("a missing content type falls back to octet-stream") {
  FileMeta m = meta();
  m.content_type = {};
  CHECK(header(plan(http::Method::Get, {}, m), "Content-Type") == "application/octet-stream");
}

TEST_CASE("file_meta copies the opened file's metadata") {
  upstream::OpenedFile f;
  f.size = 7;
  f.mtime_sec = 8;
  f.mtime_nsec = 9;
  f.inode = 10;
  f.content_type = "image/png";
  const FileMeta m = upstream::file_meta(f);
  CHECK(m.size == 7);
  CHECK(m.mtime_sec == 8);
  CHECK(m.mtime_nsec == 9);
  CHECK(m.inode == 10);
  CHECK(m.content_type == "image/png");
}
