// Purge API requests and answers: see purge.hpp.

#include "ghala/admin/purge.hpp"

#include "ghala/config/purge_key.hpp"
#include "observe/json_string.hpp"

namespace ghala::admin {

namespace {

Error invalid(std::string message) {
  return make_error(ErrorKind::Invalid, std::move(message));
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<observe::PurgeKind> kind_of(std::string_view name) {
  if (name == "url") return observe::PurgeKind::Url;
  if (name == "prefix") return observe::PurgeKind::Prefix;
  if (name == "tag") return observe::PurgeKind::Tag;
  return std::nullopt;
}

// Adds one "name=value" pair to r; `seen` tracks whether a kind and a mode were given.
Status add_param(std::string_view pair, PurgeRequest& r, bool& have_kind, bool& have_mode) {
  const auto eq = pair.find('=');
  const auto name = form_decode(pair.substr(0, eq));
  const auto value =
      form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
  if (!name || !value) return invalid("malformed percent-encoding in the parameters");
  if (*name == "mode") {
    if (have_mode) return invalid("mode given more than once");
    if (*value != "hard" && *value != "soft") return invalid("mode must be hard or soft");
    have_mode = true;
    r.soft = *value == "soft";
    return Ok{};
  }
  const auto kind = kind_of(*name);
  if (!kind) return invalid("unknown parameter '" + *name + "' (want url, prefix, tag, mode)");
  if (have_kind && *kind != r.kind) return invalid("one kind per request: url, prefix or tag");
  if (value->empty()) return invalid("empty " + *name);
  if (*kind != observe::PurgeKind::Tag) {
    // Same checks for a URL and a prefix: an absolute http(s) URL with a valid host.
    if (auto k = config::prefix_purge_key(*value); !k) {
      return invalid(*name + " '" + *value + "': " + k.error().message);
    }
  }
  if (r.targets.size() == kMaxPurgeTargets) {
    return invalid("more than " + std::to_string(kMaxPurgeTargets) + " targets");
  }
  have_kind = true;
  r.kind = *kind;
  r.targets.push_back(*value);
  return Ok{};
}

}  // namespace

std::optional<std::string> form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
      if (lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

Result<PurgeRequest> parse_purge_request(std::string_view query, std::string_view body) {
  PurgeRequest r;
  bool have_kind = false;
  bool have_mode = false;
  for (std::string_view params : {query, body}) {
    while (!params.empty()) {
      const auto amp = params.find('&');
      const std::string_view pair = params.substr(0, amp);
      params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
      if (pair.empty()) continue;
      if (auto s = add_param(pair, r, have_kind, have_mode); !s) return s.error();
    }
  }
  if (r.targets.empty()) return invalid("nothing to purge: give url=, prefix= or tag=");
  return r;
}

std::uint64_t PurgeOutcome::purged() const noexcept {
  std::uint64_t n = 0;
  for (const auto& t : targets) n += t.memory + t.disk.value_or(0);
  return n;
}

std::string purge_json(const PurgeOutcome& o) {
  std::string out = "{\"kind\":\"";
  out += observe::to_string(o.kind);
  out += "\",\"mode\":\"";
  out += o.soft ? "soft" : "hard";
  out += "\",\"purged\":" + std::to_string(o.purged()) + ",\"targets\":[";
  for (std::size_t i = 0; i < o.targets.size(); ++i) {
    const PurgeTargetOutcome& t = o.targets[i];
    if (i) out += ',';
    out += "{\"target\":";
    observe::append_json_string(t.target, out);
    out += ",\"key\":";
    observe::append_json_string(t.key, out);
    out += ",\"memory\":" + std::to_string(t.memory);
    if (t.disk) out += ",\"disk\":" + std::to_string(*t.disk);
    if (!t.note.empty()) {
      out += ",\"note\":";
      observe::append_json_string(t.note, out);
    }
    out += '}';
  }
  out += "],\"errors\":[";
  for (std::size_t i = 0; i < o.errors.size(); ++i) {
    if (i) out += ',';
    observe::append_json_string(o.errors[i], out);
  }
  out += "]}\n";
  return out;
}

}  // namespace ghala::admin
