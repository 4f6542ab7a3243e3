#include "ghala/core/thread_recycled.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <thread>
#include <vector>

namespace {
struct Big : ghala::ThreadRecycled<Big, 4> {
  char bytes[1500] = {};
};
}  // namespace

TEST_CASE("a freed object's memory is reused by the next one on the same thread") {
  auto* a = new Big;
  void* where = a;
  delete a;
  auto* b = new Big;
  CHECK(static_cast<void*>(b) == where);
  delete b;
}

TEST_CASE("at most Keep blocks are kept; the rest are freed") {
  std::vector<std::unique_ptr<Big>> many;
  for (int i = 0; i < 10; ++i) many.push_back(std::make_unique<Big>());
  std::vector<void*> addresses;
  for (auto& p : many) addresses.push_back(p.get());
  many.clear();  // destroyed in order: the first 4 are kept, the other 6 freed
  std::vector<std::unique_ptr<Big>> again;
  for (int i = 0; i < 5; ++i) again.push_back(std::make_unique<Big>());
  // The four kept blocks come back first, most recently freed first; then a new one.
  for (int i = 0; i < 4; ++i) CHECK(static_cast<void*>(again[i].get()) == addresses[3 - i]);
  for (int i = 0; i < 4; ++i) CHECK(static_cast<void*>(again[4].get()) != addresses[i]);
}

TEST_CASE("another thread does not get this thread's blocks") {
  auto* a = new Big;
  void* where = a;
  delete a;
  void* other = nullptr;
  std::thread([&] {
    auto* b = new Big;
    other = b;
    delete b;
  }).join();
  CHECK(other != where);
  auto* c = new Big;
  CHECK(static_cast<void*>(c) == where);
  delete c;
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

TEST_CASE("under AddressSanitizer a kept block is poisoned until it is reused") {
  auto* a = new Big;
  void* where = a;
  delete a;
  CHECK(__asan_address_is_poisoned(where));
  auto* b = new Big;
  CHECK(static_cast<void*>(b) == where);
  CHECK_FALSE(__asan_address_is_poisoned(b));
  delete b;
}
#endif
