#include "config.hpp"

#include <charconv>
#include <sstream>

namespace ghala::netem {
namespace {

std::optional<Zone> parse_zone(const std::string& s) {
  if (s == "users") return Zone::Users;
  if (s == "edge") return Zone::Edge;
  if (s == "origin") return Zone::Origin;
  return std::nullopt;
}

std::optional<LinkClass> parse_class(const std::string& s) {
  for (std::size_t c = 0; c < kLinkClasses; ++c) {
    if (s == link_class_name(static_cast<LinkClass>(c))) return static_cast<LinkClass>(c);
  }
  return std::nullopt;
}

template <typename T>
bool parse_number(const std::string& s, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    try {
      std::size_t used = 0;
      out = static_cast<T>(std::stod(s, &used));
      return used == s.size();
    } catch (...) {
      return false;
    }
  } else {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
}

}  // namespace

std::optional<LinkConfig> parse_link(const std::vector<std::string>& kv, std::string& error) {
  LinkConfig l;
  for (const auto& item : kv) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      error = "expected key=value, got '" + item + "'";
      return std::nullopt;
    }
    const std::string k = item.substr(0, eq);
    const std::string v = item.substr(eq + 1);
    bool ok = false;
    std::int64_t i = 0;
    if (k == "delay_us" && (ok = parse_number(v, i)))
      l.delay = i * kMicro;
    else if (k == "jitter_us" && (ok = parse_number(v, i)))
      l.jitter = i * kMicro;
    else if (k == "reorder" && (ok = parse_number(v, i)))
      l.allow_reorder = i != 0;
    else if (k == "rate_bps")
      ok = parse_number(v, l.rate_bps);
    else if (k == "queue_bytes")
      ok = parse_number(v, l.queue_bytes);
    else if (k == "queue_packets")
      ok = parse_number(v, l.queue_packets);
    else if (k == "loss")
      ok = parse_number(v, l.loss);
    else if (k == "ge_p")
      ok = parse_number(v, l.burst.p);
    else if (k == "ge_r")
      ok = parse_number(v, l.burst.r);
    else if (k == "ge_loss_good")
      ok = parse_number(v, l.burst.loss_good);
    else if (k == "ge_loss_bad")
      ok = parse_number(v, l.burst.loss_bad);
    else {
      error = "unknown or invalid link key '" + item + "'";
      return std::nullopt;
    }
    if (!ok) {
      error = "invalid value in '" + item + "'";
      return std::nullopt;
    }
  }
  return l;
}

ParseResult parse_daemon_config(const std::string& text) {
  DaemonConfig cfg;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  auto fail = [&lineno](const std::string& msg) {
    return ParseResult{std::nullopt, "line " + std::to_string(lineno) + ": " + msg};
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (w.empty()) continue;
    const std::string& key = w[0];
    if (key == "tun" && w.size() == 4) {
      const auto z = parse_zone(w[1]);
      if (!z) return fail("unknown zone " + w[1]);
      cfg.tuns.push_back({*z, w[2] == "-" ? "" : w[2], w[3]});
    } else if (key == "zone" && w.size() == 3) {
      const auto z = parse_zone(w[1]);
      const auto p = parse_prefix(w[2]);
      if (!z || !p) return fail("bad zone line");
      cfg.core.zones[static_cast<std::size_t>(*z)] = *p;
    } else if (key == "link" && w.size() >= 2) {
      const auto c = parse_class(w[1]);
      if (!c) return fail("unknown link class " + w[1]);
      std::string err;
      auto l = parse_link({w.begin() + 2, w.end()}, err);
      if (!l) return fail(err);
      cfg.core.links[static_cast<std::size_t>(*c)] = *l;
    } else if (key == "outage" && w.size() == 3) {
      double a = 0, b = 0;
      if (!parse_number(w[1], a) || !parse_number(w[2], b) || b < a) return fail("bad outage");
      cfg.core.backhaul_outages.push_back(
          {static_cast<Nanos>(a * kMilli), static_cast<Nanos>(b * kMilli)});
    } else if (key == "seed" && w.size() == 2) {
      if (!parse_number(w[1], cfg.core.seed)) return fail("bad seed");
    } else if (key == "stats" && w.size() == 2) {
      cfg.stats_path = w[1];
    } else if (key == "ready" && w.size() == 2) {
      cfg.ready_path = w[1];
    } else if (key == "lag_bound_ms" && w.size() == 2) {
      if (!parse_number(w[1], cfg.lag_bound_ms)) return fail("bad lag_bound_ms");
    } else {
      return fail("unknown directive '" + line + "'");
    }
  }
  if (cfg.tuns.empty()) return ParseResult{std::nullopt, "no tun devices configured"};
  return ParseResult{std::move(cfg), {}};
}

}  // namespace ghala::netem
