#include "ghala/core/shared_bytes.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <new>
#include <string>
#include <thread>
#include <vector>

using ghala::SharedBytes;

TEST_CASE("shared bytes hold a copy, shared by reference between copies") {
  std::string source(1000, 'a');
  source[999] = 'z';
  SharedBytes b = SharedBytes::copy_of(source);
  source.assign(1000, 'q');  // the buffer is a copy
  CHECK(b.size() == 1000);
  CHECK(b.view().back() == 'z');
  CHECK(b.allocated_bytes() >= 1000);
  SharedBytes c = b;
  CHECK(c == b);
  CHECK(c.data() == b.data());
  b = nullptr;
  CHECK_FALSE(b);
  CHECK(b == nullptr);
  CHECK(c.view() == std::string(999, 'a') + "z");  // alive while c holds it
  SharedBytes moved = std::move(c);
  CHECK(moved.size() == 1000);
  CHECK(c == nullptr);  // NOLINT(bugprone-use-after-move): moved-from is null
}

TEST_CASE("null and empty shared bytes") {
  SharedBytes null;
  CHECK_FALSE(null);
  CHECK(null.size() == 0);
  CHECK(null.view().empty());
  CHECK(null.allocated_bytes() == 0);
  SharedBytes empty = SharedBytes::copy_of("");
  CHECK(empty);
  CHECK(empty.empty());
  CHECK(empty != null);
  CHECK(SharedBytes::copy_of("x") != SharedBytes::copy_of("x"));  // identity, not content
}

TEST_CASE("shared bytes are released once when copies go away on several threads") {
  // Under ASan/TSan a wrong count shows as a double free, a leak or a race.
  SharedBytes b = SharedBytes::copy_of(std::string(4096, 'x'));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = b, &bad] {
      for (int i = 0; i < 10000; ++i) {
        SharedBytes again = copy;
        if (again.size() != 4096 || again.view().back() != 'x') ++bad;
      }
    });
  }
  b = nullptr;
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
}

TEST_CASE("a buffer holds at most kMaxBytes; beyond, copy_of refuses before copying") {
  const char byte = 'x';
  // A view of a claimed length: copy_of must refuse it on the size alone, never read it.
  const std::string_view huge(&byte, SharedBytes::kMaxBytes + 1);
  CHECK_THROWS_AS(SharedBytes::copy_of(huge), std::bad_alloc);
  SharedBytes b = SharedBytes::copy_of(std::string(1000, 'y'));
  CHECK(b.size() == 1000);
  CHECK_FALSE(b.in_arena());
  CHECK(b.allocated_bytes() == 1000 + 8);  // count and size in 8 bytes
}
