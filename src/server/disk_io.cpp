#include "server/disk_io.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <utility>
#include <vector>

#include "ghala/cache/vary.hpp"
#include "ghala/core/log.hpp"

namespace ghala::server {

using observe::CacheTier;
using observe::StorageOp;

namespace {

// Write-through inserts waiting on the thread pool hold their objects alive (even once the
// memory tier evicted them): past this many bytes, new ones are dropped. The job count is bounded
// too: the pool is a FIFO shared with lookups, which must not wait behind thousands of small
// writes.
constexpr std::uint64_t kMaxInsertBacklog = 64ull << 20;
constexpr std::uint64_t kMaxInsertJobs = 256;
std::atomic<std::uint64_t> g_insert_backlog{0};
std::atomic<std::uint64_t> g_insert_jobs{0};
std::atomic<std::uint64_t> g_stream_held{0};  // bytes held by every DiskWriteStream

constexpr std::int64_t kLogEverySeconds = 10;
std::atomic<std::int64_t> g_last_log{-kLogEverySeconds};
std::atomic<std::uint64_t> g_suppressed{0};

std::int64_t steady_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A closure pair on the thread pool: work() there, then after() on the loop. Exceptions (only
// std::bad_alloc can come out of the tier's callers) end at this boundary.
struct PoolJob {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> after;
};

void run_on_pool(uv_loop_t* loop, std::function<void()> work, std::function<void()> after) {
  auto* job = new PoolJob;
  job->work = std::move(work);
  job->after = std::move(after);
  job->req.data = job;
  const int rc = uv_queue_work(
      loop, &job->req,
      [](uv_work_t* w) {
        try {
          static_cast<PoolJob*>(w->data)->work();
        } catch (const std::exception& e) {
          log_error(std::string("disk tier job: ") + e.what());
        }
      },
      [](uv_work_t* w, int) {
        auto* j = static_cast<PoolJob*>(w->data);
        try {
          if (j->after) j->after();
        } catch (const std::exception& e) {
          log_error(std::string("disk tier job completion: ") + e.what());
        }
        delete j;
      });
  if (rc != 0) {  // cannot happen with a work callback; never leave a requester waiting
    auto after_fn = std::move(job->after);
    delete job;
    if (after_fn) after_fn();
  }
}

bool counted_failure(const Error& e) {
  // NotFound is the tier's answer for a corrupt object (counted by the tier as corrupt) or one
  // purged or replaced meanwhile: a miss, not a storage error. Limit: the body was larger than
  // allowed, a refusal.
  return e.kind != ErrorKind::NotFound && e.kind != ErrorKind::Limit;
}

bool same_field(const cache::StoredObject& a, const cache::StoredObject& b, std::string_view n) {
  return a.headers.get(n) == b.headers.get(n);
}

}  // namespace

void disk_failed(StorageOp op, const Error& error) {
  observe::Metrics::get().cache_storage_error(CacheTier::Disk, op);
  const std::int64_t now = steady_seconds();
  std::int64_t last = g_last_log.load(std::memory_order_relaxed);
  if (now - last < kLogEverySeconds ||
      !g_last_log.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    g_suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto suppressed = g_suppressed.exchange(0, std::memory_order_relaxed);
  std::string line = "disk tier: " + std::string(observe::to_string(op)) +
                     " failed: " + error.message + "; the request goes on without the disk tier";
  if (suppressed) line += " (" + std::to_string(suppressed) + " similar errors not logged)";
  log_warn(line);
}

// ---------------------------------------------------------------------------------------------
// Lookup

void disk_lookup(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 http::HeaderMap request_headers, std::uint64_t memory_max_object, DiskLink link,
                 std::function<void(DiskFound)> done) {
  auto found = std::make_shared<DiskFound>();
  auto work = [tier, key = std::move(key), headers = std::move(request_headers), memory_max_object,
               found] {
    auto view = tier->view();
    auto variants = tier->lookup(key, view.get());
    if (!variants) {
      found->failed = counted_failure(variants.error());
      if (found->failed) disk_failed(StorageOp::Lookup, variants.error());
      return;
    }
    cache::ObjectPtr chosen;
    for (auto& v : variants.value()) {
      if (cache::vary_matches(v->vary_key, cache::parse_vary(v->headers), headers)) {
        chosen = std::move(v);
        break;
      }
    }
    if (!chosen) return;
    if (chosen->body_size <= memory_max_object) {
      auto body = tier->read_body(key, *chosen, view.get());
      if (!body) {
        found->failed = counted_failure(body.error());
        if (found->failed) disk_failed(StorageOp::Read, body.error());
        return;
      }
      auto copy = std::make_shared<cache::StoredObject>(*chosen);
      copy->chunks = std::move(body).value();
      found->object = std::move(copy);
      return;
    }
    auto first = tier->read_chunk(key, *chosen, 0, view.get());
    if (!first) {
      found->failed = counted_failure(first.error());
      if (found->failed) disk_failed(StorageOp::Read, first.error());
      return;
    }
    found->first_chunk = std::move(first).value();
    found->object = std::move(chosen);
    found->view = std::move(view);
  };
  auto after = [found, link = std::move(link), done = std::move(done)] {
    if (link.expired()) return;  // the request ended meanwhile
    done(std::move(*found));
  };
  run_on_pool(loop, std::move(work), std::move(after));
}

// ---------------------------------------------------------------------------------------------
// Write-through

void disk_insert(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 cache::ObjectPtr object) {
  auto& metrics = observe::Metrics::get();
  if (!tier->healthy()) {
    metrics.cache_disk_write_dropped(observe::DiskWriteDrop::Unhealthy);
    return;
  }
  const std::uint64_t size = object->body_size + 1024;
  const bool too_many = g_insert_jobs.fetch_add(1, std::memory_order_relaxed) + 1 > kMaxInsertJobs;
  if (too_many ||
      g_insert_backlog.fetch_add(size, std::memory_order_relaxed) + size > kMaxInsertBacklog) {
    g_insert_jobs.fetch_sub(1, std::memory_order_relaxed);
    if (!too_many) g_insert_backlog.fetch_sub(size, std::memory_order_relaxed);
    metrics.cache_disk_write_dropped(observe::DiskWriteDrop::Backlog);
    return;
  }
  auto work = [tier, key = std::move(key), object] {
    auto r = tier->insert(key, *object);
    if (!r && counted_failure(r.error())) disk_failed(StorageOp::Insert, r.error());
  };
  run_on_pool(loop, std::move(work), [size] {
    g_insert_backlog.fetch_sub(size, std::memory_order_relaxed);
    g_insert_jobs.fetch_sub(1, std::memory_order_relaxed);
  });
}

void disk_update(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key,
                 cache::ObjectPtr updated) {
  if (!tier->healthy()) {
    observe::Metrics::get().cache_disk_write_dropped(observe::DiskWriteDrop::Unhealthy);
    return;
  }
  auto work = [tier, key = std::move(key), updated] {
    if (disk_backed(*updated)) {  // came from the disk: its id names the stored variant
      auto r = tier->update_head(key, *updated);
      if (!r && counted_failure(r.error())) disk_failed(StorageOp::Update, r.error());
      return;
    }
    auto variants = tier->lookup(key);
    if (!variants) {
      if (counted_failure(variants.error())) disk_failed(StorageOp::Lookup, variants.error());
      return;
    }
    for (const auto& v : variants.value()) {
      if (v->vary_key != updated->vary_key) continue;
      if (v->body_size == updated->body_size && same_field(*v, *updated, "ETag") &&
          same_field(*v, *updated, "Last-Modified")) {
        auto copy = *updated;
        copy.id = v->id;
        copy.chunks.clear();
        copy.chunk_count = v->chunk_count;
        copy.chunk_size = v->chunk_size;
        auto r = tier->update_head(key, copy);
        if (r || !counted_failure(r.error())) return;
        disk_failed(StorageOp::Update, r.error());
        return;
      }
    }
    // The disk holds another version (or none): the refreshed object replaces it.
    auto r = tier->insert(key, *updated);
    if (!r && counted_failure(r.error())) disk_failed(StorageOp::Insert, r.error());
  };
  run_on_pool(loop, std::move(work), nullptr);
}

void disk_erase(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier, std::string key) {
  auto work = [tier, key = std::move(key)] {
    auto r = tier->purge(key, cache::PurgeMode::Hard);
    if (!r && counted_failure(r.error())) disk_failed(StorageOp::Purge, r.error());
  };
  run_on_pool(loop, std::move(work), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Streaming write

struct DiskWriteStream::Job {
  std::shared_ptr<DiskWriteStream> self;
  std::shared_ptr<cache::DiskTier::Writer> writer;
  std::string data;
  bool commit = false;
  bool abort = false;
  bool failed = false;
  bool refused = false;  // Limit: too large after all (not a storage error)
};

std::shared_ptr<DiskWriteStream> DiskWriteStream::begin(uv_loop_t* loop,
                                                        std::shared_ptr<cache::DiskTier> tier,
                                                        std::string key, cache::StoredObject head) {
  if (!tier->healthy()) {
    observe::Metrics::get().cache_disk_write_dropped(observe::DiskWriteDrop::Unhealthy);
    return nullptr;
  }
  head.chunks.clear();
  return std::shared_ptr<DiskWriteStream>(
      new DiskWriteStream(loop, std::move(tier), std::move(key), std::move(head)));
}

DiskWriteStream::DiskWriteStream(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier,
                                 std::string key, cache::StoredObject head)
    : loop_(loop), tier_(std::move(tier)), key_(std::move(key)), head_(std::move(head)) {}

DiskWriteStream::~DiskWriteStream() {
  release(held_);
  if (!writer_) return;
  // Not committed: abort on the pool (it deletes chunks already written).
  run_on_pool(
      loop_,
      [tier = tier_, w = std::move(writer_)]() mutable {
        w->abort();
        w.reset();  // before the tier reference goes
      },
      nullptr);
}

void DiskWriteStream::append(std::string_view data) {
  if (state_ != State::Open) return;
  // Approximate across workers (each checks, then adds): the bound may be passed by a batch per
  // worker, never more.
  const bool over_total =
      g_stream_held.load(std::memory_order_relaxed) + data.size() > kMaxQueuedTotal;
  if (over_total || queued_.size() + data.size() > kMaxQueued) {
    // The disk falls behind the origin: drop the store, not the response.
    observe::Metrics::get().cache_disk_write_dropped(observe::DiskWriteDrop::Backlog);
    abort();
    return;
  }
  queued_.append(data);
  held_ += data.size();
  g_stream_held.fetch_add(data.size(), std::memory_order_relaxed);
  kick();
}

void DiskWriteStream::release(std::size_t n) noexcept {
  n = std::min(n, held_);
  held_ -= n;
  g_stream_held.fetch_sub(n, std::memory_order_relaxed);
}

void DiskWriteStream::commit() {
  if (state_ != State::Open) return;
  state_ = State::Committing;
  kick();
}

void DiskWriteStream::abort() {
  if (state_ == State::Done || state_ == State::Aborted) return;
  state_ = State::Aborted;
  release(queued_.size());
  queued_ = std::string();
  kick();
}

void DiskWriteStream::kick() {
  if (busy_ || state_ == State::Done) return;
  if (state_ == State::Aborted && !writer_) return;
  if (state_ == State::Open && queued_.size() < kBatch) return;  // wait for a fuller batch
  auto job = std::make_shared<Job>();
  job->abort = state_ == State::Aborted;
  job->commit = state_ == State::Committing;
  job->data = std::move(queued_);
  queued_ = std::string();
  job->writer = std::move(writer_);
  job->self = shared_from_this();
  busy_ = true;
  auto work = [job] {
    Job& j = *job;
    if (j.abort) {
      j.writer->abort();
      j.writer.reset();
      return;
    }
    if (!j.writer) {
      auto w = j.self->tier_->begin(j.self->key_, j.self->head_);
      if (!w) {
        j.failed = true;
        j.refused = !counted_failure(w.error());
        if (!j.refused) disk_failed(StorageOp::Stream, w.error());
        return;
      }
      j.writer = std::move(w).value();
    }
    if (!j.data.empty()) {
      auto s = j.writer->append(j.data);
      if (!s) {
        j.failed = true;
        j.refused = !counted_failure(s.error());
        if (!j.refused) disk_failed(StorageOp::Stream, s.error());
        j.writer.reset();  // aborted by the tier after an error
        return;
      }
    }
    if (j.commit) {
      auto r = j.writer->commit();
      if (!r) {
        j.failed = true;
        j.refused = !counted_failure(r.error());
        if (!j.refused) disk_failed(StorageOp::Stream, r.error());
      }
      j.writer.reset();
    }
  };
  run_on_pool(loop_, std::move(work), [job] { job->self->job_done(*job); });
}

void DiskWriteStream::job_done(Job& job) {
  busy_ = false;
  writer_ = std::move(job.writer);
  auto self = std::move(job.self);  // may be the last reference: keep it to the end
  release(job.data.size());
  job.data = std::string();
  if (job.failed) {
    state_ = State::Aborted;
    release(queued_.size());
    queued_ = std::string();
  } else if (job.commit) {
    state_ = State::Done;
  }
  kick();
}

// ---------------------------------------------------------------------------------------------
// Streaming read

DiskBodyReader::DiskBodyReader(uv_loop_t* loop, std::shared_ptr<cache::DiskTier> tier,
                               std::string key, cache::ObjectPtr object, cache::Chunk first_chunk,
                               cache::DiskTier::ViewPtr view, std::uint64_t offset,
                               std::uint64_t length, DiskBodySink* sink)
    : loop_(loop),
      tier_(std::move(tier)),
      key_(std::move(key)),
      object_(std::move(object)),
      first_chunk_(std::move(first_chunk)),
      view_(std::move(view)),
      offset_(offset),
      left_(length),
      sink_(sink) {}

void DiskBodyReader::read_next() {
  if (busy_ || left_ == 0 || !sink_) return;
  const std::uint64_t chunk_size = object_->chunk_size ? object_->chunk_size : 1;
  const auto index = static_cast<std::uint32_t>(offset_ / chunk_size);
  if (index == 0 && first_chunk_) {
    auto chunk = std::move(first_chunk_);
    first_chunk_ = nullptr;
    deliver(chunk);  // may end the sink (and detach this reader): nothing after it
    return;
  }
  first_chunk_ = nullptr;
  busy_ = true;
  work_.data = this;
  result_ = cache::Chunk();
  const int rc = uv_queue_work(
      loop_, &work_,
      [](uv_work_t* w) {
        auto* r = static_cast<DiskBodyReader*>(w->data);
        const std::uint64_t size = r->object_->chunk_size ? r->object_->chunk_size : 1;
        try {
          r->result_ = r->tier_->read_chunk(
              r->key_, *r->object_, static_cast<std::uint32_t>(r->offset_ / size), r->view_.get());
        } catch (const std::exception& e) {
          r->result_ = make_error(ErrorKind::Internal, e.what());
        }
      },
      [](uv_work_t* w, int) {
        auto* r = static_cast<DiskBodyReader*>(w->data);
        r->busy_ = false;
        if (!r->sink_) {
          delete r;
          return;
        }
        if (!r->result_) {
          if (counted_failure(r->result_.error())) disk_failed(StorageOp::Read, r->result_.error());
          r->sink_->on_disk_body_error();
          return;
        }
        auto chunk = std::move(r->result_).value();
        r->deliver(chunk);
      });
  if (rc != 0) {
    busy_ = false;
    sink_->on_disk_body_error();
  }
}

void DiskBodyReader::deliver(const cache::Chunk& chunk) {
  const std::uint64_t chunk_size = object_->chunk_size ? object_->chunk_size : 1;
  const std::uint64_t skip = offset_ % chunk_size;
  if (!chunk || chunk.size() <= skip) {  // the tier checks lengths; never send a short body
    sink_->on_disk_body_error();
    return;
  }
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size() - skip, left_));
  offset_ += n;
  left_ -= n;
  sink_->on_disk_body(chunk, static_cast<std::size_t>(skip), n, left_ == 0);
}

void DiskBodyReader::detach() {
  sink_ = nullptr;
  if (!busy_) delete this;
}

}  // namespace ghala::server
