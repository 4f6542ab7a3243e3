#include "ghala/core/text_pool.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

namespace tp = ghala::text_pool;

namespace {
// Empties this thread's pool, so each case starts from nothing.
void drain() {
  for (std::size_t i = 0; i < tp::kKept + 1; ++i) (void)tp::take();
}
}  // namespace

TEST_CASE("a string given back comes out again empty, with its memory") {
  drain();
  std::string s(300, 'x');
  const char* memory = s.data();
  const auto capacity = s.capacity();
  tp::give_back(std::move(s));
  CHECK(s.empty());
  std::string again = tp::take();
  CHECK(again.empty());
  CHECK(again.capacity() == capacity);
  CHECK(again.data() == memory);
  CHECK(tp::take().capacity() <= std::string().capacity());  // nothing left
}

TEST_CASE("the pool keeps at most kKept strings, none short or oversized") {
  drain();
  tp::give_back(std::string("short"));                    // lives inside the object
  tp::give_back(std::string(tp::kMaxCapacity + 1, 'x'));  // would pin memory
  CHECK(tp::take().capacity() <= std::string().capacity());
  for (std::size_t i = 0; i < tp::kKept + 3; ++i) tp::give_back(std::string(100 + i, 'y'));
  std::size_t kept = 0;
  for (std::size_t i = 0; i < tp::kKept + 3; ++i) {
    if (tp::take().capacity() >= 100) ++kept;
  }
  CHECK(kept == tp::kKept);
}

TEST_CASE("each thread has a pool of its own") {
  drain();
  tp::give_back(std::string(500, 'z'));
  std::size_t other = 0;
  std::thread([&] { other = tp::take().capacity(); }).join();
  CHECK(other <= std::string().capacity());
  CHECK(tp::take().capacity() >= 500);
}
