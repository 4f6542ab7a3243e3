#include "server/balance.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace ghala::server {
namespace {

// Accepts `n` connections whose kernel choice of worker is `kernel(i)`, moving each to the
// worker pick_worker names, and returns the final loads.
template <class Kernel>
std::vector<std::uint32_t> accept_all(std::size_t workers, int n, Kernel kernel) {
  std::vector<std::uint32_t> loads(workers, 0);
  for (int i = 0; i < n; ++i) ++loads[pick_worker(loads, kernel(i))];
  return loads;
}

TEST_CASE("a single worker keeps every connection") {
  std::vector<std::uint32_t> loads{7};
  CHECK(pick_worker(loads, 0) == 0);
}

TEST_CASE("a worker within the slack of the least loaded one keeps the connection") {
  std::vector<std::uint32_t> loads{3, 3};
  CHECK(pick_worker(loads, 0) == 0);  // 4 against 3
  loads = {40, 40};
  CHECK(pick_worker(loads, 1) == 1);
}

TEST_CASE("a worker ahead of the least loaded one hands the connection to it") {
  std::vector<std::uint32_t> loads{4, 3};
  CHECK(pick_worker(loads, 0) == 1);  // 5 against 3
  loads = {10, 9, 2, 2};
  CHECK(pick_worker(loads, 0) == 2);  // the lowest index among the least loaded
  CHECK(pick_worker(loads, 2) == 2);
}

TEST_CASE("the slack grows with the load, 1/32 of the smaller share") {
  CHECK(balance_slack(0) == 1);
  CHECK(balance_slack(63) == 1);
  CHECK(balance_slack(64) == 2);
  CHECK(balance_slack(3200) == 100);
  std::vector<std::uint32_t> loads{3299, 3200};
  CHECK(pick_worker(loads, 0) == 0);  // 3300 is within 3200 + 100
  loads = {3300, 3200};
  CHECK(pick_worker(loads, 0) == 1);
}

TEST_CASE("connections that all arrive at one worker end up evenly spread") {
  const auto loads = accept_all(2, 100, [](int) { return std::size_t{0}; });
  CHECK(loads[0] == 50);
  CHECK(loads[1] == 50);
  const auto four = accept_all(4, 101, [](int) { return std::size_t{3}; });
  CHECK(*std::max_element(four.begin(), four.end()) - *std::min_element(four.begin(), four.end()) <=
        1);
}

TEST_CASE("a random kernel spread is corrected to within the slack") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::size_t> pick(0, 1);
  const auto loads = accept_all(2, 100, [&](int) { return pick(rng); });
  CHECK(loads[0] + loads[1] == 100);
  CHECK(loads[0] == 50);  // below 64 the shares never differ by more than one
  CHECK(loads[1] == 50);
  const auto many = accept_all(2, 10000, [&](int) { return pick(rng); });
  const auto diff = many[0] > many[1] ? many[0] - many[1] : many[1] - many[0];
  CHECK(diff <= balance_slack(std::min(many[0], many[1])) + 1);
}

TEST_CASE("a worker index outside the table keeps the connection") {
  std::vector<std::uint32_t> loads{5, 0};
  CHECK(pick_worker(loads, 2) == 2);
}

}  // namespace
}  // namespace ghala::server
