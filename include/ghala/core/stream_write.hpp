#pragma once
// Writing to a libuv stream in up to three pieces: owned text (a serialised head or a chunk-size
// line), a counted reference to body bytes in a pooled Block (no copy), and a static suffix (the
// CRLF after a chunk). Header-only so that core needs no libuv.
//
// The text goes back to text_pool once written, for the next head.
//
// When nothing is queued on the stream, the pieces go out at once with uv_try_write (one writev,
// no request object). Only what the socket does not take is queued with uv_write. Besides saving
// an allocation, this avoids libuv 1.44's epoll_ctl(MOD) after every completed uv_write: with
// keep-alive traffic that was one extra syscall per write.

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "ghala/core/buffer.hpp"
#include "ghala/core/shared_bytes.hpp"
#include "ghala/core/text_pool.hpp"

namespace ghala {

using WriteDone = void (*)(void* owner, int status, std::size_t bytes);

struct WriteReq {
  uv_write_t req{};
  std::string text;
  BlockRef body;
  SharedBytes shared;  // body bytes owned by the cache (thread-safe refs)
  std::string_view suffix;
  void* owner = nullptr;
  WriteDone done = nullptr;
  std::size_t bytes = 0;
};

enum class WriteOutcome { Written, Queued, Failed };

namespace detail {
// Fills bufs with the pieces, skipping the first `skip` bytes; returns the number of buffers.
inline unsigned gather(std::string_view a, std::string_view b, std::string_view c, std::size_t skip,
                       uv_buf_t* bufs) {
  unsigned n = 0;
  for (std::string_view piece : {a, b, c}) {
    if (skip >= piece.size()) {
      skip -= piece.size();
      continue;
    }
    piece.remove_prefix(skip);
    skip = 0;
    bufs[n++] = uv_buf_init(const_cast<char*>(piece.data()), static_cast<unsigned>(piece.size()));
  }
  return n;
}
}  // namespace detail

// Written: everything went out now (done is not called; *written_now says how much).
// Queued: the rest is queued and done(owner, status, bytes_queued) runs when it completes.
// Failed: a libuv error; nothing more will be written.
// `shared`, when set, is the body instead of `body` (bytes held by the cache, shared across
// threads).
inline WriteOutcome stream_write(uv_stream_t* stream, std::string text, BlockRef body,
                                 std::string_view suffix, void* owner, WriteDone done,
                                 std::size_t* written_now, SharedBytes shared = nullptr) {
  const std::string_view body_view = shared ? shared.view() : body.view();
  const std::size_t total = text.size() + body_view.size() + suffix.size();
  std::size_t sent = 0;
  *written_now = 0;
  if (total == 0) return WriteOutcome::Written;
  if (uv_stream_get_write_queue_size(stream) == 0) {
    uv_buf_t bufs[3];
    unsigned n = detail::gather(text, body_view, suffix, 0, bufs);
    int r = uv_try_write(stream, bufs, n);
    if (r < 0 && r != UV_EAGAIN) return WriteOutcome::Failed;
    if (r > 0) sent = static_cast<std::size_t>(r);
    *written_now = sent;
    if (sent == total) {
      text_pool::give_back(std::move(text));
      return WriteOutcome::Written;
    }
  }
  auto* w = new WriteReq;
  w->text = std::move(text);
  w->body = std::move(body);
  w->shared = std::move(shared);
  w->suffix = suffix;
  w->owner = owner;
  w->done = done;
  w->bytes = total - sent;
  uv_buf_t bufs[3];
  const std::string_view queued = w->shared ? w->shared.view() : w->body.view();
  unsigned n = detail::gather(w->text, queued, w->suffix, sent, bufs);
  w->req.data = w;
  int rc = uv_write(&w->req, stream, bufs, n, [](uv_write_t* req, int status) {
    auto* wr = static_cast<WriteReq*>(req->data);
    if (wr->done) wr->done(wr->owner, status, wr->bytes);
    text_pool::give_back(std::move(wr->text));
    delete wr;
  });
  if (rc != 0) {
    delete w;
    return WriteOutcome::Failed;
  }
  return WriteOutcome::Queued;
}

}  // namespace ghala
