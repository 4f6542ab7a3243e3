// Measures the memory tier (ghala::cache::MemoryTier): its real heap cost per stored object, and
// its hit ratio under S3-FIFO and LRU on Zipf traces. Results and the command are in
// docs/caching.md ("Memory tier").
//
//   cache_memory_overhead overhead   heap per object from mallinfo2() deltas (glibc malloc), and
//                                    for bodies in the body arena its bytes in use as well
//   cache_memory_overhead zipf       hit ratios, 1M requests over 100k keys, mixed sizes
//
// Built by meson (bench/meson.build): build/bench/cache_memory_overhead.

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ghala/cache/memory_tier.hpp"
#include "ghala/core/body_arena.hpp"

namespace {

using ghala::cache::EvictionPolicy;
using ghala::cache::MemoryTier;
using ghala::cache::ObjectPtr;
using ghala::cache::StoredObject;

std::size_t heap_in_use() {
  return mallinfo2().uordblks;
}

std::string url(std::size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "https://img.example.com/p/product-%08zu.jpg", i);
  return buf;
}

// A typical image response as stored: 8 fields, no Vary, one body chunk; or (`sendable`) the
// body as the cache keeps one of at least cache.memory.sendfile_min_size: a heap lead and whole
// pages in the body arena.
std::shared_ptr<StoredObject> typical_object(std::size_t i, std::size_t body, int tags,
                                             bool sendable = false) {
  auto o = std::make_shared<StoredObject>();
  o->id = i;
  ghala::http::HeaderMap fields;  // as the response parser leaves them
  fields.add("content-type", "image/jpeg");
  fields.add("content-length", std::to_string(body));
  fields.add("etag", "\"5f1c-" + std::to_string(i) + "\"");
  fields.add("last-modified", "Tue, 15 Nov 2022 08:12:31 GMT");
  fields.add("cache-control", "public, max-age=86400");
  fields.add("date", "Sat, 21 Nov 2026 06:39:35 GMT");
  fields.add("accept-ranges", "bytes");
  fields.add("server", "origin");
  o->headers = *ghala::http::FrozenHeaders::freeze(fields);  // as the cache stores them
  for (int t = 0; t < tags; ++t) o->tags.push_back("product-" + std::to_string(i % 1000 + t));
  if (sendable) {
    ghala::cache::Chunk::append_sendable(o->chunks, std::string(body, 'x'));
  } else {
    o->chunks.push_back(ghala::cache::Chunk::copy_of(std::string(body, 'x')));
  }
  o->body_size = body;
  return o;
}

std::size_t raw_header_bytes(const StoredObject& o) {
  std::size_t n = 0;
  for (const auto& h : o.headers) n += h.name.size() + h.value.size();
  return n;
}

void overhead(std::size_t n, std::size_t body, int tags) {
  const std::size_t h0 = heap_in_use();
  std::vector<ObjectPtr> objects;
  objects.reserve(n);
  const std::size_t h_vec = heap_in_use();
  for (std::size_t i = 0; i < n; ++i) objects.push_back(typical_object(i, body, tags));
  const std::size_t h1 = heap_in_use();
  const double raw_headers = double(raw_header_bytes(*objects[0]));
  const double object_heap = double(h1 - h_vec) / double(n);

  std::size_t tier_heap = 0;
  double charge = 0;
  {
    MemoryTier tier({.max_bytes = std::uint64_t{8} << 30, .shards = 16});
    for (std::size_t i = 0; i < n; ++i) tier.insert(url(i), objects[i]);
    tier_heap = heap_in_use() - h1;
    charge = double(tier.stats().bytes) / double(tier.stats().objects);
  }
  const double tier_per = double(tier_heap) / double(n);
  const double key_len = double(url(0).size());
  std::printf("objects %zu, body %zu B, %d tags, key %.0f B, %zu header fields (%.0f B raw)\n", n,
              body, tags, key_len, objects[0]->headers.size(), raw_headers);
  std::printf(
      "  StoredObject as built (struct, control block, header block, tags, chunk): %.1f B\n",
      object_heap);
  std::printf("  tier structures (node with its key, buckets, tag index, tables): %.1f B\n",
              tier_per);
  const double beyond = object_heap + tier_per - double(body) - raw_headers;
  std::printf("  total heap beyond raw header and body bytes: %.1f B\n", beyond);
  std::printf("  of which the key's own bytes: %.0f B; the header block (index and text): %zu B\n",
              key_len, objects[0]->headers.storage_bytes());
  std::printf("  charged per object (memory_charge): %.1f B, real heap per object: %.1f B\n",
              charge, object_heap + tier_per);
  objects.clear();
  objects.shrink_to_fit();
  (void)h0;
}

