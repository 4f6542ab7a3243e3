#pragma once
// A one-shot deadline on a libuv timer, re-armed lazily. Connections move their one timeout
// several times per request (a client connection: header read, idle, body read, write stall;
// an upstream connection: first byte, read, keep-alive idle), and each uv_timer_start is a
// timer-heap removal and insertion: on a cache hit that cost more user CPU than anything else.
// So arming only records the deadline; the uv timer is started only when that deadline comes
// before the one it is due at, and when it fires early it is started again for the rest.
// Disarming leaves it running; its firing then does nothing. Timeouts fire when they would
// with a plain timer. Header-only so that core needs no libuv.

#include <uv.h>

#include <algorithm>
#include <cstdint>

namespace ghala {

class LazyTimer {
 public:
  using Callback = void (*)(void* owner);

  // handle()->data is left to the owner (its close callback finds the owner there).
  void init(uv_loop_t* loop, void* owner, Callback on_expired) noexcept {
    uv_timer_init(loop, &timer_);
    timer_.data = owner;
    owner_ = owner;
    on_expired_ = on_expired;
  }
  // Expire timeout_ms after the loop's current time, replacing any deadline armed before.
  void arm(std::uint64_t timeout_ms) noexcept {
    deadline_ms_ = uv_now(timer_.loop) + timeout_ms;
    if (due_ms_ == 0 || due_ms_ > deadline_ms_) start();
  }
  void disarm() noexcept { deadline_ms_ = 0; }
  bool armed() const noexcept { return deadline_ms_ != 0; }
  uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&timer_); }

 private:
  void start() noexcept {
    const std::uint64_t now = uv_now(timer_.loop);
    due_ms_ = std::max(deadline_ms_, now);
    uv_timer_start(&timer_, &LazyTimer::on_uv_timer, due_ms_ - now, 0);
  }
  static void on_uv_timer(uv_timer_t* t) {
    // timer_ is the first member of this standard-layout class.
    auto* self = reinterpret_cast<LazyTimer*>(t);
    self->due_ms_ = 0;
    if (self->deadline_ms_ == 0) return;  // disarmed since it was started
    if (uv_now(t->loop) < self->deadline_ms_) {
      self->start();  // armed for later since it was started
      return;
    }
    self->deadline_ms_ = 0;
    self->on_expired_(self->owner_);
  }

  uv_timer_t timer_{};
  void* owner_ = nullptr;
  Callback on_expired_ = nullptr;
  std::uint64_t deadline_ms_ = 0;  // loop time the armed timeout expires; 0: none armed
  std::uint64_t due_ms_ = 0;       // when the uv timer fires; 0: not running
};

}  // namespace ghala
