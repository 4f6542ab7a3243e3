#include "cache/memory_index.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace ghala::cache {
namespace {

// A node for key carrying vary as its object's vary key, so tests can tell variants apart.
MemoryNode::Ptr node(std::string_view key, std::string vary = "") {
  MemoryNode::Ptr n = MemoryNode::make(key);
  auto obj = std::make_shared<StoredObject>();
  obj->vary_key = std::move(vary);
  n->obj = std::move(obj);
  return n;
}

std::multiset<std::string> varies_of(const MemoryIndex& index, std::string_view key) {
  std::multiset<std::string> out;
  index.for_each_variant(key, [&](const MemoryNode* n) { out.insert(n->obj->vary_key); });
  return out;
}

std::multiset<std::string> all_keys(const MemoryIndex& index) {
  std::multiset<std::string> out;
  index.for_each_key([&](std::string_view k) { out.emplace(k); });
  return out;
}

TEST_CASE("a node holds its key in its own allocation") {
  const std::string long_key(5000, 'k');
  for (const std::string& key : {std::string(), std::string("/a"), long_key}) {
    MemoryNode::Ptr n = node(key);
    CHECK(n->key() == key);
    CHECK(reinterpret_cast<const void*>(n->key().data()) == static_cast<const void*>(n.get() + 1));
    CHECK(n->hash() == memory_key_hash(key));
  }
}

TEST_CASE("the index finds every variant of a key and counts the key once") {
  MemoryIndex index;
  index.insert(node("/a", "gzip"));
  index.insert(node("/b"));
  index.insert(node("/a", "br"));
  CHECK(index.nodes() == 3);
  CHECK(index.keys() == 2);
  CHECK(varies_of(index, "/a") == std::multiset<std::string>{"br", "gzip"});
  CHECK(varies_of(index, "/b") == std::multiset<std::string>{""});
  CHECK(varies_of(index, "/c").empty());
  CHECK(all_keys(index) == std::multiset<std::string>{"/a", "/b"});
  MemoryNode* br = index.find("/a", [](const MemoryNode* n) { return n->obj->vary_key == "br"; });
  REQUIRE(br != nullptr);
  CHECK(index.find("/a", [](const MemoryNode*) { return false; }) == nullptr);

  MemoryNode::Ptr released = index.release(br);
  CHECK(released.get() == br);
  CHECK(index.nodes() == 2);
  CHECK(index.keys() == 2);  // "gzip" still holds /a
  CHECK(varies_of(index, "/a") == std::multiset<std::string>{"gzip"});
  index.release(index.find("/a", [](const MemoryNode*) { return true; }));
  CHECK(index.keys() == 1);
  CHECK(all_keys(index) == std::multiset<std::string>{"/b"});
}

TEST_CASE("the index keeps every node through growth and removals, as a reference map does") {
  MemoryIndex index;
  std::multimap<std::string, std::string> model;  // key -> vary
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "/k/" + std::to_string(i % 1700);  // up to three variants a key
    const std::string vary = std::to_string(i);
    index.insert(node(key, vary));
    model.emplace(key, vary);
  }
  // Remove every third variant, releasing through find() as the shard does.
  for (int i = 0; i < 5000; i += 3) {
    const std::string key = "/k/" + std::to_string(i % 1700);
    const std::string vary = std::to_string(i);
    MemoryNode* n = index.find(key, [&](const MemoryNode* m) { return m->obj->vary_key == vary; });
    REQUIRE(n != nullptr);
    index.release(n);
    for (auto it = model.lower_bound(key); it != model.upper_bound(key); ++it) {
      if (it->second == vary) {
        model.erase(it);
        break;
      }
    }
  }
  std::set<std::string> model_keys;
  for (const auto& [k, v] : model) model_keys.insert(k);
  CHECK(index.nodes() == model.size());
  CHECK(index.keys() == model_keys.size());
  const std::multiset<std::string> keys = all_keys(index);
  CHECK(keys == std::multiset<std::string>(model_keys.begin(), model_keys.end()));
  std::size_t visited = 0;
  index.for_each_node([&](const MemoryNode* n) {
    ++visited;
    std::multiset<std::string> expected;
    for (auto it = model.lower_bound(std::string(n->key()));
         it != model.upper_bound(std::string(n->key())); ++it) {
      expected.insert(it->second);
    }
    CHECK(varies_of(index, n->key()) == expected);
  });
  CHECK(visited == model.size());
}

}  // namespace
}  // namespace ghala::cache
