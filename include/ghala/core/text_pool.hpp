#pragma once
// Recycled strings for serialised message heads. A proxied request serialises two heads (the
// request to the upstream, the response to the client) and each cost a malloc and a free; a head
// string now comes from, and goes back to, a small per-thread pool (every worker is one thread
// with one loop, so no locking). stream_write gives a string back once its bytes are written.
//
// Bounded: a thread keeps at most kKept strings, each with a capacity of at most kMaxCapacity
// bytes (an unusually large head is freed, not kept).

#include <array>
#include <cstddef>
#include <string>
#include <utility>

namespace ghala::text_pool {

inline constexpr std::size_t kKept = 8;
inline constexpr std::size_t kMaxCapacity = 8192;

namespace detail {
struct Pool {
  std::array<std::string, kKept> spare;
  std::size_t count = 0;
};
inline Pool& pool() noexcept {
  thread_local Pool p;
  return p;
}
}  // namespace detail

// An empty string, with room from an earlier head when the pool has one.
inline std::string take() noexcept {
  auto& p = detail::pool();
  if (p.count == 0) return {};
  return std::move(p.spare[--p.count]);
}

// Keeps s's memory for a later take() (s is left empty either way).
inline void give_back(std::string&& s) noexcept {
  auto& p = detail::pool();
  // Short strings live inside the object (nothing to keep); long ones would pin memory.
  if (s.capacity() <= std::string().capacity() || s.capacity() > kMaxCapacity || p.count == kKept) {
    std::string().swap(s);
    return;
  }
  s.clear();
  p.spare[p.count++] = std::move(s);
}

}  // namespace ghala::text_pool
