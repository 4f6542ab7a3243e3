#include "cache/disk_format.hpp"

#include "cache/disk_crc32c.hpp"

namespace ghala::cache::disk {
namespace {

constexpr std::uint32_t kMaxChunkSize = 64u << 20;
// Smallest encodings, used to reject counts that cannot fit in the remaining bytes before
// reserving anything.
constexpr std::size_t kMinHeaderBytes = 8;  // two empty length-prefixed strings
constexpr std::size_t kMinTagBytes = 4;

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}
void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_bytes(std::string& out, std::string_view s) {
  put_le(out, s.size(), 4);
  out.append(s);
}

std::uint64_t get_le(std::string_view b, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(b[i])} << (8 * i);
  return v;
}

// Bounds-checked reader: every read checks the remaining size first; a failed read poisons the
// reader so that the caller checks once at the end.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  std::uint64_t le(int bytes) {
    if (!take(static_cast<std::size_t>(bytes))) return 0;
    return get_le(last_, bytes);
  }
  std::int64_t i64() { return static_cast<std::int64_t>(le(8)); }
  std::string_view bytes() {
    std::uint64_t n = le(4);
    if (!take(n)) return {};
    return last_;
  }
  std::size_t remaining() const noexcept { return b_.size(); }
  bool ok() const noexcept { return ok_; }
  void fail() noexcept { ok_ = false; }

 private:
  bool take(std::uint64_t n) {
    if (!ok_ || n > b_.size()) {
      ok_ = false;
      last_ = {};
      return false;
    }
    last_ = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }
  std::string_view b_;
  std::string_view last_;
  bool ok_ = true;
};

Error invalid(std::string what) {
  return make_error(ErrorKind::Invalid, "disk tier: " + std::move(what));
}

}  // namespace

std::string meta_key(std::string_view primary_key, std::string_view vary_key) {
  std::string k;
  k.reserve(primary_key.size() + 1 + vary_key.size());
  k.append(primary_key).push_back('\0');
  k.append(vary_key);
  return k;
}

std::string_view primary_of(std::string_view meta_key) noexcept {
  return meta_key.substr(0, meta_key.find('\0'));
}

std::string chunk_key(std::uint64_t id, std::uint32_t index) {
  std::string k;
  put_be(k, id, 8);
  put_be(k, index, 4);
  return k;
}

std::string chunk_range_end(std::uint64_t id) {
  std::string k;
  put_be(k, id + 1, 8);
  return k;
}

std::string order_key(std::uint64_t seq) {
  std::string k;
  put_be(k, seq, 8);
  return k;
}

std::string order_value(std::uint64_t id, std::string_view meta_key) {
  std::string v;
  put_le(v, id, 8);
  v.append(meta_key);
  return v;
}

std::uint64_t read_be64(std::string_view b) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

Result<OrderEntry> decode_order(std::string_view key, std::string_view value) {
  if (key.size() != 8 || value.size() < 9) return invalid("malformed order record");
  return OrderEntry{read_be64(key), get_le(value, 8), std::string(value.substr(8))};
}

std::string tag_key(std::string_view tag, std::string_view meta_key) {
  std::string k;
  k.reserve(tag.size() + 1 + meta_key.size());
  k.append(tag).push_back('\0');
  k.append(meta_key);
  return k;
}

std::string pending_key(std::uint64_t id) {
  std::string k = "p";
  put_be(k, id, 8);
  return k;
}

std::string encode_u64(std::uint64_t v) {
  std::string s;
  put_le(s, v, 8);
  return s;
}

Result<std::uint64_t> decode_u64(std::string_view v) {
  if (v.size() != 8) return invalid("malformed counter record");
  return get_le(v, 8);
}

std::uint32_t chunk_count_for(std::uint64_t body_size, std::uint32_t chunk_size) noexcept {
  if (chunk_size == 0) return 0;
  return static_cast<std::uint32_t>((body_size + chunk_size - 1) / chunk_size);
}

std::size_t expected_chunk_size(const StoredObject& o, std::uint32_t index) noexcept {
  if (index >= o.chunk_count || o.chunk_size == 0) return 0;
  std::uint64_t start = std::uint64_t{index} * o.chunk_size;
  std::uint64_t left = o.body_size > start ? o.body_size - start : 0;
  return static_cast<std::size_t>(left < o.chunk_size ? left : o.chunk_size);
}

