#include "tun_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ghala::netem {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Creates the device while this thread is inside the target namespace, then returns to the
// original one: the fd stays bound to the device, which stays in the target namespace.
class NetnsGuard {
 public:
  bool enter(const std::string& path, std::string& error) {
    if (path.empty()) return true;
    original_ = Fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    Fd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!original_ || !target) {
      error = errno_text("open netns " + path);
      return false;
    }
    if (::setns(target.get(), CLONE_NEWNET) != 0) {
      error = errno_text("setns " + path);
      return false;
    }
    return true;
  }
  ~NetnsGuard() {
    if (original_) (void)::setns(original_.get(), CLONE_NEWNET);
  }

 private:
  Fd original_;
};

}  // namespace

TunOpen open_tun(const std::string& netns_path, const std::string& device) {
  TunOpen r;
  if (device.size() >= IFNAMSIZ) {
    r.error = "device name too long: " + device;
    return r;
  }
  NetnsGuard ns;
  if (!ns.enter(netns_path, r.error)) return r;
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    r.error = errno_text("open /dev/net/tun");
    return r;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, device.c_str(), device.size());
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
    r.error = errno_text("TUNSETIFF " + device);
    return r;
  }
  r.fd = std::move(fd);
  return r;
}

}  // namespace ghala::netem
