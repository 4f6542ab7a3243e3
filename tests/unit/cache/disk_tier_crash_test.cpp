// kill -9 tests of the disk tier. The writer runs in a separate process: this same test
// executable, re-executed with only the "crash writer helper" test case selected and its job in
// environment variables (a fork without exec would inherit RocksDB's background threads in a
// broken state). The writer reports progress through a pipe; the test kills it with SIGKILL at a
// chosen point, reopens the store and checks that every object present is complete and correct,
// that every acknowledged commit survived, and that no uncommitted chunk is left behind.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "cache/disk_format.hpp"
#include "disk_test_util.hpp"
#include "ghala/cache/disk_tier.hpp"

extern char** environ;

using namespace ghala::cache;
using namespace ghala::cache::test;

namespace {

constexpr const char* kHelperName = "disk tier crash writer helper";
constexpr std::uint64_t kNewSeed = 1000;
constexpr std::uint64_t kBaseSeed = 7;
constexpr std::size_t kBaseSize = 1u << 20;

std::string key_of(int i) {
  std::string s = "obj/";
  s += std::to_string(i);
  return s;
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

void tell(int fd, char c) {
  while (::write(fd, &c, 1) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void wait_for_kill() {
  for (;;) ::pause();
}

// Streams one large object under "big", telling 's' once `signal_at` bytes are appended and 'c'
// after the commit.
[[noreturn]] void stream_one(DiskTier& tier, int fd) {
  const std::uint64_t signal_at = env_u64("GHALA_DISK_CRASH_SIGNAL_AT", 0);
  const std::uint64_t total = env_u64("GHALA_DISK_CRASH_TOTAL", 48u << 20);
  StoredObject head = make_object(kNewSeed, 0);
  head.body_size = 0;
  auto w = tier.begin("big", head);
  if (!w.ok()) ::_exit(3);
  bool told = false;
  for (std::uint64_t at = 0; at < total; at += 65536) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(65536, total - at));
    if (!w.value()->append(make_body(kNewSeed, at, n)).ok()) ::_exit(4);
    if (!told && at + n >= signal_at) {
      tell(fd, 's');
      told = true;
    }
  }
  if (!w.value()->commit().ok()) ::_exit(5);
  tell(fd, 'c');
  wait_for_kill();
}

// Commits objects obj/0, obj/1, ... (each large enough to be written in several batches),
// telling 'c' after each commit.
[[noreturn]] void commit_loop(DiskTier& tier, int fd) {
  for (int i = 0; i < 400; ++i) {
    std::size_t size = (3u << 19) + 1000u * static_cast<std::size_t>(i);
    if (!tier.insert(key_of(i), make_object(static_cast<std::uint64_t>(i), size, 65536)).ok()) {
      ::_exit(6);
    }
    tell(fd, 'c');
  }
  wait_for_kill();
}

// A writer process; killed and reaped on destruction if a failed assertion left it running.
struct Child {
  pid_t pid = -1;
  int fd = -1;  // read end of the progress pipe

  Child(pid_t p, int f) : pid(p), fd(f) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (fd >= 0) ::close(fd);
  }
};

std::unique_ptr<Child> spawn(const std::string& dir, const std::string& mode,
                             const std::vector<std::string>& extra_env) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  REQUIRE(n > 0);
  exe[n] = '\0';

  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls are allowed.
  std::vector<std::string> env_strings = {"GHALA_DISK_CRASH_DIR=" + dir,
                                          "GHALA_DISK_CRASH_MODE=" + mode,
                                          "GHALA_DISK_CRASH_FD=" + std::to_string(p[1])};
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string filter = std::string("--test-case=") + kHelperName;
  std::vector<char*> argv = {exe, filter.data(), nullptr};

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::fcntl(p[1], F_SETFD, 0);  // keep the write end across exec
    int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDOUT_FILENO);
    ::execve(exe, argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(p[1]);
  return std::make_unique<Child>(pid, p[0]);
}

// Waits for the next progress byte; 0 if the child exited or nothing came in time.
char next_byte(const Child& c, int timeout_ms = 60000) {
  pollfd pfd{c.fd, POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) <= 0) return 0;
  char b = 0;
  return ::read(c.fd, &b, 1) == 1 ? b : 0;
}

// SIGKILLs the child, reaps it and returns the progress bytes it sent that were not read yet.
std::string kill_and_drain(Child& c) {
  ::kill(c.pid, SIGKILL);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  c.pid = -1;
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGKILL);
  std::string rest;
  char buf[256];
  for (ssize_t n; (n = ::read(c.fd, buf, sizeof buf)) > 0;)
    rest.append(buf, static_cast<std::size_t>(n));
  ::close(c.fd);
  c.fd = -1;
  return rest;
}

void check_body(DiskTier& tier, const std::string& key, const StoredObject& o, std::uint64_t seed) {
  auto body = tier.read_body(key, o);
  REQUIRE_MESSAGE(body.ok(), (body.ok() ? "" : body.error().message));
  CHECK(join(body.value()) == make_body(seed, 0, o.body_size));
}

