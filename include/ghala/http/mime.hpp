#pragma once
// File name extension -> Content-Type, for origins that serve files (the directory origin).
// The table lives in src/http/mime.cpp; text types carry "; charset=utf-8" because synced web
// content is UTF-8 and browsers would otherwise guess (and a wrong guess can enable XSS through
// charset sniffing).

#include <string_view>

namespace ghala::http {

inline constexpr std::string_view kDefaultMimeType = "application/octet-stream";

// `ext` without the dot, any case ("JPG" == "jpg"). Unknown or empty: kDefaultMimeType.
std::string_view mime_type_for_extension(std::string_view ext) noexcept;

// Uses the extension of the last path segment ("/a.b/c" has none; ".bashrc" has none;
// "x.tar.gz" is "gz").
std::string_view mime_type_for_path(std::string_view path) noexcept;

}  // namespace ghala::http
