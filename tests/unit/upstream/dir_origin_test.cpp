#include "ghala/upstream/dir_origin.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

using ghala::ErrorKind;
using ghala::upstream::decode_url_path;
using ghala::upstream::DirOrigin;
using ghala::upstream::OpenedKind;
using ghala::upstream::ResolveMode;

namespace {

void write_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  off_t off = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return out;
}

// A real tree in a fresh temporary directory, removed at the end of each test:
//   base/outside/secret.txt          outside the root
//   base/root/                       the served root (see the constructor)
struct Tree {
  std::string base;
  std::string root;
  bool have_socket = false;
  bool have_device = false;

  Tree() {
    char tmpl[] = "/tmp/ghala-dir-origin-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base + "/root";
    for (const char* d : {"/outside", "/root", "/root/sub", "/root/noindex", "/root/.git",
                          "/root/.well-known", "/root/weird", "/root/weird/index.html"}) {
      REQUIRE(::mkdir((base + d).c_str(), 0755) == 0);
    }
    write_file(base + "/outside/secret.txt", "secret");
    write_file(root + "/index.html", "home");
    write_file(root + "/a.txt", "hello");
    write_file(root + "/sub/index.html", "sub home");
    write_file(root + "/sub/page.CSS", "body{}");
    write_file(root + "/.hidden", "hidden");
    write_file(root + "/sub/.env", "KEY=1");
    write_file(root + "/.git/config", "[core]");
    write_file(root + "/.well-known/security.txt", "Contact: x");
    write_file(root + "/name with space.txt", "space");
    write_file(root + "/100%.txt", "percent");
    write_file(root + "/%2e%2e", "literal");
    write_file(root + "/empty.bin", "");
    link("a.txt", "/link_in");
    link("sub", "/link_dir");
    link("../outside/secret.txt", "/link_out");
    link("../outside", "/link_outdir");
    link("/etc/passwd", "/link_abs");
    link(root + "/a.txt", "/link_abs_in");
    link("loop", "/loop");
    REQUIRE(::mkfifo((root + "/fifo").c_str(), 0644) == 0);
    make_socket();
    // Device nodes need CAP_MKNOD; skip that check where we do not have it.
    have_device = ::mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  }
  ~Tree() {
    std::error_code ec;
    std::filesystem::remove_all(base, ec);
  }
  void link(const std::string& target, const std::string& name) {
    REQUIRE(::symlink(target.c_str(), (root + name).c_str()) == 0);
  }
  void make_socket() {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(s >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = root + "/sock";
    if (path.size() < sizeof addr.sun_path) {
      std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
      have_socket = ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ::close(s);
  }
};

DirOrigin make_origin(const Tree& t, ResolveMode mode) {
  auto o = DirOrigin::create(t.root, mode);
  REQUIRE(o.ok());
  return std::move(o).value();
}

ErrorKind error_of(const DirOrigin& o, std::string_view path) {
  CAPTURE(path);
  auto r = o.open(path);
  REQUIRE_FALSE(r.ok());
  return r.error().kind;
}

std::string content_of(const DirOrigin& o, std::string_view path) {
  CAPTURE(path);
  auto r = o.open(path);
  REQUIRE(r.ok());
  REQUIRE(r.value().kind == OpenedKind::File);
  return read_all(r.value().fd.get());
}

// Every behaviour that must hold whichever way paths are resolved.
void check_common(const Tree& t, const DirOrigin& o) {
  CHECK(content_of(o, "/") == "home");
  CHECK(content_of(o, "/a.txt") == "hello");
  CHECK(content_of(o, "//a.txt") == "hello");
  CHECK(content_of(o, "/sub/") == "sub home");
  CHECK(content_of(o, "/sub/page.CSS") == "body{}");
  CHECK(content_of(o, "/name%20with%20space.txt") == "space");
  CHECK(content_of(o, "/100%25.txt") == "percent");
  CHECK(content_of(o, "/.well-known/security.txt") == "Contact: x");
  CHECK(content_of(o, "/empty.bin").empty());
  // Decoded once: "%252e%252e" is the literal file "%2e%2e", never "..".
  CHECK(content_of(o, "/%252e%252e") == "literal");

  CHECK(error_of(o, "/missing") == ErrorKind::NotFound);
  CHECK(error_of(o, "/sub/missing.css") == ErrorKind::NotFound);
  CHECK(error_of(o, "/a.txt/") == ErrorKind::NotFound);
  CHECK(error_of(o, "/a.txt/x") == ErrorKind::NotFound);
  CHECK(error_of(o, "/noindex/") == ErrorKind::NotFound);
  CHECK(error_of(o, "/weird/") == ErrorKind::NotFound);  // index.html is a directory

  // Hidden files: 404, whether written raw or encoded.
  CHECK(error_of(o, "/.hidden") == ErrorKind::NotFound);
  CHECK(error_of(o, "/%2ehidden") == ErrorKind::NotFound);
  CHECK(error_of(o, "/.git/config") == ErrorKind::NotFound);
  CHECK(error_of(o, "/.git/") == ErrorKind::NotFound);
  CHECK(error_of(o, "/.git") == ErrorKind::NotFound);
  CHECK(error_of(o, "/sub/.env") == ErrorKind::NotFound);

  // Dot-segments, raw and encoded.
  for (const char* p :
       {"/../outside/secret.txt", "/sub/../a.txt", "/..", "/sub/..", "/./a.txt", "/.",
        "/%2e%2e/outside/secret.txt", "/%2E%2E/outside/secret.txt", "/.%2e/outside/secret.txt",
        "/%2e./outside/secret.txt", "/sub/%2e%2e/%2e%2e/outside/secret.txt", "/%2e/a.txt"}) {
    CHECK(error_of(o, p) == ErrorKind::Invalid);
  }
  // Encoded separators, NUL, bad escapes, backslashes, control characters.
  for (const char* p :
       {"/sub%2fpage.CSS", "/sub%2Fpage.CSS", "/..%2f..%2foutside", "/a.txt%00", "/a.txt%00.html",
        "/%", "/%4", "/%zz", "/%g0", "/a%2", "/sub\\page.CSS", "/..\\..\\etc\\passwd",
        "/sub%5cpage.CSS", "/a%01.txt", "/a%7f", "/a%0a", "a.txt", ""}) {
    CHECK(error_of(o, p) == ErrorKind::Invalid);
  }
  CHECK(error_of(o, "/" + std::string(5000, 'a')) == ErrorKind::Invalid);

  // Symlinks leaving the root, relative or absolute, are refused.
  CHECK(error_of(o, "/link_out") == ErrorKind::Denied);
  CHECK(error_of(o, "/link_outdir/secret.txt") == ErrorKind::Denied);
  CHECK(error_of(o, "/link_abs") == ErrorKind::Denied);
  CHECK(error_of(o, "/link_abs_in") == ErrorKind::Denied);
  CHECK(error_of(o, "/loop") == ErrorKind::Denied);

  // Only regular files. O_NONBLOCK keeps the FIFO from blocking; the alarm fails the test
  // loudly if it ever does.
  ::alarm(10);
  CHECK(error_of(o, "/fifo") == ErrorKind::NotFound);
  ::alarm(0);
  if (t.have_socket) CHECK(error_of(o, "/sock") == ErrorKind::NotFound);
  if (t.have_device) CHECK(error_of(o, "/null") == ErrorKind::NotFound);
}

}  // namespace

TEST_CASE("dir origin with openat2 serves files and refuses escapes") {
  Tree t;
  auto o = make_origin(t, ResolveMode::Auto);
  if (!o.uses_openat2()) MESSAGE("openat2 unavailable here: Auto runs the walk fallback");
  check_common(t, o);
}

TEST_CASE("dir origin walk fallback serves files and refuses escapes") {
  Tree t;
  auto o = make_origin(t, ResolveMode::Walk);
  CHECK_FALSE(o.uses_openat2());
  check_common(t, o);
}

TEST_CASE("symlinks inside the root: followed with openat2, refused by the walk") {
  Tree t;
  auto beneath = make_origin(t, ResolveMode::Auto);
  if (beneath.uses_openat2()) {
    CHECK(content_of(beneath, "/link_in") == "hello");
    CHECK(content_of(beneath, "/link_dir/page.CSS") == "body{}");
    CHECK(content_of(beneath, "/link_dir/") == "sub home");
  }
  auto walk = make_origin(t, ResolveMode::Walk);
  CHECK(error_of(walk, "/link_in") == ErrorKind::Denied);
  CHECK(error_of(walk, "/link_dir/page.CSS") == ErrorKind::Denied);
}

TEST_CASE("a directory without its trailing slash asks for a redirect") {
  Tree t;
  for (auto mode : {ResolveMode::Auto, ResolveMode::Walk}) {
    auto o = make_origin(t, mode);
    const std::pair<const char*, const char*> cases[] = {
        {"/sub", "/sub/"},           {"/noindex", "/noindex/"},
        {"//sub", "/sub/"},  // never "//sub/": a protocol-relative URL to host "sub"
        {"/%73ub", "/%73ub/"},       {"/.well-known", "/.well-known/"},
        {"/link_dir", "/link_dir/"},
    };
    for (const auto& [path, location] : cases) {
      CAPTURE(path);
      // The walk refuses every symlink, even one to a directory inside the root.
      if (!o.uses_openat2() && std::string_view(path) == "/link_dir") continue;
      auto r = o.open(path);
      REQUIRE(r.ok());
      CHECK(r.value().kind == OpenedKind::RedirectToSlash);
      CHECK(r.value().redirect_path == location);
      CHECK_FALSE(r.value().fd.valid());
    }
  }
}

TEST_CASE("opened files carry size, inode, mtime with nanoseconds and a content type") {
  Tree t;
  REQUIRE(
      ::utimensat(
          AT_FDCWD, (t.root + "/a.txt").c_str(),
          std::array<timespec, 2>{timespec{0, UTIME_OMIT}, timespec{1700000000, 123456789}}.data(),
          0) == 0);
  struct stat st {};
  REQUIRE(::stat((t.root + "/a.txt").c_str(), &st) == 0);
  auto o = make_origin(t, ResolveMode::Auto);
  auto r = o.open("/a.txt");
  REQUIRE(r.ok());
  const auto& f = r.value();
  CHECK(f.size == 5);
  CHECK(f.inode == st.st_ino);
  CHECK(f.mtime_sec == 1700000000);
  CHECK(f.mtime_nsec == 123456789);
  CHECK(f.content_type == "text/plain; charset=utf-8");
  CHECK(o.open("/").value().content_type == "text/html; charset=utf-8");
  CHECK(o.open("/sub/").value().content_type == "text/html; charset=utf-8");
  CHECK(o.open("/sub/page.CSS").value().content_type == "text/css; charset=utf-8");
  CHECK(o.open("/empty.bin").value().content_type == "application/octet-stream");
}

TEST_CASE("the opened fd is read-only, close-on-exec and closed with the result") {
  Tree t;
  auto o = make_origin(t, ResolveMode::Auto);
  int raw = -1;
  {
    auto r = o.open("/a.txt");
    REQUIRE(r.ok());
    raw = r.value().fd.get();
    const int fl = ::fcntl(raw, F_GETFL);
    CHECK((fl & O_ACCMODE) == O_RDONLY);
    CHECK((::fcntl(raw, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(::write(raw, "x", 1) == -1);
  }
  CHECK(::fcntl(raw, F_GETFD) == -1);
}

TEST_CASE("create validates the root") {
  Tree t;
  CHECK(DirOrigin::create("relative/path").error().kind == ErrorKind::Invalid);
  CHECK(DirOrigin::create("").error().kind == ErrorKind::Invalid);
  CHECK(DirOrigin::create(t.base + "/nope").error().kind == ErrorKind::NotFound);
  CHECK(DirOrigin::create(t.root + "/a.txt").error().kind == ErrorKind::NotFound);
  auto ok = DirOrigin::create(t.root);
  REQUIRE(ok.ok());
  CHECK(ok.value().root() == t.root);
}

TEST_CASE("decode_url_path decodes once and refuses dangerous escapes") {
  CHECK(decode_url_path("/a%20b").value() == "/a b");
  CHECK(decode_url_path("/%41%62%c3%a9").value() == "/Ab\xc3\xa9");
  CHECK(decode_url_path("/%252F").value() == "/%2F");
  CHECK(decode_url_path("/plain+text").value() == "/plain+text");
  CHECK(decode_url_path("").value().empty());
  for (const char* p : {"/%2F", "/%2f", "/%00", "/%", "/%a", "/%xy", "/%%41", "/%-1"}) {
    CAPTURE(p);
    auto r = decode_url_path(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::Invalid);
  }
}

TEST_CASE("arbitrary URL bytes never crash or escape") {
  Tree t;
  auto o = make_origin(t, ResolveMode::Auto);
  std::string p = "/";
  for (int i = 0; i < 400; ++i) {
    p += static_cast<char>((i * 71 + 13) % 256);
    auto r = o.open(p);
    if (r.ok() && r.value().kind == OpenedKind::File) {
      CHECK(read_all(r.value().fd.get()) != "secret");
    }
  }
}