// Every chunk belongs to a committed object, and no write intent is left.
void check_no_orphans(const std::string& path) {
  RawStore raw(path);
  REQUIRE(raw.ok());
  std::set<std::uint64_t> live;
  for (const auto& [k, v] : raw.all("meta")) {
    auto r = disk::decode_meta(k, v);
    REQUIRE(r.ok());
    live.insert(r.value().object.id);
  }
  for (const auto& [k, v] : raw.all("chunks")) {
    REQUIRE(k.size() == 12);
    CHECK(live.count(disk::read_be64(k)) == 1);
  }
  for (const auto& [k, v] : raw.all("default")) CHECK(k == "n");
}

}  // namespace

TEST_CASE("disk tier crash writer helper") {
  const char* dir = std::getenv("GHALA_DISK_CRASH_DIR");
  if (dir == nullptr) return;  // a no-op unless started by the tests below
  int fd = static_cast<int>(env_u64("GHALA_DISK_CRASH_FD", 0));
  auto tier = DiskTier::open(small_options(dir));
  if (!tier.ok()) ::_exit(2);
  std::string mode = std::getenv("GHALA_DISK_CRASH_MODE");
  if (mode == "stream") stream_one(*tier.value(), fd);
  commit_loop(*tier.value(), fd);
}

TEST_CASE(
    "kill -9 during a large streamed write: after restart the old version, never a torn one") {
  TempDir dir;
  auto opts = small_options(dir.path());
  {
    auto tier = DiskTier::open(opts);
    REQUIRE(tier.ok());
    REQUIRE(tier.value()->insert("big", make_object(kBaseSeed, kBaseSize)).ok());
  }
  int run = 0;
  for (std::uint64_t signal_at : {0ull, 256ull << 10, 1ull << 20, 4ull << 20, 9ull << 20}) {
    for (int delay_us : {0, 700, 2500}) {
      CAPTURE(signal_at);
      CAPTURE(delay_us);
      auto c =
          spawn(opts.path, "stream", {"GHALA_DISK_CRASH_SIGNAL_AT=" + std::to_string(signal_at)});
      REQUIRE(next_byte(*c) == 's');
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));  // the kill point
      std::string rest = kill_and_drain(*c);
      CHECK(rest.find('c') == std::string::npos);  // 48 MiB cannot finish in 2.5 ms

      auto tier = DiskTier::open(opts);
      REQUIRE(tier.ok());
      auto found = tier.value()->lookup("big");
      REQUIRE(found.ok());
      REQUIRE(found.value().size() == 1);
      const StoredObject& o = *found.value()[0];
      CHECK(o.body_size == kBaseSize);
      check_body(*tier.value(), "big", o, kBaseSeed);
      CHECK(tier.value()->stats().objects == 1);
      tier.value().reset();
      check_no_orphans(opts.path);
      ++run;
    }
  }
  CHECK(run == 15);
}

TEST_CASE("kill -9 right after a commit: the new version is complete after restart") {
  TempDir dir;
  auto opts = small_options(dir.path());
  for (std::uint64_t total : {100ull << 10, 6ull << 20}) {  // one batch; several batches
    CAPTURE(total);
    auto c =
        spawn(opts.path, "stream",
              {"GHALA_DISK_CRASH_SIGNAL_AT=0", "GHALA_DISK_CRASH_TOTAL=" + std::to_string(total)});
    REQUIRE(next_byte(*c) == 's');
    REQUIRE(next_byte(*c) == 'c');
    (void)kill_and_drain(*c);

    auto tier = DiskTier::open(opts);
    REQUIRE(tier.ok());
    auto found = tier.value()->lookup("big");
    REQUIRE(found.ok());
    REQUIRE(found.value().size() == 1);
    CHECK(found.value()[0]->body_size == total);
    check_body(*tier.value(), "big", *found.value()[0], kNewSeed);
    tier.value().reset();
    check_no_orphans(opts.path);
  }
}

TEST_CASE("kill -9 at random points of a stream of commits: acknowledged objects all survive") {
  TempDir dir;
  auto opts = small_options(dir.path());
  int previous = 0;  // objects acknowledged by earlier runs (the store is shared)
  for (int delay_ms : {0, 1, 3, 6, 11, 17, 29}) {
    CAPTURE(delay_ms);
    auto c = spawn(opts.path, "loop", {});
    REQUIRE(next_byte(*c) == 'c');
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::string rest = kill_and_drain(*c);
    int acknowledged = 1 + static_cast<int>(std::count(rest.begin(), rest.end(), 'c'));
    MESSAGE("killed after " << acknowledged << " acknowledged commits");

    auto tier = DiskTier::open(opts);
    REQUIRE(tier.ok());
    for (int i = 0; i < std::max(acknowledged, previous) + 2; ++i) {
      CAPTURE(i);
      auto found = tier.value()->lookup(key_of(i));
      REQUIRE(found.ok());
      if (i < acknowledged || i < previous) REQUIRE(found.value().size() == 1);
      for (const auto& o : found.value()) {
        CHECK(o->body_size == (3u << 19) + 1000u * static_cast<unsigned>(i));
        check_body(*tier.value(), key_of(i), *o, static_cast<std::uint64_t>(i));
      }
    }
    tier.value().reset();
    check_no_orphans(opts.path);
    previous = std::max(previous, acknowledged);
  }
}
