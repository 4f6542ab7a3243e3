#include "ghala/cache/disk_tier.hpp"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <thread>

#include "cache/disk_crc32c.hpp"
#include "cache/disk_format.hpp"
#include "disk_test_util.hpp"

using namespace ghala::cache;
using namespace ghala::cache::test;
using ghala::ErrorKind;

namespace {

std::unique_ptr<DiskTier> open_tier(const DiskTierOptions& o) {
  auto t = DiskTier::open(o);
  REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error().message));
  return std::move(t).value();
}

// Builds "prefix<i>". (GCC 12 at -O3 warns falsely on `"literal" + std::to_string(i)`.)
std::string name(const char* prefix, long i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

ObjectPtr only(DiskTier& tier, const std::string& key) {
  auto found = tier.lookup(key);
  REQUIRE(found.ok());
  REQUIRE(found.value().size() == 1);
  return found.value()[0];
}

std::string body_of(DiskTier& tier, const std::string& key, const StoredObject& o) {
  auto body = tier.read_body(key, o);
  REQUIRE_MESSAGE(body.ok(), (body.ok() ? "" : body.error().message));
  return join(body.value());
}

}  // namespace

TEST_CASE("crc32c gives the standard check value and extends incrementally") {
  CHECK(disk::crc32c("123456789") == 0xE3069283u);
  CHECK(disk::crc32c("") == 0u);
  std::string long_text = make_body(7, 0, 1000);
  CHECK(disk::crc32c_extend(disk::crc32c(long_text.substr(0, 333)), long_text.substr(333)) ==
        disk::crc32c(long_text));
}

TEST_CASE("metadata records round-trip and every truncation or flipped byte is rejected") {
  disk::MetaRecord r;
  r.object = make_object(3, 200000);
  r.object.chunks.clear();
  r.object.id = 42;
  r.object.vary_key = std::string("accept-encoding\0gzip", 20);
  r.object.tags = {"product-7", "all"};
  r.object.soft_purged_at = 123;
  r.object.chunk_size = 65536;
  r.object.chunk_count = disk::chunk_count_for(200000, 65536);
  r.seq = 77;
  std::string key = disk::meta_key("https://example.com/a", r.object.vary_key);
  std::string v = disk::encode_meta(key, r);

  auto back = disk::decode_meta(key, v);
  REQUIRE(back.ok());
  const StoredObject& o = back.value().object;
  CHECK(o.id == 42);
  CHECK(back.value().seq == 77);
  CHECK(o.status == 200);
  CHECK(o.headers.get("ETag") == "\"3\"");
  CHECK(o.timings.age == 5);
  CHECK(o.timings.date == 999);
  CHECK(o.vary_key == r.object.vary_key);
  CHECK(o.tags == r.object.tags);
  CHECK(o.soft_purged_at == 123);
  CHECK(o.body_size == 200000);
  CHECK(o.chunk_count == 4);

  for (std::size_t n = 0; n < v.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(disk::decode_meta(key, v.substr(0, n)).ok());
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string bad = v;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    CAPTURE(i);
    CHECK_FALSE(disk::decode_meta(key, bad).ok());
  }
  // The same bytes under another key (a record copied or left at the wrong place).
  CHECK_FALSE(disk::decode_meta(disk::meta_key("https://example.com/b", o.vary_key), v).ok());
}

TEST_CASE("metadata with a valid checksum but absurd counts fails without allocating") {
  std::string key = disk::meta_key("k", "");
  std::string v;
  v.push_back(1);                   // version
  v.append(8, '\x01');              // id
  v.append(8, '\x01');              // seq
  v.append("\xc8\x00", 2);          // status 200
  v.append(5 * 8, '\0');            // timings, soft_purged_at
  v.append(8, '\0');                // body_size
  v.append("\0\0\0\0", 4);          // chunk_count
  v.append("\0\0\1\0", 4);          // chunk_size 65536
  v.append("\xff\xff\xff\xff", 4);  // vary key "length" 4 GiB
  std::uint32_t crc = disk::crc32c_extend(disk::crc32c(key), v);
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  auto r = disk::decode_meta(key, v);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Invalid);
}

