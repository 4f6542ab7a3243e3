#pragma once
// Host names of upstream servers. The loader checks a name's syntax only; this file turns a
// config as loaded (servers that may name a host) into the config a snapshot serves, where every
// server is a literal address: a name with several addresses becomes one server per address, each
// with the weight written for the name (as nginx does), so the balancer and the per-server pools
// and passive health work per address.
//
// Who resolves, and when (docs/architecture.md, "Upstream host names"): ghala check and startup
// call resolve_names, which blocks (nothing is served yet); reloads and the periodic
// re-resolution run the same ResolveFn on a thread of their own and come back to the main loop
// (server/upstream_dns.hpp). A worker loop never resolves.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ghala/config/config.hpp"
#include "ghala/core/result.hpp"

namespace ghala::config {

// The literal addresses of one name ("10.0.0.5", "2001:db8::1"), sorted and distinct, so that a
// DNS server rotating its answers does not look like a change.
using AddressList = std::vector<std::string>;
// Name -> its addresses.
using AddressBook = std::map<std::string, AddressList, std::less<>>;
// Resolves one name; may block. The error message is the resolver's own ("Name or service not
// known").
using ResolveFn = std::function<Result<AddressList>(const std::string& name)>;

// getaddrinfo (AF_UNSPEC, TCP): what /etc/hosts, nsswitch and DNS say on this machine. Blocks for
// as long as the system resolver does (resolv.conf timeout and attempts).
Result<AddressList> resolve_with_system(const std::string& name);

// The distinct host names among an upstream's servers (HTTP upstreams only), in file order.
std::vector<std::string> host_names(const Upstream& upstream);
// Every upstream's names together, distinct.
std::vector<std::string> host_names(const Config& config);

// The error for a name that did not resolve, located at the first server of `upstream` that
// names it: `upstream "app": cannot resolve "origin.example.com": <why>`.
ConfigError resolve_error(const Config& config, const Upstream& upstream, std::string_view name,
                          std::string_view why);

// Resolves every name of `config` with `resolve` (one call per distinct name) into `book`;
// returns one located error per upstream and name that failed. Blocks: for `ghala check` and
// startup.
std::vector<ConfigError> resolve_names(const Config& config, const ResolveFn& resolve,
                                       AddressBook& book);

// `loaded` with every named server replaced by one server per address in `book` (address.host is
// the address, address.text "address:port", host_name the name). A name missing from the book
// contributes no server. Literal servers are kept as written.
ConfigPtr with_addresses(const Config& loaded, const AddressBook& book);

}  // namespace ghala::config
