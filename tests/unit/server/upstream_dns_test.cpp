#include "server/upstream_dns.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "ghala/observe/metrics.hpp"
#include "server/snapshot.hpp"

using namespace ghala;
using namespace ghala::server;
using config::AddressBook;
using config::AddressList;

namespace {

config::ConfigPtr load(std::string_view upstreams) {
  const std::string yaml =
      "listen: [127.0.0.1:8080]\naccess_log: {target: \"off\"}\n"
      "cache: {memory: {max_size: 1MiB}}\n"
      "sites: [{name: s, routes: [{match: /, upstream: app}]}]\nupstreams:\n" +
      std::string(upstreams);
  auto r = config::load_string(yaml, "test.yaml", "/");
  for (const auto& e : r.errors) INFO(e.format());
  REQUIRE(r.config);
  return r.config;
}

// A resolver answering from a table the test edits, as DNS records change.
struct FakeDns {
  std::map<std::string, AddressList> table;
  Result<AddressList> operator()(const std::string& name) const {
    auto it = table.find(name);
    if (it == table.end()) return make_error(ErrorKind::NotFound, "Name or service not known");
    return it->second;
  }
  DnsResults resolve(const std::vector<std::string>& names) const {
    DnsResults out;
    for (const auto& n : names) out.emplace(n, (*this)(n));
    return out;
  }
};

double dns_count(std::string_view upstream, std::string_view result) {
  const auto text = observe::Metrics::get().serialize();
  const std::string name = "ghala_upstream_dns_resolutions_total{result=\"" + std::string(result) +
                           "\",upstream=\"" + std::string(upstream) + "\"} ";
  const auto at = text.find(name);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size()));
}

std::vector<std::string> server_texts(const config::Config& c, std::size_t upstream = 0) {
  std::vector<std::string> out;
  for (const auto& s : c.upstreams[upstream].servers) out.push_back(s.address.text);
  return out;
}

}  // namespace

TEST_CASE("a changed address set rebuilds the snapshot from the same loaded config") {
  const auto loaded =
      load("  app: {servers: [\"http://origin.test:8080\", 10.9.9.9:80], resolve_interval: 30s}\n");
  FakeDns dns;
  dns.table["origin.test"] = {"10.0.0.1"};
  AddressBook book;
  REQUIRE(config::resolve_names(*loaded, std::cref(dns), book).empty());
  auto first = build_snapshot(config::with_addresses(*loaded, book), nullptr);
  REQUIRE(first);
  CHECK(server_texts(*first.value()->config) ==
        std::vector<std::string>{"10.0.0.1:8080", "10.9.9.9:80"});

  UpstreamDns state;
  state.reset(*loaded, book, 1000);
  CHECK(state.next_due_in(1000) == 30000);
  CHECK(state.take_due(30999).empty());
  const auto due = state.take_due(31000);
  REQUIRE(due.size() == 1);
  CHECK(state.upstream(due[0]) == "app");
  CHECK(state.take_due(99999).empty());  // in flight: not taken twice
  CHECK_FALSE(state.next_due_in(31000).has_value());

  const double changed = dns_count("app", "changed");
  dns.table["origin.test"] = {"10.0.0.2", "10.0.0.3"};
  REQUIRE(state.apply(due[0], dns.resolve(state.names(due[0])), 31000));
  CHECK(dns_count("app", "changed") == changed + 1);
  auto next = build_snapshot(config::with_addresses(*loaded, state.book()), first.value().get());
  REQUIRE(next);
  CHECK(server_texts(*next.value()->config) ==
        std::vector<std::string>{"10.0.0.2:8080", "10.0.0.3:8080", "10.9.9.9:80"});
  CHECK(next.value()->config->upstreams[0].servers[0].host_name == "origin.test");
  CHECK(next.value()->config->hash == first.value()->config->hash);  // same config file
  CHECK(state.next_due_in(31000) == 30000);
}

