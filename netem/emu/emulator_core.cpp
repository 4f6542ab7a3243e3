#include "emulator_core.hpp"

#include <arpa/inet.h>

#include <limits>
#include <utility>

namespace ghala::netem {

const char* zone_name(Zone z) {
  switch (z) {
    case Zone::Users:
      return "users";
    case Zone::Edge:
      return "edge";
    case Zone::Origin:
      return "origin";
  }
  return "?";
}

const char* link_class_name(LinkClass c) {
  switch (c) {
    case LinkClass::AccessUp:
      return "access_up";
    case LinkClass::AccessDown:
      return "access_down";
    case LinkClass::CellUp:
      return "cell_up";
    case LinkClass::CellDown:
      return "cell_down";
    case LinkClass::BackhaulUp:
      return "backhaul_up";
    case LinkClass::BackhaulDown:
      return "backhaul_down";
  }
  return "?";
}

Direction direction_of(Zone from, Zone to) {
  return to == Zone::Users || from == Zone::Origin ? Direction::Down : Direction::Up;
}

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::optional<Prefix> parse_prefix(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const auto addr = parse_ipv4(text.substr(0, slash));
  int bits = -1;
  try {
    bits = std::stoi(text.substr(slash + 1));
  } catch (...) {
    return std::nullopt;
  }
  if (!addr || bits < 0 || bits > 32) return std::nullopt;
  const std::uint32_t mask = bits == 0 ? 0U : ~std::uint32_t{0} << (32 - bits);
  return Prefix{*addr & mask, mask};
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> ipv4_addresses(
    const std::vector<std::uint8_t>& p) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
  auto be32 = [&](std::size_t i) {
    return std::uint32_t{p[i]} << 24 | std::uint32_t{p[i + 1]} << 16 |
           std::uint32_t{p[i + 2]} << 8 | std::uint32_t{p[i + 3]};
  };
  return std::make_pair(be32(12), be32(16));
}

EmulatorCore::EmulatorCore(CoreConfig config, Nanos start, Output output)
    : config_(std::move(config)), start_(start), output_(std::move(output)) {
  for (std::size_t c = 0; c < kLinkClasses; ++c) {
    const auto cls = static_cast<LinkClass>(c);
    if (cls == LinkClass::AccessUp || cls == LinkClass::AccessDown) continue;
    if (config_.links[c]) shared_[c] = std::make_unique<Link>(*config_.links[c], config_.seed + c);
  }
}

std::optional<Zone> EmulatorCore::zone_of(std::uint32_t addr) const {
  for (std::size_t z = 0; z < kZones; ++z) {
    if (config_.zones[z] && config_.zones[z]->contains(addr)) return static_cast<Zone>(z);
  }
  return std::nullopt;
}

Link* EmulatorCore::access(std::uint32_t user, bool up) {
  const auto& up_cfg = config_.links[static_cast<std::size_t>(LinkClass::AccessUp)];
  const auto& down_cfg = config_.links[static_cast<std::size_t>(LinkClass::AccessDown)];
  if (!up_cfg || !down_cfg) return nullptr;
  auto it = access_.find(user);
  if (it == access_.end()) {
    // Each user's links get their own random stream, so one user's losses do not shift another's.
    const std::uint64_t seed = config_.seed * 0x9E3779B97F4A7C15ULL ^ user;
    it = access_
             .emplace(user, std::make_unique<AccessPair>(
                                AccessPair{Link(*up_cfg, seed), Link(*down_cfg, seed + 1)}))
             .first;
  }
  return up ? &it->second->up : &it->second->down;
}

Link* EmulatorCore::shared(LinkClass c) {
  return shared_[static_cast<std::size_t>(c)].get();
}

bool EmulatorCore::in_outage(Nanos now) const {
  const Nanos t = now - start_;
  for (const auto& o : config_.backhaul_outages) {
    if (t >= o.start && t < o.end) return true;
  }
  return false;
}

void EmulatorCore::cut_backhaul(Nanos now) {
  config_.backhaul_outages.push_back({now - start_, std::numeric_limits<Nanos>::max()});
}

std::uint32_t EmulatorCore::alloc_slot() {
  if (!free_slots_.empty()) {
    const auto s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

void EmulatorCore::inject(Nanos now, Zone from, std::vector<std::uint8_t>&& packet) {
  counters_.packets_in++;
  const auto addrs = ipv4_addresses(packet);
  const auto to = addrs ? zone_of(addrs->second) : std::nullopt;
  if (!to || *to == from) {
    counters_.unroutable++;
    return;
  }
  const std::uint32_t slot = alloc_slot();
  InTransit& t = slots_[slot];
  t.data = std::move(packet);
  t.to = *to;
  t.hop_count = 0;
  auto add = [&t](Link* l) {
    if (l) t.hops[t.hop_count++] = l;
  };
  const bool towards_users = *to == Zone::Users;
  const bool crosses_backhaul = from == Zone::Origin || *to == Zone::Origin;
  const bool crosses_access = from == Zone::Users || towards_users;
  if (towards_users) {
    if (crosses_backhaul) add(shared(LinkClass::BackhaulDown));
    add(shared(LinkClass::CellDown));
    add(access(addrs->second, false));
  } else {
    if (crosses_access) {
      add(access(addrs->first, true));
      add(shared(LinkClass::CellUp));
    }
    if (crosses_backhaul) {
      add(shared(from == Zone::Origin ? LinkClass::BackhaulDown : LinkClass::BackhaulUp));
    }
  }
  enter(now, now, slot, 0);
}

void EmulatorCore::enter(Nanos now, Nanos due, std::uint32_t slot, std::uint8_t hop) {
  InTransit& t = slots_[slot];
  if (hop == t.hop_count) {
    counters_.delivered++;
    output_(t.to, std::move(t.data), due);
    t.data = {};
    free_slots_.push_back(slot);
    return;
  }
  Link* link = t.hops[hop];
  const bool backhaul =
      link == shared(LinkClass::BackhaulUp) || link == shared(LinkClass::BackhaulDown);
  if (backhaul && in_outage(now)) {
    counters_.drop_outage++;
    free_slots_.push_back(slot);
    return;
  }
  const Offer o = link->offer(now, static_cast<std::uint32_t>(t.data.size()));
  if (o.verdict != Verdict::Deliver) {
    free_slots_.push_back(slot);
    return;
  }
  events_.push({o.exit_at, o.serialised_at, seq_++, slot, hop, o.backlogged});
}

std::optional<Nanos> EmulatorCore::next_event() const {
  if (events_.empty()) return std::nullopt;
  return events_.top().due;
}

void EmulatorCore::run_until(Nanos now) {
  while (!events_.empty() && events_.top().due <= now) {
    const Event e = events_.top();
    events_.pop();
    lag_.add(now - e.due);
    InTransit& t = slots_[e.slot];
    t.hops[e.hop]->note_exit(now, e.due, e.serialised_at, static_cast<std::uint32_t>(t.data.size()),
                             e.backlogged);
    enter(now, e.due, e.slot, static_cast<std::uint8_t>(e.hop + 1));
  }
}

LinkCounters EmulatorCore::class_counters(LinkClass c) const {
  LinkCounters sum;
  if (c == LinkClass::AccessUp || c == LinkClass::AccessDown) {
    for (const auto& [addr, pair] : access_) {
      sum += c == LinkClass::AccessUp ? pair->up.counters() : pair->down.counters();
    }
  } else if (const auto& l = shared_[static_cast<std::size_t>(c)]) {
    sum += l->counters();
  }
  return sum;
}

}  // namespace ghala::netem
