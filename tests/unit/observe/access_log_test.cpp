#include "ghala/observe/access_log.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using ghala::observe::AccessLogSink;
using ghala::observe::AccessLogWriter;
using ghala::observe::AccessRecord;
using ghala::observe::format_access_record;

namespace {

// A strict parser for the flat JSON objects the access log writes (RFC 8259): string keys; values
// are strings, numbers or null. Strings are checked for raw control characters, valid escapes and
// well-formed UTF-8 (decoded by code point, independently of the code under test), and returned
// decoded. Any deviation makes parse() return nullopt.
class FlatJson {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;  // value: decoded or literal

  static std::optional<Fields> parse(std::string_view line) {
    FlatJson p(line);
    Fields fields;
    if (!p.eat('{')) return std::nullopt;
    if (!p.eat('}')) {
      do {
        auto key = p.string();
        if (!key || !p.eat(':')) return std::nullopt;
        auto value = p.peek() == '"' ? p.string() : p.literal();
        if (!value) return std::nullopt;
        fields.emplace_back(std::move(*key), std::move(*value));
      } while (p.eat(','));
      if (!p.eat('}')) return std::nullopt;
    }
    if (p.pos_ != line.size()) return std::nullopt;
    return fields;
  }

 private:
  explicit FlatJson(std::string_view s) : s_(s) {}
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  std::optional<std::string> literal() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() &&
           std::string_view("-+.0123456789eEnul").find(s_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    std::string lit(s_.substr(start, pos_ - start));
    if (lit == "null") return lit;
    if (lit.empty() || lit.find_first_of("nul") != std::string::npos) return std::nullopt;
    char* end = nullptr;
    std::strtod(lit.c_str(), &end);
    if (end != lit.c_str() + lit.size()) return std::nullopt;
    return lit;
  }

  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) return std::nullopt;
      if (c == '\\') {
        if (!escape(out)) return std::nullopt;
      } else if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++pos_;
      } else if (!utf8(out)) {
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  bool escape(std::string& out) {
    if (pos_ + 1 >= s_.size()) return false;
    const char e = s_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case '"':
        out.push_back('"');
        return true;
      case '\\':
        out.push_back('\\');
        return true;
      case '/':
        out.push_back('/');
        return true;
      case 'b':
        out.push_back('\b');
        return true;
      case 'f':
        out.push_back('\f');
        return true;
      case 'n':
        out.push_back('\n');
        return true;
      case 'r':
        out.push_back('\r');
        return true;
      case 't':
        out.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    if (pos_ + 4 > s_.size()) return false;
    unsigned cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      cp <<= 4;
      if (h >= '0' && h <= '9')
        cp |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f')
        cp |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        cp |= static_cast<unsigned>(h - 'A' + 10);
      else
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // the log never needs surrogate pairs
    encode(cp, out);
    return true;
  }

  bool utf8(std::string& out) {
    const auto b0 = static_cast<unsigned char>(s_[pos_]);
    const int len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
    if (len == 0 || pos_ + static_cast<std::size_t>(len) > s_.size()) return false;
    unsigned cp = b0 & (0x7F >> len);
    for (int i = 1; i < len; ++i) {
      const auto b = static_cast<unsigned char>(s_[pos_ + static_cast<std::size_t>(i)]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    const unsigned min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.append(s_.substr(pos_, static_cast<std::size_t>(len)));
    pos_ += static_cast<std::size_t>(len);
    return true;
  }

  static void encode(unsigned cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

std::string format(const AccessRecord& r) {
  std::string out;
  format_access_record(r, out);
  return out;
}

// Parses one formatted line (which must end in exactly one '\n').
FlatJson::Fields parse_line(const std::string& line) {
  REQUIRE(!line.empty());
  REQUIRE(line.back() == '\n');
  REQUIRE(line.find('\n') == line.size() - 1);
  auto fields = FlatJson::parse(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(fields.has_value());
  return *fields;
}

std::string field(const FlatJson::Fields& f, std::string_view key) {
  for (const auto& [k, v] : f) {
    if (k == key) return v;
  }
  FAIL("missing field " << key);
  return {};
}

AccessRecord full_record() {
  AccessRecord r;
  r.start_unix = 1714566896.789;  // 2024-05-01T12:34:56.789Z
  r.client_addr = "203.0.113.7:51234";
  r.method = "GET";
  r.host = "shop.example";
  r.target = "/img/a.jpg?w=320";
  r.status = 200;
  r.bytes_sent = 12345;
  r.bytes_received = 321;
  r.duration_s = 0.0421234;
  r.upstream_connect_s = 0.002;
  r.upstream_head_s = 0.0305;
  r.upstream_addr = "10.0.0.5:8080";
  r.upstream_status = 200;
  r.cache_status = "ghala; fwd=miss; stored";
  r.request_id = "0123456789abcdef0123456789abcdef";
  r.site = "shop";
  r.route = "/img/";
  r.user_agent = "Mozilla/5.0";
  r.referer = "https://shop.example/";
  r.error = "";
  return r;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ghala-access-log-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    const std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "cannot remove %s\n", path.c_str());
  }
  std::string path;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    REQUIRE(nl != std::string::npos);
    lines.push_back(text.substr(start, nl - start + 1));
    start = nl + 1;
  }
  return lines;
}

std::shared_ptr<AccessLogSink> file_sink(const std::string& path) {
  ghala::config::AccessLog cfg;
  cfg.target = ghala::config::AccessLogTarget::File;
  cfg.path = path;
  auto sink = AccessLogSink::open(cfg);
  REQUIRE(sink.ok());
  return sink.value();
}

}  // namespace

TEST_CASE("access record: keys come in the documented order") {
  const auto fields = parse_line(format(full_record()));
  const std::vector<std::string> expected = {"time",
                                             "request_id",
                                             "client",
                                             "method",
                                             "host",
                                             "target",
                                             "status",
                                             "bytes_sent",
                                             "bytes_received",
                                             "duration_ms",
                                             "upstream_addr",
                                             "upstream_status",
                                             "upstream_connect_ms",
                                             "upstream_head_ms",
                                             "cache_status",
                                             "site",
                                             "route",
                                             "user_agent",
                                             "referer",
                                             "error"};
  REQUIRE(fields.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(fields[i].first == expected[i]);
}

TEST_CASE("access record: values are written as documented") {
  const auto f = parse_line(format(full_record()));
  CHECK(field(f, "time") == "2024-05-01T12:34:56.789Z");
  CHECK(field(f, "request_id") == "0123456789abcdef0123456789abcdef");
  CHECK(field(f, "client") == "203.0.113.7:51234");
  CHECK(field(f, "target") == "/img/a.jpg?w=320");
  CHECK(field(f, "status") == "200");
  CHECK(field(f, "bytes_sent") == "12345");
  CHECK(field(f, "bytes_received") == "321");
  CHECK(field(f, "duration_ms") == "42.123");
  CHECK(field(f, "upstream_addr") == "10.0.0.5:8080");
  CHECK(field(f, "upstream_status") == "200");
  CHECK(field(f, "upstream_connect_ms") == "2.000");
  CHECK(field(f, "upstream_head_ms") == "30.500");
  CHECK(field(f, "cache_status") == "ghala; fwd=miss; stored");
  CHECK(field(f, "error") == "null");
}

TEST_CASE("access record: fields without a value are null") {
  AccessRecord r;  // a request rejected before routing: no upstream, no headers
  r.start_unix = 0.0004;
  r.method = "GET";
  r.status = 400;
  r.error = "bad_request";
  const auto f = parse_line(format(r));
  CHECK(field(f, "time") == "1970-01-01T00:00:00.000Z");
  for (const char* key :
       {"upstream_addr", "upstream_status", "upstream_connect_ms", "upstream_head_ms",
        "cache_status", "site", "route", "user_agent", "referer"}) {
    CHECK_MESSAGE(field(f, key) == "null", key);
  }
  CHECK(field(f, "host") == "");
  CHECK(field(f, "error") == "bad_request");
}

TEST_CASE("access record: non-finite or negative times never produce invalid JSON") {
  AccessRecord r;
  r.start_unix = std::numeric_limits<double>::quiet_NaN();
  r.duration_s = std::numeric_limits<double>::infinity();
  r.upstream_head_s = std::numeric_limits<double>::quiet_NaN();
  const auto f = parse_line(format(r));
  CHECK(field(f, "time") == "1970-01-01T00:00:00.000Z");
  CHECK(field(f, "duration_ms") == "null");
  CHECK(field(f, "upstream_head_ms") == "null");
}

TEST_CASE("access record: hostile target and headers still give one valid JSON line") {
  static const char kTarget[] =
      "/a\"b\\c\n\r\t\x00\x1b[31m\x7f\xff\xfe\xc0\xaf\xed\xa0\x80/\xe2\x80\xa8z\xf0\x9f";
  const std::string target(kTarget, sizeof kTarget - 1);
  const std::string ua = "curl\"/\n{\"status\":999}\\\xc3";
  const std::string referer = "\xe4\xb8\xad\xe6\x96\x87 ok";  // valid UTF-8 stays as is
  AccessRecord r = full_record();
  r.target = target;
  r.user_agent = ua;
  r.referer = referer;
  r.host = std::string_view("h\0st", 4);
  r.method = "G\"ET";
  const std::string line = format(r);
  const auto f = parse_line(line);
  REQUIRE(f.size() == 20);
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(field(f, "target") == "/a\"b\\c\n\r\t" + std::string(1, '\0') + "\x1b[31m\x7f" + fffd +
                                  fffd + fffd + fffd + fffd + fffd + fffd + "/\xe2\x80\xa8z" +
                                  fffd + fffd);
  CHECK(field(f, "user_agent") == "curl\"/\n{\"status\":999}\\" + fffd);
  CHECK(field(f, "referer") == referer);
  CHECK(field(f, "host") == std::string("h\0st", 4));
  CHECK(field(f, "method") == "G\"ET");
  CHECK(field(f, "status") == "200");  // the injected "status" stayed inside the string
}

TEST_CASE("access log sink: file is created 0640 and lines are appended") {
  TempDir dir;
  const std::string path = dir.path + "/access.log";
  {
    auto sink = file_sink(path);
    CHECK(sink->enabled());
    sink->write("one\n");
    sink->write("two\n");
  }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  {
    auto sink = file_sink(path);  // appends to the existing file
    sink->write("three\n");
  }
  CHECK(read_file(path) == "one\ntwo\nthree\n");
}

TEST_CASE("access log sink: reopen after rename writes to the new file") {
  TempDir dir;
  const std::string path = dir.path + "/access.log";
  const std::string rotated = dir.path + "/access.log.1";
  auto sink = file_sink(path);
  sink->write("before\n");
  REQUIRE(std::rename(path.c_str(), rotated.c_str()) == 0);
  sink->write("still-old\n");  // logrotate renamed; we have not been told yet
  REQUIRE(sink->reopen().ok());
  sink->write("after\n");
  CHECK(read_file(rotated) == "before\nstill-old\n");
  CHECK(read_file(path) == "after\n");
}

TEST_CASE("access log sink: reopen fails cleanly when the directory is gone") {
  TempDir dir;
  const std::string sub = dir.path + "/logs";
  REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
  const std::string path = sub + "/access.log";
  auto sink = file_sink(path);
  REQUIRE(std::rename(path.c_str(), (dir.path + "/moved.log").c_str()) == 0);
  REQUIRE(::rmdir(sub.c_str()) == 0);
  const auto st = sink->reopen();
  CHECK_FALSE(st.ok());
  sink->write("kept\n");  // the old descriptor is still valid
  CHECK(read_file(dir.path + "/moved.log") == "kept\n");
}

TEST_CASE("access log sink: open reports a missing directory") {
  ghala::config::AccessLog cfg;
  cfg.target = ghala::config::AccessLogTarget::File;
  cfg.path = "/nonexistent-ghala-dir/access.log";
  const auto sink = AccessLogSink::open(cfg);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().kind == ghala::ErrorKind::NotFound);
  CHECK(sink.error().message.find(cfg.path) != std::string::npos);
}

TEST_CASE("access log sink: off drops everything, stdout is enabled") {
  ghala::config::AccessLog off;
  off.target = ghala::config::AccessLogTarget::Off;
  auto sink = AccessLogSink::open(off);
  REQUIRE(sink.ok());
  CHECK_FALSE(sink.value()->enabled());
  sink.value()->write("dropped\n");
  CHECK(sink.value()->reopen().ok());

  ghala::config::AccessLog out;
  out.target = ghala::config::AccessLogTarget::Stdout;
  auto stdout_sink = AccessLogSink::open(out);
  REQUIRE(stdout_sink.ok());
  CHECK(stdout_sink.value()->enabled());
  CHECK(stdout_sink.value()->reopen().ok());  // no-op
}

TEST_CASE("access log writer: buffers until flush or kFlushBytes") {
  TempDir dir;
  const std::string path = dir.path + "/access.log";
  AccessLogWriter writer(file_sink(path));
  CHECK(writer.enabled());
  const AccessRecord r = full_record();
  writer.log(r);
  CHECK(read_file(path).empty());
  writer.flush();
  CHECK(lines_of(read_file(path)).size() == 1);

  const std::size_t line_size = format(r).size();
  const std::size_t lines_to_fill = AccessLogWriter::kFlushBytes / line_size + 1;
  for (std::size_t i = 0; i < lines_to_fill; ++i) writer.log(r);
  CHECK(lines_of(read_file(path)).size() == 1 + lines_to_fill);  // flushed on size
}

TEST_CASE("access log writer: set_sink flushes to the old sink first") {
  TempDir dir;
  const std::string a = dir.path + "/a.log";
  const std::string b = dir.path + "/b.log";
  AccessLogWriter writer(file_sink(a));
  writer.log(full_record());
  writer.set_sink(file_sink(b));
  writer.log(full_record());
  writer.flush();
  CHECK(lines_of(read_file(a)).size() == 1);
  CHECK(lines_of(read_file(b)).size() == 1);
}

TEST_CASE("access log writer: destructor flushes; no sink means nothing logged") {
  TempDir dir;
  const std::string path = dir.path + "/access.log";
  {
    AccessLogWriter writer(file_sink(path));
    writer.log(full_record());
  }
  CHECK(lines_of(read_file(path)).size() == 1);
  AccessLogWriter none(nullptr);
  CHECK_FALSE(none.enabled());
  none.log(full_record());
  none.flush();
}

TEST_CASE("access log: concurrent writers and a rotation never split a line") {
  TempDir dir;
  const std::string path = dir.path + "/access.log";
  const std::string rotated = dir.path + "/access.log.1";
  auto sink = file_sink(path);
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink] {
      AccessLogWriter writer(sink);
      AccessRecord r = full_record();
      const std::string ua(300, 'u');  // long lines so batches exceed PIPE_BUF
      r.user_agent = ua;
      for (int i = 0; i < kLines; ++i) writer.log(r);
    });
  }
  std::this_thread::yield();
  REQUIRE(std::rename(path.c_str(), rotated.c_str()) == 0);
  REQUIRE(sink->reopen().ok());
  for (auto& t : threads) t.join();

  std::size_t total = 0;
  for (const std::string& p : {rotated, path}) {
    for (const std::string& line : lines_of(read_file(p))) {
      REQUIRE(FlatJson::parse(std::string_view(line).substr(0, line.size() - 1)).has_value());
      ++total;
    }
  }
  CHECK(total == static_cast<std::size_t>(kThreads * kLines));
}