TEST_CASE("a failed re-resolution keeps the last good addresses and is counted") {
  const auto loaded = load("  app: {servers: [\"origin.test:80\"], resolve_interval: 1s}\n");
  FakeDns dns;
  dns.table["origin.test"] = {"10.0.0.1"};
  UpstreamDns state;
  state.reset(*loaded, {{"origin.test", {"10.0.0.1"}}}, 0);

  const double errors = dns_count("app", "error");
  const double oks = dns_count("app", "ok");
  dns.table.clear();
  for (std::uint64_t t = 1000; t <= 3000; t += 1000) {
    const auto due = state.take_due(t);
    REQUIRE(due.size() == 1);
    CHECK_FALSE(state.apply(due[0], dns.resolve(state.names(due[0])), t));
  }
  CHECK(dns_count("app", "error") == errors + 3);
  CHECK(state.book().at("origin.test") == AddressList{"10.0.0.1"});
  CHECK(server_texts(*config::with_addresses(*loaded, state.book())) ==
        std::vector<std::string>{"10.0.0.1:80"});

  // Back, with the same address: no rebuild, counted as ok.
  dns.table["origin.test"] = {"10.0.0.1"};
  const auto due = state.take_due(4000);
  REQUIRE(due.size() == 1);
  CHECK_FALSE(state.apply(due[0], dns.resolve(state.names(due[0])), 4000));
  CHECK(dns_count("app", "ok") == oks + 1);
}

TEST_CASE("upstreams without names or with resolve_interval 0 are never due") {
  const auto loaded = load(
      "  app: {servers: [\"a.test:80\"], resolve_interval: 0s}\n"
      "  lit: {servers: [\"10.0.0.1:80\"], resolve_interval: 1s}\n");
  UpstreamDns state;
  state.reset(*loaded, {{"a.test", {"10.0.0.1"}}}, 0);
  CHECK_FALSE(state.next_due_in(0).has_value());
  CHECK(state.take_due(1'000'000'000).empty());
}

TEST_CASE("a reload keeps a known name's addresses when it fails and refuses an unknown one") {
  const auto loaded = load(
      "  app:\n    servers:\n      - http://known.test:80\n      - http://fresh.test:80\n"
      "  other: {servers: [\"new.test:1\"]}\n");
  const AddressBook running{{"known.test", {"10.0.0.1"}}, {"fresh.test", {"10.0.0.2"}}};
  FakeDns dns;
  dns.table["fresh.test"] = {"10.0.0.3"};  // known.test and new.test fail
  const auto out = merge_for_reload(*loaded, dns.resolve(config::host_names(*loaded)), running);
  CHECK(out.book.at("known.test") == AddressList{"10.0.0.1"});
  CHECK(out.book.at("fresh.test") == AddressList{"10.0.0.3"});
  REQUIRE(out.warnings.size() == 1);
  CHECK(out.warnings[0].find("cannot resolve 'known.test'") != std::string::npos);
  CHECK(out.warnings[0].find("keeping its last addresses (10.0.0.1)") != std::string::npos);
  REQUIRE(out.errors.size() == 1);
  CHECK(out.errors[0].format() ==
        "test.yaml:10:21: upstream 'other': cannot resolve 'new.test': Name or service not known");
}

TEST_CASE("NameResolver delivers every name's result on the loop") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  FakeDns dns;
  dns.table["a.test"] = {"10.0.0.1", "::1"};
  NameResolver resolver(&loop, dns);
  std::optional<DnsResults> got;
  resolver.resolve({"a.test", "b.test"}, [&](DnsResults r) {
    got = std::move(r);
    resolver.close();
  });
  uv_run(&loop, UV_RUN_DEFAULT);  // returns once close() has closed the async handle
  REQUIRE(got);
  REQUIRE(got->size() == 2);
  CHECK(got->at("a.test").value() == AddressList{"10.0.0.1", "::1"});
  CHECK_FALSE(got->at("b.test").ok());
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a slow lookup does not hold the loop: timers run while it resolves") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::atomic<bool> release{false};
  NameResolver resolver(&loop, [&release](const std::string&) -> Result<AddressList> {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return AddressList{"10.0.0.1"};
  });
  // Started first, so that a resolver that blocked the caller would finish (and fail the order
  // check) rather than hang.
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    release = true;
  });
  std::vector<std::string> order;
  resolver.resolve({"slow.test"}, [&](DnsResults) {
    order.push_back("resolved");
    resolver.close();
  });
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  timer.data = &order;
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        static_cast<std::vector<std::string>*>(t->data)->push_back("timer");
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
      },
      20, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  releaser.join();
  CHECK(order == std::vector<std::string>{"timer", "resolved"});
  CHECK(uv_loop_close(&loop) == 0);
}