TEST_CASE("chunk records check the key, the exact length and the checksum") {
  std::string k = disk::chunk_key(9, 3);
  std::string payload = make_body(1, 0, 5000);
  std::string v = disk::encode_chunk(k, payload);
  auto ok = disk::decode_chunk(k, v, payload.size());
  REQUIRE(ok.ok());
  CHECK(ok.value() == payload);
  CHECK_FALSE(disk::decode_chunk(k, v, payload.size() - 1).ok());                   // length
  CHECK_FALSE(disk::decode_chunk(disk::chunk_key(9, 4), v, payload.size()).ok());   // moved
  CHECK_FALSE(disk::decode_chunk(disk::chunk_key(10, 3), v, payload.size()).ok());  // other id
  std::string flipped = v;
  flipped[100] ^= 1;
  CHECK_FALSE(disk::decode_chunk(k, flipped, payload.size()).ok());
  CHECK_FALSE(disk::decode_chunk(k, "", 0).ok());
}

TEST_CASE("an inserted object is found by lookup and its body reads back chunk by chunk") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject in = make_object(1, (1u << 20) + 123, 7000);
  in.vary_key = "gzip";
  in.tags = {"t1", "t2"};
  auto stored = tier->insert("https://a.example/big", in);
  REQUIRE(stored.ok());
  CHECK(stored.value()->id != 0);
  CHECK(stored.value()->chunks.empty());

  auto o = only(*tier, "https://a.example/big");
  CHECK(o->id == stored.value()->id);
  CHECK(o->chunks.empty());
  CHECK(o->chunk_size == 65536);
  CHECK(o->chunk_count == 17);  // 16 full chunks and 123 bytes
  CHECK(o->body_size == in.body_size);
  CHECK(o->vary_key == "gzip");
  CHECK(o->tags == in.tags);
  CHECK(o->headers.get("Content-Type") == "application/octet-stream");
  CHECK(o->timings.request_time == 1000);

  auto last = tier->read_chunk("https://a.example/big", *o, 16);
  REQUIRE(last.ok());
  CHECK(last.value().view() == make_body(1, 16 * 65536, 123));
  CHECK(body_of(*tier, "https://a.example/big", *o) == join(in.chunks));
  CHECK(tier->read_chunk("https://a.example/big", *o, 17).error().kind == ErrorKind::Invalid);

  auto none = tier->lookup("https://a.example/big/");  // a longer key is another key
  REQUIRE(none.ok());
  CHECK(none.value().empty());
  CHECK(tier->stats().objects == 1);
  CHECK(tier->stats().bytes > in.body_size);
}

TEST_CASE("variants with different vary keys coexist; the same vary key replaces") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject gz = make_object(1, 1000);
  gz.vary_key = "gzip";
  StoredObject br = make_object(2, 2000);
  br.vary_key = "br";
  REQUIRE(tier->insert("k", gz).ok());
  REQUIRE(tier->insert("k", br).ok());
  auto found = tier->lookup("k");
  REQUIRE(found.ok());
  CHECK(found.value().size() == 2);

  StoredObject gz2 = make_object(3, 300000);
  gz2.vary_key = "gzip";
  REQUIRE(tier->insert("k", gz2).ok());
  found = tier->lookup("k");
  REQUIRE(found.value().size() == 2);
  for (const auto& o : found.value()) {
    std::uint64_t seed = o->vary_key == "gzip" ? 3 : 2;
    CHECK(body_of(*tier, "k", *o) == make_body(seed, 0, o->body_size));
  }
  CHECK(tier->stats().objects == 2);
}

