#include "link.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace ghala::netem;

namespace {
LinkConfig rate_only(std::uint64_t bps) {
  LinkConfig c;
  c.rate_bps = bps;
  return c;
}
}  // namespace

TEST_CASE("an idle link delivers after serialisation plus one-way delay") {
  LinkConfig c = rate_only(1'000'000);  // 1500 B = 12 ms at 1 Mbit/s
  c.delay = 150 * kMilli;
  Link link(c, 1);
  const Offer o = link.offer(10 * kMilli, 1500);
  CHECK(o.verdict == Verdict::Deliver);
  CHECK(o.exit_at == 10 * kMilli + 12 * kMilli + 150 * kMilli);
  CHECK_FALSE(o.backlogged);
}

TEST_CASE("back-to-back packets leave at the configured rate") {
  Link link(rate_only(768'000), 1);
  Nanos last = 0;
  for (int i = 0; i < 100; ++i) {
    const Offer o = link.offer(0, 1500);
    REQUIRE(o.verdict == Verdict::Deliver);
    if (i > 0) CHECK(o.backlogged);
    last = o.exit_at;
  }
  // 100 * 1500 B * 8 / 768 kbit/s = 1.5625 s
  CHECK(std::llabs(last - 1'562'500 * kMicro) <= 100);
}

TEST_CASE("a packet arriving after the link drained starts at once") {
  Link link(rate_only(1'000'000), 1);
  CHECK(link.offer(0, 1000).exit_at == 8 * kMilli);
  CHECK(link.offer(20 * kMilli, 1000).exit_at == 28 * kMilli);
}

TEST_CASE("droptail by packets drops the arrival that overflows the queue") {
  LinkConfig c = rate_only(1'000'000);
  c.queue_packets = 3;
  Link link(c, 1);
  CHECK(link.offer(0, 1000).verdict == Verdict::Deliver);
  CHECK(link.offer(0, 1000).verdict == Verdict::Deliver);
  CHECK(link.offer(0, 1000).verdict == Verdict::Deliver);
  CHECK(link.offer(0, 1000).verdict == Verdict::DropQueue);
  // After one serialisation time (8 ms) one slot is free again.
  CHECK(link.queued_packets(8 * kMilli) == 2);
  CHECK(link.offer(8 * kMilli, 1000).verdict == Verdict::Deliver);
  CHECK(link.counters().drop_queue == 1);
}

TEST_CASE("droptail by bytes counts the bytes waiting") {
  LinkConfig c = rate_only(1'000'000);
  c.queue_bytes = 3000;
  Link link(c, 1);
  CHECK(link.offer(0, 1500).verdict == Verdict::Deliver);
  CHECK(link.offer(0, 1500).verdict == Verdict::Deliver);
  CHECK(link.offer(0, 100).verdict == Verdict::DropQueue);
}

TEST_CASE("Bernoulli loss drops about the configured share") {
  LinkConfig c;
  c.loss = 0.02;
  Link link(c, 42);
  int lost = 0;
  const int n = 100'000;
  for (int i = 0; i < n; ++i) lost += link.offer(i * kMilli, 100).verdict == Verdict::DropLoss;
  CHECK(lost == doctest::Approx(0.02 * n).epsilon(0.1));
}

TEST_CASE("a lost packet still uses its airtime") {
  LinkConfig c = rate_only(1'000'000);
  c.loss = 1.0;
  Link link(c, 1);
  CHECK(link.offer(0, 1000).verdict == Verdict::DropLoss);
  CHECK(link.queued_packets(0) == 1);
  CHECK(link.queued_packets(8 * kMilli) == 0);
}

TEST_CASE("Gilbert-Elliott loss comes in bursts with the stationary mean") {
  LinkConfig c;
  c.burst = GilbertElliott{0.01, 0.25, 0.0, 1.0};  // mean burst 4 packets, loss p/(p+r) = 3.85 %
  Link link(c, 7);
  const int n = 400'000;
  int lost = 0, bursts = 0;
  bool prev = false;
  for (int i = 0; i < n; ++i) {
    const bool l = link.offer(i * kMilli, 100).verdict == Verdict::DropLoss;
    lost += l;
    if (l && !prev) ++bursts;
    prev = l;
  }
  CHECK(static_cast<double>(lost) / n == doctest::Approx(0.01 / 0.26).epsilon(0.1));
  CHECK(static_cast<double>(lost) / bursts == doctest::Approx(4.0).epsilon(0.1));
}

TEST_CASE("jitter without reordering never lets a packet overtake") {
  LinkConfig c;
  c.delay = 100 * kMilli;
  c.jitter = 30 * kMilli;
  Link link(c, 3);
  Nanos last = 0;
  double sum = 0;
  const int n = 10'000;
  for (int i = 0; i < n; ++i) {
    const Offer o = link.offer(i * kMilli, 100);
    CHECK(o.exit_at >= last);
    last = o.exit_at;
    sum += static_cast<double>(o.exit_at - i * kMilli);
  }
  // Without reordering packets 1 ms apart mostly queue behind a late one: the mean delay grows.
  CHECK(sum / n > 100.0 * kMilli);
}

TEST_CASE("jitter with reordering keeps the mean delay") {
  LinkConfig c;
  c.delay = 100 * kMilli;
  c.jitter = 10 * kMilli;
  c.allow_reorder = true;
  Link link(c, 3);
  double sum = 0;
  bool reordered = false;
  Nanos last = 0;
  const int n = 20'000;
  for (int i = 0; i < n; ++i) {
    const Offer o = link.offer(i * kMilli, 100);
    reordered |= o.exit_at < last;
    last = o.exit_at;
    sum += static_cast<double>(o.exit_at - i * kMilli);
  }
  CHECK(reordered);
  CHECK(sum / n == doctest::Approx(100.0 * kMilli).epsilon(0.01));
}

namespace {
// Offers `n` packets of `bytes` at `now` (a burst) and notes each delivered one at its exit,
// in exit order, `late(i)` after it was due: what the daemon does on a real clock.
template <typename Late>
void burst_and_exit(Link& link, int n, std::uint32_t bytes, Late late) {
  std::vector<Offer> out;
  for (int i = 0; i < n; ++i) {
    const Offer o = link.offer(0, bytes);
    if (o.verdict == Verdict::Deliver) out.push_back(o);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Offer& a, const Offer& b) { return a.exit_at < b.exit_at; });
  for (std::size_t i = 0; i < out.size(); ++i) {
    link.note_exit(out[i].exit_at + late(i), out[i].exit_at, out[i].serialised_at, bytes,
                   out[i].backlogged);
  }
}
double observed_bps(const Link& link) {
  return static_cast<double>(link.counters().rate_bytes) * 8e9 /
         static_cast<double>(link.counters().rate_time);
}
}  // namespace

TEST_CASE("observed rate counts only back-to-back packets") {
  Link link(rate_only(1'000'000), 1);  // 1000 B = 8 ms
  for (int i = 0; i < 3; ++i) {
    const Offer o = link.offer(0, 1000);
    link.note_exit(o.exit_at, o.exit_at, o.serialised_at, 1000, o.backlogged);
  }
  const Offer idle = link.offer(500 * kMilli, 1000);  // the link drained: not back-to-back
  link.note_exit(idle.exit_at, idle.exit_at, idle.serialised_at, 1000, idle.backlogged);
  CHECK(link.counters().rate_bytes == 2000);
  CHECK(link.counters().rate_time == 16 * kMilli);
}

TEST_CASE("observed rate is the configured rate under jitter without reordering") {
  LinkConfig c = rate_only(1'600'000);  // 1500 B = 7.5 ms, jitter 4x that
  c.delay = 150 * kMilli;
  c.jitter = 30 * kMilli;
  Link link(c, 7);
  burst_and_exit(link, 2000, 1500, [](std::size_t) { return Nanos{0}; });
  CHECK(link.counters().rate_bytes == 1999 * 1500);
  CHECK(observed_bps(link) == doctest::Approx(1'600'000.0).epsilon(0.001));
}

TEST_CASE("observed rate is the configured rate under jitter with reordering") {
  LinkConfig c = rate_only(1'600'000);
  c.delay = 150 * kMilli;
  c.jitter = 30 * kMilli;
  c.allow_reorder = true;
  Link link(c, 7);
  burst_and_exit(link, 2000, 1500, [](std::size_t) { return Nanos{0}; });
  // Only packets that leave right after their predecessor on the wire count; those are enough.
  CHECK(link.counters().rate_bytes > 0);
  CHECK(observed_bps(link) == doctest::Approx(1'600'000.0).epsilon(0.001));
}

TEST_CASE("observed rate skips a packet whose predecessor on the wire was lost") {
  LinkConfig c = rate_only(1'600'000);
  c.delay = 150 * kMilli;
  c.loss = 0.2;
  Link link(c, 11);
  burst_and_exit(link, 2000, 1500, [](std::size_t) { return Nanos{0}; });
  // Counting the gap across a lost packet would read 20 % slow (airtime without bytes).
  CHECK(observed_bps(link) == doctest::Approx(1'600'000.0).epsilon(0.001));
}

TEST_CASE("observed rate shows the daemon's growing lateness") {
  Link link(rate_only(1'000'000), 1);  // 1000 B = 8 ms
  // Each exit 2 ms later than the one before: 10 ms per 8 ms of airtime, 0.8 Mbit/s seen.
  burst_and_exit(link, 100, 1000, [](std::size_t i) { return static_cast<Nanos>(i) * 2 * kMilli; });
  CHECK(observed_bps(link) == doctest::Approx(800'000.0).epsilon(0.001));
}
