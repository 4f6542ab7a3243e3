#include "server/coalescer.hpp"

#include <algorithm>

#include "server/worker.hpp"

namespace ghala::server {

namespace {
// Hit-for-pass keys are few (uncacheable URLs under concurrent load); the bound only protects
// memory against a flood of unique uncacheable URLs, which then simply coalesce again.
constexpr std::size_t kMaxPassKeys = 100000;
constexpr std::size_t kPassSweepEvery = 1024;
}  // namespace

// ---------------------------------------------------------------------------------------------
// InFlightFetch

void InFlightFetch::publish_head(cache::ObjectPtr head, bool length_known) {
  std::lock_guard lock(mu_);
  if (state_ != State::Fetching) return;
  head_ = std::move(head);
  length_known_ = length_known;
  state_ = State::Streaming;
  wake_locked();
}

void InFlightFetch::publish_piece(cache::Chunk piece) {
  std::lock_guard lock(mu_);
  if (state_ != State::Streaming) return;
  pieces_.push_back(std::move(piece));
  wake_locked();
}

void InFlightFetch::publish_complete(cache::ObjectPtr object) {
  std::lock_guard lock(mu_);
  if (state_ != State::Fetching && state_ != State::Streaming) return;
  object_ = std::move(object);
  state_ = State::Complete;
  wake_locked();
  waiters_.clear();  // every waiter has its wake-up; nothing more will happen
}

void InFlightFetch::publish_pass() {
  std::lock_guard lock(mu_);
  if (state_ != State::Fetching) return;
  state_ = State::Pass;
  wake_locked();
  waiters_.clear();
}

void InFlightFetch::publish_failed(int fwd_status) {
  std::lock_guard lock(mu_);
  if (state_ != State::Fetching && state_ != State::Streaming) return;
  state_ = State::Failed;
  fwd_status_ = fwd_status;
  wake_locked();
  waiters_.clear();
}

bool InFlightFetch::finished() const {
  std::lock_guard lock(mu_);
  return state_ == State::Complete || state_ == State::Pass || state_ == State::Failed;
}

bool InFlightFetch::has_waiters() const {
  std::lock_guard lock(mu_);
  return !waiters_.empty();
}

void InFlightFetch::add_waiter(WaitTokenPtr token) {
  std::lock_guard lock(mu_);
  if (state_ == State::Fetching || state_ == State::Streaming) {
    waiters_.push_back(std::move(token));
  } else {
    token->worker->post_wake(std::move(token));  // it finished meanwhile: wake at once
  }
}

void InFlightFetch::remove_waiter(const WaitToken* token) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [&](const WaitTokenPtr& t) { return t.get() == token; });
  if (it != waiters_.end()) {
    *it = std::move(waiters_.back());
    waiters_.pop_back();
  }
}

InFlightFetch::View InFlightFetch::read(std::size_t from) const {
  std::lock_guard lock(mu_);
  View v;
  v.state = state_;
  v.head = head_;
  v.length_known = length_known_;
  if (from < pieces_.size()) {
    v.pieces.assign(pieces_.begin() + static_cast<std::ptrdiff_t>(from), pieces_.end());
  }
  v.object = object_;
  v.fwd_status = fwd_status_;
  return v;
}

void InFlightFetch::wake_locked() {
  for (const auto& t : waiters_) t->worker->post_wake(t);
}

// ---------------------------------------------------------------------------------------------
// Coalescer

Coalescer::Join Coalescer::join(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!pass_until_.empty()) {
    if (++pass_sweep_ >= kPassSweepEvery) {
      pass_sweep_ = 0;
      std::erase_if(pass_until_, [&](const auto& kv) { return kv.second <= now; });
    }
    auto p = pass_until_.find(key);
    if (p != pass_until_.end()) {
      if (p->second > now) return {};
      pass_until_.erase(p);
    }
  }
  auto [it, inserted] = fetches_.try_emplace(key);
  if (inserted) {
    it->second = std::make_shared<InFlightFetch>();
    return {it->second, true};
  }
  return {it->second, false};
}

void Coalescer::mark_pass(const std::string& key, Clock::time_point until) {
  std::lock_guard lock(mu_);
  if (pass_until_.size() >= kMaxPassKeys && !pass_until_.contains(key)) return;
  pass_until_[key] = until;
}

InFlightPtr Coalescer::find(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto p = pass_until_.find(key);
  if (p != pass_until_.end() && p->second > now) return nullptr;
  auto it = fetches_.find(key);
  return it == fetches_.end() ? nullptr : it->second;
}

void Coalescer::clear_pass(const std::string& key) {
  std::lock_guard lock(mu_);
  pass_until_.erase(key);
}

std::size_t Coalescer::purge_pass(std::string_view key, bool prefix) {
  std::lock_guard lock(mu_);
  return std::erase_if(pass_until_, [&](const auto& entry) {
    const std::string_view k = entry.first;
    if (!k.starts_with(key)) return false;
    // A variant key is the primary key, '\n', and the request's Vary values.
    return prefix || k.size() == key.size() || k[key.size()] == '\n';
  });
}

void Coalescer::leave(const std::string& key, const InFlightFetch* fetch) {
  std::lock_guard lock(mu_);
  auto it = fetches_.find(key);
  if (it != fetches_.end() && it->second.get() == fetch) fetches_.erase(it);
}

std::size_t Coalescer::in_flight() const {
  std::lock_guard lock(mu_);
  return fetches_.size();
}

}  // namespace ghala::server
