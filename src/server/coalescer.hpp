#pragma once
// Request coalescing (Varnish's "waiting list", nginx's proxy_cache_lock, Pingora's cache lock),
// across all workers of the process.
//
// The first request that misses a key (or must revalidate a stale object of it) becomes the
// key's *leader*: it registers an InFlightFetch and goes to the origin. Requests for the same key
// that arrive while it is in flight become *waiters*: they suspend in Lookup instead of going to
// the origin too. What the leader learns is published to the InFlightFetch as it happens:
//
//   head      the response will be stored: its stored head (status, headers, Vary key, timings)
//   piece     each body piece as the leader relays it (read-while-writer: a waiter streams the
//             body as it arrives, it does not wait for the end)
//   complete  the stored object (or the object a 304 refreshed)
//   pass      the response will not be stored: the key is remembered as hit-for-pass for
//             cache.hit_for_pass, so later requests go to the origin in parallel instead of
//             queueing behind a leader whose answer they cannot share
//   failed    the fetch failed or was cut short (origin error, leader's client gone, too large)
//
// Waiters are woken on their own worker's loop (Worker::post_wake; never called from another
// thread) and read what is new. A waiter whose Vary key does not match the leader's response, or
// that wakes to `pass`, or whose fetch failed before the head, goes to the origin itself; a
// waiter that was already streaming when the fetch failed must close its connection (it cannot
// finish a message it has started). A waiter that sees nothing for cache.lock_timeout (checked on
// the worker's tick) stops waiting and goes to the origin itself.
//
// Everything here is thread-safe; Exchange pointers inside WaitTokens are touched only on the
// waiter's own loop thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ghala/cache/object.hpp"

namespace ghala::server {

class Exchange;
class Worker;

// A waiter's handle, shared between the waiter and the fetch it waits for.
struct WaitToken {
  Worker* worker = nullptr;
  Exchange* exchange = nullptr;  // loop thread only; null once the exchange is gone
  bool queued = false;           // guarded by the worker's wake lock: already posted, not run
};
using WaitTokenPtr = std::shared_ptr<WaitToken>;

class InFlightFetch {
 public:
  enum class State : std::uint8_t { Fetching, Streaming, Complete, Pass, Failed };

  // What a waiter reads: the state and the pieces after `from`.
  struct View {
    State state = State::Fetching;
    cache::ObjectPtr head;             // Streaming: status, headers, vary key, timings (no body)
    bool length_known = false;         // Streaming: head->body_size is the announced length
    std::vector<cache::Chunk> pieces;  // body pieces from `from` on
    cache::ObjectPtr object;           // Complete: the stored object
    int fwd_status = 0;                // Failed: the origin's status, 0 when none came
  };

  // Leader side. Each wakes the waiters.
  void publish_head(cache::ObjectPtr head, bool length_known);
  void publish_piece(cache::Chunk piece);
  void publish_complete(cache::ObjectPtr object);
  void publish_pass();
  void publish_failed(int fwd_status);
  bool finished() const;
  bool has_waiters() const;

  // Waiter side.
  void add_waiter(WaitTokenPtr token);
  void remove_waiter(const WaitToken* token);
  View read(std::size_t from) const;

 private:
  void wake_locked();

  mutable std::mutex mu_;
  State state_ = State::Fetching;
  cache::ObjectPtr head_;
  bool length_known_ = false;
  std::vector<cache::Chunk> pieces_;
  cache::ObjectPtr object_;
  int fwd_status_ = 0;
  std::vector<WaitTokenPtr> waiters_;
};

using InFlightPtr = std::shared_ptr<InFlightFetch>;

class Coalescer {
 public:
  using Clock = std::chrono::steady_clock;

  struct Join {
    InFlightPtr fetch;    // null: hit-for-pass is active for the key, go alone
    bool leader = false;  // true: this request fetches and publishes; else it waits
  };
  // Joins the fetch in flight for `key`, or registers a new one with the caller as its leader.
  Join join(const std::string& key, Clock::time_point now);
  // The fetch in flight for `key`, without starting one: null when there is none, or when the
  // key is hit-for-pass (for requests that may wait but never lead).
  InFlightPtr find(const std::string& key, Clock::time_point now);
  // The key is hit-for-pass until `until` (an uncacheable answer came for it).
  void mark_pass(const std::string& key, Clock::time_point until);
  // The key's answer became storable again.
  void clear_pass(const std::string& key);
  // A purge: forgets hit-for-pass for `key` and its Vary variants, or with `prefix` for every
  // key that starts with it, so the next request tries to store the answer again. Returns how
  // many keys were forgotten.
  std::size_t purge_pass(std::string_view key, bool prefix);
  // The leader is done with `fetch`: later requests start a new one.
  void leave(const std::string& key, const InFlightFetch* fetch);

  std::size_t in_flight() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, InFlightPtr> fetches_;
  std::unordered_map<std::string, Clock::time_point> pass_until_;
  std::size_t pass_sweep_ = 0;  // joins since the last sweep of expired hit-for-pass keys
};

}  // namespace ghala::server
