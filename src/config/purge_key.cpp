// Purge targets as cache keys: see purge_key.hpp.

#include "ghala/config/purge_key.hpp"

#include <algorithm>

#include "ghala/config/cache_key.hpp"
#include "ghala/config/cache_rules.hpp"
#include "ghala/config/router.hpp"
#include "ghala/http/header_map.hpp"

namespace ghala::config {

namespace {

Error invalid(std::string message) {
  return make_error(ErrorKind::Invalid, std::move(message));
}

bool printable(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

}  // namespace

Result<PurgeUrl> split_purge_url(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.size() >= scheme.size() && http::iequals(url.substr(0, scheme.size()), scheme)) {
      rest = url.substr(scheme.size());
      break;
    }
  }
  if (rest.data() == nullptr) return invalid("not an absolute http:// or https:// URL");
  if (!std::all_of(rest.begin(), rest.end(), printable)) {
    return invalid("URL has spaces, controls or non-ASCII bytes (percent-encode them)");
  }
  if (rest.find('#') != std::string_view::npos) return invalid("URL has a fragment");
  const auto slash = rest.find_first_of("/?");
  PurgeUrl out;
  out.authority = std::string(rest.substr(0, slash));
  if (out.authority.empty()) return invalid("URL has no host");
  if (out.authority.find('@') != std::string::npos) return invalid("URL has a userinfo");
  if (slash != std::string_view::npos) {
    // "http://h?q" is "/?q". Built with append: GCC 12 warns falsely (-Wrestrict) on insert.
    const auto tail = rest.substr(slash);
    if (tail.front() == '?') out.target.push_back('/');
    out.target.append(tail);
  }
  return out;
}

Result<PurgeKey> url_purge_key(const Config& config, std::string_view url) {
  auto split = split_purge_url(url);
  if (!split) return split.error();
  PurgeUrl& u = split.value();
  if (u.target.empty()) u.target.push_back('/');  // not = "/": GCC 12 -Wrestrict false positive
  if (!cache_key_host(u.authority)) return invalid("URL has a malformed host");
  const Site& site = config::match_site(config, normalize_host(u.authority));
  const std::string_view path = std::string_view(u.target).substr(0, u.target.find('?'));
  const Route* route = match_route(site, path);
  PurgeKey out;
  if (route == nullptr) {
    out.uncached = "no route";
    return out;
  }
  if (config.upstreams[route->upstream_index].kind != OriginKind::Http) {
    out.uncached = "directory origin";
    return out;
  }
  const CacheRule* rule = match_request_rule(route->cache_rules, http::Method::Get, path);
  if (rule && !rule->cache) {
    out.uncached = "cache: false";
    return out;
  }
  // The key of a request without headers; with key headers, only the part before them counts.
  auto key = cache_key(rule, u.authority, u.target, http::HeaderMap{});
  if (!key) return invalid("URL cannot be keyed (malformed host or target)");
  if (rule && !rule->key.headers.empty()) {
    key->resize(key->find('\n') + 1);
    out.prefix = true;
  }
  out.key = std::move(*key);
  return out;
}

Result<std::string> prefix_purge_key(std::string_view url_prefix) {
  auto split = split_purge_url(url_prefix);
  if (!split) return split.error();
  auto host = cache_key_host(split.value().authority);
  if (!host) return invalid("URL prefix has a malformed host");
  const std::string& target = split.value().target;
  return *host + (target.empty() ? "/" : target);
}

}  // namespace ghala::config
