#pragma once
// The response plan for serving one file: status, headers and the byte span to send. Pure: it
// takes the request head and plain file metadata, never touches the file, so every status path
// (200/206/304/412/416/405) is unit-testable without a disk.

#include <cstdint>
#include <string>
#include <string_view>

#include "ghala/http/header_map.hpp"
#include "ghala/http/message.hpp"

namespace ghala::upstream {

struct OpenedFile;

struct FileMeta {
  std::uint64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  std::uint64_t inode = 0;
  std::string_view content_type;
};

FileMeta file_meta(const OpenedFile& file) noexcept;

struct FilePlan {
  int status = 200;
  http::HeaderMap headers;   // everything but Date, Server, Cache-Control and connection fields
  std::uint64_t offset = 0;  // first byte of the file to send
  std::uint64_t length = 0;  // bytes to send: 0 for HEAD, 304, 412, 416, 405
};

// Strong validator "<inode>-<size>-<mtime ns>" in hex, quoted. Any rewrite of the file (a new
// inode from an atomic rename, a new size or a new modification time) changes it.
std::string file_etag(const FileMeta& meta);

// RFC 9110: only GET and HEAD are served (405 with Allow otherwise); preconditions per §13.2.2
// (304/412); Range per §14 for GET (206/416, or 200 when ignored). `now` is the response time
// in Unix seconds: Last-Modified is never later than it (§8.8.2.1) and a modification time in
// the last second is too fresh to be a strong validator for If-Range (§8.8.2.2).
FilePlan plan_file_response(const http::RequestHead& request, const FileMeta& meta,
                            std::int64_t now);

}  // namespace ghala::upstream
