#include "link.hpp"

#include <algorithm>
#include <cmath>

namespace ghala::netem {

Link::Link(const LinkConfig& config, std::uint64_t seed) : config_(config), rng_(seed) {}

Nanos Link::serialisation_time(std::uint32_t bytes) const {
  if (config_.rate_bps == 0) return 0;
  // Rounded up, so that a saturated link never runs faster than configured.
  const std::uint64_t bits = std::uint64_t{bytes} * 8U * kSecond;  // < 2^50 for 64 KiB
  return static_cast<Nanos>((bits + config_.rate_bps - 1) / config_.rate_bps);
}

void Link::drain(Nanos now) {
  while (!backlog_.empty() && backlog_.front().serialised_at <= now) {
    backlog_bytes_ -= backlog_.front().bytes;
    backlog_.pop_front();
  }
}

std::uint32_t Link::queued_packets(Nanos now) {
  drain(now);
  return static_cast<std::uint32_t>(backlog_.size());
}

bool Link::lose() {
  bool lost = config_.loss > 0.0 && uniform_(rng_) < config_.loss;
  const GilbertElliott& ge = config_.burst;
  if (ge.enabled()) {
    const double p_loss = ge_bad_ ? ge.loss_bad : ge.loss_good;
    if (uniform_(rng_) < p_loss) lost = true;
    const double u = uniform_(rng_);
    ge_bad_ = ge_bad_ ? !(u < ge.r) : (u < ge.p);
  }
  return lost;
}

Nanos Link::jitter_sample() {
  if (config_.jitter <= 0) return 0;
  return static_cast<Nanos>(std::llround(normal_(rng_) * static_cast<double>(config_.jitter)));
}

Offer Link::offer(Nanos now, std::uint32_t bytes) {
  counters_.packets_in++;
  counters_.bytes_in += bytes;
  drain(now);
  const bool over_packets = config_.queue_packets != 0 && backlog_.size() >= config_.queue_packets;
  const bool over_bytes = config_.queue_bytes != 0 && backlog_bytes_ + bytes > config_.queue_bytes;
  if (over_packets || over_bytes) {
    counters_.drop_queue++;
    return {Verdict::DropQueue, 0, 0, false};
  }
  const Nanos start = std::max(now, busy_until_);
  const bool backlogged = start > now;
  busy_until_ = start + serialisation_time(bytes);
  backlog_.push_back({busy_until_, bytes});
  backlog_bytes_ += bytes;
  counters_.max_queue_packets =
      std::max(counters_.max_queue_packets, static_cast<std::uint32_t>(backlog_.size()));
  if (lose()) {
    counters_.drop_loss++;
    return {Verdict::DropLoss, 0, 0, false};
  }
  Nanos exit_at = busy_until_ + std::max<Nanos>(0, config_.delay + jitter_sample());
  if (!config_.allow_reorder) exit_at = std::max(exit_at, last_exit_);
  last_exit_ = std::max(last_exit_, exit_at);
  return {Verdict::Deliver, exit_at, busy_until_, backlogged};
}

void Link::note_exit(Nanos actual, Nanos due, Nanos serialised_at, std::uint32_t bytes,
                     bool backlogged) {
  counters_.packets_out++;
  counters_.bytes_out += bytes;
  const Nanos real_end = serialised_at + (actual - due);
  const bool follows_last = last_noted_serialised_at_ >= 0 &&
                            serialised_at - serialisation_time(bytes) == last_noted_serialised_at_;
  if (backlogged && follows_last && real_end >= last_real_end_) {
    counters_.rate_bytes += bytes;
    counters_.rate_time += real_end - last_real_end_;
  }
  last_noted_serialised_at_ = serialised_at;
  last_real_end_ = real_end;
}

}  // namespace ghala::netem
