#include "server/disk_io.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <uv.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../temp_dir.hpp"

using namespace ghala;
using namespace ghala::server;

namespace {

using ghala::testing::TempDir;

struct Loop {
  uv_loop_t loop{};
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  void run() { uv_run(&loop, UV_RUN_DEFAULT); }  // until every job has reported back
};

std::shared_ptr<cache::DiskTier> open_tier(const std::string& path) {
  cache::DiskTierOptions o;
  o.path = path;
  o.max_bytes = 256ull << 20;
  o.max_object_bytes = 64ull << 20;
  o.chunk_size = 64u << 10;
  o.block_cache_bytes = 1u << 20;
  o.write_buffer_bytes = 4u << 20;
  auto t = cache::DiskTier::open(o);
  REQUIRE(t.ok());
  return std::shared_ptr<cache::DiskTier>(std::move(t).value());
}

std::string body_of(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 131) % 251);
  return s;
}

cache::StoredObject head_of(std::uint64_t length) {
  cache::StoredObject h;
  h.status = 200;
  http::HeaderMap fields;
  fields.add("Content-Type", "application/octet-stream");
  h.headers = *http::FrozenHeaders::freeze(fields);
  h.body_size = length;
  return h;
}

// Collects a streamed body.
struct Sink : DiskBodySink {
  DiskBodyReader* reader = nullptr;
  std::string got;
  bool complete = false;
  bool failed = false;
  void on_disk_body(cache::Chunk chunk, std::size_t offset, std::size_t length,
                    bool last) override {
    got.append(chunk.view().substr(offset, length));
    if (last) {
      complete = true;
      reader->detach();
      reader = nullptr;
      return;
    }
    reader->read_next();
  }
  void on_disk_body_error() override {
    failed = true;
    reader->detach();
    reader = nullptr;
  }
};

double dropped_backlog() {
  const auto text = observe::Metrics::get().serialize();
  const std::string name = "ghala_cache_disk_writes_dropped_total{reason=\"backlog\"} ";
  const auto at = text.find(name);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

}  // namespace

TEST_CASE("disk write stream: a body appended in pieces is committed whole") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  const std::string body = body_of(3 * 1024 * 1024 + 123, 1);
  auto stream = DiskWriteStream::begin(&loop.loop, tier, "k", head_of(body.size()));
  REQUIRE(stream);
  for (std::size_t at = 0; at < body.size(); at += 10000) {
    stream->append(std::string_view(body).substr(at, 10000));
    uv_run(&loop.loop, UV_RUN_NOWAIT);  // let some jobs complete between appends
  }
  stream->commit();
  stream.reset();  // the flow lets go; the jobs keep the stream until it is committed
  loop.run();
  auto found = tier->lookup("k");
  REQUIRE(found.ok());
  REQUIRE(found.value().size() == 1);
  auto read = tier->read_body("k", *found.value()[0]);
  REQUIRE(read.ok());
  std::string got;
  for (const auto& c : read.value()) got += c.view();
  CHECK(got == body);
}

TEST_CASE("disk write stream: an aborted or abandoned stream leaves nothing visible") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  const std::string body = body_of(2 * 1024 * 1024, 2);
  {
    auto stream = DiskWriteStream::begin(&loop.loop, tier, "aborted", head_of(0));
    REQUIRE(stream);
    stream->append(std::string_view(body).substr(0, 1500000));
    loop.run();
    stream->abort();
    stream->commit();  // too late: ignored
  }
  {
    auto stream = DiskWriteStream::begin(&loop.loop, tier, "abandoned", head_of(0));
    stream->append(body);  // dropped without commit or abort (the exchange went away)
  }
  loop.run();
  CHECK(tier->lookup("aborted").value().empty());
  CHECK(tier->lookup("abandoned").value().empty());
  CHECK(tier->stats().objects == 0);
}

TEST_CASE("disk write stream: when the disk falls behind the store is dropped, not buffered") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  const double before = dropped_backlog();
  auto stream = DiskWriteStream::begin(&loop.loop, tier, "slow", head_of(0));
  REQUIRE(stream);
  // The loop does not run: the first batch's job cannot report back, so everything after it
  // waits in the stream's queue until the bound is passed.
  const std::string piece = body_of(256 * 1024, 3);
  int appended = 0;
  while (!stream->dropped() && appended < 100) {
    stream->append(piece);
    ++appended;
  }
  CHECK(stream->dropped());
  CHECK(appended * piece.size() <= DiskWriteStream::kMaxQueued + 2 * piece.size());
  CHECK(dropped_backlog() == before + 1);
  stream->commit();  // ignored
  stream.reset();
  loop.run();
  CHECK(tier->lookup("slow").value().empty());
}

