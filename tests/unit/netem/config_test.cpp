#include "config.hpp"

#include <doctest/doctest.h>

using namespace ghala::netem;

TEST_CASE("the harness's emulator config parses into zones, links and outages") {
  const auto r = parse_daemon_config(
      "# written by netem/run\n"
      "tun users /run/netns/u ghnu0\n"
      "zone users 198.18.0.0/16\n"
      "link access_down delay_us=150000 rate_bps=1600000 queue_packets=40 loss=0.01\n"
      "link access_up delay_us=150000 rate_bps=768000 ge_p=0.01 ge_r=0.3\n"
      "outage 1000 2500\n"
      "stats /tmp/s.json\n");
  REQUIRE(r.config);
  const auto& down = r.config->core.links[static_cast<std::size_t>(LinkClass::AccessDown)];
  REQUIRE(down);
  CHECK(down->delay == 150 * kMilli);
  CHECK(down->rate_bps == 1'600'000);
  CHECK(down->queue_packets == 40);
  CHECK(down->loss == doctest::Approx(0.01));
  CHECK(r.config->core.links[static_cast<std::size_t>(LinkClass::AccessUp)]->burst.p ==
        doctest::Approx(0.01));
  REQUIRE(r.config->core.backhaul_outages.size() == 1);
  CHECK(r.config->core.backhaul_outages[0].end == 2500 * kMilli);
  CHECK(r.config->tuns[0].device == "ghnu0");
}

TEST_CASE("a bad config line is reported with its number") {
  const auto r = parse_daemon_config("tun users - t0\nlink access_up rate_bps=fast\n");
  CHECK_FALSE(r.config);
  CHECK(r.error.rfind("line 2:", 0) == 0);
}
