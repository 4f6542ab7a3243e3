#include "ghala/config/resolve.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "config_test_support.hpp"

using namespace ghala;
using namespace ghala::config;
using namespace ghala::config::testing;

namespace {

// Lines 1-3 as below; the upstreams start on line 4.
std::string config_with_upstreams(std::string_view upstreams) {
  return "listen: [127.0.0.1:8080]\n"
         "sites: [{name: s, routes: [{match: /, upstream: app}]}]\nupstreams:\n" +
         std::string(upstreams);
}

// A resolver that answers from a table and counts its calls.
struct FakeDns {
  std::map<std::string, AddressList> table;
  std::map<std::string, int> calls;
  ResolveFn fn() {
    return [this](const std::string& name) -> Result<AddressList> {
      ++calls[name];
      auto it = table.find(name);
      if (it == table.end()) return make_error(ErrorKind::NotFound, "Name or service not known");
      return it->second;
    };
  }
};

}  // namespace

TEST_CASE("host_names lists each upstream's names once, literals and dir origins excluded") {
  const auto r = load(config_with_upstreams(
      "  app:\n    servers:\n      - http://origin.example.com:8080\n"
      "      - http://10.0.0.1:8080\n      - {url: \"origin.example.com:9090\", weight: 2}\n"
      "      - http://localhost:8080\n"
      "  other: {servers: [origin.example.com:1, \"[::1]:2\"]}\n"
      "  files: {origin: \"dir:/\"}\n"));
  const Config& c = loaded(r);
  CHECK(host_names(c.upstreams[0]) == std::vector<std::string>{"origin.example.com", "localhost"});
  CHECK(host_names(c.upstreams[1]) == std::vector<std::string>{"origin.example.com"});
  CHECK(host_names(c.upstreams[2]).empty());
  CHECK(host_names(c) == std::vector<std::string>{"origin.example.com", "localhost"});
}

TEST_CASE("an unresolvable name is an error at the server's line and column") {
  const auto r = load(config_with_upstreams(
      "  app:\n    servers:\n      - http://10.0.0.1:80\n      - http://gone.example:8080\n"
      "  more: {servers: [{url: \"gone.example:1\"}]}\n"));
  const Config& c = loaded(r);
  FakeDns dns;
  AddressBook book;
  const auto errors = resolve_names(c, dns.fn(), book);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].format() ==
        "test.yaml:7:9: upstream 'app': cannot resolve 'gone.example': Name or service not known");
  CHECK(errors[1].line == 8);
  CHECK(errors[1].col == 26);
  CHECK(errors[1].message.find("upstream 'more'") != std::string::npos);
  CHECK(dns.calls["gone.example"] == 1);  // one lookup per distinct name
  CHECK(book.empty());
}

TEST_CASE("the system resolver fails for .invalid names and finds localhost") {
  const auto r =
      load(config_with_upstreams("  app:\n    servers: [\"http://no-such-host.invalid:8080\"]\n"));
  AddressBook book;
  const auto errors = resolve_names(loaded(r), resolve_with_system, book);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 5);
  CHECK(errors[0].col == 15);
  CHECK(errors[0].message.find("cannot resolve 'no-such-host.invalid': ") != std::string::npos);

  // RFC 6761 §6.3: localhost is loopback (127.0.0.1, and ::1 where /etc/hosts says so).
  auto local = resolve_with_system("localhost");
  REQUIRE(local.ok());
  REQUIRE_FALSE(local.value().empty());
  for (const auto& a : local.value()) CHECK((a.rfind("127.", 0) == 0 || a == "::1"));
}

TEST_CASE("with_addresses expands a name into one server per address, same weight") {
  const auto r = load(config_with_upstreams(
      "  app:\n    servers:\n      - {url: \"http://origin.example.com:8080\", weight: 3}\n"
      "      - http://10.0.0.9:80\n      - http://gone.example:80\n"));
  AddressBook book{{"origin.example.com", {"10.0.0.1", "2001:db8::1"}}};
  const auto cfg = with_addresses(loaded(r), book);
  const auto& servers = cfg->upstreams[0].servers;
  REQUIRE(servers.size() == 3);  // gone.example is not in the book: no server
  CHECK(servers[0].address.host == "10.0.0.1");
  CHECK(servers[0].address.text == "10.0.0.1:8080");
  CHECK(servers[0].host_name == "origin.example.com");
  CHECK(servers[0].weight == 3);
  CHECK(servers[1].address.host == "2001:db8::1");
  CHECK(servers[1].address.text == "[2001:db8::1]:8080");
  CHECK(servers[1].address.port == 8080);
  CHECK(servers[1].weight == 3);
  CHECK(servers[2].address.text == "http://10.0.0.9:80");  // a literal stays as written
  CHECK(servers[2].host_name.empty());
  // The loaded config is untouched: a later resolution starts from the names again.
  CHECK(loaded(r).upstreams[0].servers[0].address.host == "origin.example.com");
  CHECK(host_names(*cfg).empty());
}
