#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "histogram.hpp"
#include "link.hpp"
#include "time.hpp"

namespace ghala::netem {

// Where an address lives. Each zone is one TUN device in one network namespace.
enum class Zone : std::uint8_t { Users = 0, Edge = 1, Origin = 2 };
constexpr std::size_t kZones = 3;
const char* zone_name(Zone z);

struct Prefix {
  std::uint32_t network = 0;  // host byte order
  std::uint32_t mask = 0;
  bool contains(std::uint32_t addr) const { return (addr & mask) == network; }
};

// The kinds of link a packet can cross. Access links are per user (keyed by the user's address),
// the cell and backhaul links are shared.
enum class LinkClass : std::uint8_t {
  AccessUp,
  AccessDown,
  CellUp,
  CellDown,
  BackhaulUp,
  BackhaulDown
};
constexpr std::size_t kLinkClasses = 6;
const char* link_class_name(LinkClass c);

// The two halves of the emulated network. Up: away from the users (users -> edge, users ->
// origin, edge -> origin); down: the reverse. They share no link (access_up, cell_up and
// backhaul_up against access_down, cell_down and backhaul_down), so the daemon runs one
// EmulatorCore per direction, each in its own thread.
enum class Direction : std::uint8_t { Up = 0, Down = 1 };
constexpr std::size_t kDirections = 2;
Direction direction_of(Zone from, Zone to);

struct Outage {
  Nanos start = 0;  // relative to the core's start time
  Nanos end = 0;
};

struct CoreConfig {
  std::array<std::optional<Prefix>, kZones> zones;
  std::array<std::optional<LinkConfig>, kLinkClasses> links;  // absent = not on the path
  std::vector<Outage> backhaul_outages;
  std::uint64_t seed = 1;
};

struct CoreCounters {
  std::uint64_t packets_in = 0;
  std::uint64_t unroutable = 0;  // not IPv4, or no zone for the address
  std::uint64_t drop_outage = 0;
  std::uint64_t delivered = 0;
};

// The emulator without file descriptors: packets come in with `inject`, the caller asks for the
// time of the next event and calls `run_until(now)`, which crosses packets from link to link and
// hands finished ones to the output callback. A packet's path is fixed by (source zone,
// destination zone):
//   users -> edge:    access_up[src], cell_up
//   users -> origin:  access_up[src], cell_up, backhaul_up
//   edge  -> origin:  backhaul_up                (and the reverse paths in reverse order)
// Every hop is one event, so a packet enters the next link at the time it leaves the previous
// one, and shared links see packets in the order they really arrive.
class EmulatorCore {
 public:
  // `due` is when the packet should leave the last link: the daemon measures its write lag
  // against it.
  using Output = std::function<void(Zone to, std::vector<std::uint8_t>&& packet, Nanos due)>;

  EmulatorCore(CoreConfig config, Nanos start, Output output);

  void inject(Nanos now, Zone from, std::vector<std::uint8_t>&& packet);
  // Time of the earliest pending event, if any.
  std::optional<Nanos> next_event() const;
  // Processes every event due at or before `now`; `now` is also the actual exit time recorded
  // for the observed rate and the scheduling lag (now - due).
  void run_until(Nanos now);

  // Cuts the backhaul from `now` on (both directions of this core): every packet that then
  // meets a backhaul link is dropped as an outage, as if the PoP lost its uplink. The harness's
  // origin-down scenario uses it (SIGUSR1 to the daemon).
  void cut_backhaul(Nanos now);

  const CoreCounters& counters() const { return counters_; }
  const LagHistogram& lag() const { return lag_; }
  // Sum of the counters of every link of a class (all users' access links together).
  LinkCounters class_counters(LinkClass c) const;
  std::size_t users() const { return access_.size(); }
  std::size_t pending() const { return events_.size(); }
  const CoreConfig& config() const { return config_; }
  std::optional<Zone> zone_of(std::uint32_t addr) const;

 private:
  struct AccessPair {
    Link up;
    Link down;
  };
  struct InTransit {
    std::vector<std::uint8_t> data;
    std::array<Link*, 3> hops{};
    std::uint8_t hop_count = 0;
    Zone to = Zone::Users;
  };
  struct Event {
    Nanos due;
    Nanos serialised_at;  // on the hop's link, for its observed rate
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint8_t hop;
    bool backlogged;
    bool operator>(const Event& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };

  Link* access(std::uint32_t user, bool up);
  Link* shared(LinkClass c);
  bool in_outage(Nanos now) const;
  // Offers the packet in `slot` to hop `hop`; schedules its exit or frees the slot.
  void enter(Nanos now, Nanos due, std::uint32_t slot, std::uint8_t hop);
  std::uint32_t alloc_slot();

  CoreConfig config_;
  Nanos start_;
  Output output_;
  std::unordered_map<std::uint32_t, std::unique_ptr<AccessPair>> access_;
  std::array<std::unique_ptr<Link>, kLinkClasses> shared_;
  std::vector<InTransit> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t seq_ = 0;
  CoreCounters counters_;
  LagHistogram lag_;
};

// IPv4 source and destination of a raw packet (host byte order), if it is IPv4.
std::optional<std::pair<std::uint32_t, std::uint32_t>> ipv4_addresses(
    const std::vector<std::uint8_t>& packet);
std::optional<Prefix> parse_prefix(const std::string& text);
std::optional<std::uint32_t> parse_ipv4(const std::string& text);

}  // namespace ghala::netem
