#include "ghala/http/header_map.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>

using namespace ghala::http;

namespace {
std::string text(const HeaderMap& h) {
  std::string out;
  for (const auto& f : h) out.append(f.name).append(": ").append(f.value).append("\n");
  return out;
}
}  // namespace

TEST_CASE("fields keep their order, duplicates and case; lookups ignore case") {
  HeaderMap h;
  h.add("Via", "1.1 a");
  h.add("Content-Type", "text/html");
  h.add("via", "1.1 b");
  CHECK(text(h) == "Via: 1.1 a\nContent-Type: text/html\nvia: 1.1 b\n");
  CHECK(h.get("VIA") == "1.1 a");
  CHECK(h.count("Via") == 2);
  CHECK(h.get_combined("via") == "1.1 a, 1.1 b");
  CHECK_FALSE(h.get("Date"));
  CHECK(h.remove("Via") == 2);
  CHECK(text(h) == "Content-Type: text/html\n");
  h.set("content-type", "text/plain");
  CHECK(text(h) == "content-type: text/plain\n");
}

TEST_CASE("views into a map stay valid while it grows and fields are removed") {
  HeaderMap h;
  h.add("X-First", "the first value, long enough to leave any small-string buffer");
  const std::string_view first = *h.get("X-First");
  // Many more fields than one storage block holds: the storage grows by new blocks.
  for (int i = 0; i < 200; ++i) h.add("X-Field-" + std::to_string(i), std::string(40, 'v'));
  CHECK(h.storage_bytes() > 512);
  CHECK(first == "the first value, long enough to leave any small-string buffer");
  h.remove("X-First");
  CHECK(first == "the first value, long enough to leave any small-string buffer");
  CHECK(h.size() == 200);
  CHECK(h.get("x-field-199") == std::string(40, 'v'));
}

TEST_CASE("a field may be added from a view into the same map") {
  HeaderMap h;
  h.add("A", std::string(500, 'a'));  // nearly fills the first block
  h.add("B", *h.get("A"));            // the copy needs a new block; the source stays put
  CHECK(h.get("B") == std::string(500, 'a'));
  h.set("A", *h.get("B"));
  CHECK(h.get("A") == std::string(500, 'a'));
}

TEST_CASE("copies are independent; moves keep the views and leave an empty, usable map") {
  HeaderMap a;
  a.add("Host", "example.com");
  a.add("ETag", "\"v1\"");
  HeaderMap b = a;
  b.set("ETag", "\"v2\"");
  a.add("Age", "5");
  CHECK(text(a) == "Host: example.com\nETag: \"v1\"\nAge: 5\n");
  CHECK(text(b) == "Host: example.com\nETag: \"v2\"\n");
  CHECK(b.get("Host")->data() != a.get("Host")->data());

  const std::string_view host = *a.get("Host");
  HeaderMap c = std::move(a);
  CHECK(c.get("Host")->data() == host.data());
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  a.add("Reused", "yes");
  CHECK(text(a) == "Reused: yes\n");
  CHECK(text(c) == "Host: example.com\nETag: \"v1\"\nAge: 5\n");

  b = c;  // copy assignment replaces, not appends
  CHECK(text(b) == text(c));
  b = std::move(c);
  CHECK(text(b) == "Host: example.com\nETag: \"v1\"\nAge: 5\n");
}

TEST_CASE("shrink_to_fit leaves exactly the bytes of the fields; clear keeps storage") {
  HeaderMap h;
  h.add("Content-Type", "image/jpeg");  // 22 bytes
  h.add("Server", "origin");            // 12 bytes
  h.add("X-Gone", "removed");
  h.remove("X-Gone");
  CHECK(h.storage_bytes() == 512);
  h.shrink_to_fit();
  CHECK(h.storage_bytes() == 34);
  CHECK(text(h) == "Content-Type: image/jpeg\nServer: origin\n");
  h.clear();
  CHECK(h.empty());
  CHECK(h.storage_bytes() == 34);  // kept for reuse
  h.add("A", "b");
  CHECK(text(h) == "A: b\n");
  HeaderMap empty;
  empty.shrink_to_fit();
  CHECK(empty.storage_bytes() == 0);
  empty.add("", "");
  CHECK(empty.size() == 1);
}
