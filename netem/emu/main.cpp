// ghala-netem-emu: the userspace link emulator. It opens one TUN device per zone (users, edge,
// origin) inside the harness's network namespaces, reads every IP packet the kernel routes into
// them, runs it through an EmulatorCore and writes it out of the destination zone's TUN device
// when it is due.
//
// Threads: one per direction (Direction::Up, Direction::Down; they share no link), each with its
// own EmulatorCore, epoll set and timer, so the two directions' TUN writes (where the receiving
// kernel's TCP work runs, most of the emulator's CPU) proceed on two cores. The up thread reads
// the users' device, the down thread the origin's and the edge's; the few edge -> origin packets
// the down thread reads are handed to the up thread through a locked inbox and an eventfd. Both
// threads write to the edge device (a TUN write is safe from several threads). The main thread
// only waits for SIGINT/SIGTERM and writes the stats file once a second; SIGUSR1 cuts the
// backhaul from then on (the harness's origin-down scenario).
//
// Timing: CLOCK_MONOTONIC, an absolute timerfd for waits longer than kSpin and a short busy poll
// below that, timer slack 1 ns, SCHED_FIFO. Every hop records its lateness (event lag) and every
// delivered packet the lateness of the start of its TUN write (write lag): the report uses both
// to prove the emulator was not the bottleneck.
//
// Usage: ghala-netem-emu CONFIG_FILE   (format: config.hpp).
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "emulator_core.hpp"
#include "stats_json.hpp"
#include "tun_device.hpp"

namespace ghala::netem {
namespace {

using Packet = std::vector<std::uint8_t>;

constexpr Nanos kSpin = 100 * kMicro;     // below this, poll instead of sleeping on the timer
constexpr int kReadBatch = 64;            // packets per device per wakeup: keeps due events on time
constexpr std::size_t kMaxPacket = 4096;  // MTU 1500 and no vnet header: no packet is larger
constexpr std::size_t kMaxPool = 8192;    // recycled buffers kept per thread

bool write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << text;
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// One direction: its core, its devices to read, its thread.
class Half {
 public:
  Half(Direction dir, const DaemonConfig& cfg, const std::array<Fd, kZones>& tun, Nanos started)
      : dir_(dir), cfg_(cfg), tun_(tun) {
    core_ = std::make_unique<EmulatorCore>(
        with_seed(cfg_.core, dir), started,
        [this](Zone to, Packet&& p, Nanos due) { write_out(to, std::move(p), due); });
  }

  // Which devices this half reads: the users' for up; the origin's and the edge's for down.
  void read_from(Zone z) { reads_.push_back(z); }
  void set_peer(Half* up) { peer_ = up; }
  bool start();
  void stop() {
    stop_.store(true);
    wake();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Adds this half's counters to a snapshot (called by the stats writer, under the half's lock).
  void snapshot(StatsSnapshot& s, DaemonCounters& d) {
    std::lock_guard<std::mutex> lock(mu_);
    s.add(*core_);
    s.write_lag.merge(write_lag_);
    d.tun_read_errors += counters_.tun_read_errors;
    d.tun_write_errors += counters_.tun_write_errors;
    d.tun_short_writes += counters_.tun_short_writes;
    d.spins += counters_.spins;
    d.wakeups += counters_.wakeups;
    d.handoffs += counters_.handoffs;
    d.realtime = d.realtime || counters_.realtime;
  }
  void cut_backhaul() {
    std::lock_guard<std::mutex> lock(mu_);
    core_->cut_backhaul(clock_.now());
  }
  // Takes a packet read by the other thread (edge -> origin, read by the down thread).
  void hand_over(Packet&& p) {
    bool was_empty = false;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      was_empty = inbox_.empty();
      inbox_.push_back(std::move(p));
    }
    if (was_empty) wake();
  }

