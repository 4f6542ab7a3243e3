// The directory origin: URL path -> open regular file beneath a root.
//
// Defence in depth, in this order:
//   1. Lexical: percent-decode exactly once (RFC 3986 §2.1) and refuse what a file name must not
//      carry: %00, an encoded '/', backslashes, control characters. Dot-segments ("." and "..")
//      are refused outright: conforming clients remove them (RFC 3986 §5.2.4), so one arriving
//      here is an attack or a broken client, and refusing is simpler than normalising. Other
//      segments starting with '.' are hidden files (.git, .env, .htpasswd): 404, not 403, so
//      their existence is not revealed. ".well-known" (RFC 8615) is the one exception.
//   2. Kernel: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS relative to an O_PATH fd
//      of the root, so even a symlink planted in the synced tree cannot resolve outside it
//      (EXDEV). Where openat2 is unavailable (ENOSYS before Linux 5.6, or EPERM from a seccomp
//      policy) each component is opened with O_NOFOLLOW instead, refusing every symlink.
//   3. Type: only regular files are served. Files are opened O_NONBLOCK so that a FIFO in the
//      tree cannot block the worker in open(2); fstat then rejects it.
#include "ghala/upstream/dir_origin.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "ghala/http/mime.hpp"

namespace ghala::upstream {

namespace {

constexpr std::size_t kMaxUrlPath = 4096;  // PATH_MAX; longer cannot name a file anyway
constexpr int kFileFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
constexpr std::string_view kIndexFile = "index.html";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error invalid(std::string message) {
  return make_error(ErrorKind::Invalid, std::move(message));
}
Error not_found() {
  return make_error(ErrorKind::NotFound, "not found");
}

// errno from open/openat2/fstat -> ErrorKind (see DirOrigin::open in the header).
Error from_errno(int err, std::string_view what) {
  std::string msg = std::string(what) + ": " + std::to_string(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENXIO:   // a UNIX socket
    case ENODEV:  // a device node without a driver
      return make_error(ErrorKind::NotFound, std::move(msg));
    case EXDEV:  // openat2: resolution would leave the root
    case ELOOP:  // a symlink where none is allowed, or a symlink loop
    case EACCES:
    case EPERM:
      return make_error(ErrorKind::Denied, std::move(msg));
    case ENAMETOOLONG:
      return make_error(ErrorKind::Invalid, std::move(msg));
    default:
      return make_error(ErrorKind::Io, std::move(msg));
  }
}

// The decoded path split into its non-empty segments, checked one by one.
struct SafePath {
  std::string relative;  // "a/b/c", no leading or trailing '/'; empty for the root
  bool trailing_slash = false;
};

bool has_forbidden_byte(std::string_view s) noexcept {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '\\') return true;
  }
  return false;
}

Result<Ok> check_segment(std::string_view seg) {
  if (seg == "." || seg == "..") return invalid("dot-segment in path");
  if (seg.front() == '.' && seg != ".well-known") return not_found();  // hidden
  return Ok{};
}

Result<SafePath> make_safe_path(std::string_view url_path) {
  if (url_path.size() > kMaxUrlPath) return invalid("path too long");
  if (url_path.empty() || url_path.front() != '/') return invalid("path must start with '/'");
  auto decoded = decode_url_path(url_path);
  if (!decoded) return decoded.error();
  const std::string_view path = decoded.value();
  if (has_forbidden_byte(path)) return invalid("control character or backslash in path");
  SafePath out;
  out.trailing_slash = path.back() == '/';
  std::size_t pos = 0;
  while (pos < path.size()) {
    const auto next = std::min(path.find('/', pos), path.size());
    const std::string_view seg = path.substr(pos, next - pos);
    pos = next + 1;
    if (seg.empty()) continue;  // "//": the kernel treats it as one separator too
    if (auto ok = check_segment(seg); !ok) return ok.error();
    if (!out.relative.empty()) out.relative += '/';
    out.relative += seg;
  }
  return out;
}

// Kernel-enforced resolution beneath dir_fd. Returns the fd, or -errno.
int open_beneath(int dir_fd, const std::string& relative, int flags) noexcept {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd = syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof how);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// Fallback: one component at a time, never following a symlink. Returns the fd, or -errno.
// A symlinked directory fails O_DIRECTORY|O_NOFOLLOW with ENOTDIR; report it as ELOOP so it is
// Denied like a symlinked file, rather than looking like a missing path.
int open_walk(int dir_fd, const std::string& relative, int flags) {
  UniqueFd current;
  int parent = dir_fd;
  std::size_t pos = 0;
  while (true) {
    const auto slash = relative.find('/', pos);
    const std::string name = relative.substr(pos, slash - pos);
    if (slash == std::string::npos) {
      const int fd = openat(parent, name.c_str(), flags | O_NOFOLLOW);
      return fd < 0 ? -errno : fd;
    }
    const int fd = openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      struct stat st {};
      const bool is_link = err == ENOTDIR &&
                           fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISLNK(st.st_mode);
      return is_link ? -ELOOP : -err;
    }
    current.reset(fd);
    parent = fd;
    pos = slash + 1;
  }
}

