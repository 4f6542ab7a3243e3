#include "ghala/core/body_arena.hpp"

#include <doctest/doctest.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../tcp_pair.hpp"
#include "ghala/core/shared_bytes.hpp"

using ghala::BodyArena;
using ghala::SharedBytes;

using ghala::testing::tcp_pair;

namespace {
constexpr std::uint64_t kPage = BodyArena::kPageBytes;

long blocks_of(int fd) {
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  return static_cast<long>(st.st_blocks);
}

}  // namespace

TEST_CASE("body arena hands out page-rounded, disjoint, writable extents") {
  BodyArena arena(16 * kPage);
  auto a = arena.allocate(1);
  auto b = arena.allocate(kPage + 1);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->length == kPage);
  CHECK(b->length == 2 * kPage);
  CHECK(a->offset % kPage == 0);
  CHECK(b->offset % kPage == 0);
  CHECK((a->offset + a->length <= b->offset || b->offset + b->length <= a->offset));
  std::memset(a->data, 'a', a->length);
  std::memset(b->data, 'b', b->length);
  CHECK(a->data[kPage - 1] == 'a');
  CHECK(b->data[0] == 'b');
  auto st = arena.stats();
  CHECK(st.segments == 1);
  CHECK(st.extents == 2);
  CHECK(st.used_bytes == 3 * kPage);
  arena.release(*a);
  arena.release(*b);
  CHECK(arena.stats().extents == 0);
  CHECK(arena.stats().used_bytes == 0);
}

TEST_CASE("body arena refuses empty and larger-than-segment extents") {
  BodyArena arena(4 * kPage);
  CHECK_FALSE(arena.allocate(0));
  CHECK_FALSE(arena.allocate(4 * kPage + 1));
  auto whole = arena.allocate(4 * kPage);
  REQUIRE(whole);
  arena.release(*whole);
}

TEST_CASE("released neighbours merge, so the whole segment fits again") {
  BodyArena arena(8 * kPage);
  auto a = arena.allocate(2 * kPage);
  auto b = arena.allocate(2 * kPage);
  auto c = arena.allocate(4 * kPage);
  REQUIRE((a && b && c));
  CHECK(arena.stats().segments == 1);
  // Released in an order that needs merging on both sides.
  arena.release(*a);
  arena.release(*c);
  arena.release(*b);
  auto whole = arena.allocate(8 * kPage);
  REQUIRE(whole);
  CHECK(arena.stats().segments == 1);  // reused, not a new segment
  arena.release(*whole);
}

TEST_CASE("allocation takes the best-fitting hole") {
  BodyArena arena(16 * kPage);
  auto a = arena.allocate(4 * kPage);  // [0,4)
  auto b = arena.allocate(1 * kPage);  // [4,5)
  auto c = arena.allocate(2 * kPage);  // [5,7)
  auto d = arena.allocate(1 * kPage);  // [7,8), then [8,16) free
  REQUIRE((a && b && c && d));
  arena.release(*a);  // holes of 4, 2 and 8 pages
  arena.release(*c);
  auto e = arena.allocate(2 * kPage);
  REQUIRE(e);
  CHECK(e->offset == c->offset);
  auto f = arena.allocate(3 * kPage);
  REQUIRE(f);
  CHECK(f->offset == a->offset);
  for (const auto& x : {*b, *d, *e, *f}) arena.release(x);
}

TEST_CASE("a full arena opens a segment, and closes it again once empty") {
  BodyArena arena(4 * kPage);
  auto a = arena.allocate(4 * kPage);
  auto b = arena.allocate(kPage);
  REQUIRE((a && b));
  CHECK(a->fd != b->fd);
  CHECK(arena.stats().segments == 2);
  arena.release(*b);
  CHECK(arena.stats().segments == 1);  // the emptied extra segment is closed
  arena.release(*a);
  CHECK(arena.stats().segments == 1);  // the last one is kept for the next object
}

TEST_CASE("a released extent gives its memory back") {
  BodyArena arena(64 * kPage);
  auto a = arena.allocate(32 * kPage);
  REQUIRE(a);
  const long before = blocks_of(a->fd);
  std::memset(a->data, 'x', a->length);
  CHECK(blocks_of(a->fd) > before);
  arena.release(*a);
  CHECK(blocks_of(a->fd) == before);
}

TEST_CASE("bytes a socket still holds are not changed by reusing their extent") {
  // sendfile queues references to the file's pages: release must punch them out of the file
  // before the range is written again, or the peer would read the new object's bytes.
  BodyArena arena(16 * kPage);
  auto a = arena.allocate(2 * kPage);
  REQUIRE(a);
  std::memset(a->data, 'A', a->length);
  auto [out, in] = tcp_pair();
  off_t off = static_cast<off_t>(a->offset);
  std::size_t sent = 0;
  while (sent < a->length) {
    const ssize_t r = sendfile(out, a->fd, &off, a->length - sent);
    REQUIRE(r > 0);
    sent += static_cast<std::size_t>(r);
  }
  arena.release(*a);
  auto b = arena.allocate(2 * kPage);
  REQUIRE(b);
  CHECK(b->offset == a->offset);  // the same range of the same file
  std::memset(b->data, 'B', b->length);
  std::string got;
  char buf[4096];
  while (got.size() < sent) {
    const ssize_t r = read(in, buf, sizeof buf);
    REQUIRE(r > 0);
    got.append(buf, static_cast<std::size_t>(r));
  }
  CHECK(got == std::string(sent, 'A'));
  close(out);
  close(in);
  arena.release(*b);
}

