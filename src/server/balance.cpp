#include "server/balance.hpp"

namespace ghala::server {

std::size_t pick_worker(std::span<const std::uint32_t> loads, std::size_t self) noexcept {
  if (self >= loads.size()) return self;
  std::size_t least = self;
  for (std::size_t i = 0; i < loads.size(); ++i) {
    if (i != self && (least == self || loads[i] < loads[least])) least = i;
  }
  if (least == self) return self;  // the only worker
  const std::uint64_t mine = std::uint64_t{loads[self]} + 1;
  const std::uint64_t limit = std::uint64_t{loads[least]} + balance_slack(loads[least]);
  return mine > limit ? least : self;
}

}  // namespace ghala::server
