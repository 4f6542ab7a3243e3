#pragma once

#include <optional>
#include <string>
#include <vector>

#include "emulator_core.hpp"

namespace ghala::netem {

struct TunSpec {
  Zone zone = Zone::Users;
  std::string netns_path;  // e.g. /run/netns/NAME; empty = the emulator's own namespace
  std::string device;
};

struct DaemonConfig {
  CoreConfig core;
  std::vector<TunSpec> tuns;
  std::string stats_path;
  std::string ready_path;
  double lag_bound_ms = 2.0;  // p99 scheduling lag above this marks the run invalid
};

// Parses the line-oriented file the harness writes (netem/README.md, "emulator config"):
//   tun ZONE NETNS_PATH DEVICE | zone ZONE CIDR | link CLASS key=value... |
//   outage START_MS END_MS | seed N | stats PATH | ready PATH | lag_bound_ms X
// Returns the config, or an error message naming the line.
struct ParseResult {
  std::optional<DaemonConfig> config;
  std::string error;
};
ParseResult parse_daemon_config(const std::string& text);

// Parses "delay_us=150000 rate_bps=768000 ..." into a LinkConfig.
std::optional<LinkConfig> parse_link(const std::vector<std::string>& kv, std::string& error);

}  // namespace ghala::netem
