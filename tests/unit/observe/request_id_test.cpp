#include <doctest/doctest.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ghala/observe/access_log.hpp"

using ghala::observe::generate_request_id;

namespace {

bool lower_hex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("request id is 32 lowercase hex characters") {
  for (int i = 0; i < 100; ++i) {
    const std::string id = generate_request_id();
    CHECK(id.size() == 32);
    CHECK(lower_hex(id));
  }
}

TEST_CASE("request ids do not repeat within or across threads") {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::mutex mu;
  std::set<std::string> all;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) mine.push_back(generate_request_id());
      std::lock_guard lock(mu);
      all.insert(mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  CHECK(all.size() == static_cast<std::size_t>(kThreads * kPerThread));
}
