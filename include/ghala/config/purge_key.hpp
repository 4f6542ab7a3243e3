#pragma once
// Purge targets as cache keys (docs/caching.md, "Purge"). A purge names URLs as a client would
// ask for them; the cache stores objects under primary keys (cache_key.hpp). These functions
// make the one from the other the way a lookup does, with the configuration that runs now:
//
//   url     "http://HOST[:PORT]/PATH[?QUERY]": routed like a GET (site by Host, route by path,
//           request rule by path), then keyed with that rule's key options, so an ignored query,
//           a kept-parameter list or sorted parameters apply to the purge as to the lookup. When
//           the rule adds request headers to the key, every key of the URL is meant (whatever
//           the header values), which is the prefix "HOST TARGET\n". Every Vary variant of a key
//           goes with it (the memory tier keeps them together).
//   prefix  "http://HOST[:PORT][/PATH-PREFIX]": the key prefix HOST + PATH-PREFIX ("/" when no
//           path is given), compared byte for byte with stored keys; the query, if written, is
//           compared as stored (after the key options). Not routed: a prefix can span routes.
//
// The scheme ("http" or "https") does not matter: ghala keys by Host only, and the default ports
// 80 and 443 are dropped as in the key. Host is case-insensitive, the path is not.

#include <string>
#include <string_view>

#include "ghala/config/config.hpp"
#include "ghala/core/result.hpp"

namespace ghala::config {

struct PurgeUrl {
  std::string authority;  // "Example.com:8080", as written
  std::string target;     // "/path?query"; "" when the URL has no path
};

// Splits an absolute http(s) URL. Invalid: another scheme, no host, a fragment, a userinfo,
// bytes outside printable ASCII.
Result<PurgeUrl> split_purge_url(std::string_view url);

struct PurgeKey {
  std::string key;       // empty when nothing can be stored for the URL (see `uncached`)
  bool prefix = false;   // every stored key that starts with `key`
  std::string uncached;  // why nothing is stored: "no route", "directory origin", "cache: false"
};

// The key a GET for url is stored under now (see above). Error (Invalid) for a URL that is not
// absolute http(s) or that a lookup could not key.
Result<PurgeKey> url_purge_key(const Config& config, std::string_view url);

// The stored-key prefix for a URL prefix (see above).
Result<std::string> prefix_purge_key(std::string_view url_prefix);

}  // namespace ghala::config
