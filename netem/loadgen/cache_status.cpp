#include "cache_status.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace ghala::netem {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

// ghala (docs/caching.md): "ghala; hit; ttl=N", "ghala; hit; ttl=-N; detail=stale-while-
// revalidate", "ghala; fwd=stale; fwd-status=503; ttl=-N; detail=stale-if-error|grace",
// "ghala; fwd=uri-miss; ...", "ghala; fwd=stale; fwd-status=304; stored" (revalidated: forwarded,
// not stale). nginx: HIT, STALE, UPDATING, MISS, EXPIRED, REVALIDATED, BYPASS.
CacheClass classify_cache_status(std::string_view value) {
  std::string v(value);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v.empty()) return CacheClass::None;
  if (contains(v, "detail=stale-") || contains(v, "detail=grace") || v == "stale" ||
      v == "updating") {
    return CacheClass::Stale;
  }
  if (contains(v, "fwd=")) return CacheClass::Forwarded;
  if (contains(v, "hit")) return CacheClass::Hit;
  return CacheClass::Forwarded;
}

const char* cache_class_name(CacheClass c) {
  switch (c) {
    case CacheClass::None:
      return "none";
    case CacheClass::Hit:
      return "hit";
    case CacheClass::Stale:
      return "stale";
    case CacheClass::Forwarded:
      return "forwarded";
  }
  return "none";
}

}  // namespace ghala::netem
