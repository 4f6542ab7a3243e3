#pragma once

#include <chrono>
#include <cstdint>

namespace ghala::netem {

// All model times are nanoseconds on one monotonic time line. The model never reads a clock
// itself: the caller passes `now`, so unit tests drive it with a virtual clock.
using Nanos = std::int64_t;

constexpr Nanos kMicro = 1'000;
constexpr Nanos kMilli = 1'000'000;
constexpr Nanos kSecond = 1'000'000'000;

// The source of `now` for the emulator loop. Tests use VirtualClock; the daemon MonotonicClock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
};

class MonotonicClock final : public Clock {
 public:
  Nanos now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Nanos start = 0) : now_(start) {}
  Nanos now() const override { return now_; }
  void set(Nanos t) { now_ = t; }
  void advance(Nanos d) { now_ += d; }

 private:
  Nanos now_;
};

}  // namespace ghala::netem
