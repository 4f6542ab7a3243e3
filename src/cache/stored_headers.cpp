// Stored header fields, RFC 9111 §3.1 (storing) and §3.2 (updating from a newer response).
#include "ghala/cache/stored_headers.hpp"

#include <algorithm>

#include "ghala/http/frozen_headers.hpp"
#include "ghala/http/hop_by_hop.hpp"

namespace ghala::cache {

namespace {

bool named_in(std::span<const std::string> names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return http::iequals(n, name); });
}

// The field names listed by the message's own Connection header (§3.1: they are hop-by-hop).
std::vector<std::string> connection_options(const http::HeaderMap& h) {
  std::vector<std::string> out;
  for (const auto& f : h) {
    if (!http::iequals(f.name, "Connection")) continue;
    for (auto option : http::split_list(f.value)) out.emplace_back(option);
  }
  return out;
}

bool excluded(std::string_view name, std::span<const std::string> connection,
              std::span<const std::string> omit) {
  return is_never_stored(name) || named_in(connection, name) || named_in(omit, name);
}

}  // namespace

bool is_never_stored(std::string_view name) noexcept {
  return http::is_hop_by_hop(name) || http::iequals(name, "Proxy-Authenticate") ||
         http::iequals(name, "Proxy-Authentication-Info") ||
         http::iequals(name, "Proxy-Authorization");
}

bool is_update_exempt(std::string_view name) noexcept {
  return is_never_stored(name) || http::iequals(name, "Content-Length") ||
         http::iequals(name, "Content-Encoding") || http::iequals(name, "Content-Range");
}

http::HeaderMap headers_to_store(const http::HeaderMap& response,
                                 std::span<const std::string> omit) {
  auto connection = connection_options(response);
  http::HeaderMap out;
  for (const auto& f : response) {
    if (!excluded(f.name, connection, omit)) out.add(f.name, f.value);
  }
  return out;
}

template <http::ReadableHeaders H>
http::HeaderMap updated_headers(const H& stored, const http::HeaderMap& update,
                                std::span<const std::string> omit) {
  auto connection = connection_options(update);
  auto replaces = [&](std::string_view name) {
    return !is_update_exempt(name) && !named_in(connection, name) && !named_in(omit, name) &&
           update.contains(name);
  };
  http::HeaderMap out;
  for (const auto& f : stored) {
    if (!replaces(f.name)) out.add(f.name, f.value);
  }
  for (const auto& f : update) {
    if (replaces(f.name)) out.add(f.name, f.value);
  }
  return out;
}

template http::HeaderMap updated_headers(const http::HeaderMap&, const http::HeaderMap&,
                                         std::span<const std::string>);
template http::HeaderMap updated_headers(const http::FrozenHeaders&, const http::HeaderMap&,
                                         std::span<const std::string>);

}  // namespace ghala::cache