TEST_CASE("disk lookup: small bodies come back whole, large ones with their first chunk") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  const std::string small = body_of(100000, 4);
  const std::string large = body_of(1000000, 5);
  for (const auto& [key, body] : {std::pair{"small", small}, std::pair{"large", large}}) {
    auto stream = DiskWriteStream::begin(&loop.loop, tier, key, head_of(body.size()));
    stream->append(body);
    stream->commit();
  }
  loop.run();
  auto link = std::make_shared<int>(0);
  std::vector<DiskFound> found(2);
  disk_lookup(&loop.loop, tier, "small", http::HeaderMap{}, 256 * 1024, link,
              [&](DiskFound f) { found[0] = std::move(f); });
  disk_lookup(&loop.loop, tier, "large", http::HeaderMap{}, 256 * 1024, link,
              [&](DiskFound f) { found[1] = std::move(f); });
  loop.run();
  REQUIRE(found[0].object);
  CHECK_FALSE(disk_backed(*found[0].object));
  std::string got;
  for (const auto& c : found[0].object->chunks) got += c.view();
  CHECK(got == small);
  REQUIRE(found[1].object);
  CHECK(disk_backed(*found[1].object));
  REQUIRE(found[1].first_chunk);
  CHECK(found[1].first_chunk.view() == large.substr(0, 64 * 1024));
  CHECK_FALSE(found[0].view);  // read whole: nothing to pin
  REQUIRE(found[1].view);

  SUBCASE("a range of a large object streams across chunk boundaries") {
    Sink sink;
    const std::uint64_t from = 64 * 1024 - 7, n = 3 * 64 * 1024 + 11;
    sink.reader = new DiskBodyReader(&loop.loop, tier, "large", found[1].object,
                                     found[1].first_chunk, found[1].view, from, n, &sink);
    sink.reader->read_next();
    loop.run();
    CHECK(sink.complete);
    CHECK(sink.got == large.substr(from, n));
  }
  SUBCASE("the whole large object, from its first chunk on") {
    Sink sink;
    sink.reader = new DiskBodyReader(&loop.loop, tier, "large", found[1].object,
                                     found[1].first_chunk, found[1].view, 0, large.size(), &sink);
    sink.reader->read_next();
    loop.run();
    CHECK(sink.complete);
    CHECK(sink.got == large);
  }
  SUBCASE("through its view, a purge or replacement meanwhile does not cut the body short") {
    Sink sink;
    sink.reader = new DiskBodyReader(&loop.loop, tier, "large", found[1].object, nullptr,
                                     found[1].view, 0, large.size(), &sink);
    REQUIRE(tier->purge("large").ok());
    sink.reader->read_next();
    loop.run();
    CHECK(sink.complete);
    CHECK(sink.got == large);
    CHECK(tier->lookup("large").value().empty());  // the purge itself took effect
  }
  SUBCASE("without a view, an object purged under the reader ends with an error, never short") {
    found[1].view.reset();
    Sink sink;
    sink.reader = new DiskBodyReader(&loop.loop, tier, "large", found[1].object, nullptr, nullptr,
                                     0, large.size(), &sink);
    REQUIRE(tier->purge("large").ok());
    sink.reader->read_next();
    loop.run();
    CHECK(sink.failed);
    CHECK_FALSE(sink.complete);
  }
}

TEST_CASE("disk lookup: a requester that went away is not called back") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  auto link = std::make_shared<int>(0);
  bool called = false;
  disk_lookup(&loop.loop, tier, "k", http::HeaderMap{}, 0, link, [&](DiskFound) { called = true; });
  link.reset();  // the exchange was destroyed while the job ran
  loop.run();
  CHECK_FALSE(called);
}

TEST_CASE("disk insert: write-through jobs waiting on the pool are bounded in number") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  const double before = dropped_backlog();
  auto obj = std::make_shared<cache::StoredObject>(head_of(3));
  obj->chunks.push_back(cache::Chunk::copy_of("abc"));
  // The loop does not run, so no job reports back: every insert past the bound is dropped.
  for (int i = 0; i < 300; ++i) disk_insert(&loop.loop, tier, "k" + std::to_string(i), obj);
  CHECK(dropped_backlog() == before + (300 - 256));
  loop.run();
  CHECK(tier->stats().objects == 256);
  disk_insert(&loop.loop, tier, "after", obj);  // the bound is free again
  loop.run();
  CHECK(tier->lookup("after").value().size() == 1);
}

TEST_CASE("disk write stream: all streams together hold a bounded number of bytes") {
  TempDir dir;
  Loop loop;
  auto tier = open_tier(dir.path());
  // Each stream stays under its own bound; together they pass the process-wide one.
  const std::string piece = body_of(256 * 1024, 6);
  std::vector<std::shared_ptr<DiskWriteStream>> streams;
  std::vector<std::size_t> appended;
  for (int i = 0; i < 12; ++i) {
    auto s = DiskWriteStream::begin(&loop.loop, tier, "s" + std::to_string(i), head_of(0));
    REQUIRE(s);
    std::size_t n = 0;
    for (int k = 0; k < 24 && !s->dropped(); ++k) {  // 6 MiB each, the loop stalled
      s->append(piece);
      if (!s->dropped()) n += piece.size();
    }
    appended.push_back(n);
    streams.push_back(std::move(s));
  }
  // A dropped stream gives its queue back at once (what it had in flight stays until the job
  // ends), so later streams may use that room; the live ones never hold more than the bound.
  std::size_t held = 0;
  int dropped = 0;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    if (streams[i]->dropped()) {
      ++dropped;
      held += piece.size();  // its batch in flight
    } else {
      held += appended[i];
    }
  }
  CHECK(dropped >= 1);
  CHECK(held <= DiskWriteStream::kMaxQueuedTotal);
  for (auto& s : streams) s->abort();
  streams.clear();
  loop.run();
  CHECK(tier->stats().objects == 0);
  // Everything was released: a new stream may hold bytes again.
  auto s = DiskWriteStream::begin(&loop.loop, tier, "again", head_of(0));
  for (int k = 0; k < 24; ++k) s->append(piece);
  CHECK_FALSE(s->dropped());
  s->commit();
  s.reset();
  loop.run();
  CHECK(tier->lookup("again").value().size() == 1);
}
