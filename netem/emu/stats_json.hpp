#pragma once

#include <array>
#include <string>

#include "config.hpp"
#include "emulator_core.hpp"

namespace ghala::netem {

// What the stats file reports, summed over the daemon's cores (one per direction).
struct StatsSnapshot {
  CoreCounters core;
  std::array<LinkCounters, kLinkClasses> links{};
  LagHistogram event_lag;  // every hop: processing time - due (at the start of a batch)
  LagHistogram write_lag;  // every delivered packet: the moment its TUN write starts - due
  std::size_t users = 0;
  std::size_t pending = 0;
  // Adds one core's counters (each link class lives in exactly one core).
  void add(const EmulatorCore& c);
};

struct DaemonCounters {
  std::uint64_t tun_read_errors = 0;
  std::uint64_t tun_write_errors = 0;  // the kernel refused a packet: counted as TUN overrun
  std::uint64_t tun_short_writes = 0;
  std::uint64_t spins = 0;
  std::uint64_t wakeups = 0;
  std::uint64_t handoffs = 0;  // edge -> origin packets read by the down thread, run by the up one
  int threads = 0;
  double cpu_user_s = 0;
  double cpu_sys_s = 0;
  double uptime_s = 0;
  bool realtime = false;
};

// The emulator's report: configured versus observed per link class, drops by cause, scheduling
// lag percentiles and the emulator's own CPU time.
std::string stats_json(const DaemonConfig& cfg, const StatsSnapshot& s, const DaemonCounters& d);

}  // namespace ghala::netem
