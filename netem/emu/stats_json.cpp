#include "stats_json.hpp"

#include <algorithm>
#include <ostream>
#include <sstream>

namespace ghala::netem {

void StatsSnapshot::add(const EmulatorCore& c) {
  const auto& k = c.counters();
  core.packets_in += k.packets_in;
  core.unroutable += k.unroutable;
  core.drop_outage += k.drop_outage;
  core.delivered += k.delivered;
  for (std::size_t i = 0; i < kLinkClasses; ++i) {
    links[i] += c.class_counters(static_cast<LinkClass>(i));
  }
  event_lag.merge(c.lag());
  users = std::max(users, c.users());
  pending += c.pending();
}

namespace {

void lag_json(std::ostream& o, const LagHistogram& lag, double bound_ms) {
  auto us = [](Nanos n) { return static_cast<double>(n) / 1e3; };
  const Nanos bound = static_cast<Nanos>(bound_ms * 1e6);
  o << "{\"count\": " << lag.count() << ", \"p50\": " << us(lag.quantile(0.5))
    << ", \"p90\": " << us(lag.quantile(0.9)) << ", \"p99\": " << us(lag.quantile(0.99))
    << ", \"p999\": " << us(lag.quantile(0.999)) << ", \"max\": " << us(lag.max())
    << ", \"bound_ms\": " << bound_ms << ", \"over_bound\": " << lag.count_above(bound) << "}";
}

}  // namespace

std::string stats_json(const DaemonConfig& cfg, const StatsSnapshot& s, const DaemonCounters& d) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(3);
  const auto& c = s.core;
  std::uint64_t drop_queue = 0, drop_loss = 0;
  o << "{\n  \"emulator\": \"userspace\",\n";
  o << "  \"uptime_s\": " << d.uptime_s << ",\n";
  o << "  \"cpu_user_s\": " << d.cpu_user_s << ",\n  \"cpu_sys_s\": " << d.cpu_sys_s << ",\n";
  o << "  \"realtime_priority\": " << (d.realtime ? "true" : "false") << ",\n";
  o << "  \"users_seen\": " << s.users << ",\n";
  o << "  \"packets_in\": " << c.packets_in << ",\n  \"delivered\": " << c.delivered << ",\n";
  o << "  \"unroutable\": " << c.unroutable << ",\n  \"pending\": " << s.pending << ",\n";
  o << "  \"wakeups\": " << d.wakeups << ",\n  \"spins\": " << d.spins << ",\n";
  o << "  \"threads\": " << d.threads << ",\n  \"handoffs\": " << d.handoffs << ",\n";
  o << "  \"links\": {";
  bool first = true;
  for (std::size_t i = 0; i < kLinkClasses; ++i) {
    const auto& lc = cfg.core.links[i];
    if (!lc) continue;
    const auto& k = s.links[i];
    drop_queue += k.drop_queue;
    drop_loss += k.drop_loss;
    const double observed_bps =
        k.rate_time > 0 ? static_cast<double>(k.rate_bytes) * 8e9 / static_cast<double>(k.rate_time)
                        : 0.0;
    o << (first ? "\n" : ",\n") << "    \"" << link_class_name(static_cast<LinkClass>(i))
      << "\": {\"configured\": {\"delay_ms\": " << static_cast<double>(lc->delay) / 1e6
      << ", \"jitter_ms\": " << static_cast<double>(lc->jitter) / 1e6
      << ", \"rate_bps\": " << lc->rate_bps << ", \"queue_packets\": " << lc->queue_packets
      << ", \"queue_bytes\": " << lc->queue_bytes << ", \"loss\": " << lc->loss
      << ", \"ge_p\": " << lc->burst.p << "}, \"packets_in\": " << k.packets_in
      << ", \"bytes_in\": " << k.bytes_in << ", \"packets_out\": " << k.packets_out
      << ", \"bytes_out\": " << k.bytes_out << ", \"drop_queue\": " << k.drop_queue
      << ", \"drop_loss\": " << k.drop_loss << ", \"max_queue_packets\": " << k.max_queue_packets
      << ", \"observed_rate_bps\": " << observed_bps
      << ", \"observed_rate_bytes\": " << k.rate_bytes << "}";
    first = false;
  }
  o << "\n  },\n";
  o << "  \"drops\": {\"queue\": " << drop_queue << ", \"loss\": " << drop_loss
    << ", \"outage\": " << c.drop_outage << ", \"tun_write\": " << d.tun_write_errors
    << ", \"tun_read_errors\": " << d.tun_read_errors << "},\n";
  o << "  \"lag_us\": ";
  lag_json(o, s.event_lag, cfg.lag_bound_ms);
  o << ",\n  \"write_lag_us\": ";
  lag_json(o, s.write_lag, cfg.lag_bound_ms);
  o << "\n}\n";
  return o.str();
}

}  // namespace ghala::netem