TEST_CASE("body arena is consistent under concurrent stores and frees") {
  BodyArena arena(64 * kPage);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&arena, t] {
      std::vector<BodyArena::Extent> held;
      for (int i = 0; i < 2000; ++i) {
        if (auto e = arena.allocate(static_cast<std::size_t>((i * 7 + t) % 5 + 1) * kPage)) {
          e->data[0] = static_cast<char>(t);
          held.push_back(*e);
        }
        if (held.size() > 6 || (i % 3 == 0 && !held.empty())) {
          CHECK(held.front().data[0] == static_cast<char>(t));
          arena.release(held.front());
          held.erase(held.begin());
        }
      }
      for (const auto& e : held) arena.release(e);
    });
  }
  for (auto& th : threads) th.join();
  const auto st = arena.stats();
  CHECK(st.extents == 0);
  CHECK(st.used_bytes == 0);
  CHECK(st.segments == 1);
}

TEST_CASE("large shared bytes live in the shared arena; small ones on the heap") {
  const std::string big(BodyArena::kDefaultMinBytes + 100, 'q');
  const std::string small(BodyArena::kDefaultMinBytes - 1, 's');
  const auto before = BodyArena::shared().stats().extents;
  {
    SharedBytes b = SharedBytes::copy_sendable(big);
    REQUIRE(b.file_span());
    CHECK(b.view() == big);
    CHECK(b.allocated_bytes() >= big.size());
    CHECK(b.allocated_bytes() % kPage != 0);  // the pages and the header
    CHECK(BodyArena::shared().stats().extents == before + 1);
    SharedBytes copy = b;
    b = nullptr;
    CHECK(copy.view() == big);  // alive while a reference is held
    CHECK(BodyArena::shared().stats().extents == before + 1);

    SharedBytes s = SharedBytes::copy_sendable(small);
    CHECK_FALSE(s.file_span());
    CHECK(s.view() == small);

    SharedBytes heap = SharedBytes::copy_of(big);
    CHECK_FALSE(heap.file_span());
    CHECK_FALSE(heap.in_arena());
    CHECK(b == nullptr);
    CHECK(copy.in_arena());
  }
  CHECK(BodyArena::shared().stats().extents == before);
}

namespace {
std::string joined(const std::vector<SharedBytes>& parts) {
  std::string out;
  for (const auto& p : parts) out += p.view();
  return out;
}
}  // namespace

TEST_CASE("a body kept for sendfile: its whole pages in the arena, the rest first on the heap") {
  std::string body;
  for (std::size_t i = 0; i < 5 * kPage + 123; ++i) body.push_back(static_cast<char>('a' + i % 26));
  const auto before = BodyArena::shared().stats();
  std::vector<SharedBytes> parts;
  SharedBytes::append_sendable(parts, body);
  REQUIRE(parts.size() == 2);
  CHECK_FALSE(parts[0].in_arena());
  CHECK(parts[0].size() == 123);
  REQUIRE(parts[1].file_span());
  CHECK(parts[1].size() == 5 * kPage);
  CHECK(joined(parts) == body);
  // No page is rounded up: the arena holds exactly the five pages.
  CHECK(BodyArena::shared().stats().used_bytes == before.used_bytes + 5 * kPage);

  SUBCASE("a whole number of pages is one arena chunk") {
    std::vector<SharedBytes> whole;
    SharedBytes::append_sendable(whole, std::string_view(body).substr(0, 5 * kPage));
    REQUIRE(whole.size() == 1);
    CHECK(whole[0].in_arena());
  }
  SUBCASE("a body below the threshold is one heap chunk") {
    std::vector<SharedBytes> small;
    SharedBytes::append_sendable(small, std::string_view(body).substr(0, 2 * kPage + 1));
    REQUIRE(small.size() == 1);
    CHECK_FALSE(small[0].in_arena());
    CHECK(small[0].size() == 2 * kPage + 1);
  }
  SUBCASE("a threshold below a page keeps a body shorter than a page on the heap, whole") {
    BodyArena::shared().set_min_bytes(100);
    std::vector<SharedBytes> sub;
    SharedBytes::append_sendable(sub, std::string_view(body).substr(0, 1000));
    BodyArena::shared().set_min_bytes(BodyArena::kDefaultMinBytes);
    REQUIRE(sub.size() == 1);
    CHECK_FALSE(sub[0].in_arena());
    CHECK(sub[0].view() == std::string_view(body).substr(0, 1000));
  }
  SUBCASE("appends after what the vector holds") {
    std::vector<SharedBytes> more{SharedBytes::copy_of("x")};
    SharedBytes::append_sendable(more, body);
    REQUIRE(more.size() == 3);
    CHECK(joined(more) == "x" + body);
  }
}

TEST_CASE("the arena threshold is configurable, and 0 keeps every body on the heap") {
  BodyArena& arena = BodyArena::shared();
  const std::string body(64 * 1024, 'b');
  arena.set_min_bytes(0);
  CHECK_FALSE(SharedBytes::copy_sendable(body).file_span());
  CHECK_FALSE(SharedBytes::wants_arena(body.size()));
  arena.set_min_bytes(body.size() + 1);
  CHECK_FALSE(SharedBytes::copy_sendable(body).file_span());
  CHECK_FALSE(SharedBytes::wants_arena(body.size()));
  arena.set_min_bytes(body.size());
  CHECK(SharedBytes::copy_sendable(body).file_span());
  CHECK(SharedBytes::wants_arena(body.size()));
  arena.set_min_bytes(BodyArena::kDefaultMinBytes);
}