// Layout, version 1 (integers little-endian, strings as u32 length + bytes):
//   u8 version, u64 id, u64 seq, u16 status,
//   i64 request_time, response_time, date, age, soft_purged_at,
//   u64 body_size, u32 chunk_count, u32 chunk_size,
//   str vary_key, u32 n + n x (str name, str value), u32 n + n x str tag,
//   u32 CRC32C(key + all bytes above)
std::string encode_meta(std::string_view key, MetaRecord& r) {
  const StoredObject& o = r.object;
  std::string v;
  v.reserve(96 + o.vary_key.size() + o.headers.size() * 40);
  put_u8(v, kFormatVersion);
  put_le(v, o.id, 8);
  put_le(v, r.seq, 8);
  put_le(v, static_cast<std::uint64_t>(o.status), 2);
  for (std::int64_t t : {o.timings.request_time, o.timings.response_time, o.timings.date,
                         o.timings.age, o.soft_purged_at}) {
    put_le(v, static_cast<std::uint64_t>(t), 8);
  }
  put_le(v, o.body_size, 8);
  put_le(v, o.chunk_count, 4);
  put_le(v, o.chunk_size, 4);
  put_bytes(v, o.vary_key);
  put_le(v, o.headers.size(), 4);
  for (const auto& h : o.headers) {
    put_bytes(v, h.name);
    put_bytes(v, h.value);
  }
  put_le(v, o.tags.size(), 4);
  for (const auto& t : o.tags) put_bytes(v, t);
  put_le(v, crc32c_extend(crc32c(key), v), 4);
  r.encoded_size = v.size();
  return v;
}

Result<MetaRecord> decode_meta(std::string_view key, std::string_view value) {
  if (value.size() < 5) return invalid("metadata record too short");
  std::string_view body = value.substr(0, value.size() - 4);
  auto stored_crc = static_cast<std::uint32_t>(get_le(value.substr(body.size()), 4));
  if (crc32c_extend(crc32c(key), body) != stored_crc) return invalid("metadata checksum mismatch");
  Reader in(body);
  if (in.le(1) != kFormatVersion) return invalid("unknown metadata version");

  MetaRecord r;
  StoredObject& o = r.object;
  o.id = in.le(8);
  r.seq = in.le(8);
  o.status = static_cast<int>(in.le(2));
  o.timings.request_time = in.i64();
  o.timings.response_time = in.i64();
  o.timings.date = in.i64();
  o.timings.age = in.i64();
  o.soft_purged_at = in.i64();
  o.body_size = in.le(8);
  o.chunk_count = static_cast<std::uint32_t>(in.le(4));
  o.chunk_size = static_cast<std::uint32_t>(in.le(4));
  o.vary_key = std::string(in.bytes());

  std::uint64_t n = in.le(4);
  if (n > in.remaining() / kMinHeaderBytes) in.fail();
  http::HeaderMap fields;
  for (std::uint64_t i = 0; in.ok() && i < n; ++i) {
    std::string_view name = in.bytes();
    std::string_view val = in.bytes();
    if (in.ok()) fields.add(name, val);
  }
  if (auto frozen = http::FrozenHeaders::freeze(fields)) {
    o.headers = std::move(*frozen);
  } else {
    in.fail();  // beyond what any stored head can be
  }
  n = in.le(4);
  if (n > in.remaining() / kMinTagBytes) in.fail();
  for (std::uint64_t i = 0; in.ok() && i < n; ++i) {
    std::string_view tag = in.bytes();
    if (in.ok()) o.tags.push_back(std::string(tag));
  }
  if (!in.ok() || in.remaining() != 0) return invalid("malformed metadata record");

  // The checksum proves these bytes are what we wrote; these checks catch a record written by a
  // buggy or different build, which would otherwise make read_chunk compute wrong sizes.
  if (o.id == 0 || o.status < 100 || o.status > 999 || o.chunk_size == 0 ||
      o.chunk_size > kMaxChunkSize || o.chunk_count != chunk_count_for(o.body_size, o.chunk_size) ||
      key != meta_key(primary_of(key), o.vary_key)) {
    return invalid("inconsistent metadata record");
  }
  r.encoded_size = value.size();
  return r;
}

std::string encode_chunk(std::string_view key, std::string_view payload) {
  std::string v;
  v.reserve(kChunkHeaderBytes + payload.size());
  put_u8(v, kFormatVersion);
  std::string_view version(v.data(), 1);
  std::uint32_t crc = crc32c_extend(crc32c_extend(crc32c(key), version), payload);
  put_le(v, crc, 4);
  v.append(payload);
  return v;
}

Result<std::string_view> decode_chunk(std::string_view key, std::string_view value,
                                      std::size_t expected_size) {
  if (value.size() != kChunkHeaderBytes + expected_size) return invalid("chunk has wrong length");
  if (static_cast<std::uint8_t>(value[0]) != kFormatVersion) {
    return invalid("unknown chunk version");
  }
  std::string_view payload = value.substr(kChunkHeaderBytes);
  std::uint32_t crc = crc32c_extend(crc32c_extend(crc32c(key), value.substr(0, 1)), payload);
  if (crc != static_cast<std::uint32_t>(get_le(value.substr(1), 4))) {
    return invalid("chunk checksum mismatch");
  }
  return payload;
}

}  // namespace ghala::cache::disk