TEST_CASE("a view keeps an object readable through replacement, purge and eviction") {
  TempDir dir;
  auto opts = small_options(dir.path());
  opts.max_bytes = 2u << 20;
  opts.max_object_bytes = 1u << 20;
  auto tier = open_tier(opts);
  const std::size_t size = 300000;  // 5 chunks of 64 KiB
  REQUIRE(tier->insert("k", make_object(1, size)).ok());
  auto view = tier->view();
  auto found = tier->lookup("k", view.get());
  REQUIRE(found.ok());
  REQUIRE(found.value().size() == 1);
  const ObjectPtr old = found.value()[0];
  REQUIRE(tier->read_chunk("k", *old, 0, view.get()).ok());

  SUBCASE("replaced by a new version") {
    REQUIRE(tier->insert("k", make_object(2, size)).ok());
    CHECK(body_of(*tier, "k", *only(*tier, "k")) == make_body(2, 0, size));
  }
  SUBCASE("hard purged") {
    REQUIRE(tier->purge("k").ok());
    CHECK(tier->lookup("k").value().empty());
  }
  SUBCASE("evicted") {
    for (int i = 0; i < 12; ++i) REQUIRE(tier->insert(name("f", i), make_object(i, size)).ok());
    CHECK(tier->lookup("k").value().empty());
  }
  // Through the view, the old body is whole; without it, it is gone (NotFound, never short).
  auto body = tier->read_body("k", *old, view.get());
  REQUIRE_MESSAGE(body.ok(), (body.ok() ? "" : body.error().message));
  CHECK(join(body.value()) == make_body(1, 0, size));
  CHECK(tier->read_chunk("k", *old, 1).error().kind == ErrorKind::NotFound);
  CHECK(tier->stats().corrupt_dropped == 0);  // a race, not damage
  // A view may outlive its tier: the database closes when the view is released.
  tier.reset();
  view.reset();
  auto reopened = open_tier(opts);
  CHECK(reopened->stats().corrupt_dropped == 0);
}

TEST_CASE("objects survive a restart, with the same metadata, body and totals") {
  TempDir dir;
  auto opts = small_options(dir.path());
  for (bool blobs : {true, false}) {
    CAPTURE(blobs);
    opts.path = dir.sub(blobs ? "blobs" : "inline");
    opts.separate_bodies = blobs;
    DiskTierStats before;
    std::uint64_t big_id = 0;
    {
      auto tier = open_tier(opts);
      for (int i = 0; i < 20; ++i) {
        REQUIRE(tier->insert(name("key/", i), make_object(i, 1000 * i + 1)).ok());
      }
      auto big = tier->insert("key/big", make_object(99, 3u << 20, 65536));
      REQUIRE(big.ok());
      big_id = big.value()->id;
      before = tier->stats();
    }
    auto tier = open_tier(opts);
    auto after = tier->stats();
    CHECK(after.objects == before.objects);
    CHECK(after.bytes == before.bytes);
    for (int i = 0; i < 20; ++i) {
      std::string key = name("key/", i);
      auto o = only(*tier, key);
      CHECK(body_of(*tier, key, *o) == make_body(i, 0, 1000 * i + 1));
    }
    auto big = only(*tier, "key/big");
    CHECK(big->id == big_id);
    CHECK(body_of(*tier, "key/big", *big) == make_body(99, 0, 3u << 20));
    // Misses and prefix scans read the flushed tables (prefix Bloom filters in play).
    CHECK(tier->lookup("key/1x").value().empty());
    CHECK(tier->lookup("key/").value().empty());
    CHECK(tier->lookup("key").value().empty());
    // Ids stay unique across restarts.
    auto next = tier->insert("key/new", make_object(5, 10));
    REQUIRE(next.ok());
    CHECK(next.value()->id > big_id);
    CHECK(tier->purge_prefix("key/1").value() == 11);  // key/1, key/10..key/19
    CHECK(tier->stats().objects == 11);
  }
}

TEST_CASE("a streamed object is invisible until commit; abort and destruction leave nothing") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject head = make_object(4, 0);
  head.body_size = 0;  // unknown length (chunked origin response)

  auto w = tier->begin("stream", head);
  REQUIRE(w.ok());
  for (std::uint64_t at = 0; at < (5u << 20); at += 100000) {
    REQUIRE(w.value()->append(make_body(4, at, 100000)).ok());
  }
  CHECK(tier->lookup("stream").value().empty());
  auto committed = w.value()->commit();
  REQUIRE(committed.ok());
  auto o = only(*tier, "stream");
  CHECK(o->body_size == w.value()->bytes_written());
  CHECK(body_of(*tier, "stream", *o) == make_body(4, 0, o->body_size));
  CHECK_FALSE(w.value()->append("x").ok());  // closed

  auto a = tier->begin("aborted", head);
  REQUIRE(a.ok());
  REQUIRE(a.value()->append(make_body(5, 0, 3u << 20)).ok());  // spilled to RocksDB
  a.value()->abort();
  a.value()->abort();
  CHECK(tier->lookup("aborted").value().empty());
  {
    auto dropped = tier->begin("dropped", head);
    REQUIRE(dropped.ok());
    REQUIRE(dropped.value()->append(make_body(6, 0, 3u << 20)).ok());
  }
  CHECK(tier->lookup("dropped").value().empty());
  CHECK(tier->stats().objects == 1);
  tier.reset();

  RawStore raw(dir.path());
  REQUIRE(raw.ok());
  CHECK(raw.all("chunks").size() == o->chunk_count);  // only the committed object's chunks
  for (const auto& [k, v] : raw.all("default")) CHECK(k == "n");  // no intent left
}