// With evictions: resident objects are owned by the tier alone, and the ghost set is full.
void overhead_with_ghost(std::size_t n, std::size_t body) {
  const std::uint64_t c = ghala::cache::memory_charge(url(0), *typical_object(0, body, 0));
  const std::size_t h0 = heap_in_use();
  MemoryTier tier({.max_bytes = c * n / 2, .shards = 16});
  for (std::size_t i = 0; i < n; ++i) tier.insert(url(i), typical_object(i, body, 0));
  const auto s = tier.stats();
  const double real = double(heap_in_use() - h0) / double(s.objects);
  std::printf(
      "with evictions: %llu resident, %llu ghost entries; real heap per resident object "
      "%.1f B (incl. its ghost share), charged %.1f B\n",
      static_cast<unsigned long long>(s.objects), static_cast<unsigned long long>(s.ghost_entries),
      real, double(s.bytes) / double(s.objects));
}

// Bodies of 16 to 20 KiB in the body arena, their lengths spread over every remainder modulo a
// page: heap and arena bytes per object beyond the raw header and body bytes; then the same with
// evictions (2n inserts into room for n), the ghost set full.
std::size_t arena_body(std::size_t i) {
  return 16 * 1024 + (i * 2654435761u) % 4096;
}

void overhead_arena(std::size_t n) {
  auto& arena = ghala::BodyArena::shared();
  const std::size_t h0 = heap_in_use();
  const std::uint64_t a0 = arena.stats().used_bytes;
  std::vector<ObjectPtr> objects;
  objects.reserve(n);
  const std::size_t h_vec = heap_in_use();
  double raw = 0;
  std::uint64_t charge = 0;
  for (std::size_t i = 0; i < n; ++i) {
    objects.push_back(typical_object(i, arena_body(i), 0, true));
    raw += double(arena_body(i)) + double(raw_header_bytes(*objects.back()));
    charge += ghala::cache::memory_charge(url(i), *objects.back());
  }
  const std::size_t h1 = heap_in_use();
  const std::uint64_t a1 = arena.stats().used_bytes;
  std::size_t tier_heap = 0;
  {
    MemoryTier tier({.max_bytes = std::uint64_t{8} << 30, .shards = 16});
    for (std::size_t i = 0; i < n; ++i) tier.insert(url(i), objects[i]);
    tier_heap = heap_in_use() - h1;
  }
  const double heap = double(h1 - h_vec + tier_heap);
  const double beyond = (heap + double(a1 - a0) - raw) / double(n);
  std::printf(
      "objects %zu, bodies of 16-20 KiB in the body arena (heap lead + whole pages), 0 tags\n"
      "  heap %.1f B + arena %.1f B per object; beyond raw header and body bytes: %.1f B\n"
      "  charged per object (memory_charge): %.1f B, real per object: %.1f B\n",
      n, heap / double(n), double(a1 - a0) / double(n), beyond, double(charge) / double(n),
      (heap + double(a1 - a0)) / double(n));
  objects.clear();
  objects.shrink_to_fit();

  const std::size_t h2 = heap_in_use();
  const std::uint64_t a2 = arena.stats().used_bytes;
  MemoryTier tier({.max_bytes = charge / 2, .shards = 16});
  for (std::size_t i = 0; i < 2 * n; ++i) {
    tier.insert(url(i), typical_object(i, arena_body(i), 0, true));
  }
  double resident_raw = 0;
  for (const auto& [key, obj] : tier.snapshot()) {
    resident_raw += double(obj->body_size) + double(raw_header_bytes(*obj));
  }
  const auto st = tier.stats();
  const double real =
      double(heap_in_use() - h2) + double(arena.stats().used_bytes - a2) - resident_raw;
  std::printf(
      "  with evictions: %llu resident, %llu ghost entries; beyond raw header and body bytes per "
      "resident object: %.1f B (incl. its ghost share)\n",
      static_cast<unsigned long long>(st.objects),
      static_cast<unsigned long long>(st.ghost_entries), real / double(st.objects));
  (void)h0;
}

