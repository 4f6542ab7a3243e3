#pragma once
// A connected TCP pair on 127.0.0.1 for unit tests that need a real socket (sendfile, page
// references held by socket buffers). Shared by every module's tests (include it as
// "../tcp_pair.hpp").

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

namespace ghala::testing {

// {sender, receiver}: two blocking sockets, the caller closes both.
inline std::pair<int, int> tcp_pair() {
  const int lis = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(lis >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lis, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(lis, 1) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(lis, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const int out = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(out, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const int in = ::accept(lis, nullptr, nullptr);
  REQUIRE(in >= 0);
  ::close(lis);
  return {out, in};
}

}  // namespace ghala::testing
