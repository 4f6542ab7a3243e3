#pragma once
// Connection balancing across workers.
//
// Every worker owns a SO_REUSEPORT listening socket, and the kernel picks the socket for a new
// connection by a hash of its 4-tuple. That spreads connections only statistically: 100
// connections from one client often split 55/45 over two workers, and the busier worker's
// requests then wait longer (its p99 is the process's p99). So each worker publishes its load
// (open client connections plus connections on their way to it), and a worker that accepts a
// connection while it is ahead of the least loaded worker by more than a small slack hands the
// socket to that worker (Worker::post_connection) instead of serving it. The kernel's spread is
// kept as the first guess; handing over is the correction, and the common case costs a read of
// each worker's counter.
//
// The slack is 1 up to 63 connections (the shares then differ by at most one connection, the
// best possible), then 1/32 of the smaller share (3 %), so that at large counts the normal
// jitter of connections coming and going does not turn into a stream of handovers.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ghala::server {

constexpr std::uint32_t balance_slack(std::uint32_t min_load) noexcept {
  return min_load / 32 > 1 ? min_load / 32 : 1;
}

// The worker that should serve a connection just accepted by worker `self`, given every
// worker's load (not counting the new connection): `self` when, counting the new connection, it
// stays within balance_slack of the least loaded other worker; otherwise that worker (the lowest
// index among equals).
std::size_t pick_worker(std::span<const std::uint32_t> loads, std::size_t self) noexcept;

}  // namespace ghala::server