 private:
  static CoreConfig with_seed(CoreConfig c, Direction dir) {
    c.seed = c.seed * 2 + static_cast<std::uint64_t>(dir);
    return c;
  }
  void wake() {
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  void loop();
  void arm_timer(Nanos at);
  void read_device(Zone zone, Nanos now);
  void take_inbox(Nanos now);
  void write_out(Zone to, Packet&& p, Nanos due);
  Packet buffer() {
    if (pool_.empty()) return Packet();
    Packet p = std::move(pool_.back());
    pool_.pop_back();
    return p;
  }
  void recycle(Packet&& p) {
    if (pool_.size() < kMaxPool) pool_.push_back(std::move(p));
  }

  Direction dir_;
  const DaemonConfig& cfg_;
  const std::array<Fd, kZones>& tun_;
  std::vector<Zone> reads_;
  Half* peer_ = nullptr;
  MonotonicClock clock_;
  Fd epoll_, timer_, wake_;
  Nanos armed_at_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards core_, write_lag_ and counters_ against the stats writer
  std::unique_ptr<EmulatorCore> core_;
  LagHistogram write_lag_;
  DaemonCounters counters_;
  // Packet buffers are recycled: allocating (and zero-filling) one per packet cost more than the
  // emulation itself at 1000 users.
  std::vector<Packet> pool_;
  std::mutex inbox_mu_;
  std::vector<Packet> inbox_, inbox_taken_;
};

constexpr std::uint64_t kTimerTag = 100, kWakeTag = 101;

bool Half::start() {
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  timer_ = Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  wake_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll_ || !timer_ || !wake_) return false;
  auto watch = [this](int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  for (const Zone z : reads_) {
    const auto& fd = tun_[static_cast<std::size_t>(z)];
    if (fd && !watch(fd.get(), static_cast<std::uint64_t>(z))) return false;
  }
  if (!watch(timer_.get(), kTimerTag) || !watch(wake_.get(), kWakeTag)) return false;
  thread_ = std::thread([this] { loop(); });
  return true;
}

void Half::arm_timer(Nanos at) {
  if (at == armed_at_) return;
  itimerspec its{};
  its.it_value.tv_sec = at / kSecond;
  its.it_value.tv_nsec = at % kSecond;
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  (void)timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  armed_at_ = at;
}

void Half::write_out(Zone to, Packet&& p, Nanos due) {
  write_lag_.add(clock_.now() - due);
  const int fd = tun_[static_cast<std::size_t>(to)].get();
  const ssize_t n = fd >= 0 ? ::write(fd, p.data(), p.size()) : -1;
  if (n < 0)
    counters_.tun_write_errors++;
  else if (static_cast<std::size_t>(n) != p.size())
    counters_.tun_short_writes++;
  p.clear();
  recycle(std::move(p));
}

void Half::read_device(Zone zone, Nanos now) {
  const int fd = tun_[static_cast<std::size_t>(zone)].get();
  for (int n = 0; n < kReadBatch; ++n) {
    Packet packet = buffer();
    packet.resize(kMaxPacket);
    const ssize_t got = ::read(fd, packet.data(), packet.size());
    if (got < 0) {
      if (errno != EAGAIN && errno != EINTR) counters_.tun_read_errors++;
      recycle(std::move(packet));
      return;
    }
    packet.resize(static_cast<std::size_t>(got));
    if (zone == Zone::Edge && peer_) {
      const auto addrs = ipv4_addresses(packet);
      const auto to = addrs ? core_->zone_of(addrs->second) : std::nullopt;
      if (to && direction_of(zone, *to) == Direction::Up) {
        counters_.handoffs++;
        peer_->hand_over(std::move(packet));
        continue;
      }
    }
    core_->inject(now, zone, std::move(packet));
  }
}

void Half::take_inbox(Nanos now) {
  std::uint64_t n = 0;
  (void)!::read(wake_.get(), &n, sizeof n);
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_taken_.swap(inbox_);
  }
  for (auto& p : inbox_taken_) core_->inject(now, Zone::Edge, std::move(p));
  inbox_taken_.clear();
}

void Half::loop() {
  // Precise wakeups: the default 50 µs timer slack would add up to 50 µs to every sleep.
  (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  // A low real-time priority keeps the emulator ahead of the load it emulates on a busy machine;
  // it sleeps in epoll_wait whenever nothing is due, so it cannot starve the machine.
  sched_param sp{};
  sp.sched_priority = 10;
  counters_.realtime = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &sp) == 0;
  std::array<epoll_event, 8> events{};
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_.load(std::memory_order_relaxed)) {
    Nanos now = clock_.now();
    core_->run_until(now);
    int timeout = 1000;  // wake at least once a second to notice stop_
    if (const auto next = core_->next_event()) {
      if (*next - now <= kSpin) {
        timeout = 0;
        counters_.spins++;
      } else {
        arm_timer(*next);
      }
    }
    lock.unlock();
    const int n =
        ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout);
    lock.lock();
    if (n < 0 && errno != EINTR) {
      std::perror("ghala-netem-emu: epoll_wait");
      return;
    }
    if (n > 0) counters_.wakeups++;
    now = clock_.now();
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag == kTimerTag) {
        std::uint64_t expirations = 0;
        (void)!::read(timer_.get(), &expirations, sizeof expirations);
        armed_at_ = -1;
      } else if (tag == kWakeTag) {
        take_inbox(now);
      } else {
        read_device(static_cast<Zone>(tag), now);
      }
    }
  }
}

