// Request ids: 128 bits from xoshiro256** (Blackman and Vigna, 2018), one generator per thread,
// seeded from getrandom(2). Not cryptographic: ids correlate log lines, they authorise nothing.
// A process that fork()s would share the parent's sequence in the child; ghala does not fork.

#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "ghala/observe/access_log.hpp"

namespace ghala::observe {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) noexcept {
  return (x << k) | (x >> (64 - k));
}

class Xoshiro256 {
 public:
  Xoshiro256() noexcept {
    std::uint64_t seed = os_seed();
    for (auto& word : s_) word = splitmix64(seed);  // never all zero
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  // 64 bits from the kernel; GRND_NONBLOCK so an early-boot entropy pool cannot stall a worker.
  // Fallback (no getrandom, pool not ready): clock, thread and address, still distinct per thread.
  static std::uint64_t os_seed() noexcept {
    std::uint64_t seed = 0;
    ssize_t n;
    do {
      n = ::getrandom(&seed, sizeof seed, GRND_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof seed)) return seed;
    std::uint64_t mix = static_cast<std::uint64_t>(
        std::chrono::high_resolution_clock::now().time_since_epoch().count());
    mix ^= std::hash<std::thread::id>{}(std::this_thread::get_id()) * 0x9e3779b97f4a7c15ULL;
    mix ^= reinterpret_cast<std::uintptr_t>(&seed);
    mix ^= static_cast<std::uint64_t>(::getpid()) << 32;
    return splitmix64(mix);
  }

  std::array<std::uint64_t, 4> s_{};
};

// Two hex digits per byte value: one lookup per byte instead of one per digit.
constexpr auto kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (std::size_t b = 0; b < 256; ++b) {
    t[2 * b] = kHex[b >> 4];
    t[2 * b + 1] = kHex[b & 0xF];
  }
  return t;
}();

void append_hex(std::uint64_t v, char* out) noexcept {
  for (int i = 7; i >= 0; --i) {
    const std::size_t b = v & 0xFF;
    out[2 * i] = kHexPairs[2 * b];
    out[2 * i + 1] = kHexPairs[2 * b + 1];
    v >>= 8;
  }
}

}  // namespace

void generate_request_id(char (&out)[kRequestIdLength]) noexcept {
  thread_local Xoshiro256 rng;
  append_hex(rng.next(), out);
  append_hex(rng.next(), out + 16);
}

std::string generate_request_id() {
  char id[kRequestIdLength];
  generate_request_id(id);
  return std::string(id, sizeof id);
}

}  // namespace ghala::observe
