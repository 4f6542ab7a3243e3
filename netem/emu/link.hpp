#pragma once

#include <cstdint>
#include <deque>
#include <random>

#include "time.hpp"

namespace ghala::netem {

// Gilbert-Elliott two-state burst loss. Per packet: decide loss in the current state, then move.
// p: P(good -> bad), r: P(bad -> good), loss_good = 1-k, loss_bad = 1-h in the usual notation.
struct GilbertElliott {
  double p = 0.0;
  double r = 1.0;
  double loss_good = 0.0;
  double loss_bad = 1.0;
  bool enabled() const { return p > 0.0; }
};

// One direction of one emulated link.
struct LinkConfig {
  Nanos delay = 0;                  // one-way propagation delay
  Nanos jitter = 0;                 // standard deviation of a normal delay variation
  bool allow_reorder = false;       // if false, jitter never lets a packet overtake an earlier one
  std::uint64_t rate_bps = 0;       // serialisation rate; 0 = unlimited
  std::uint64_t queue_bytes = 0;    // droptail limit on bytes waiting or being serialised; 0 = none
  std::uint32_t queue_packets = 0;  // same in packets; 0 = none
  double loss = 0.0;                // Bernoulli loss probability
  GilbertElliott burst;             // optional burst loss, applied in addition to `loss`
};

enum class Verdict : std::uint8_t { Deliver, DropQueue, DropLoss };

struct Offer {
  Verdict verdict = Verdict::Deliver;
  Nanos exit_at = 0;        // when the packet leaves the far end (valid if Deliver)
  Nanos serialised_at = 0;  // when its last bit is on the wire (valid if Deliver)
  bool backlogged = false;  // it waited behind another packet: its exit measures the rate
};

struct LinkCounters {
  std::uint64_t packets_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t drop_queue = 0;
  std::uint64_t drop_loss = 0;
  // Observed rate: bytes of back-to-back packets over the real time between the ends of their
  // serialisations (see Link::note_exit).
  std::uint64_t rate_bytes = 0;
  Nanos rate_time = 0;
  std::uint32_t max_queue_packets = 0;

  // Sums the counts of several links (the maximum queue is the largest of them).
  LinkCounters& operator+=(const LinkCounters& x) {
    packets_in += x.packets_in;
    bytes_in += x.bytes_in;
    packets_out += x.packets_out;
    bytes_out += x.bytes_out;
    drop_queue += x.drop_queue;
    drop_loss += x.drop_loss;
    rate_bytes += x.rate_bytes;
    rate_time += x.rate_time;
    max_queue_packets =
        max_queue_packets > x.max_queue_packets ? max_queue_packets : x.max_queue_packets;
    return *this;
  }
};

// The link model, in the order a packet meets it (the same order as mahimahi's and netem's
// "queue then delay" pipelines):
//   1. droptail: if the bytes/packets still waiting for or in serialisation exceed the limit,
//      the packet is dropped (cause: queue);
//   2. serialisation: it starts when the link is free and takes bytes*8/rate;
//   3. loss: Bernoulli and Gilbert-Elliott losses happen on the wire, after serialisation, so a
//      lost packet still used its airtime (as a radio frame lost to interference does);
//   4. propagation: the fixed one-way delay plus jitter. Without allow_reorder, a packet never
//      leaves before the one offered before it (jitter stretches, it does not reorder).
class Link {
 public:
  Link(const LinkConfig& config, std::uint64_t seed);

  Offer offer(Nanos now, std::uint32_t bytes);
  // Called when a delivered packet actually leaves (`actual`, real time in the daemon; `due` and
  // `serialised_at` are its Offer's exit_at and serialised_at), for the observed rate.
  //
  // The rate is measured where the model applies it, at the end of serialisation, shifted by the
  // packet's real lateness: real_end = serialised_at + (actual - due). A packet that waited
  // behind the one noted just before it on this link adds its bytes over the real time since
  // that packet's real_end. Measuring between exits instead mixes the delay variation into the
  // rate: with jitter (no reordering) a late packet holds back the ones behind it and the
  // exits of a burst spread, which showed -64 % on 3g-lossy. A packet whose predecessor on the
  // wire was lost or overtook it is not counted (its gap would hold airtime without bytes).
  void note_exit(Nanos actual, Nanos due, Nanos serialised_at, std::uint32_t bytes,
                 bool backlogged);

  const LinkConfig& config() const { return config_; }
  const LinkCounters& counters() const { return counters_; }
  std::uint32_t queued_packets(Nanos now);
  Nanos serialisation_time(std::uint32_t bytes) const;

 private:
  struct InFlight {
    Nanos serialised_at;
    std::uint32_t bytes;
  };
  void drain(Nanos now);
  bool lose();
  Nanos jitter_sample();

  LinkConfig config_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::normal_distribution<double> normal_{0.0, 1.0};
  std::deque<InFlight> backlog_;
  std::uint64_t backlog_bytes_ = 0;
  Nanos busy_until_ = 0;
  Nanos last_exit_ = 0;
  bool ge_bad_ = false;
  Nanos last_noted_serialised_at_ = -1;  // model time of the last noted packet
  Nanos last_real_end_ = 0;              // its serialisation end shifted by its lateness
  LinkCounters counters_;
};

}  // namespace ghala::netem