TEST_CASE("the writer refuses oversize bodies and bodies that differ from the announced size") {
  TempDir dir;
  auto opts = small_options(dir.path());
  opts.max_object_bytes = 1u << 20;
  auto tier = open_tier(opts);
  StoredObject head = make_object(1, 0);

  auto w = tier->begin("big", head);
  REQUIRE(w.ok());
  REQUIRE(w.value()->append(std::string(1u << 20, 'x')).ok());
  auto over = w.value()->append("y");
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().kind == ErrorKind::Limit);
  CHECK_FALSE(w.value()->commit().ok());

  head.body_size = 2u << 20;
  auto refused = tier->begin("big", head);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::Limit);

  head.body_size = 1000;  // a truncated origin response must not be committed
  auto short_body = tier->begin("short", head);
  REQUIRE(short_body.ok());
  REQUIRE(short_body.value()->append(std::string(999, 'x')).ok());
  CHECK(short_body.value()->commit().error().kind == ErrorKind::Invalid);
  auto long_body = tier->begin("long", head);
  REQUIRE(long_body.ok());
  CHECK_FALSE(long_body.value()->append(std::string(1001, 'x')).ok());
  CHECK(tier->lookup("short").value().empty());
  CHECK(tier->lookup("long").value().empty());
  CHECK(tier->stats().objects == 0);
}

TEST_CASE("empty bodies are stored with no chunks") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject o = make_object(1, 0);
  o.status = 204;
  REQUIRE(tier->insert("empty", o).ok());
  auto back = only(*tier, "empty");
  CHECK(back->status == 204);
  CHECK(back->chunk_count == 0);
  CHECK(back->body_size == 0);
  auto body = tier->read_body("empty", *back);
  REQUIRE(body.ok());
  CHECK(body.value().empty());
}

TEST_CASE("invalid keys, tags and statuses are refused, not stored") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject o = make_object(1, 10);
  CHECK(tier->insert(std::string("a\0b", 3), o).error().kind == ErrorKind::Invalid);
  CHECK(tier->insert("", o).error().kind == ErrorKind::Invalid);
  CHECK(tier->lookup(std::string("a\0b", 3)).error().kind == ErrorKind::Invalid);
  StoredObject bad_tag = o;
  bad_tag.tags = {std::string("x\0y", 3)};
  CHECK(tier->insert("k", bad_tag).error().kind == ErrorKind::Invalid);
  StoredObject bad_status = o;
  bad_status.status = 42;
  CHECK(tier->insert("k", bad_status).error().kind == ErrorKind::Invalid);
  StoredObject bad_size = o;
  bad_size.body_size = 11;
  CHECK(tier->insert("k", bad_size).error().kind == ErrorKind::Invalid);
  CHECK(tier->stats().objects == 0);

  DiskTierOptions bad = small_options(dir.sub("x"));
  bad.chunk_size = 10;
  CHECK(DiskTier::open(bad).error().kind == ErrorKind::Invalid);
  bad = small_options(dir.sub("x"));
  bad.max_object_bytes = bad.max_bytes + 1;
  CHECK_FALSE(DiskTier::open(bad).ok());
}