class Daemon {
 public:
  explicit Daemon(DaemonConfig cfg) : cfg_(std::move(cfg)) {}
  int run();

 private:
  bool open_devices();
  void write_stats(Nanos now);

  DaemonConfig cfg_;
  MonotonicClock clock_;
  std::array<Fd, kZones> tun_;
  Nanos started_ = 0;
  std::array<std::unique_ptr<Half>, kDirections> halves_;
};

bool Daemon::open_devices() {
  for (const auto& t : cfg_.tuns) {
    auto r = open_tun(t.netns_path, t.device);
    if (!r.fd) {
      std::fprintf(stderr, "ghala-netem-emu: %s\n", r.error.c_str());
      return false;
    }
    tun_[static_cast<std::size_t>(t.zone)] = std::move(r.fd);
  }
  return true;
}

void Daemon::write_stats(Nanos now) {
  auto snap = std::make_unique<StatsSnapshot>();
  DaemonCounters d;
  for (auto& h : halves_) h->snapshot(*snap, d);
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  d.cpu_user_s = seconds(ru.ru_utime);
  d.cpu_sys_s = seconds(ru.ru_stime);
  d.uptime_s = static_cast<double>(now - started_) / 1e9;
  d.threads = static_cast<int>(kDirections);
  if (!cfg_.stats_path.empty() && !write_file_atomic(cfg_.stats_path, stats_json(cfg_, *snap, d))) {
    std::fprintf(stderr, "ghala-netem-emu: cannot write %s\n", cfg_.stats_path.c_str());
  }
}

int Daemon::run() {
  // Signals are taken by the main thread (sigtimedwait); the halves inherit the blocked mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  if (!open_devices()) return 1;
  started_ = clock_.now();
  auto& up = halves_[static_cast<std::size_t>(Direction::Up)];
  auto& down = halves_[static_cast<std::size_t>(Direction::Down)];
  up = std::make_unique<Half>(Direction::Up, cfg_, tun_, started_);
  down = std::make_unique<Half>(Direction::Down, cfg_, tun_, started_);
  up->read_from(Zone::Users);
  down->read_from(Zone::Origin);
  down->read_from(Zone::Edge);
  down->set_peer(up.get());
  if (!up->start() || !down->start()) {
    std::perror("ghala-netem-emu: starting the direction threads");
    for (auto& h : halves_) h->stop(), h->join();
    return 1;
  }
  int rc = 0;
  if (!cfg_.ready_path.empty() && !write_file_atomic(cfg_.ready_path, "ready\n")) {
    std::fprintf(stderr, "ghala-netem-emu: cannot write %s\n", cfg_.ready_path.c_str());
    rc = 1;
  }
  while (rc == 0) {
    const timespec second{1, 0};
    siginfo_t si{};
    const int sig = ::sigtimedwait(&mask, &si, &second);
    if (sig == SIGUSR1) {
      for (auto& h : halves_) h->cut_backhaul();
      std::fprintf(stderr, "ghala-netem-emu: backhaul cut\n");
      continue;
    }
    if (sig > 0) break;
    write_stats(clock_.now());
  }
  for (auto& h : halves_) h->stop();
  for (auto& h : halves_) h->join();
  write_stats(clock_.now());
  return rc;
}

}  // namespace
}  // namespace ghala::netem

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ghala-netem-emu CONFIG_FILE\n");
    return 2;
  }
  std::ifstream f(argv[1]);
  if (!f) {
    std::fprintf(stderr, "ghala-netem-emu: cannot read %s\n", argv[1]);
    return 2;
  }
  std::stringstream text;
  text << f.rdbuf();
  auto parsed = ghala::netem::parse_daemon_config(text.str());
  if (!parsed.config) {
    std::fprintf(stderr, "ghala-netem-emu: %s: %s\n", argv[1], parsed.error.c_str());
    return 2;
  }
  ghala::netem::Daemon daemon(std::move(*parsed.config));
  return daemon.run();
}
