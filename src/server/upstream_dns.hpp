#pragma once
// Upstream host names at run time, on the main thread (docs/architecture.md, "Upstream host
// names"):
//
//   NameResolver   runs a ResolveFn (getaddrinfo) off every loop, one thread per name, and
//                  delivers the results on the main loop through uv_async. Not the libuv thread
//                  pool: a resolver that hangs for its full timeout must not hold the threads
//                  that the workers' disk-tier and directory-origin jobs need.
//   merge_for_reload   what a reload builds its snapshot with: fresh addresses; for a name that
//                  failed, the running addresses when there are some (flaky DNS never stops a
//                  reload nor drops a working origin), a located error when there are none.
//   UpstreamDns    the re-resolution schedule (resolve_interval per upstream) and the address
//                  book of the running snapshot: apply() merges a round's results, keeps the last
//                  good addresses of a name that failed (logged once per failure streak), counts
//                  ghala_upstream_dns_resolutions_total, and says whether the addresses changed,
//                  in which case the server builds a new snapshot from the same loaded config.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ghala/config/config.hpp"
#include "ghala/config/resolve.hpp"

namespace ghala::server {

using DnsResults = std::map<std::string, Result<config::AddressList>, std::less<>>;

class NameResolver {
 public:
  NameResolver(uv_loop_t* loop, config::ResolveFn resolve);
  ~NameResolver();
  NameResolver(const NameResolver&) = delete;
  NameResolver& operator=(const NameResolver&) = delete;

  // Resolves `names` and calls done(results) on the loop once all of them have answered.
  void resolve(std::vector<std::string> names, std::function<void(DnsResults)> done);
  // Stops delivering: results that arrive later are dropped (their threads finish on their own,
  // however long the system resolver takes). Closes the uv_async handle.
  void close();

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  config::ResolveFn resolve_;
};

struct ReloadAddresses {
  config::AddressBook book;                 // what the new snapshot is built with
  std::vector<config::ConfigError> errors;  // names that failed with no running addresses
  std::vector<std::string> warnings;        // names that failed and keep their running addresses
};

// Counts one resolution per upstream with names (ok / changed against `running` / error).
ReloadAddresses merge_for_reload(const config::Config& loaded, const DnsResults& results,
                                 const config::AddressBook& running);

class UpstreamDns {
 public:
  // A new running config (startup, reload): its names, their addresses, and when each upstream
  // is next due (now + resolve_interval; upstreams with resolve_interval 0 never are).
  void reset(const config::Config& loaded, config::AddressBook book, std::uint64_t now_ms);

  // Upstreams due at now_ms and not being resolved: each is marked in flight until apply().
  std::vector<std::size_t> take_due(std::uint64_t now_ms);
  const std::vector<std::string>& names(std::size_t entry) const { return entries_[entry].names; }
  const std::string& upstream(std::size_t entry) const { return entries_[entry].upstream; }

  // The results of resolving entry's names. Returns true when the book changed.
  bool apply(std::size_t entry, const DnsResults& results, std::uint64_t now_ms);

  // Milliseconds until the next upstream is due; nullopt when none will be.
  std::optional<std::uint64_t> next_due_in(std::uint64_t now_ms) const;
  const config::AddressBook& book() const noexcept { return book_; }

 private:
  struct Entry {
    std::string upstream;
    std::vector<std::string> names;
    std::uint64_t interval_ms = 0;
    std::uint64_t due_ms = 0;
    bool in_flight = false;
    bool failing = false;  // the last round had an error: log again only after a success
  };
  std::vector<Entry> entries_;
  config::AddressBook book_;
};

}  // namespace ghala::server