TEST_CASE("purge by key, prefix and tag removes every variant and keeps tag records in step") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  auto put = [&](const std::string& key, const std::string& vary, std::vector<std::string> tags) {
    StoredObject o = make_object(key.size(), 70000);
    o.vary_key = vary;
    o.tags = std::move(tags);
    REQUIRE(tier->insert(key, o).ok());
  };
  put("https://s/a", "gzip", {"red"});
  put("https://s/a", "br", {"red", "blue"});
  put("https://s/img/1", "", {"blue"});
  put("https://s/img/2", "", {});
  put("https://s/imgx", "", {"red"});
  put("https://t/img/1", "", {"blue"});

  auto n = tier->purge("https://s/a");
  REQUIRE(n.ok());
  CHECK(n.value() == 2);
  CHECK(tier->lookup("https://s/a").value().empty());

  n = tier->purge_prefix("https://s/img/");
  REQUIRE(n.ok());
  CHECK(n.value() == 2);
  CHECK(tier->lookup("https://s/imgx").value().size() == 1);

  // A variant replaced by one without the tag is not purged by that tag.
  put("https://t/img/1", "", {"green"});
  n = tier->purge_tag("blue");
  REQUIRE(n.ok());
  CHECK(n.value() == 0);
  CHECK(tier->lookup("https://t/img/1").value().size() == 1);
  n = tier->purge_tag("red");
  REQUIRE(n.ok());
  CHECK(n.value() == 1);
  CHECK(tier->lookup("https://s/imgx").value().empty());
  CHECK(tier->stats().objects == 1);
  CHECK(tier->purge("nothing").value() == 0);
  tier.reset();

  RawStore raw(dir.path());
  REQUIRE(raw.ok());
  auto tags = raw.all("tags");
  REQUIRE(tags.size() == 1);  // only green -> https://t/img/1
  CHECK(tags[0].first.starts_with(std::string("green\0https://t/img/1", 21)));
  CHECK(raw.all("order").size() == 1);
  CHECK(raw.all("meta").size() == 1);
  CHECK(raw.all("chunks").size() == 2);
}

TEST_CASE("soft purge keeps objects, marks them once, by key, prefix and tag") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject o = make_object(1, 5000);
  o.tags = {"news"};
  REQUIRE(tier->insert("https://s/news/1", o).ok());
  REQUIRE(tier->insert("https://s/news/2", make_object(2, 5000)).ok());

  CHECK(tier->purge("https://s/news/1", PurgeMode::Soft, 500).value() == 1);
  CHECK(only(*tier, "https://s/news/1")->soft_purged_at == 500);
  CHECK(tier->purge_tag("news", PurgeMode::Soft, 900).value() == 1);
  CHECK(only(*tier, "https://s/news/1")->soft_purged_at == 500);  // the earlier mark stays
  CHECK(tier->purge_prefix("https://s/news/", PurgeMode::Soft, 700).value() == 2);
  auto two = only(*tier, "https://s/news/2");
  CHECK(two->soft_purged_at == 700);
  CHECK(body_of(*tier, "https://s/news/2", *two) == make_body(2, 0, 5000));
  CHECK(tier->stats().objects == 2);
}

TEST_CASE("update_head rewrites metadata, keeps the body, and refuses a replaced object") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  StoredObject in = make_object(1, 100000);
  in.tags = {"old"};
  REQUIRE(tier->insert("k", in).ok());
  auto stored = only(*tier, "k");

  StoredObject updated = *stored;
  auto fields = updated.headers.to_map();
  fields.set("ETag", "\"new\"");
  updated.headers = *ghala::http::FrozenHeaders::freeze(fields);
  updated.timings.response_time = 5000;
  updated.tags = {"new"};
  auto u = tier->update_head("k", updated);
  REQUIRE(u.ok());
  auto back = only(*tier, "k");
  CHECK(back->headers.get("ETag") == "\"new\"");
  CHECK(back->timings.response_time == 5000);
  CHECK(body_of(*tier, "k", *back) == make_body(1, 0, 100000));
  CHECK(tier->purge_tag("old").value() == 0);

  REQUIRE(tier->insert("k", make_object(2, 10)).ok());
  CHECK(tier->update_head("k", updated).error().kind == ErrorKind::NotFound);
  CHECK(tier->purge_tag("new").value() == 0);
}

