#include "cache_status.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace ghala::netem;

TEST_CASE("ghala's Cache-Status values are classified by what the edge did") {
  CHECK(classify_cache_status("ghala; hit; ttl=3599") == CacheClass::Hit);
  CHECK(classify_cache_status("ghala; hit; detail=coalesced") == CacheClass::Hit);
  CHECK(classify_cache_status("ghala; hit; ttl=-30; detail=stale-while-revalidate") ==
        CacheClass::Stale);
  CHECK(classify_cache_status("ghala; fwd=stale; fwd-status=503; ttl=-30; detail=stale-if-error") ==
        CacheClass::Stale);
  CHECK(classify_cache_status("ghala; fwd=stale; ttl=-7200; detail=grace") == CacheClass::Stale);
  CHECK(classify_cache_status("ghala; fwd=stale; fwd-status=304; stored") == CacheClass::Forwarded);
  CHECK(classify_cache_status("ghala; fwd=uri-miss; fwd-status=200; stored") ==
        CacheClass::Forwarded);
}

TEST_CASE("nginx's X-Cache-Status values and a missing field are classified") {
  CHECK(classify_cache_status("HIT") == CacheClass::Hit);
  CHECK(classify_cache_status("STALE") == CacheClass::Stale);
  CHECK(classify_cache_status("UPDATING") == CacheClass::Stale);
  CHECK(classify_cache_status("MISS") == CacheClass::Forwarded);
  CHECK(classify_cache_status("EXPIRED") == CacheClass::Forwarded);
  CHECK(classify_cache_status("") == CacheClass::None);
  CHECK(std::string(cache_class_name(CacheClass::Stale)) == "stale");
}
