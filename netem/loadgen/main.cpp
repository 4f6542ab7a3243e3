// ghala-netem-loadgen: virtual users loading pages like a browser, over HTTP/1.1 with libuv and
// llhttp, each from its own source address. See virtual_user.hpp for a user's behaviour and
// options.cpp for the command line. Writes one JSON result (report.hpp).
#include <arpa/inet.h>
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "options.hpp"
#include "report.hpp"
#include "virtual_user.hpp"

namespace {

// Every user needs up to max_conns sockets: lift the descriptor limit to the hard maximum.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// The generator's own event-loop lag: a 10 ms repeating timer records how much later than 10 ms
// after the previous tick each tick runs. A saturated generator delays every connect, read and
// request by as much, so the report marks such a run invalid: it measured the host, not the link.
struct LoopLag {
  static constexpr std::uint64_t kTickMs = 10;
  uv_timer_t timer{};
  std::uint64_t last_ns = 0;
  std::vector<double> samples_ms;
  static void on_tick(uv_timer_t* t) {
    auto* l = static_cast<LoopLag*>(t->data);
    const std::uint64_t now = uv_hrtime();
    if (l->last_ns != 0) {
      const double gap_ms = static_cast<double>(now - l->last_ns) / 1e6;
      l->samples_ms.push_back(std::max(0.0, gap_ms - static_cast<double>(kTickMs)));
    }
    l->last_ns = now;
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace ghala::netem;
  std::string error;
  const auto opts = parse_options(argc, argv, error);
  if (!opts) {
    std::fprintf(stderr, "ghala-netem-loadgen: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  raise_fd_limit();
  uv_loop_t loop;
  uv_loop_init(&loop);
  RunContext ctx;
  ctx.loop = &loop;
  ctx.options = &*opts;
  ctx.rng.seed(opts->seed);
  if (uv_ip4_addr(opts->target_ip.c_str(), opts->target_port, &ctx.target) != 0) {
    std::fprintf(stderr, "ghala-netem-loadgen: bad target address %s\n", opts->target_ip.c_str());
    return 2;
  }
  std::uint32_t base = 0;
  if (!opts->source_base.empty()) {
    in_addr a{};
    if (inet_pton(AF_INET, opts->source_base.c_str(), &a) != 1) {
      std::fprintf(stderr, "ghala-netem-loadgen: bad --source-base\n");
      return 2;
    }
    base = ntohl(a.s_addr);
  }
  ctx.start_ns = uv_hrtime();
  std::vector<std::unique_ptr<VirtualUser>> users;
  for (int i = 0; i < opts->users; ++i) {
    std::optional<sockaddr_in> src;
    if (base != 0) {
      sockaddr_in s{};
      s.sin_family = AF_INET;
      s.sin_addr.s_addr = htonl(base + static_cast<std::uint32_t>(i));
      src = s;
    }
    users.push_back(std::make_unique<VirtualUser>(ctx, i, src));
  }
  // Stop: no new pages after the duration; after the grace period abort what is still loading.
  uv_timer_t duration{}, grace{};
  uv_timer_init(&loop, &duration);
  uv_timer_init(&loop, &grace);
  duration.data = &ctx;
  grace.data = &users;
  LoopLag lag;
  uv_timer_init(&loop, &lag.timer);
  lag.timer.data = &lag;
  uv_timer_start(&lag.timer, LoopLag::on_tick, LoopLag::kTickMs, LoopLag::kTickMs);
  auto stop_timers = [&]() {
    uv_close(reinterpret_cast<uv_handle_t*>(&lag.timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&duration), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&grace), nullptr);
    for (auto& u : users) u->close_handles();
  };
  ctx.on_all_finished = stop_timers;
  uv_timer_start(
      &duration, [](uv_timer_t* t) { static_cast<RunContext*>(t->data)->no_new_pages = true; },
      static_cast<std::uint64_t>(opts->duration_s * 1000), 0);
  uv_timer_start(
      &grace,
      [](uv_timer_t* t) {
        auto* us = static_cast<std::vector<std::unique_ptr<VirtualUser>>*>(t->data);
        for (auto& u : *us) u->abort_run();
      },
      static_cast<std::uint64_t>((opts->duration_s + opts->grace_s) * 1000), 0);
  for (int i = 0; i < opts->users; ++i) {
    users[static_cast<std::size_t>(i)]->start(opts->ramp_s * i / opts->users);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  const double elapsed = static_cast<double>(uv_hrtime() - ctx.start_ns) / 1e9;
  if (uv_loop_close(&loop) != 0) std::fprintf(stderr, "ghala-netem-loadgen: loop not empty\n");
  if (!write_report(*opts, ctx.done, elapsed, cpu_seconds(), lag.samples_ms, error)) {
    std::fprintf(stderr, "ghala-netem-loadgen: %s\n", error.c_str());
    return 1;
  }
  int failed = 0;
  for (const auto& p : ctx.done) failed += !p.ok;
  std::fprintf(stderr, "ghala-netem-loadgen: %zu pages, %d not ok, %.1f s\n", ctx.done.size(),
               failed, elapsed);
  return 0;
}