TEST_CASE("eviction keeps the store under max_bytes, oldest first, sparing objects read") {
  TempDir dir;
  auto opts = small_options(dir.path());
  opts.max_bytes = 4u << 20;
  opts.max_object_bytes = 1u << 20;
  auto tier = open_tier(opts);
  const std::size_t size = 200000;
  for (int i = 0; i < 18; ++i) {  // ~3.6 MB: fits
    REQUIRE(tier->insert(name("k", i), make_object(i, size)).ok());
  }
  CHECK(tier->stats().evictions == 0);
  // Read the oldest object: it gets a second chance.
  auto k0 = only(*tier, "k0");
  REQUIRE(tier->read_chunk("k0", *k0, 0).ok());

  // ~20 objects fit; the 21st triggers the first eviction, down to 90% of max_bytes.
  for (int i = 18; i < 21; ++i) {
    REQUIRE(tier->insert(name("k", i), make_object(i, size)).ok());
  }
  CHECK(tier->stats().evictions > 0);
  CHECK(tier->lookup("k0").value().size() == 1);  // read: moved to the tail instead
  CHECK(tier->lookup("k1").value().empty());      // oldest unread: gone
  for (int i = 21; i < 40; ++i) {
    REQUIRE(tier->insert(name("k", i), make_object(i, size)).ok());
    CHECK(tier->stats().bytes <= opts.max_bytes);
  }
  auto s = tier->stats();
  CHECK(s.objects + s.evictions == 40);
  CHECK(tier->lookup("k0").value().empty());  // a second chance is one more trip, not forever
  CHECK(tier->lookup("k39").value().size() == 1);
  auto k39 = only(*tier, "k39");
  CHECK(body_of(*tier, "k39", *k39) == make_body(39, 0, size));
  tier.reset();

  RawStore raw(dir.path());
  REQUIRE(raw.ok());
  CHECK(raw.all("meta").size() == s.objects);
  CHECK(raw.all("order").size() == s.objects);
  CHECK(raw.all("chunks").size() == s.objects * 4);  // 200000 bytes = 4 chunks of 64 KiB
}

TEST_CASE("a reopened store over a smaller max_bytes evicts down to it") {
  TempDir dir;
  auto opts = small_options(dir.path());
  {
    auto tier = open_tier(opts);
    for (int i = 0; i < 10; ++i) REQUIRE(tier->insert(name("k", i), make_object(i, 500000)).ok());
  }
  opts.max_bytes = 2u << 20;
  opts.max_object_bytes = 1u << 20;
  auto tier = open_tier(opts);
  CHECK(tier->stats().bytes <= opts.max_bytes);
  CHECK(tier->stats().evictions >= 6);
  CHECK(tier->lookup("k9").value().size() == 1);
}

namespace {

// Closes the tier, then replaces one record of `family` through RocksDB itself.
void damage(const std::string& path, const std::string& family, const std::string& key,
            const std::string* value) {
  RawStore raw(path);
  REQUIRE(raw.ok());
  rocksdb::Status s = value ? raw.db()->Put(rocksdb::WriteOptions(), raw.cf(family), key, *value)
                            : raw.db()->Delete(rocksdb::WriteOptions(), raw.cf(family), key);
  REQUIRE(s.ok());
}

}  // namespace

