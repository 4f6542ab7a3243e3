#pragma once
// Admin knobs that the RFC leaves to the cache operator. One struct, so the rules compiled from
// the config hand the pure functions everything they may vary on. The defaults are what ghala
// does with no cache rule; docs/caching.md gives the reason for each.

#include <cstdint>

namespace ghala::cache {

// How request Cache-Control (and Pragma: no-cache) from clients is treated.
enum class ClientDirectives : std::uint8_t {
  // Request no-cache, no-store, max-age, min-fresh and max-stale are ignored. Browsers send
  // no-cache / max-age=0 on every reload: honouring them lets any client empty the cache's value
  // for everyone and load the origin at will. The origin's directives already say how fresh
  // the content must be; a shared cache in front of browsers acts for the origin.
  // only-if-cached is still honoured: it only ever restricts what the cache does.
  Ignore,
  // RFC 9111 §5.2.1 as written (for private deployments in front of trusted clients).
  Honour,
};

struct CachePolicy {
  ClientDirectives client_directives = ClientDirectives::Ignore;
  // RFC 9111 §4.2.2: heuristic freshness is this percentage of (Date - Last-Modified), capped.
  std::int64_t heuristic_percent = 10;
  std::int64_t heuristic_max_seconds = 24 * 3600;
  // Seconds past staleness during which a stored response may still be served when the origin
  // fails (5xx, timeout, refused): the PoP's "backhaul is down" window. 0 = off.
  std::int64_t grace_seconds = 0;
  // Whether grace may also serve responses that forbid stale use (must-revalidate,
  // proxy-revalidate, no-cache). Off by default: those directives exist for content that is
  // wrong once stale, and RFC 9111 §5.2.2.2 asks for a 504 rather than a stale copy.
  bool grace_overrides_revalidate = false;
  // RFC 5861 extensions from the origin.
  bool honour_stale_while_revalidate = true;
  bool honour_stale_if_error = true;
  // Responses carrying Set-Cookie are not stored unless the origin names Set-Cookie in
  // private="..." / no-cache="..." (then it is stripped) or this is on. RFC 9111 §7.3 allows
  // storing them, but a cached session cookie handed to every visitor is the classic CDN leak.
  bool store_set_cookie = false;
};

}  // namespace ghala::cache
