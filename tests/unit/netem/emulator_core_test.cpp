#include "emulator_core.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace ghala::netem;

namespace {

std::vector<std::uint8_t> ipv4(const char* src, const char* dst, std::size_t size) {
  std::vector<std::uint8_t> p(size, 0);
  p[0] = 0x45;
  const auto s = *parse_ipv4(src);
  const auto d = *parse_ipv4(dst);
  for (int i = 0; i < 4; ++i) {
    p[12 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(s >> (24 - 8 * i));
    p[16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d >> (24 - 8 * i));
  }
  return p;
}

struct Delivered {
  Zone to;
  Nanos at;
  std::size_t size;
};

struct Harness {
  VirtualClock clock;
  std::vector<Delivered> out;
  EmulatorCore core;
  explicit Harness(CoreConfig cfg)
      : core(std::move(cfg), 0, [this](Zone z, std::vector<std::uint8_t>&& p, Nanos) {
          out.push_back({z, clock.now(), p.size()});
        }) {}
  // Runs the virtual clock event by event until nothing is pending.
  void drain() {
    while (auto t = core.next_event()) {
      clock.set(*t);
      core.run_until(*t);
    }
  }
};

CoreConfig three_zones() {
  CoreConfig c;
  c.zones[0] = parse_prefix("198.18.0.0/16");
  c.zones[1] = parse_prefix("198.19.0.0/24");
  c.zones[2] = parse_prefix("198.19.1.0/24");
  LinkConfig up, down, bh;
  up.delay = down.delay = 150 * kMilli;
  up.rate_bps = 768'000;
  down.rate_bps = 1'600'000;
  bh.delay = 75 * kMilli;
  bh.rate_bps = 20'000'000;
  c.links[static_cast<std::size_t>(LinkClass::AccessUp)] = up;
  c.links[static_cast<std::size_t>(LinkClass::AccessDown)] = down;
  c.links[static_cast<std::size_t>(LinkClass::BackhaulUp)] = bh;
  c.links[static_cast<std::size_t>(LinkClass::BackhaulDown)] = bh;
  return c;
}

}  // namespace

TEST_CASE("user to edge crosses the user's uplink only") {
  Harness h(three_zones());
  h.core.inject(0, Zone::Users, ipv4("198.18.1.1", "198.19.0.1", 96));
  h.drain();
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].to == Zone::Edge);
  CHECK(h.out[0].at == 1'000 * kMicro + 150 * kMilli);  // 96 B at 768 kbit/s = 1 ms
}

TEST_CASE("user to origin crosses access then backhaul, one hop after the other") {
  Harness h(three_zones());
  h.core.inject(0, Zone::Users, ipv4("198.18.1.1", "198.19.1.1", 1250));
  h.drain();
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].to == Zone::Origin);
  // 1250 B: 13.021 ms up (rounded up to the ns), then 0.5 ms on the backhaul; 150 + 75 ms delay.
  CHECK(h.out[0].at == 13'020'834 + 150 * kMilli + 500 * kMicro + 75 * kMilli);
}

TEST_CASE("each user has its own access queue") {
  Harness h(three_zones());
  for (int i = 0; i < 10; ++i) {
    h.core.inject(0, Zone::Edge, ipv4("198.19.0.1", "198.18.1.1", 1500));
    h.core.inject(0, Zone::Edge, ipv4("198.19.0.1", "198.18.1.2", 1500));
  }
  h.drain();
  REQUIRE(h.out.size() == 20);
  CHECK(h.core.users() == 2);
  // 10 packets of 1500 B at 1.6 Mbit/s = 75 ms per user, in parallel, not 150 ms in series.
  CHECK(h.out.back().at == 75 * kMilli + 150 * kMilli);
}

TEST_CASE("a shared cell link serialises all users together") {
  CoreConfig c = three_zones();
  LinkConfig cell;
  cell.rate_bps = 1'600'000;
  c.links[static_cast<std::size_t>(LinkClass::CellDown)] = cell;
  Harness h(c);
  for (int i = 0; i < 10; ++i) {
    h.core.inject(0, Zone::Edge, ipv4("198.19.0.1", "198.18.1.1", 1500));
    h.core.inject(0, Zone::Edge, ipv4("198.19.0.1", "198.18.1.2", 1500));
  }
  h.drain();
  REQUIRE(h.out.size() == 20);
  CHECK(h.out.back().at >= 150 * kMilli + 150 * kMilli);
}

TEST_CASE("a backhaul outage drops packets inside its window only") {
  CoreConfig c = three_zones();
  c.backhaul_outages.push_back({1 * kSecond, 2 * kSecond});
  Harness h(c);
  h.core.inject(1500 * kMilli, Zone::Edge, ipv4("198.19.0.1", "198.19.1.1", 100));
  h.core.inject(2500 * kMilli, Zone::Edge, ipv4("198.19.0.1", "198.19.1.1", 100));
  h.drain();
  CHECK(h.out.size() == 1);
  CHECK(h.core.counters().drop_outage == 1);
}

TEST_CASE("a backhaul cut drops every later backhaul packet, not the access traffic") {
  Harness h(three_zones());
  h.core.inject(0, Zone::Edge, ipv4("198.19.0.1", "198.19.1.1", 100));
  h.core.cut_backhaul(10 * kMilli);  // the first packet is on the wire already: it gets through
  h.core.inject(20 * kMilli, Zone::Edge, ipv4("198.19.0.1", "198.19.1.1", 100));
  h.core.inject(3600 * kSecond, Zone::Origin, ipv4("198.19.1.1", "198.19.0.1", 100));
  h.core.inject(3600 * kSecond, Zone::Users, ipv4("198.18.1.1", "198.19.0.1", 100));
  h.drain();
  CHECK(h.core.counters().drop_outage == 2);
  REQUIRE(h.out.size() == 2);
  CHECK(h.out[0].to == Zone::Origin);
  CHECK(h.out[1].to == Zone::Edge);
}

TEST_CASE("packets to unknown addresses or non-IPv4 are counted, not forwarded") {
  Harness h(three_zones());
  h.core.inject(0, Zone::Users, ipv4("198.18.1.1", "10.0.0.1", 100));
  h.core.inject(0, Zone::Users, std::vector<std::uint8_t>(60, 0x60));
  h.drain();
  CHECK(h.out.empty());
  CHECK(h.core.counters().unroutable == 2);
}

TEST_CASE("scheduling lag is the lateness of run_until") {
  Harness h(three_zones());
  h.core.inject(0, Zone::Users, ipv4("198.18.1.1", "198.19.0.1", 96));
  const Nanos due = *h.core.next_event();
  h.clock.set(due + 300 * kMicro);
  h.core.run_until(due + 300 * kMicro);
  CHECK(h.core.lag().count() == 1);
  CHECK(h.core.lag().quantile(0.5) == 301 * kMicro);
}
