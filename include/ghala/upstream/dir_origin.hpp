#pragma once
// A directory on local disk used as an origin (`origin: "dir:path"`), for PoPs that hold synced
// content. It maps a URL path to an open regular file beneath a root, and guarantees that no
// request (dot segments, encoded separators, symlinks) can open anything outside that root.
//
// open() is const and thread-safe: one DirOrigin may be shared by every worker. It performs
// blocking file system calls (openat2, fstat); callers that must not block their loop run it on
// the libuv thread pool.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "ghala/core/result.hpp"

namespace ghala::upstream {

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

enum class OpenedKind : std::uint8_t {
  File,             // fd and metadata are set: serve it
  RedirectToSlash,  // a directory requested without its trailing slash: 301 to path + "/"
};

struct OpenedFile {
  OpenedKind kind = OpenedKind::File;
  UniqueFd fd;  // read-only, close-on-exec; invalid when kind == RedirectToSlash
  std::uint64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;  // 0..999999999
  std::uint64_t inode = 0;
  std::string_view content_type;  // static storage (the MIME table)
  // RedirectToSlash only: the Location path, i.e. the request path (still encoded) with runs of
  // '/' collapsed and a '/' appended. Never starts with "//", so it cannot be read as a
  // protocol-relative URL pointing at another host ("//evil.example" -> "/evil.example/").
  std::string redirect_path;
};

// How paths are resolved beneath the root. Auto uses openat2(RESOLVE_BENEATH) when the kernel
// (>= 5.6) and any seccomp policy allow it, else Walk. Walk opens one component at a time with
// O_NOFOLLOW and therefore refuses every symlink, even one that stays inside the root. Forcing
// Walk exists for tests and for hosts where openat2 misbehaves.
enum class ResolveMode : std::uint8_t { Auto, Walk };

class DirOrigin {
 public:
  // root: an absolute, canonical directory path (config loading canonicalises it).
  // Errors: Invalid (not absolute), NotFound, Denied, Io (cannot open it as a directory).
  static Result<DirOrigin> create(const std::string& root, ResolveMode mode = ResolveMode::Auto);

  // url_path: the request path, without query, still percent-encoded, starting with '/'.
  //   Invalid  (400): no leading '/', bad or NUL escape, encoded '/', backslash, control
  //                   characters, a "." or ".." segment, overlong path
  //   NotFound (404): missing, a hidden segment (".git", ".env"; ".well-known" is allowed, RFC
  //                   8615), not a regular file (FIFO,
  //                   socket, device), a directory without index.html
  //   Denied   (403): a symlink leading outside the root (or any symlink in Walk mode), EACCES
  //   Io       (500): any other OS failure (EMFILE, EIO, ...)
  // A directory maps to its index.html; requested without the trailing slash it yields
  // OpenedKind::RedirectToSlash instead.
  Result<OpenedFile> open(std::string_view url_path) const;

  const std::string& root() const noexcept { return root_; }
  bool uses_openat2() const noexcept { return use_openat2_; }

 private:
  DirOrigin(std::string root, UniqueFd root_fd, bool use_openat2) noexcept
      : root_(std::move(root)), root_fd_(std::move(root_fd)), use_openat2_(use_openat2) {}

  std::string root_;
  UniqueFd root_fd_;  // O_PATH | O_DIRECTORY
  bool use_openat2_ = true;
};

// Percent-decodes a URL path once, for the file system (RFC 3986 §2.1). Invalid: a malformed
// escape, %00, an encoded '/' (it would change the segment structure). "%252F" decodes to the
// literal name "%2F": decoding twice is how traversal filters get bypassed.
Result<std::string> decode_url_path(std::string_view url_path);

}  // namespace ghala::upstream
