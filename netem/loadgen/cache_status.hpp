#pragma once

#include <string_view>

namespace ghala::netem {

// What the edge did for one response, from its Cache-Status (RFC 9211, ghala) or
// X-Cache-Status (nginx's $upstream_cache_status) field.
enum class CacheClass {
  None,       // no such field (direct to the origin, or an edge that does not say)
  Hit,        // answered from the cache, fresh (or a coalesced wait for another fetch)
  Stale,      // a stale stored response served: stale-if-error, grace, stale-while-revalidate
  Forwarded,  // went to the origin: miss, revalidation, pass
};

CacheClass classify_cache_status(std::string_view value);
const char* cache_class_name(CacheClass c);

}  // namespace ghala::netem
