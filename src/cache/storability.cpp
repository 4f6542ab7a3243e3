// Storability for a shared cache, RFC 9111 §3.
//
// The checks run in the order below and the first failure is the reason reported:
//   method (GET only) -> final, storable status -> must-understand -> no-store (response, then
//   request under the Honour policy) -> unqualified private -> Authorization (§3.5) ->
//   Vary: * -> Set-Cookie policy -> "at least one of" public / Expires / max-age / s-maxage /
//   heuristically cacheable status (§3, last bullet).
#include "ghala/cache/storability.hpp"

#include <algorithm>

#include "ghala/cache/freshness.hpp"

namespace ghala::cache {

namespace {

bool is_final_storable_status(int status) noexcept {
  return status >= 200 && status <= 599 && status != 206 && status != 304;
}

// §5.2.2.3: with must-understand, no-store is ignored when the status is understood; without a
// status ghala understands, the response is not stored at all.
NotStored check_no_store(const StoreFacts& f, const CachePolicy& policy) {
  if (f.response.must_understand && !is_understood_status(f.status)) {
    return NotStored::MustUnderstand;
  }
  if (f.response.no_store && !f.response.must_understand) return NotStored::NoStore;
  if (policy.client_directives == ClientDirectives::Honour && f.request.no_store) {
    return NotStored::RequestNoStore;
  }
  return NotStored::No;
}

// §3.5: a response to a request with Authorization is stored only when the origin says so.
bool allows_authorized(const ResponseDirectives& r) noexcept {
  return r.public_ || r.s_maxage.has_value() || r.must_revalidate;
}

std::vector<std::string> omitted_fields(const ResponseDirectives& r) {
  std::vector<std::string> out;
  if (r.private_.present && !r.private_.all) out = r.private_.fields;
  if (r.no_cache.present && !r.no_cache.all) {
    out.insert(out.end(), r.no_cache.fields.begin(), r.no_cache.fields.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool has_freshness_permission(const StoreFacts& f) noexcept {
  return f.response.public_ || f.has_expires || f.response.max_age || f.response.s_maxage ||
         is_heuristically_cacheable(f.status);
}

NotStored first_failure(const StoreFacts& f, const CachePolicy& policy,
                        const std::vector<std::string>& omit) {
  if (f.method != http::Method::Get) return NotStored::Method;
  if (!is_final_storable_status(f.status)) return NotStored::Status;
  if (auto r = check_no_store(f, policy); r != NotStored::No) return r;
  if (f.response.private_.present && f.response.private_.all) return NotStored::Private;
  if (f.request_has_authorization && !allows_authorized(f.response)) {
    return NotStored::Authorization;
  }
  if (f.vary_any) return NotStored::VaryAny;
  bool strips_cookie = std::binary_search(omit.begin(), omit.end(), std::string("set-cookie"));
  if (f.has_set_cookie && !policy.store_set_cookie && !strips_cookie) return NotStored::SetCookie;
  if (!has_freshness_permission(f)) return NotStored::NoFreshness;
  return NotStored::No;
}

}  // namespace

std::string_view to_string(NotStored reason) noexcept {
  switch (reason) {
    case NotStored::No:
      return "stored";
    case NotStored::Method:
      return "method";
    case NotStored::Status:
      return "status";
    case NotStored::MustUnderstand:
      return "must-understand";
    case NotStored::NoStore:
      return "no-store";
    case NotStored::RequestNoStore:
      return "request-no-store";
    case NotStored::Private:
      return "private";
    case NotStored::Authorization:
      return "authorization";
    case NotStored::VaryAny:
      return "vary-star";
    case NotStored::SetCookie:
      return "set-cookie";
    case NotStored::NoFreshness:
      return "no-freshness";
  }
  return "unknown";
}

bool is_understood_status(int status) noexcept {
  if (status == 206 || status == 304 || status == 306) return false;
  return (status >= 200 && status <= 205) || (status >= 300 && status <= 308) ||
         (status >= 400 && status <= 417) || (status >= 421 && status <= 426) ||
         (status >= 500 && status <= 505);
}

Storability storability(const StoreFacts& facts, const CachePolicy& policy) {
  Storability s;
  s.omit_fields = omitted_fields(facts.response);
  s.reason = first_failure(facts, policy, s.omit_fields);
  if (!s.storable()) s.omit_fields.clear();
  return s;
}

StoreFacts store_facts(const http::RequestHead& request, const http::ResponseHead& response,
                       const ResponseDirectives& effective, bool use_expires) {
  StoreFacts f;
  f.method = request.method;
  f.request_has_authorization = request.headers.contains("Authorization");
  f.request = request_directives(request.headers);
  f.status = response.status;
  f.response = effective;
  f.has_expires = use_expires && response.headers.contains("Expires");
  f.vary_any = response.headers.has_token("Vary", "*");
  f.has_set_cookie = response.headers.contains("Set-Cookie");
  return f;
}

}  // namespace ghala::cache
