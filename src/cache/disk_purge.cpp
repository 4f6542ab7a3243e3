// DiskTier purges (by key, prefix and tag; hard or soft) and metadata updates. Each object's
// change is one WriteBatch under its key's stripe lock, so tag and order records stay in step
// with the metadata.

#include <algorithm>
#include <mutex>

#include "cache/disk_store.hpp"

namespace ghala::cache {
namespace {

Error invalid(std::string what) {
  return make_error(ErrorKind::Invalid, "disk tier: " + std::move(what));
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

// Adds the purge of one object to `batch`; returns the change in accounted bytes (the object
// count changes by -1 for Hard only).
std::int64_t add_purge(DiskTier::Impl& t, rocksdb::WriteBatch& batch, const std::string& key,
                       disk::MetaRecord rec, PurgeMode mode, std::int64_t now) {
  auto before = static_cast<std::int64_t>(DiskTier::Impl::footprint(key, rec));
  if (mode == PurgeMode::Hard) {
    t.add_removal(batch, key, rec);
    return -before;
  }
  // A second soft purge keeps the earlier time: the object has been stale since then.
  if (rec.object.soft_purged_at == 0 || rec.object.soft_purged_at > now) {
    rec.object.soft_purged_at = now;
  }
  t.add_put(batch, key, rec);
  return static_cast<std::int64_t>(DiskTier::Impl::footprint(key, rec)) - before;
}

// Purges one object identified by its meta key, if it still carries `tag`; deletes the tag
// record when the object no longer does (it was replaced by a variant without the tag).
Result<std::size_t> purge_tagged(DiskTier::Impl& t, const std::string& key, std::string_view tag,
                                 PurgeMode mode, std::int64_t now) {
  std::lock_guard lk(t.stripe(disk::primary_of(key)));
  auto rec = t.load_meta(key);
  if (!rec.ok()) return rec.error();
  rocksdb::WriteBatch batch;
  const TagList no_tags;
  const TagList& tags = rec.value() ? rec.value()->object.tags : no_tags;
  if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
    (void)batch.Delete(t.tags, disk::tag_key(tag, key));
    if (auto ok = t.write(batch, false, "delete stale tag"); !ok) return ok.error();
    return std::size_t{0};
  }
  std::int64_t delta = add_purge(t, batch, key, *rec.value(), mode, now);
  if (auto ok = t.write(batch, true, "purge tag"); !ok) return ok.error();
  t.account(mode == PurgeMode::Hard ? -1 : 0, delta);
  return std::size_t{1};
}

}  // namespace

Result<std::size_t> DiskTier::purge(std::string_view primary_key, PurgeMode mode,
                                    std::int64_t now) {
  if (has_nul(primary_key)) return invalid("primary key contains NUL");
  Impl& t = *impl_;
  std::lock_guard lk(t.stripe(primary_key));
  std::string prefix = disk::meta_key(primary_key, "");
  std::string upper(primary_key);
  upper.push_back('\x01');
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro = t.read_options();
  ro.iterate_upper_bound = &upper_slice;
  ro.prefix_same_as_start = true;

  rocksdb::WriteBatch batch;
  std::size_t n = 0;
  std::int64_t delta = 0;
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(ro, t.meta));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string key = it->key().ToString();
    auto rec = disk::decode_meta(key, it->value().ToStringView());
    if (!rec.ok()) {  // purging it anyway: its chunks go when eviction reaches its order record
      (void)t.corrupt_error(rec.error().message);
      (void)batch.Delete(t.meta, key);
      continue;
    }
    delta += add_purge(t, batch, key, std::move(rec).value(), mode, now);
    ++n;
  }
  if (!it->status().ok()) return t.fail(it->status(), "purge");
  it.reset();
  if (batch.Count() == 0) return std::size_t{0};
  if (auto ok = t.write(batch, true, "purge"); !ok) return ok.error();
  t.account(mode == PurgeMode::Hard ? -static_cast<std::int64_t>(n) : 0, delta);
  return n;
}

Result<std::size_t> DiskTier::purge_prefix(std::string_view prefix, PurgeMode mode,
                                           std::int64_t now) {
  if (has_nul(prefix)) return invalid("prefix contains NUL");
  Impl& t = *impl_;
  // The iterator reads a snapshot; each primary key found is purged under its own lock, so a
  // large purge never blocks writers of unrelated keys for long.
  std::size_t n = 0;
  std::string last;
  bool have_last = false;
  rocksdb::ReadOptions ro = t.read_options();
  ro.total_order_seek = true;  // a URL prefix spans many primary-key prefixes
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(ro, t.meta));
  for (it->Seek(std::string(prefix)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view primary = disk::primary_of(it->key().ToStringView());
    if (have_last && primary == last) continue;
    last = std::string(primary);
    have_last = true;
    auto done = purge(last, mode, now);
    if (!done.ok()) return done.error();
    n += done.value();
  }
  if (!it->status().ok()) return t.fail(it->status(), "purge prefix");
  return n;
}

Result<std::size_t> DiskTier::purge_tag(std::string_view tag, PurgeMode mode, std::int64_t now) {
  if (tag.empty() || has_nul(tag)) return invalid("invalid tag");
  Impl& t = *impl_;
  std::string prefix(tag);
  prefix.push_back('\0');
  std::size_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(t.db()->NewIterator(t.read_options(), t.tags));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string key(it->key().ToStringView().substr(prefix.size()));
    auto done = purge_tagged(t, key, tag, mode, now);
    if (!done.ok()) return done.error();
    n += done.value();
  }
  if (!it->status().ok()) return t.fail(it->status(), "purge tag");
  return n;
}

Result<ObjectPtr> DiskTier::update_head(std::string_view primary_key, const StoredObject& updated) {
  if (primary_key.empty() || has_nul(primary_key)) return invalid("invalid primary key");
  if (updated.status < 100 || updated.status > 999) return invalid("status out of range");
  for (const auto& tag : updated.tags) {
    if (tag.empty() || has_nul(tag)) return invalid("invalid tag");
  }
  Impl& t = *impl_;
  std::lock_guard lk(t.stripe(primary_key));
  std::string key = disk::meta_key(primary_key, updated.vary_key);
  auto loaded = t.load_meta(key);
  if (!loaded.ok()) return loaded.error();
  if (!loaded.value() || loaded.value()->object.id != updated.id) {
    return make_error(ErrorKind::NotFound, "disk tier: object no longer stored");
  }
  disk::MetaRecord rec = std::move(*loaded.value());
  auto before = static_cast<std::int64_t>(Impl::footprint(key, rec));
  rocksdb::WriteBatch batch;
  for (const auto& tag : rec.object.tags) (void)batch.Delete(t.tags, disk::tag_key(tag, key));
  rec.object.status = updated.status;
  rec.object.headers = updated.headers;
  rec.object.timings = updated.timings;
  rec.object.tags = updated.tags;
  rec.object.soft_purged_at = updated.soft_purged_at;
  t.add_put(batch, key, rec);  // tag records re-added after the deletes: Put wins in a batch
  if (auto ok = t.write(batch, true, "update head"); !ok) return ok.error();
  t.account(0, static_cast<std::int64_t>(Impl::footprint(key, rec)) - before);
  return std::make_shared<const StoredObject>(std::move(rec.object));
}

}  // namespace ghala::cache