// Probe once: openat2 may be missing (ENOSYS) or filtered (EPERM, E2BIG) even on a new kernel.
bool openat2_works(int root_fd) noexcept {
  const int fd = open_beneath(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

// Opens `relative` beneath root_fd and fstat()s it.
Result<UniqueFd> open_and_stat(int root_fd, bool use_openat2, const std::string& relative,
                               struct stat& st) {
  int fd = use_openat2 ? open_beneath(root_fd, relative, kFileFlags) : -ENOSYS;
  if (fd == -ENOSYS) fd = open_walk(root_fd, relative, kFileFlags);
  if (fd < 0) return from_errno(-fd, "open " + relative);
  UniqueFd owned(fd);
  if (fstat(owned.get(), &st) != 0) return from_errno(errno, "fstat " + relative);
  return owned;
}

OpenedFile opened_from_stat(UniqueFd fd, const struct stat& st, std::string_view name) {
  OpenedFile f;
  f.kind = OpenedKind::File;
  f.fd = std::move(fd);
  f.size = static_cast<std::uint64_t>(st.st_size);
  f.mtime_sec = static_cast<std::int64_t>(st.st_mtim.tv_sec);
  f.mtime_nsec = static_cast<std::int64_t>(st.st_mtim.tv_nsec);
  f.inode = static_cast<std::uint64_t>(st.st_ino);
  f.content_type = http::mime_type_for_path(name);
  return f;
}

OpenedFile redirect_to_slash(std::string_view url_path) {
  OpenedFile f;
  f.kind = OpenedKind::RedirectToSlash;
  f.redirect_path.reserve(url_path.size() + 1);
  for (char c : url_path) {
    if (c == '/' && !f.redirect_path.empty() && f.redirect_path.back() == '/') continue;
    f.redirect_path += c;
  }
  f.redirect_path += '/';
  return f;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

UniqueFd::~UniqueFd() {
  reset();
}

int UniqueFd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

Result<std::string> decode_url_path(std::string_view url_path) {
  std::string out;
  out.reserve(url_path.size());
  for (std::size_t i = 0; i < url_path.size(); ++i) {
    if (url_path[i] != '%') {
      out += url_path[i];
      continue;
    }
    const int hi = i + 2 < url_path.size() ? hex_value(url_path[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(url_path[i + 2]) : -1;
    if (lo < 0) return invalid("malformed percent-escape");
    const auto byte = static_cast<char>(hi * 16 + lo);
    if (byte == '\0') return invalid("%00 in path");
    if (byte == '/') return invalid("encoded '/' in path");
    out += byte;
    i += 2;
  }
  return out;
}

Result<DirOrigin> DirOrigin::create(const std::string& root, ResolveMode mode) {
  if (root.empty() || root.front() != '/') return invalid("dir origin root must be absolute");
  const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return from_errno(errno, "open root " + root);
  UniqueFd root_fd(fd);
  const bool use_openat2 = mode == ResolveMode::Auto && openat2_works(root_fd.get());
  return DirOrigin(root, std::move(root_fd), use_openat2);
}

Result<OpenedFile> DirOrigin::open(std::string_view url_path) const {
  auto safe = make_safe_path(url_path);
  if (!safe) return safe.error();
  const SafePath& path = safe.value();
  std::string target = path.relative.empty() ? std::string(".") : path.relative;
  struct stat st {};
  auto fd = open_and_stat(root_fd_.get(), use_openat2_, target, st);
  if (!fd) return fd.error();
  if (S_ISDIR(st.st_mode)) {
    if (!path.trailing_slash) return redirect_to_slash(url_path);
    target = path.relative.empty() ? std::string(kIndexFile)
                                   : path.relative + "/" + std::string(kIndexFile);
    fd = open_and_stat(root_fd_.get(), use_openat2_, target, st);
    if (!fd) return fd.error();
  } else if (path.trailing_slash) {
    return not_found();  // "/file.txt/" names a directory that does not exist
  }
  if (!S_ISREG(st.st_mode)) return not_found();  // FIFO, socket, device, index.html/ dir
  return opened_from_stat(std::move(fd.value()), st, target);
}

}  // namespace ghala::upstream
