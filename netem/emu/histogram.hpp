#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "time.hpp"

namespace ghala::netem {

// Latency histogram with 1 µs buckets up to 10 ms and 1 ms buckets up to 10 s, so percentiles of
// millions of samples cost a fixed 20k counters.
class LagHistogram {
 public:
  void add(Nanos lag) {
    if (lag < 0) lag = 0;
    const std::int64_t us = lag / kMicro;
    std::size_t i;
    if (us < kFine) {
      i = static_cast<std::size_t>(us);
    } else {
      const std::int64_t ms = us / 1000;
      i = static_cast<std::size_t>(kFine + std::min<std::int64_t>(ms - 10, kCoarse - 1));
    }
    buckets_[i]++;
    count_++;
    if (lag > max_) max_ = lag;
  }
  void merge(const LagHistogram& o) {
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const { return count_; }
  Nanos max() const { return max_; }
  // Upper edge of the bucket holding quantile q (0..1), in nanoseconds.
  Nanos quantile(double q) const {
    if (count_ == 0) return 0;
    const auto target = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= target) {
        if (i < kFine) return static_cast<Nanos>(i + 1) * kMicro;
        return static_cast<Nanos>(i - kFine + 11) * kMilli;
      }
    }
    return max_;
  }
  std::uint64_t count_above(Nanos bound) const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      const Nanos lower =
          i < kFine ? static_cast<Nanos>(i) * kMicro : static_cast<Nanos>(i - kFine + 10) * kMilli;
      if (lower >= bound) n += buckets_[i];
    }
    return n;
  }

 private:
  static constexpr std::int64_t kFine = 10'000;
  static constexpr std::int64_t kCoarse = 9'990;
  std::array<std::uint64_t, kFine + kCoarse> buckets_{};
  std::uint64_t count_ = 0;
  Nanos max_ = 0;
};

}  // namespace ghala::netem
