// Measures what a purge costs on the memory tier (the part that runs on the admin loop): a URL
// purge (one key), a prefix purge (scans every key of every shard) and a tag purge (tag index),
// hard and soft, on a tier holding N objects. Results and the command are in docs/caching.md
// ("Purge").
//
//   purge_cost [N]     default N = 200000
//
// Built by meson (bench/meson.build): build/bench/purge_cost.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ghala/cache/memory_tier.hpp"

namespace {

using ghala::cache::MemoryTier;
using ghala::cache::StoredObject;

// 100 directories of N/100 objects; each directory's objects share a tag.
std::string key(std::size_t i) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "www.example.com/d%02zu/article-%08zu.html", i % 100, i);
  return buf;
}

std::string dir_tag(std::size_t i) {
  return "dir-" + std::to_string(i % 100);
}

void fill(MemoryTier& tier, std::size_t n) {
  auto body = ghala::cache::Chunk::copy_of(std::string(512, 'x'));
  ghala::http::HeaderMap fields;
  fields.add("Content-Type", "text/html");
  fields.add("Cache-Control", "max-age=600");
  const auto headers = *ghala::http::FrozenHeaders::freeze(fields);
  for (std::size_t i = 0; i < n; ++i) {
    auto o = std::make_shared<StoredObject>();
    o->headers = headers;
    o->tags = {dir_tag(i)};
    o->body_size = body.size();
    o->chunks.push_back(body);
    tier.insert(key(i), std::move(o));
  }
}

template <class F>
double ms(F&& f, std::uint64_t& n) {
  const auto t0 = std::chrono::steady_clock::now();
  n = f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  MemoryTier::Options o;
  o.max_bytes = std::uint64_t{4} << 30;  // everything fits: no eviction during the run
  MemoryTier tier(o);
  fill(tier, n);
  std::printf("memory tier: %zu objects in %u shards\n",
              static_cast<std::size_t>(tier.stats().objects), tier.shard_count());
  std::uint64_t count = 0;
  double t = ms(
      [&] {
        std::uint64_t c = 0;
        for (std::size_t i = 0; i < 1000; ++i) c += tier.erase(key(i * 7));
        return c;
      },
      count);
  std::printf("url hard     %8.4f ms per URL (%llu objects / 1000 URLs)\n", t / 1000,
              static_cast<unsigned long long>(count));
  t = ms([&] { return tier.soft_purge_prefix("www.example.com/d01/", 1); }, count);
  std::printf("prefix soft  %8.2f ms (%llu objects)\n", t, static_cast<unsigned long long>(count));
  t = ms([&] { return tier.erase_prefix("www.example.com/d02/"); }, count);
  std::printf("prefix hard  %8.2f ms (%llu objects)\n", t, static_cast<unsigned long long>(count));
  t = ms([&] { return tier.erase_prefix("www.example.com/nothing/"); }, count);
  std::printf("prefix none  %8.2f ms (%llu objects: the scan alone)\n", t,
              static_cast<unsigned long long>(count));
  // What a request sees meanwhile: the longest single lookup while a hard prefix purge runs
  // (a lookup waits only while the purge holds its shard's lock exclusively).
  {
    std::atomic<bool> done{false};
    double worst = 0;
    std::thread reader([&] {
      std::vector<ghala::cache::ObjectPtr> out;
      for (std::size_t i = 0; !done.load(std::memory_order_relaxed); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        out = tier.lookup(key((i * 7919) % n));
        const double d =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        if (d > worst) worst = d;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    t = ms([&] { return tier.erase_prefix("www.example.com/d05/"); }, count);
    done = true;
    reader.join();
    std::printf("prefix hard  %8.2f ms (%llu objects); longest lookup meanwhile %.2f ms\n", t,
                static_cast<unsigned long long>(count), worst);
  }
  t = ms([&] { return tier.soft_purge_tag(dir_tag(3), 1); }, count);
  std::printf("tag soft     %8.2f ms (%llu objects)\n", t, static_cast<unsigned long long>(count));
  t = ms([&] { return tier.erase_tag(dir_tag(4)); }, count);
  std::printf("tag hard     %8.2f ms (%llu objects)\n", t, static_cast<unsigned long long>(count));
  return 0;
}