class Zipf {
 public:
  Zipf(std::size_t n, double alpha, std::uint64_t seed) : rng_(seed) {
    cdf_.reserve(n);
    double sum = 0;
    for (std::size_t i = 1; i <= n; ++i) cdf_.push_back(sum += 1.0 / std::pow(double(i), alpha));
    for (double& c : cdf_) c /= sum;
  }
  std::size_t next() {
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    return static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::mt19937_64 rng_;
  std::vector<double> cdf_;
};

struct Ratio {
  double objects = 0;
  double bytes = 0;
};

// Bodies share one buffer per size class, so the trace needs little real memory; the tier still
// charges each object its chunk's full size.
Ratio run_trace(EvictionPolicy policy, double alpha, std::uint64_t budget,
                const std::vector<std::size_t>& size_class,
                const std::vector<ghala::cache::Chunk>& bodies, std::size_t requests) {
  MemoryTier tier(
      {.max_bytes = budget, .max_object_bytes = budget, .shards = 16, .policy = policy});
  Zipf zipf(size_class.size(), alpha, 42);
  std::size_t hits = 0;
  double hit_bytes = 0, all_bytes = 0;
  for (std::size_t r = 0; r < requests; ++r) {
    const std::size_t k = zipf.next();
    const auto& body = bodies[size_class[k]];
    all_bytes += double(body.size());
    const std::string key = url(k);
    if (!tier.lookup(key).empty()) {
      ++hits;
      hit_bytes += double(body.size());
      continue;
    }
    auto o = std::make_shared<StoredObject>();
    o->chunks.push_back(body);
    o->body_size = body.size();
    tier.insert(key, std::move(o));
  }
  return {double(hits) / double(requests), hit_bytes / all_bytes};
}

void zipf(std::size_t keys, std::size_t requests) {
  // 16 size classes, log-spaced from 256 B to 256 KiB; each key gets one at random.
  std::vector<ghala::cache::Chunk> bodies;
  for (int c = 0; c < 16; ++c) {
    const double size = 256.0 * std::pow(1024.0, c / 15.0);
    bodies.push_back(
        ghala::cache::Chunk::copy_of(std::string(static_cast<std::size_t>(size), 'x')));
  }
  std::vector<std::size_t> size_class(keys);
  std::mt19937 rng(7);
  std::uint64_t total = 0;
  for (auto& s : size_class) {
    s = rng() % bodies.size();
    total += ghala::cache::memory_charge(url(0), StoredObject{}) + bodies[s].size() +
             ghala::cache::kMemoryChunkOverhead;
  }
  std::printf(
      "%zu requests over %zu keys, sizes 256 B..256 KiB log-spaced; working set %.0f "
      "MiB charged; 16 shards\n",
      requests, keys, double(total) / (1 << 20));
  std::printf(
      "| alpha | cache (of working set) | LRU hit | S3-FIFO hit | LRU byte hit | "
      "S3-FIFO byte hit |\n|---|---|---|---|---|---|\n");
  for (double alpha : {0.9, 1.0}) {
    for (double frac : {0.01, 0.05, 0.10, 0.25}) {
      const auto budget = static_cast<std::uint64_t>(double(total) * frac);
      const Ratio lru = run_trace(EvictionPolicy::Lru, alpha, budget, size_class, bodies, requests);
      const Ratio s3 =
          run_trace(EvictionPolicy::S3Fifo, alpha, budget, size_class, bodies, requests);
      std::printf("| %.1f | %.0f%% | %.4f | %.4f | %.4f | %.4f |\n", alpha, frac * 100, lru.objects,
                  s3.objects, lru.bytes, s3.bytes);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "overhead";
  if (std::strcmp(mode, "overhead") == 0) {
    overhead(100000, 200, 0);
    overhead(100000, 200, 2);
    overhead_with_ghost(200000, 200);
    overhead_arena(20000);
    return 0;
  }
  if (std::strcmp(mode, "zipf") == 0) {
    zipf(100000, 1000000);
    return 0;
  }
  std::fprintf(stderr, "usage: %s overhead|zipf\n", argv[0]);
  return 2;
}
