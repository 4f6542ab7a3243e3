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
//
// A body in the body arena (SharedBytes::file_span) goes out with sendfile(2), after the text
// alone: the socket then points at the arena's pages instead of copying the body
// (core/body_arena.hpp). Whatever the socket does not take is queued like any other write, from
// the arena's mapping.

#include <sys/sendfile.h>
#include <uv.h>

#include <cerrno>
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
  SharedSlice shared;  // body bytes owned by the cache (thread-safe refs)
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

inline int try_write_one(uv_stream_t* stream, std::string_view bytes) {
  uv_buf_t buf = uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
  const int r = uv_try_write(stream, &buf, 1);
  return r == UV_EAGAIN ? 0 : r;
}

// The text, then the body with sendfile from its memory file, then the suffix, as far as the
// socket takes them now. Returns the bytes sent (what is left is for uv_write) or a libuv error.
// A socket sendfile cannot serve (EINVAL, ENOSYS) leaves the body to uv_write's copy.
inline long long send_with_sendfile(uv_stream_t* stream, std::string_view text,
                                    std::string_view body, SharedBytes::FileSpan span,
                                    std::string_view suffix) {
  long long sent = 0;
  if (!text.empty()) {
    const int r = try_write_one(stream, text);
    if (r < 0) return r;
    sent = r;
    if (static_cast<std::size_t>(r) < text.size()) return sent;
  }
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(stream), &fd) != 0) return sent;
  auto off = static_cast<off_t>(span.offset);
  const auto end = static_cast<off_t>(span.offset + body.size());
  while (off < end) {
    const ssize_t r = ::sendfile(fd, span.fd, &off, static_cast<std::size_t>(end - off));
    if (r > 0) continue;  // sendfile moved `off`
    if (r < 0 && errno == EINTR) continue;
    if (r == 0 || errno == EAGAIN || errno == EINVAL || errno == ENOSYS) break;
    return uv_translate_sys_error(errno);
  }
  sent += off - static_cast<off_t>(span.offset);
  if (off < end || suffix.empty()) return sent;
  const int r = try_write_one(stream, suffix);
  if (r < 0) return r;
  return sent + r;
}
}  // namespace detail

// Written: everything went out now (done is not called; *written_now says how much).
// Queued: the rest is queued and done(owner, status, bytes_queued) runs when it completes.
// Failed: a libuv error; nothing more will be written.
// `shared`, when set, is the body instead of `body` (bytes held by the cache, shared across
// threads, or a part of them).
inline WriteOutcome stream_write(uv_stream_t* stream, std::string text, BlockRef body,
                                 std::string_view suffix, void* owner, WriteDone done,
                                 std::size_t* written_now, SharedSlice shared = {}) {
  const std::string_view body_view = shared ? shared.view() : body.view();
  const std::size_t total = text.size() + body_view.size() + suffix.size();
  std::size_t sent = 0;
  *written_now = 0;
  if (total == 0) return WriteOutcome::Written;
  if (uv_stream_get_write_queue_size(stream) == 0) {
    if (auto span = shared.bytes.file_span()) {
      span->offset += shared.offset;
      const long long r = detail::send_with_sendfile(stream, text, body_view, *span, suffix);
      if (r < 0) return WriteOutcome::Failed;
      sent = static_cast<std::size_t>(r);
    } else {
      uv_buf_t bufs[3];
      unsigned n = detail::gather(text, body_view, suffix, 0, bufs);
      int r = uv_try_write(stream, bufs, n);
      if (r < 0 && r != UV_EAGAIN) return WriteOutcome::Failed;
      if (r > 0) sent = static_cast<std::size_t>(r);
    }
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