TEST_CASE("a damaged or missing chunk drops the object: NotFound, never a wrong body") {
  TempDir dir;
  auto opts = small_options(dir.path());
  struct Damage {
    const char* what;
    std::function<std::optional<std::string>(const std::string& good, const std::string& other)>
        make;
  };
  std::vector<Damage> cases = {
      {"flipped byte",
       [](const std::string& g, const std::string&) {
         std::string b = g;
         b[b.size() / 2] ^= 0x10;
         return std::optional<std::string>(b);
       }},
      {"truncated",
       [](const std::string& g, const std::string&) {
         return std::optional<std::string>(g.substr(0, g.size() - 1));
       }},
      {"another chunk's intact record",
       [](const std::string&, const std::string& o) { return std::optional<std::string>(o); }},
      {"missing",
       [](const std::string&, const std::string&) { return std::optional<std::string>(); }},
  };
  int n = 0;
  for (const auto& c : cases) {
    CAPTURE(c.what);
    opts.path = dir.sub(name("case", n++));
    std::uint64_t id = 0;
    {
      auto tier = open_tier(opts);
      id = tier->insert("victim", make_object(1, 300000)).value()->id;
      REQUIRE(tier->insert("bystander", make_object(2, 300000)).ok());
    }
    std::string key1 = disk::chunk_key(id, 1);
    {
      RawStore raw(opts.path);
      REQUIRE(raw.ok());
      std::string good, other;
      REQUIRE(raw.db()->Get(rocksdb::ReadOptions(), raw.cf("chunks"), key1, &good).ok());
      REQUIRE(raw.db()
                  ->Get(rocksdb::ReadOptions(), raw.cf("chunks"), disk::chunk_key(id, 2), &other)
                  .ok());
      auto bad = c.make(good, other);
      rocksdb::Status s = bad ? raw.db()->Put(rocksdb::WriteOptions(), raw.cf("chunks"), key1, *bad)
                              : raw.db()->Delete(rocksdb::WriteOptions(), raw.cf("chunks"), key1);
      REQUIRE(s.ok());
    }
    auto tier = open_tier(opts);
    auto o = only(*tier, "victim");
    REQUIRE(tier->read_chunk("victim", *o, 0).ok());  // chunk 0 is fine
    auto r = tier->read_chunk("victim", *o, 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::NotFound);
    CHECK(tier->lookup("victim").value().empty());  // dropped
    CHECK_FALSE(tier->read_body("victim", *o).ok());
    CHECK(tier->stats().corrupt_dropped >= 1);
    CHECK(tier->stats().objects == 1);
    auto b = only(*tier, "bystander");
    CHECK(body_of(*tier, "bystander", *b) == make_body(2, 0, 300000));
  }
}

TEST_CASE("a chunk RocksDB itself reports corrupt drops the object like our own checks do") {
  // Damage inside a table or blob file is caught by RocksDB's block checksum before ours sees
  // the bytes; the object must still be dropped, or every later read would fail the same way
  // and the object would never be fetched again.
  TempDir dir;
  auto opts = small_options(dir.path());
  {
    auto tier = open_tier(opts);
    REQUIRE(tier->insert("victim", make_object(1, 300000)).ok());
  }
  {
    RawStore raw(opts.path);  // replays the WAL; the flush puts the chunks in a file
    REQUIRE(raw.ok());
    REQUIRE(raw.db()->Flush(rocksdb::FlushOptions(), raw.cf("chunks")).ok());
  }
  const std::string needle = make_body(1, 150000, 256);  // inside chunk 2 (64 KiB chunks)
  int flipped = 0;
  for (const auto& e : std::filesystem::directory_iterator(opts.path)) {
    if (e.path().extension() == ".log") continue;  // only the flushed files
    std::ifstream in(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = data.find(needle);
    if (at == std::string::npos) continue;
    data[at + 10] = static_cast<char>(data[at + 10] ^ 0x40);
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << data;
    ++flipped;
  }
  REQUIRE(flipped > 0);
  auto tier = open_tier(opts);
  auto o = only(*tier, "victim");
  REQUIRE(tier->read_chunk("victim", *o, 0).ok());
  auto r = tier->read_chunk("victim", *o, 2);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::NotFound);
  CHECK(tier->lookup("victim").value().empty());  // dropped: the next request refetches
  CHECK(tier->stats().corrupt_dropped == 1);
}

TEST_CASE("a damaged metadata record is dropped at open; eviction reclaims its chunks") {
  TempDir dir;
  auto opts = small_options(dir.path());
  opts.max_bytes = 2u << 20;
  opts.max_object_bytes = 1u << 20;
  std::uint64_t lost_id = 0;
  {
    auto tier = open_tier(opts);
    lost_id = tier->insert("a", make_object(1, 200000)).value()->id;
    REQUIRE(tier->insert("b", make_object(2, 1000)).ok());
  }
  std::string garbage = "not a record";
  damage(opts.path, "meta", disk::meta_key("a", ""), &garbage);
  {
    auto tier = open_tier(opts);
    CHECK(tier->stats().objects == 1);
    CHECK(tier->stats().corrupt_dropped == 1);
    CHECK(tier->lookup("a").value().empty());
    CHECK(tier->lookup("b").value().size() == 1);
    for (int i = 0; i < 20; ++i) {
      REQUIRE(tier->insert(name("fill", i), make_object(i + 3, 200000)).ok());
    }
    CHECK(tier->stats().evictions > 0);
  }
  RawStore raw(opts.path);
  REQUIRE(raw.ok());
  for (const auto& [k, v] : raw.all("chunks")) CHECK(disk::read_be64(k) != lost_id);
}

