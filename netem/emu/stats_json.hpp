#pragma once

#include <string>

#include "config.hpp"
#include "emulator_core.hpp"

namespace ghala::netem {

struct DaemonCounters {
  std::uint64_t tun_read_errors = 0;
  std::uint64_t tun_write_errors = 0;  // the kernel refused a packet: counted as TUN overrun
  std::uint64_t tun_short_writes = 0;
  std::uint64_t spins = 0;
  std::uint64_t wakeups = 0;
  double cpu_user_s = 0;
  double cpu_sys_s = 0;
  double uptime_s = 0;
  bool realtime = false;
};

// The emulator's report: configured versus observed per link class, drops by cause, scheduling
// lag percentiles and the emulator's own CPU time.
std::string stats_json(const DaemonConfig& cfg, const EmulatorCore& core, const DaemonCounters& d);

}  // namespace ghala::netem
