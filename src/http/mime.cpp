// Extension -> media type. Types follow the IANA media type registry where one exists (RFC 9239
// for text/javascript, RFC 8081 for font/*), otherwise the de facto type used by browsers and
// common servers. The table is sorted so lookups are a binary search; a static_assert keeps it so.
#include "ghala/http/mime.hpp"

#include <algorithm>
#include <array>

namespace ghala::http {

namespace {

struct MimeEntry {
  std::string_view ext;
  std::string_view type;
};

// Sorted by ext (lower case ASCII).
constexpr std::array kMimeTable = {
    MimeEntry{"7z", "application/x-7z-compressed"},
    MimeEntry{"atom", "application/atom+xml; charset=utf-8"},
    MimeEntry{"avif", "image/avif"},
    MimeEntry{"bmp", "image/bmp"},
    MimeEntry{"br", "application/x-brotli"},
    MimeEntry{"css", "text/css; charset=utf-8"},
    MimeEntry{"csv", "text/csv; charset=utf-8"},
    MimeEntry{"eot", "application/vnd.ms-fontobject"},
    MimeEntry{"flac", "audio/flac"},
    MimeEntry{"gif", "image/gif"},
    MimeEntry{"gz", "application/gzip"},
    MimeEntry{"htm", "text/html; charset=utf-8"},
    MimeEntry{"html", "text/html; charset=utf-8"},
    MimeEntry{"ico", "image/x-icon"},
    MimeEntry{"ics", "text/calendar; charset=utf-8"},
    MimeEntry{"jpeg", "image/jpeg"},
    MimeEntry{"jpg", "image/jpeg"},
    MimeEntry{"js", "text/javascript; charset=utf-8"},
    MimeEntry{"json", "application/json; charset=utf-8"},
    MimeEntry{"jsonld", "application/ld+json; charset=utf-8"},
    MimeEntry{"jxl", "image/jxl"},
    MimeEntry{"m3u8", "application/vnd.apple.mpegurl"},
    MimeEntry{"m4a", "audio/mp4"},
    MimeEntry{"m4v", "video/mp4"},
    MimeEntry{"map", "application/json; charset=utf-8"},
    MimeEntry{"md", "text/markdown; charset=utf-8"},
    MimeEntry{"mjs", "text/javascript; charset=utf-8"},
    MimeEntry{"mp3", "audio/mpeg"},
    MimeEntry{"mp4", "video/mp4"},
    MimeEntry{"mpd", "application/dash+xml"},
    MimeEntry{"oga", "audio/ogg"},
    MimeEntry{"ogg", "audio/ogg"},
    MimeEntry{"ogv", "video/ogg"},
    MimeEntry{"opus", "audio/ogg"},
    MimeEntry{"otf", "font/otf"},
    MimeEntry{"pdf", "application/pdf"},
    MimeEntry{"png", "image/png"},
    MimeEntry{"rss", "application/rss+xml; charset=utf-8"},
    MimeEntry{"svg", "image/svg+xml; charset=utf-8"},
    MimeEntry{"tar", "application/x-tar"},
    MimeEntry{"tif", "image/tiff"},
    MimeEntry{"tiff", "image/tiff"},
    MimeEntry{"ttf", "font/ttf"},
    MimeEntry{"txt", "text/plain; charset=utf-8"},
    MimeEntry{"vtt", "text/vtt; charset=utf-8"},
    MimeEntry{"wasm", "application/wasm"},
    MimeEntry{"wav", "audio/wav"},
    MimeEntry{"webm", "video/webm"},
    MimeEntry{"webmanifest", "application/manifest+json; charset=utf-8"},
    MimeEntry{"webp", "image/webp"},
    MimeEntry{"woff", "font/woff"},
    MimeEntry{"woff2", "font/woff2"},
    MimeEntry{"xhtml", "application/xhtml+xml; charset=utf-8"},
    MimeEntry{"xml", "application/xml; charset=utf-8"},
    MimeEntry{"zip", "application/zip"},
};

constexpr bool by_ext(const MimeEntry& a, const MimeEntry& b) {
  return a.ext < b.ext;
}
static_assert(std::is_sorted(kMimeTable.begin(), kMimeTable.end(), by_ext),
              "kMimeTable must stay sorted by extension");

// Longer than any extension in the table: no need to look.
constexpr std::size_t kMaxExtension = 16;

}  // namespace

std::string_view mime_type_for_extension(std::string_view ext) noexcept {
  if (ext.empty() || ext.size() > kMaxExtension) return kDefaultMimeType;
  char lower[kMaxExtension];
  for (std::size_t i = 0; i < ext.size(); ++i) {
    const char c = ext[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const MimeEntry key{std::string_view(lower, ext.size()), {}};
  auto it = std::lower_bound(kMimeTable.begin(), kMimeTable.end(), key, by_ext);
  if (it == kMimeTable.end() || it->ext != key.ext) return kDefaultMimeType;
  return it->type;
}

std::string_view mime_type_for_path(std::string_view path) noexcept {
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = name.rfind('.');
  // No dot, or a leading dot only (".bashrc"): no extension.
  if (dot == std::string_view::npos || dot == 0) return kDefaultMimeType;
  return mime_type_for_extension(name.substr(dot + 1));
}

}  // namespace ghala::http
