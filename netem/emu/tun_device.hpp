#pragma once

#include <string>

namespace ghala::netem {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A non-persistent TUN device (IFF_TUN | IFF_NO_PI, no vnet header), created inside the network
// namespace at `netns_path` (or the current one if empty). It disappears when the fd closes, so
// a crashed emulator leaves no device behind. MTU, address and txqueuelen are set by the harness.
struct TunOpen {
  Fd fd;
  std::string error;
};
TunOpen open_tun(const std::string& netns_path, const std::string& device);

}  // namespace ghala::netem
