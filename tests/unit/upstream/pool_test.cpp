#include "ghala/upstream/pool.hpp"

#include <doctest/doctest.h>

#include <map>
#include <memory>

using namespace ghala;
using namespace ghala::upstream;

namespace {

struct Pools {
  uv_loop_t loop{};
  BlockPool blocks;
  std::vector<std::unique_ptr<UpstreamPool>> owned;
  std::vector<UpstreamPool*> list;

  explicit Pools(std::vector<std::uint32_t> weights) {
    uv_loop_init(&loop);
    config::Upstream up;
    up.name = "u";
    std::uint16_t port = 9001;
    for (auto w : weights) {
      config::UpstreamServer s;
      s.address = {"127.0.0.1", port, "127.0.0.1:" + std::to_string(port)};
      ++port;
      s.weight = w;
      owned.push_back(std::make_unique<UpstreamPool>(&loop, &blocks, s, up, nullptr));
      list.push_back(owned.back().get());
    }
  }
  ~Pools() {
    owned.clear();
    uv_loop_close(&loop);
  }
  std::map<std::string, int> spread(int n, config::Balance b, std::uint64_t now = 0) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) ++counts[pick_server(list, b, now)->address_text()];
    return counts;
  }
};

}  // namespace

TEST_CASE("round robin spreads requests evenly over equal servers") {
  Pools p({1, 1, 1});
  auto counts = p.spread(300, config::Balance::RoundRobin);
  CHECK(counts.size() == 3);
  for (auto& [addr, n] : counts) CHECK(n == 100);
}

TEST_CASE("smooth weighted round robin follows the weights and interleaves") {
  Pools p({5, 1, 1});
  auto counts = p.spread(700, config::Balance::RoundRobin);
  CHECK(counts["127.0.0.1:9001"] == 500);
  CHECK(counts["127.0.0.1:9002"] == 100);
  CHECK(counts["127.0.0.1:9003"] == 100);
  // Smooth: the heavy server never gets more than its share in a row (5 of 7, not 5 then 2).
  std::string seq;
  for (int i = 0; i < 7; ++i)
    seq += pick_server(p.list, config::Balance::RoundRobin, 0)->address_text().back();
  CHECK(seq.find("11111") == std::string::npos);
}

TEST_CASE("a suspect server is skipped while another can take the request") {
  Pools p({1, 1});
  p.list[0]->mark_failed(1000);
  auto counts = p.spread(10, config::Balance::RoundRobin, 1000);
  CHECK(counts["127.0.0.1:9002"] == 10);
  auto later = p.spread(10, config::Balance::RoundRobin, 1000 + UpstreamPool::kSuspectMs);
  CHECK(later["127.0.0.1:9001"] == 5);
}

TEST_CASE("when every server is suspect, one is still chosen") {
  Pools p({1, 1});
  p.list[0]->mark_failed(0);
  p.list[1]->mark_failed(0);
  CHECK(pick_server(p.list, config::Balance::RoundRobin, 1) != nullptr);
}

TEST_CASE("exclude avoids the server that just failed") {
  Pools p({1, 1});
  for (int i = 0; i < 10; ++i) {
    CHECK(pick_server(p.list, config::Balance::RoundRobin, 0, p.list[0]) == p.list[1]);
  }
  Pools single({1});
  CHECK(pick_server(single.list, config::Balance::RoundRobin, 0, single.list[0]) == single.list[0]);
}

TEST_CASE("least connections prefers the idlest server relative to weight") {
  Pools p({1, 2});
  // No active connections yet: both tie, the first wins.
  CHECK(pick_server(p.list, config::Balance::LeastConn, 0) == p.list[0]);
}

TEST_CASE("an empty pool list picks nothing") {
  std::vector<UpstreamPool*> none;
  CHECK(pick_server(none, config::Balance::RoundRobin, 0) == nullptr);
}
