#include "config/yaml_fields.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace ghala::config;
using namespace std::chrono_literals;

namespace {

Field field_of(const std::string& yaml, std::string name = "key") {
  const YAML::Node root = YAML::Load(yaml);
  const auto it = root.begin();
  return Field{std::move(name), it->first, it->second};
}

std::vector<ConfigError> errors_of(Diagnostics& d) {
  return std::move(d).take();
}

}  // namespace

TEST_CASE("MapView reports unknown keys with a suggestion, at the key's position") {
  Diagnostics d("f.yaml");
  constexpr std::array<std::string_view, 2> keys{"keepalive_idle", "header_read"};
  const Field f = field_of("timeouts:\n  header_read: 1s\n  keepalive_idel: 2s\n", "timeouts");
  MapView m(f, keys, d);
  CHECK(m.valid());
  CHECK(m.find("header_read") != nullptr);
  CHECK(m.find("keepalive_idle") == nullptr);
  const auto e = errors_of(d);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "unknown key 'keepalive_idel' (did you mean 'keepalive_idle'?)");
  CHECK(e[0].line == 3);
  CHECK(e[0].col == 3);
}

TEST_CASE("MapView reports reserved keys as not supported yet") {
  Diagnostics d("f.yaml");
  constexpr std::array<std::string_view, 1> keys{"match"};
  constexpr std::array<std::string_view, 1> reserved{"cache"};
  MapView m(field_of("r: {match: /, cache: {}}", "route"), keys, d, reserved);
  const auto e = errors_of(d);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message.find("not supported yet") != std::string::npos);
}

TEST_CASE("map_entries reports duplicate keys, which yaml-cpp accepts silently") {
  Diagnostics d("f.yaml");
  const Field f = field_of("m:\n  a: 1\n  a: 2\n", "m");
  auto entries = map_entries(f, d);
  REQUIRE(entries);
  CHECK(entries->size() == 1);
  const auto e = errors_of(d);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "duplicate key 'a'");
  CHECK(e[0].line == 3);
}

TEST_CASE("map_entries and list_items report the type they found") {
  Diagnostics d("f.yaml");
  CHECK_FALSE(map_entries(field_of("m: [1, 2]", "m"), d));
  CHECK_FALSE(list_items(field_of("l: {a: 1}", "l"), d));
  CHECK_FALSE(list_items(field_of("l: text", "l"), d));
  CHECK_FALSE(list_items(field_of("l:", "l"), d));
  const auto e = errors_of(d);
  REQUIRE(e.size() == 4);
  CHECK(e[0].message == "m: expected a map, found a list");
  CHECK(e[1].message == "l: expected a list, found a map");
  CHECK(e[2].message == "l: expected a list, found 'text'");
  CHECK(e[3].message == "l: expected a list, found an empty value");
  CHECK(e[3].line == 1);  // an empty value is reported at its key, not on the next line
}

TEST_CASE("read_uint checks digits and range") {
  Diagnostics d("f.yaml");
  std::uint64_t n = 7;
  CHECK(read_uint(field_of("k: 42"), d, 1, 100, n));
  CHECK(n == 42);
  CHECK_FALSE(read_uint(field_of("k: 0"), d, 1, 100, n));
  CHECK_FALSE(read_uint(field_of("k: 101"), d, 1, 100, n));
  CHECK_FALSE(read_uint(field_of("k: -1"), d, 0, 100, n));
  CHECK_FALSE(read_uint(field_of("k: 0x10"), d, 0, 100, n));
  CHECK_FALSE(read_uint(field_of("k: 1e2"), d, 0, 1000, n));
  CHECK_FALSE(read_uint(field_of("k: 99999999999999999999999"), d, 0, 100, n));
  CHECK_FALSE(read_uint(field_of("k: [1]"), d, 0, 100, n));
  CHECK(n == 42);  // untouched by failures
  const auto e = errors_of(d);
  REQUIRE(e.size() == 7);
  CHECK(e[0].message == "key: expected an integer from 1 to 100, found '0'");
  CHECK(e[6].message == "key: expected an integer from 0 to 100, found a list");
}

TEST_CASE("read_bool accepts only true and false") {
  Diagnostics d("f.yaml");
  bool b = false;
  CHECK(read_bool(field_of("k: true"), d, b));
  CHECK(b);
  CHECK(read_bool(field_of("k: False"), d, b));
  CHECK_FALSE(b);
  CHECK_FALSE(read_bool(field_of("k: yes"), d, b));
  CHECK_FALSE(read_bool(field_of("k: \"true\""), d, b));
  CHECK_FALSE(read_bool(field_of("k: 1"), d, b));
  CHECK(errors_of(d).size() == 3);
}

TEST_CASE("read_duration and read_size prefix the unit parser's message with the key") {
  Diagnostics d("f.yaml");
  Millis ms{};
  CHECK(read_duration(field_of("k: 1h30m"), d, false, ms));
  CHECK(ms == 90min);
  CHECK_FALSE(read_duration(field_of("k: 30"), d, false, ms));
  CHECK_FALSE(read_duration(field_of("k: 0s"), d, false, ms));
  CHECK(read_duration(field_of("k: 0s"), d, true, ms));
  CHECK(ms == 0ms);
  std::uint64_t size = 0;
  CHECK(read_size(field_of("k: 8KiB"), d, 0, 1 << 20, size));
  CHECK(size == 8192);
  CHECK_FALSE(read_size(field_of("k: 2MiB"), d, 0, 1 << 20, size));
  CHECK_FALSE(read_size(field_of("k: {a: 1}"), d, 0, 1 << 20, size));
  const auto e = errors_of(d);
  REQUIRE(e.size() == 4);
  CHECK(e[0].message.rfind("key: invalid duration '30'", 0) == 0);
  CHECK(e[1].message == "key: must be longer than 0s");
  CHECK(e[2].message == "key: must be between 0B and 1MiB, found '2MiB'");
  CHECK(e[3].message == "key: expected a size such as 64KiB, found a map");
}

TEST_CASE("read_choice names the choices and suggests the closest") {
  Diagnostics d("f.yaml");
  constexpr std::array<std::string_view, 2> choices{"round_robin", "least_conn"};
  auto i = read_choice(field_of("k: least_conn"), d, choices);
  REQUIRE(i);
  CHECK(*i == 1);
  CHECK_FALSE(read_choice(field_of("k: roundrobin"), d, choices));
  const auto e = errors_of(d);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message ==
        "key: expected one of round_robin, least_conn, found 'roundrobin' (did you mean "
        "'round_robin'?)");
}
