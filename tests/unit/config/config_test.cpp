#include "ghala/config/config.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <type_traits>

using namespace ghala::config;

namespace {

SocketAddress addr(std::string host, std::uint16_t port) {
  return SocketAddress{host, port, host + ":" + std::to_string(port)};
}

Config base() {
  Config c;
  c.workers = 4;
  c.listeners.push_back(Listener{addr("127.0.0.1", 8080)});
  c.admin.listen = addr("127.0.0.1", 9145);
  return c;
}

}  // namespace

TEST_CASE("Config is a plain copyable, movable value") {
  static_assert(std::is_copy_constructible_v<Config>);
  static_assert(std::is_nothrow_move_constructible_v<Config>);
  const ConfigPtr p = std::make_shared<const Config>(base());
  const Config copy = *p;
  CHECK(copy.workers == 4);
}

TEST_CASE("ConfigError::format is file:line:col: message, or file: message without a position") {
  CHECK(ConfigError{"a.yaml", 3, 7, "bad"}.format() == "a.yaml:3:7: bad");
  CHECK(ConfigError{"a.yaml", 0, 0, "missing"}.format() == "a.yaml: missing");
  CHECK(ConfigError{"", 1, 1, "x"}.format() == "<config>:1:1: x");
}

TEST_CASE("restart_required_changes is empty when nothing restart-only changed") {
  Config next = base();
  next.timeouts.header_read = std::chrono::seconds(1);  // live-reloadable
  next.listeners[0].address.text = "127.0.0.1:08080";   // same socket, written differently
  CHECK(restart_required_changes(base(), next).empty());
}

TEST_CASE("restart_required_changes lists listener, worker and admin changes") {
  Config next = base();
  next.workers = 0;
  next.listeners[0].backlog = 128;
  next.listeners.push_back(Listener{addr("0.0.0.0", 80)});
  next.admin.listen = addr("127.0.0.1", 9146);
  const auto changes = restart_required_changes(base(), next);
  REQUIRE(changes.size() == 4);
  CHECK(changes[0] == "listener 127.0.0.1:8080 backlog 4096 -> 128");
  CHECK(changes[1] == "listener 0.0.0.0:80 added");
  CHECK(changes[2] == "workers 4 -> auto");
  CHECK(changes[3] == "admin listener 127.0.0.1:9145 -> 127.0.0.1:9146");
}

TEST_CASE("restart_required_changes reports removed listeners and admin added or removed") {
  Config next = base();
  next.listeners[0].address = addr("127.0.0.1", 8081);
  next.admin.listen.reset();
  const auto changes = restart_required_changes(base(), next);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0] == "listener 127.0.0.1:8080 removed");
  CHECK(changes[1] == "listener 127.0.0.1:8081 added");
  CHECK(changes[2] == "admin listener 127.0.0.1:9145 removed");
  const auto back = restart_required_changes(next, base());
  CHECK(back.back() == "admin listener 127.0.0.1:9145 added");
}
