#include "ghala/core/stream_write.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <string>
#include <thread>

#include "../tcp_pair.hpp"

using namespace ghala;

using ghala::testing::tcp_pair;

namespace {

std::string read_exactly(int fd, std::size_t n) {
  std::string got;
  char buf[16384];
  while (got.size() < n) {
    const ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) break;
    got.append(buf, static_cast<std::size_t>(r));
  }
  return got;
}

struct Sender {
  uv_loop_t loop{};
  uv_tcp_t tcp{};
  int done_status = 1;
  std::size_t done_bytes = 0;

  explicit Sender(int fd) {
    REQUIRE(uv_loop_init(&loop) == 0);
    REQUIRE(uv_tcp_init(&loop, &tcp) == 0);
    REQUIRE(uv_tcp_open(&tcp, fd) == 0);
  }
  ~Sender() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  WriteOutcome write(std::string text, SharedSlice body, std::string_view suffix,
                     std::size_t* now) {
    return stream_write(
        reinterpret_cast<uv_stream_t*>(&tcp), std::move(text), BlockRef(), suffix, this,
        [](void* owner, int status, std::size_t bytes) {
          auto* s = static_cast<Sender*>(owner);
          s->done_status = status;
          s->done_bytes = bytes;
        },
        now, std::move(body));
  }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

}  // namespace

TEST_CASE("a body in the arena goes out whole after its head, by sendfile") {
  auto [out, in] = tcp_pair();
  Sender s(out);
  const std::string body = pattern(40000);
  SharedBytes shared = SharedBytes::copy_sendable(body);
  REQUIRE(shared.file_span());
  std::size_t now = 0;
  const auto outcome = s.write("HEAD\r\n\r\n", shared, "\r\n", &now);
  CHECK(outcome == WriteOutcome::Written);
  CHECK(now == 8 + body.size() + 2);
  CHECK(read_exactly(in, now) == "HEAD\r\n\r\n" + body + "\r\n");
  close(in);
}

TEST_CASE("what the socket does not take now is queued and arrives in order") {
  auto [out, in] = tcp_pair();
  const int small = 4096;
  REQUIRE(setsockopt(out, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  REQUIRE(setsockopt(in, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  Sender s(out);
  const std::string body = pattern(3 << 20);  // far more than both socket buffers
  SharedBytes shared = SharedBytes::copy_sendable(body);
  REQUIRE(shared.file_span());
  std::size_t now = 0;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\n\r\n";
  const auto outcome = s.write(head, shared, "", &now);
  REQUIRE(outcome == WriteOutcome::Queued);
  CHECK(now < head.size() + body.size());
  shared = nullptr;  // the queued write holds its own reference
  // The next write queues behind the first, even though it has no file.
  std::size_t now2 = 0;
  CHECK(s.write("tail", {}, "", &now2) == WriteOutcome::Queued);
  CHECK(now2 == 0);
  std::string got;
  std::thread reader([&, in = in] { got = read_exactly(in, head.size() + body.size() + 4); });
  uv_run(&s.loop, UV_RUN_DEFAULT);
  reader.join();
  CHECK(s.done_status == 0);
  CHECK(got.size() == head.size() + body.size() + 4);
  CHECK(got == head + body + "tail");
  close(in);
}

TEST_CASE("a write to a peer that went away fails") {
  std::signal(SIGPIPE, SIG_IGN);  // as ghala's main does: a closed peer is an error code
  auto [out, in] = tcp_pair();
  close(in);
  Sender s(out);
  SharedBytes shared = SharedBytes::copy_sendable(pattern(1 << 20));
  REQUIRE(shared.file_span());
  std::size_t now = 0;
  WriteOutcome outcome = WriteOutcome::Written;
  // The first write may still be accepted before the reset arrives; a later one fails.
  for (int i = 0; i < 50 && outcome != WriteOutcome::Failed; ++i) {
    outcome = s.write("x", shared, "", &now);
    if (outcome == WriteOutcome::Queued) uv_run(&s.loop, UV_RUN_DEFAULT);
    if (outcome == WriteOutcome::Queued && s.done_status < 0) break;
  }
  CHECK((outcome == WriteOutcome::Failed || s.done_status < 0));
}

TEST_CASE("a slice of shared bytes sends only its part, from the arena or the heap") {
  const std::string body = pattern(70000);
  for (const bool in_arena : {true, false}) {
    CAPTURE(in_arena);
    auto [out, in] = tcp_pair();
    Sender s(out);
    SharedBytes shared = in_arena ? SharedBytes::copy_sendable(body) : SharedBytes::copy_of(body);
    CHECK(static_cast<bool>(shared.file_span()) == in_arena);
    std::size_t now = 0;
    CHECK(s.write("H", SharedSlice(shared, 12345, 40000), "", &now) == WriteOutcome::Written);
    CHECK(now == 40001);
    CHECK(read_exactly(in, now) == "H" + body.substr(12345, 40000));
    close(in);
  }
}
