#include "ghala/http/mime.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace ghala::http;

TEST_CASE("common web types map to their registered media types") {
  CHECK(mime_type_for_extension("html") == "text/html; charset=utf-8");
  CHECK(mime_type_for_extension("htm") == "text/html; charset=utf-8");
  CHECK(mime_type_for_extension("css") == "text/css; charset=utf-8");
  CHECK(mime_type_for_extension("js") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for_extension("mjs") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for_extension("json") == "application/json; charset=utf-8");
  CHECK(mime_type_for_extension("txt") == "text/plain; charset=utf-8");
  CHECK(mime_type_for_extension("svg") == "image/svg+xml; charset=utf-8");
  CHECK(mime_type_for_extension("xml") == "application/xml; charset=utf-8");
  CHECK(mime_type_for_extension("csv") == "text/csv; charset=utf-8");
  CHECK(mime_type_for_extension("md") == "text/markdown; charset=utf-8");
  CHECK(mime_type_for_extension("map") == "application/json; charset=utf-8");
  CHECK(mime_type_for_extension("webmanifest") == "application/manifest+json; charset=utf-8");
  CHECK(mime_type_for_extension("png") == "image/png");
  CHECK(mime_type_for_extension("jpg") == "image/jpeg");
  CHECK(mime_type_for_extension("jpeg") == "image/jpeg");
  CHECK(mime_type_for_extension("gif") == "image/gif");
  CHECK(mime_type_for_extension("webp") == "image/webp");
  CHECK(mime_type_for_extension("avif") == "image/avif");
  CHECK(mime_type_for_extension("ico") == "image/x-icon");
  CHECK(mime_type_for_extension("woff") == "font/woff");
  CHECK(mime_type_for_extension("woff2") == "font/woff2");
  CHECK(mime_type_for_extension("ttf") == "font/ttf");
  CHECK(mime_type_for_extension("otf") == "font/otf");
  CHECK(mime_type_for_extension("mp4") == "video/mp4");
  CHECK(mime_type_for_extension("webm") == "video/webm");
  CHECK(mime_type_for_extension("mp3") == "audio/mpeg");
  CHECK(mime_type_for_extension("ogg") == "audio/ogg");
  CHECK(mime_type_for_extension("wasm") == "application/wasm");
  CHECK(mime_type_for_extension("pdf") == "application/pdf");
  CHECK(mime_type_for_extension("zip") == "application/zip");
  CHECK(mime_type_for_extension("gz") == "application/gzip");
  CHECK(mime_type_for_extension("br") == "application/x-brotli");
}

TEST_CASE("binary types carry no charset") {
  for (const char* ext : {"png", "jpg", "woff2", "mp4", "wasm", "pdf", "zip", "gz"}) {
    CAPTURE(ext);
    CHECK(std::string(mime_type_for_extension(ext)).find("charset") == std::string::npos);
  }
}

TEST_CASE("extensions are case-insensitive") {
  CHECK(mime_type_for_extension("HTML") == "text/html; charset=utf-8");
  CHECK(mime_type_for_extension("JpG") == "image/jpeg");
  CHECK(mime_type_for_extension("WOFF2") == "font/woff2");
}

TEST_CASE("unknown, empty and oversized extensions fall back to octet-stream") {
  CHECK(mime_type_for_extension("") == kDefaultMimeType);
  CHECK(mime_type_for_extension("exe") == kDefaultMimeType);
  CHECK(mime_type_for_extension("htmlx") == kDefaultMimeType);
  CHECK(mime_type_for_extension(std::string_view("htm\0", 4)) == kDefaultMimeType);
  CHECK(mime_type_for_extension(std::string(1000, 'a')) == kDefaultMimeType);
  CHECK(kDefaultMimeType == "application/octet-stream");
}

TEST_CASE("mime_type_for_path uses the last segment's last extension") {
  CHECK(mime_type_for_path("/index.html") == "text/html; charset=utf-8");
  CHECK(mime_type_for_path("/a/b/archive.tar.gz") == "application/gzip");
  CHECK(mime_type_for_path("/assets.v2/app") == kDefaultMimeType);
  CHECK(mime_type_for_path("/.bashrc") == kDefaultMimeType);
  CHECK(mime_type_for_path("/file.") == kDefaultMimeType);
  CHECK(mime_type_for_path("style.CSS") == "text/css; charset=utf-8");
  CHECK(mime_type_for_path("") == kDefaultMimeType);
  CHECK(mime_type_for_path("/") == kDefaultMimeType);
}