TEST_CASE("uncommitted chunks left by a crash are deleted at open") {
  TempDir dir;
  auto opts = small_options(dir.path());
  { auto tier = open_tier(opts); }
  {
    RawStore raw(opts.path);
    REQUIRE(raw.ok());
    rocksdb::WriteBatch b;
    for (std::uint32_t i = 0; i < 3; ++i) {
      std::string k = disk::chunk_key(500, i);
      REQUIRE(b.Put(raw.cf("chunks"), k, disk::encode_chunk(k, "data")).ok());
    }
    REQUIRE(b.Put(raw.cf("default"), disk::pending_key(500), "").ok());
    REQUIRE(raw.db()->Write(rocksdb::WriteOptions(), &b).ok());
  }
  {
    auto tier = open_tier(opts);
    auto o = tier->insert("after", make_object(1, 10));
    REQUIRE(o.ok());
    CHECK(o.value()->id > 500);  // never reuses an id seen in an intent
  }
  RawStore raw(opts.path);
  REQUIRE(raw.ok());
  CHECK(raw.all("chunks").size() == 1);
  for (const auto& [k, v] : raw.all("default")) CHECK(k == "n");
}

TEST_CASE("concurrent writers and readers on overlapping keys stay consistent") {
  TempDir dir;
  auto tier = open_tier(small_options(dir.path()));
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        std::string key = name("k", i % 5);
        std::uint64_t seed = static_cast<std::uint64_t>(t * 1000 + i);
        if (!tier->insert(key, make_object(seed, 70000 + i)).ok()) ++bad;
        auto found = tier->lookup(key);
        if (!found.ok()) ++bad;
        for (const auto& o : found.value_or({})) {
          auto body = tier->read_body(key, *o);
          // A concurrent replace may remove it between lookup and read: NotFound is fine, a
          // wrong body is not.
          if (body.ok() && join(body.value()).size() != o->body_size) ++bad;
          if (!body.ok() && body.error().kind != ErrorKind::NotFound) ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad.load() == 0);
  CHECK(tier->stats().objects == 5);
  CHECK(tier->stats().corrupt_dropped == 0);
}

namespace {

// A tmpfs of `size` mounted on a fresh directory, unmounted on destruction. Needs root (or
// CAP_SYS_ADMIN); ok() is false otherwise and the caller skips.
class SmallFs {
 public:
  explicit SmallFs(const std::string& dir, const char* size) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    std::string opts = std::string("size=") + size;
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~SmallFs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallFs(const SmallFs&) = delete;
  SmallFs& operator=(const SmallFs&) = delete;
  bool ok() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("a full filesystem makes inserts fail cleanly; stored objects stay readable") {
  TempDir dir;
  SmallFs fs(dir.sub("fs"), "6m");
  if (!fs.ok()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  auto opts = small_options(dir.sub("fs") + "/db");
  opts.write_buffer_bytes = 512u << 10;
  opts.max_bytes = 512ull << 20;  // far above the filesystem: only the disk can refuse
  opts.error_threshold = 3;
  opts.unhealthy_seconds = 3600;
  auto tier = open_tier(opts);
  REQUIRE(tier->insert("early", make_object(1, 100000)).ok());

  int failures = 0;
  ghala::Error last;
  for (int i = 0; i < 200 && failures < 10; ++i) {
    auto r = tier->insert(name("fill", i), make_object(i + 10, 300000));
    if (!r.ok()) {
      ++failures;
      last = r.error();
    }
  }
  REQUIRE(failures > 0);
  MESSAGE("first refusal: " << last.message);
  CHECK(last.kind != ErrorKind::Internal);
  auto s = tier->stats();
  CHECK(s.errors >= 3);
  CHECK_FALSE(tier->healthy());
  CHECK_FALSE(s.healthy);

  // Reads still answer: the object, or a clean error.
  auto found = tier->lookup("early");
  if (found.ok() && found.value().size() == 1) {
    auto body = tier->read_body("early", *found.value()[0]);
    if (body.ok()) CHECK(join(body.value()) == make_body(1, 0, 100000));
  }
  // Closing a store that cannot write must not crash or hang either.
  tier.reset();
}
