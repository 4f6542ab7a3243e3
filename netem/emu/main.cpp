// ghala-netem-emu: the userspace link emulator. It opens one TUN device per zone (users, edge,
// origin) inside the harness's network namespaces, reads every IP packet the kernel routes into
// them, runs it through EmulatorCore and writes it out of the destination zone's TUN device when
// it is due. Timing: CLOCK_MONOTONIC, an absolute timerfd for waits longer than kSpin and a short
// busy poll below that, with the process timer slack set to 1 ns. Every event records its own
// lateness (scheduling lag), which the report uses to prove the emulator was not the bottleneck.
//
// Usage: ghala-netem-emu CONFIG_FILE   (format: config.hpp). Stops on SIGINT/SIGTERM and writes
// the stats file once a second and at exit.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "emulator_core.hpp"
#include "stats_json.hpp"
#include "tun_device.hpp"

namespace ghala::netem {
namespace {

constexpr Nanos kSpin = 100 * kMicro;     // below this, poll instead of sleeping on the timer
constexpr int kReadBatch = 32;            // packets per device per wakeup: keeps due events on time
constexpr std::size_t kMaxPacket = 4096;  // MTU 1500 and no vnet header: no packet is larger

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

class Daemon {
 public:
  explicit Daemon(DaemonConfig cfg) : cfg_(std::move(cfg)) {}
  int run();

 private:
  bool open_devices();
  void read_device(std::size_t i, Nanos now);
  void arm_timer(Nanos at);
  void write_stats(Nanos now);

  DaemonConfig cfg_;
  MonotonicClock clock_;
  std::array<Fd, kZones> tun_;
  Fd epoll_, timer_, signals_;
  Nanos armed_at_ = -1;
  Nanos started_ = 0;
  DaemonCounters counters_;
  // Packet buffers are recycled: allocating (and zero-filling) one per packet cost more than the
  // emulation itself at 1000 users.
  std::vector<std::vector<std::uint8_t>> pool_;
  std::unique_ptr<EmulatorCore> core_;
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

void Daemon::arm_timer(Nanos at) {
  if (at == armed_at_) return;
  itimerspec its{};
  its.it_value.tv_sec = at / kSecond;
  its.it_value.tv_nsec = at % kSecond;
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  (void)timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  armed_at_ = at;
}

void Daemon::read_device(std::size_t zone, Nanos now) {
  for (int n = 0; n < kReadBatch; ++n) {
    std::vector<std::uint8_t> packet;
    if (!pool_.empty()) {
      packet = std::move(pool_.back());
      pool_.pop_back();
    }
    packet.resize(kMaxPacket);
    const ssize_t got = ::read(tun_[zone].get(), packet.data(), packet.size());
    if (got < 0) {
      if (errno != EAGAIN && errno != EINTR) counters_.tun_read_errors++;
      pool_.push_back(std::move(packet));
      return;
    }
    packet.resize(static_cast<std::size_t>(got));
    core_->inject(now, static_cast<Zone>(zone), std::move(packet));
  }
}

void Daemon::write_stats(Nanos now) {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  counters_.cpu_user_s = seconds(ru.ru_utime);
  counters_.cpu_sys_s = seconds(ru.ru_stime);
  counters_.uptime_s = static_cast<double>(now - started_) / 1e9;
  if (!cfg_.stats_path.empty() &&
      !write_file_atomic(cfg_.stats_path, stats_json(cfg_, *core_, counters_))) {
    std::fprintf(stderr, "ghala-netem-emu: cannot write %s\n", cfg_.stats_path.c_str());
  }
}

int Daemon::run() {
  // Precise wakeups: the default 50 µs timer slack would add up to 50 µs to every sleep.
  (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  // A low real-time priority keeps the emulator ahead of the load it emulates on a busy machine;
  // it sleeps in epoll_wait whenever nothing is due, so it cannot starve the machine.
  sched_param sp{};
  sp.sched_priority = 10;
  counters_.realtime = ::sched_setscheduler(0, SCHED_FIFO, &sp) == 0;

  if (!open_devices()) return 1;
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  timer_ = Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signals_ = Fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!epoll_ || !timer_ || !signals_) {
    std::perror("ghala-netem-emu: epoll/timerfd/signalfd");
    return 1;
  }
  auto watch = [this](int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  constexpr std::uint64_t kTimerTag = 100, kSignalTag = 101;
  for (std::size_t z = 0; z < kZones; ++z) {
    if (tun_[z] && !watch(tun_[z].get(), z)) return 1;
  }
  if (!watch(timer_.get(), kTimerTag) || !watch(signals_.get(), kSignalTag)) return 1;

  started_ = clock_.now();
  core_ = std::make_unique<EmulatorCore>(
      cfg_.core, started_, [this](Zone to, std::vector<std::uint8_t>&& p) {
        const int fd = tun_[static_cast<std::size_t>(to)].get();
        const ssize_t n = fd >= 0 ? ::write(fd, p.data(), p.size()) : -1;
        if (n < 0)
          counters_.tun_write_errors++;
        else if (static_cast<std::size_t>(n) != p.size())
          counters_.tun_short_writes++;
        p.clear();
        pool_.push_back(std::move(p));
      });
  if (!cfg_.ready_path.empty() && !write_file_atomic(cfg_.ready_path, "ready\n")) {
    std::fprintf(stderr, "ghala-netem-emu: cannot write %s\n", cfg_.ready_path.c_str());
    return 1;
  }
  Nanos next_stats = started_ + kSecond;
  std::array<epoll_event, 8> events{};
  for (;;) {
    Nanos now = clock_.now();
    core_->run_until(now);
    int timeout = -1;
    if (const auto next = core_->next_event()) {
      if (*next - now <= kSpin) {
        timeout = 0;
        counters_.spins++;
      } else {
        arm_timer(*next);
      }
    }
    if (now >= next_stats) {
      write_stats(now);
      next_stats = now + kSecond;
    }
    if (timeout != 0) timeout = static_cast<int>((next_stats - now) / kMilli) + 1;
    const int n =
        ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0 && errno != EINTR) {
      std::perror("ghala-netem-emu: epoll_wait");
      return 1;
    }
    if (n > 0) counters_.wakeups++;
    now = clock_.now();
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag == kSignalTag) {
        write_stats(clock_.now());
        return 0;
      }
      if (tag == kTimerTag) {
        std::uint64_t expirations = 0;
        (void)!::read(timer_.get(), &expirations, sizeof expirations);
        armed_at_ = -1;
        continue;
      }
      read_device(static_cast<std::size_t>(tag), now);
    }
  }
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
