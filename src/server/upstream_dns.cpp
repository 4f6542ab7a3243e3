#include "server/upstream_dns.hpp"

#include <algorithm>
#include <mutex>
#include <system_error>
#include <thread>

#include "config/diagnostics.hpp"
#include "ghala/core/log.hpp"
#include "ghala/observe/metrics.hpp"

namespace ghala::server {

namespace {

std::string joined(const config::AddressList& list) {
  std::string out;
  for (const auto& a : list) out.append(out.empty() ? "" : ", ").append(a);
  return out;
}

std::string cannot_resolve(const std::string& upstream, const std::string& name,
                           const std::string& why) {
  return "upstream " + config::quote_value(upstream) + ": cannot resolve " +
         config::quote_value(name) + ": " + why;
}

std::string why_failed(const DnsResults& results, const std::string& name) {
  const auto it = results.find(name);
  return it == results.end() ? std::string("not resolved") : it->second.error().message;
}

bool resolved(const DnsResults& results, const std::string& name) {
  const auto it = results.find(name);
  return it != results.end() && it->second.ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// NameResolver

struct NameResolver::Shared {
  struct Batch {
    std::function<void(DnsResults)> done;
    DnsResults results;
    std::size_t pending = 0;
  };
  std::mutex mu;
  bool closed = false;                        // guarded by mu
  std::vector<std::shared_ptr<Batch>> ready;  // guarded by mu
  uv_async_t async{};
};

NameResolver::NameResolver(uv_loop_t* loop, config::ResolveFn resolve)
    : shared_(std::make_shared<Shared>()), resolve_(std::move(resolve)) {
  uv_async_init(loop, &shared_->async, [](uv_async_t* a) {
    auto* shared = static_cast<Shared*>(a->data);
    std::vector<std::shared_ptr<Shared::Batch>> ready;
    {
      std::lock_guard lock(shared->mu);
      ready.swap(shared->ready);
    }
    for (auto& b : ready) b->done(std::move(b->results));
  });
  shared_->async.data = shared_.get();
}

NameResolver::~NameResolver() = default;

void NameResolver::resolve(std::vector<std::string> names, std::function<void(DnsResults)> done) {
  auto batch = std::make_shared<Shared::Batch>();
  batch->done = std::move(done);
  batch->pending = names.size();
  auto finish = [shared = shared_, batch](const std::string& name, Result<config::AddressList> r) {
    std::lock_guard lock(shared->mu);
    batch->results.emplace(name, std::move(r));
    if (--batch->pending == 0 && !shared->closed) {
      shared->ready.push_back(batch);
      uv_async_send(&shared->async);
    }
  };
  if (names.empty()) {
    std::lock_guard lock(shared_->mu);
    if (!shared_->closed) {
      shared_->ready.push_back(batch);
      uv_async_send(&shared_->async);
    }
    return;
  }
  for (auto& name : names) {
    try {
      std::thread([finish, name, fn = resolve_] { finish(name, fn(name)); }).detach();
    } catch (const std::system_error& e) {
      finish(name,
             make_error(ErrorKind::Io, std::string("cannot start a resolver thread: ") + e.what()));
    }
  }
}

void NameResolver::close() {
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->closed) return;
    shared_->closed = true;
    shared_->ready.clear();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&shared_->async), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Reload

ReloadAddresses merge_for_reload(const config::Config& loaded, const DnsResults& results,
                                 const config::AddressBook& running) {
  ReloadAddresses out;
  auto& metrics = observe::Metrics::get();
  for (const auto& u : loaded.upstreams) {
    const auto names = config::host_names(u);
    if (names.empty()) continue;
    auto outcome = observe::DnsResult::Ok;
    for (const auto& name : names) {
      const auto old = running.find(name);
      if (resolved(results, name)) {
        const auto& now = results.find(name)->second.value();
        out.book[name] = now;
        if (outcome == observe::DnsResult::Ok && old != running.end() && old->second != now) {
          outcome = observe::DnsResult::Changed;
        }
        continue;
      }
      outcome = observe::DnsResult::Error;
      const std::string why = why_failed(results, name);
      if (old != running.end()) {
        out.book[name] = old->second;
        out.warnings.push_back(cannot_resolve(u.name, name, why) +
                               "; keeping its last addresses (" + joined(old->second) + ")");
      } else {
        out.errors.push_back(config::resolve_error(loaded, u, name, why));
      }
    }
    metrics.dns_resolution(u.name, outcome);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// UpstreamDns

void UpstreamDns::reset(const config::Config& loaded, config::AddressBook book,
                        std::uint64_t now_ms) {
  entries_.clear();
  for (const auto& u : loaded.upstreams) {
    auto names = config::host_names(u);
    if (names.empty() || u.resolve_interval.count() <= 0) continue;
    Entry e;
    e.upstream = u.name;
    e.names = std::move(names);
    e.interval_ms = static_cast<std::uint64_t>(u.resolve_interval.count());
    e.due_ms = now_ms + e.interval_ms;
    entries_.push_back(std::move(e));
  }
  book_ = std::move(book);
}

std::vector<std::size_t> UpstreamDns::take_due(std::uint64_t now_ms) {
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto& e = entries_[i];
    if (e.in_flight || e.due_ms > now_ms) continue;
    e.in_flight = true;
    due.push_back(i);
  }
  return due;
}

bool UpstreamDns::apply(std::size_t entry, const DnsResults& results, std::uint64_t now_ms) {
  auto& e = entries_.at(entry);
  e.in_flight = false;
  e.due_ms = now_ms + e.interval_ms;
  bool changed = false;
  std::string errors;
  for (const auto& name : e.names) {
    if (!resolved(results, name)) {
      const auto old = book_.find(name);
      errors.append(errors.empty() ? "" : "; ")
          .append(cannot_resolve(e.upstream, name, why_failed(results, name)))
          .append(old == book_.end() ? "" : ", keeping " + joined(old->second));
      continue;
    }
    const auto& now = results.find(name)->second.value();
    auto& slot = book_[name];
    if (slot == now) continue;
    log_info("upstream " + config::quote_value(e.upstream) + ": " + config::quote_value(name) +
             " now resolves to " + joined(now) +
             (slot.empty() ? "" : " (was " + joined(slot) + ")"));
    slot = now;
    changed = true;
  }
  if (!errors.empty()) {
    if (!e.failing) log_warn(errors + " (logged once until it resolves again)");
    e.failing = true;
  } else if (e.failing) {
    log_info("upstream " + config::quote_value(e.upstream) + ": its names resolve again");
    e.failing = false;
  }
  observe::Metrics::get().dns_resolution(
      e.upstream, !errors.empty()
                      ? observe::DnsResult::Error
                      : (changed ? observe::DnsResult::Changed : observe::DnsResult::Ok));
  return changed;
}

std::optional<std::uint64_t> UpstreamDns::next_due_in(std::uint64_t now_ms) const {
  std::optional<std::uint64_t> out;
  for (const auto& e : entries_) {
    if (e.in_flight) continue;
    const std::uint64_t in = e.due_ms > now_ms ? e.due_ms - now_ms : 0;
    if (!out || in < *out) out = in;
  }
  return out;
}

}  // namespace ghala::server
