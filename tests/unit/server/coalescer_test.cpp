#include "server/coalescer.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

namespace ghala::server {
namespace {

using namespace std::chrono_literals;

cache::Chunk piece(std::string s) {
  return cache::Chunk::copy_of(s);
}

TEST_CASE("the first request for a key leads, later ones join its fetch") {
  Coalescer c;
  const auto now = Coalescer::Clock::now();
  auto a = c.join("k", now);
  REQUIRE(a.fetch);
  CHECK(a.leader);
  auto b = c.join("k", now);
  CHECK(b.fetch == a.fetch);
  CHECK_FALSE(b.leader);
  auto other = c.join("other", now);
  CHECK(other.leader);
  CHECK(c.in_flight() == 2);
}

TEST_CASE("after the leader leaves, the next request starts a new fetch") {
  Coalescer c;
  const auto now = Coalescer::Clock::now();
  auto a = c.join("k", now);
  c.leave("k", a.fetch.get());
  auto b = c.join("k", now);
  CHECK(b.leader);
  CHECK(b.fetch != a.fetch);
  // A stale leader leaving does not remove the newer fetch.
  c.leave("k", a.fetch.get());
  CHECK_FALSE(c.join("k", now).leader);
}

TEST_CASE("hit-for-pass sends a key around coalescing until it expires or is cleared") {
  Coalescer c;
  const auto now = Coalescer::Clock::now();
  c.mark_pass("k", now + 30s);
  CHECK_FALSE(c.join("k", now).fetch);
  CHECK(c.join("k", now + 31s).leader);  // expired: coalesces again

  c.mark_pass("j", now + 30s);
  c.clear_pass("j");
  CHECK(c.join("j", now).leader);
}

TEST_CASE("a purge forgets hit-for-pass for a key and its variants, or for a prefix") {
  Coalescer c;
  const auto now = Coalescer::Clock::now();
  for (const char* k : {"h/a", "h/a\naccept-language=fr", "h/ab", "h/b", "g/a"}) {
    c.mark_pass(k, now + 30s);
  }
  CHECK(c.purge_pass("h/a", false) == 2);  // not h/ab: another URL
  CHECK(c.join("h/a", now).leader);
  CHECK(c.join("h/a\naccept-language=fr", now).leader);
  CHECK_FALSE(c.join("h/ab", now).fetch);
  CHECK(c.purge_pass("h/", true) == 2);  // h/ab, h/b
  CHECK(c.join("h/b", now).leader);
  CHECK_FALSE(c.join("g/a", now).fetch);
}

TEST_CASE("find joins only a fetch already in flight, never during hit-for-pass") {
  Coalescer c;
  const auto now = Coalescer::Clock::now();
  CHECK_FALSE(c.find("k", now));
  CHECK(c.in_flight() == 0);  // finding starts nothing
  auto a = c.join("k", now);
  CHECK(c.find("k", now) == a.fetch);
  c.mark_pass("k", now + 30s);
  CHECK_FALSE(c.find("k", now));
  CHECK(c.find("k", now + 31s) == a.fetch);
}

TEST_CASE("a fetch publishes head, pieces and the complete object in order") {
  InFlightFetch f;
  CHECK(f.read(0).state == InFlightFetch::State::Fetching);
  auto head = std::make_shared<cache::StoredObject>();
  head->status = 200;
  head->body_size = 6;
  f.publish_head(head, true);
  f.publish_piece(piece("abc"));
  f.publish_piece(piece("def"));
  auto v = f.read(0);
  CHECK(v.state == InFlightFetch::State::Streaming);
  CHECK(v.length_known);
  REQUIRE(v.pieces.size() == 2);
  CHECK(v.pieces[1].view() == "def");
  CHECK(f.read(1).pieces.size() == 1);
  CHECK(f.read(5).pieces.empty());
  CHECK_FALSE(f.finished());

  auto done = std::make_shared<cache::StoredObject>(*head);
  f.publish_complete(done);
  v = f.read(2);
  CHECK(v.state == InFlightFetch::State::Complete);
  CHECK(v.object == done);
  CHECK(f.finished());
  // Nothing changes a finished fetch.
  f.publish_failed(0);
  f.publish_piece(piece("x"));
  CHECK(f.read(0).state == InFlightFetch::State::Complete);
  CHECK(f.read(0).pieces.size() == 2);
}

TEST_CASE("a failed fetch keeps the pieces it had and reports the origin status") {
  InFlightFetch f;
  f.publish_head(std::make_shared<cache::StoredObject>(), false);
  f.publish_piece(piece("abc"));
  f.publish_failed(503);
  const auto v = f.read(0);
  CHECK(v.state == InFlightFetch::State::Failed);
  CHECK(v.fwd_status == 503);
  CHECK(v.pieces.size() == 1);
}

TEST_CASE("pass is only possible before the head: a streaming fetch cannot turn into pass") {
  InFlightFetch f;
  f.publish_pass();
  CHECK(f.read(0).state == InFlightFetch::State::Pass);
  f.publish_head(std::make_shared<cache::StoredObject>(), true);
  CHECK(f.read(0).state == InFlightFetch::State::Pass);

  InFlightFetch g;
  g.publish_head(std::make_shared<cache::StoredObject>(), true);
  g.publish_pass();
  CHECK(g.read(0).state == InFlightFetch::State::Streaming);
}

}  // namespace
}  // namespace ghala::server
