// Planning a file response, RFC 9110 §13.2 (preconditions), §14 (ranges), §15.4.5 (304).
//
// Order (§13.2.1): the method decides first, because preconditions only apply to a request
// that would otherwise succeed; then the preconditions; then, for a GET whose Range survived
// If-Range, the range. Headers per status:
//   200/206  Content-Type, Content-Length, ETag, Last-Modified, Accept-Ranges (+ Content-Range)
//   304      ETag only: §15.4.5 limits a 304 to the fields a cache needs to update its copy
//   412/405  Content-Length: 0 (+ Allow for 405)
//   416      Content-Range: bytes */size, Accept-Ranges, Content-Length: 0
// Caching policy (Cache-Control) belongs to site rules, not to the origin, so it is left out.
#include "ghala/upstream/file_response.hpp"

#include <cstdio>

#include "ghala/http/conditional.hpp"
#include "ghala/http/date.hpp"
#include "ghala/http/range.hpp"
#include "ghala/upstream/dir_origin.hpp"

namespace ghala::upstream {

namespace {

constexpr std::int64_t kNanosPerSecond = 1000000000;

// "<inode>-<size>-<mtime ns>" in hex, optionally quoted. Two's-complement wrap for pre-1970
// times is fine: the value only has to change when the file does. (Formatted in one snprintf:
// GCC 12 raises a false -Wrestrict on short std::string concatenations at -O3.)
std::string etag_text(const FileMeta& meta, bool quoted) {
  const auto mtime_ns =
      static_cast<std::uint64_t>(meta.mtime_sec) * static_cast<std::uint64_t>(kNanosPerSecond) +
      static_cast<std::uint64_t>(meta.mtime_nsec);
  char buf[3 * 16 + 5];
  const int n = std::snprintf(buf, sizeof buf, quoted ? "\"%llx-%llx-%llx\"" : "%llx-%llx-%llx",
                              static_cast<unsigned long long>(meta.inode),
                              static_cast<unsigned long long>(meta.size),
                              static_cast<unsigned long long>(mtime_ns));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::int64_t last_modified_for(const FileMeta& meta, std::int64_t now) noexcept {
  return meta.mtime_sec < now ? meta.mtime_sec : now;
}

http::Validators validators_for(const FileMeta& meta, std::int64_t now) {
  http::Validators v;
  v.etag = http::EntityTag{false, etag_text(meta, false)};
  v.last_modified = last_modified_for(meta, now);
  // mtime < mtime_sec + 1 < now: at least one full second passed since the last change.
  v.last_modified_is_strong = meta.mtime_sec + 1 < now;
  return v;
}

FilePlan empty_plan(int status) {
  FilePlan plan;
  plan.status = status;
  plan.headers.add("Content-Length", "0");
  return plan;
}

FilePlan full_plan(const http::RequestHead& req, const FileMeta& meta, std::int64_t now) {
  FilePlan plan;
  plan.status = 200;
  plan.headers.add("Content-Type",
                   meta.content_type.empty() ? "application/octet-stream" : meta.content_type);
  plan.headers.add("Content-Length", std::to_string(meta.size));
  plan.headers.add("ETag", file_etag(meta));
  plan.headers.add("Last-Modified", http::format_http_date(last_modified_for(meta, now)));
  plan.headers.add("Accept-Ranges", "bytes");
  plan.offset = 0;
  plan.length = req.method == http::Method::Head ? 0 : meta.size;
  return plan;
}

FilePlan apply_range(FilePlan plan, std::string_view range_field, const FileMeta& meta) {
  const auto r = http::resolve_range(range_field, meta.size);
  if (r.outcome == http::RangeOutcome::Ignore) return plan;
  if (r.outcome == http::RangeOutcome::NotSatisfiable) {
    FilePlan out = empty_plan(416);
    out.headers.add("Content-Range", http::format_unsatisfied_range(meta.size));
    out.headers.add("Accept-Ranges", "bytes");
    return out;
  }
  plan.status = 206;
  plan.headers.set("Content-Length", std::to_string(r.range.length));
  plan.headers.add("Content-Range", http::format_content_range(r.range, meta.size));
  plan.offset = r.range.offset;
  plan.length = r.range.length;
  return plan;
}

}  // namespace

FileMeta file_meta(const OpenedFile& file) noexcept {
  return FileMeta{file.size, file.mtime_sec, file.mtime_nsec, file.inode, file.content_type};
}

std::string file_etag(const FileMeta& meta) {
  return etag_text(meta, true);
}

FilePlan plan_file_response(const http::RequestHead& req, const FileMeta& meta, std::int64_t now) {
  if (req.method != http::Method::Get && req.method != http::Method::Head) {
    FilePlan plan = empty_plan(405);
    plan.headers.add("Allow", "GET, HEAD");
    return plan;
  }
  const auto cond = http::evaluate_preconditions(
      http::conditional_request_from(req.method, req.headers), validators_for(meta, now));
  if (cond.outcome == http::Precondition::Failed) return empty_plan(412);
  if (cond.outcome == http::Precondition::NotModified) {
    FilePlan plan;
    plan.status = 304;
    plan.headers.add("ETag", file_etag(meta));
    return plan;
  }
  FilePlan plan = full_plan(req, meta, now);
  if (!cond.range_allowed) return plan;
  const auto range = req.headers.get_combined("Range");
  return range ? apply_range(std::move(plan), *range, meta) : plan;
}

}  // namespace ghala::upstream
