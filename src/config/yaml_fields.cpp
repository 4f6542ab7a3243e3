#include "config/yaml_fields.hpp"

#include <algorithm>

#include "ghala/core/units.hpp"

namespace ghala::config {

YAML::Mark Field::mark() const {
  if (value.IsDefined() && !value.IsNull()) return value.Mark();
  if (key.IsDefined()) return key.Mark();
  return value.IsDefined() ? value.Mark() : YAML::Mark::null_mark();
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return quote_value(node.Scalar());
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

namespace {

void expected(const Field& f, Diagnostics& diag, std::string_view what) {
  diag.error(f.mark(), f.name + ": expected " + std::string(what) + ", found " + describe(f.value));
}

std::string join(std::span<const std::string_view> words, std::string_view sep) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out.append(sep);
    out.append(w);
  }
  return out;
}

// Plain decimal digits only: YAML's 0x10, 1e3, +5 and 1_000 are more likely mistakes than intent.
std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(n, 10u, &n) ||
        __builtin_add_overflow(n, static_cast<unsigned>(c - '0'), &n)) {
      return std::nullopt;
    }
  }
  return n;
}

bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!";
}

}  // namespace

std::optional<std::vector<Field>> map_entries(const Field& field, Diagnostics& diag) {
  if (!field.value.IsMap()) {
    expected(field, diag, "a map");
    return std::nullopt;
  }
  std::vector<Field> out;
  for (auto it = field.value.begin(); it != field.value.end(); ++it) {
    Field f{std::string(), it->first, it->second};
    if (!f.key.IsScalar()) {
      diag.error(f.key.Mark(), field.name + ": keys must be plain names, found " + describe(f.key));
      continue;
    }
    f.name = f.key.Scalar();
    const bool duplicate =
        std::any_of(out.begin(), out.end(), [&](const Field& o) { return o.name == f.name; });
    if (duplicate) {
      // yaml-cpp keeps both entries; silently picking one would hide the admin's mistake.
      diag.error(f.key.Mark(), "duplicate key " + quote_value(f.name));
      continue;
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::optional<std::vector<Field>> list_items(const Field& field, Diagnostics& diag) {
  if (!field.value.IsSequence()) {
    expected(field, diag, "a list");
    return std::nullopt;
  }
  std::vector<Field> out;
  std::size_t i = 0;
  for (auto it = field.value.begin(); it != field.value.end(); ++it, ++i) {
    out.push_back(Field{field.name + "[" + std::to_string(i) + "]", YAML::Node(), *it});
  }
  return out;
}

MapView::MapView(const Field& field, std::span<const std::string_view> known, Diagnostics& diag,
                 std::span<const std::string_view> reserved)
    : mark_(field.mark()) {
  auto entries = map_entries(field, diag);
  if (!entries) return;
  valid_ = true;
  for (Field& f : *entries) {
    if (std::find(known.begin(), known.end(), f.name) != known.end()) {
      fields_.push_back(std::move(f));
    } else if (std::find(reserved.begin(), reserved.end(), f.name) != reserved.end()) {
      diag.error(f.key.Mark(), "key " + quote_value(f.name) +
                                   " is not supported yet (reserved for a later version of ghala)");
    } else {
      std::string msg = "unknown key " + quote_value(f.name);
      const std::string_view hint = closest_match(f.name, known);
      if (!hint.empty()) msg.append(" (did you mean '").append(hint).append("'?)");
      diag.error(f.key.Mark(), std::move(msg));
    }
  }
}

const Field* MapView::find(std::string_view key) const noexcept {
  for (const Field& f : fields_) {
    if (f.name == key) return &f;
  }
  return nullptr;
}

bool read_string(const Field& f, Diagnostics& diag, std::string& out) {
  if (!f.value.IsScalar()) {
    expected(f, diag, "a string");
    return false;
  }
  out = f.value.Scalar();
  return true;
}

bool read_bool(const Field& f, Diagnostics& diag, bool& out) {
  if (f.value.IsScalar() && !is_quoted(f.value)) {
    const std::string& s = f.value.Scalar();
    const bool yes = s == "true" || s == "True" || s == "TRUE";
    const bool no = s == "false" || s == "False" || s == "FALSE";
    if (yes || no) {
      out = yes;
      return true;
    }
  }
  expected(f, diag, "true or false");
  return false;
}

bool read_uint(const Field& f, Diagnostics& diag, std::uint64_t min, std::uint64_t max,
               std::uint64_t& out) {
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!f.value.IsScalar()) {
    expected(f, diag, range);
    return false;
  }
  const auto n = parse_decimal(f.value.Scalar());
  if (!n || *n < min || *n > max) {
    expected(f, diag, range);
    return false;
  }
  out = *n;
  return true;
}

bool read_uint32(const Field& f, Diagnostics& diag, std::uint32_t min, std::uint32_t max,
                 std::uint32_t& out) {
  std::uint64_t n = 0;
  if (!read_uint(f, diag, min, max, n)) return false;
  out = static_cast<std::uint32_t>(n);
  return true;
}

bool read_duration(const Field& f, Diagnostics& diag, bool allow_zero, Millis& out) {
  if (!f.value.IsScalar()) {
    expected(f, diag, "a duration such as 30s");
    return false;
  }
  auto r = parse_duration(f.value.Scalar());
  if (!r) {
    diag.error(f.mark(), f.name + ": " + r.error().message);
    return false;
  }
  if (!allow_zero && r.value() == Millis::zero()) {
    diag.error(f.mark(), f.name + ": must be longer than 0s");
    return false;
  }
  out = r.value();
  return true;
}

bool read_size(const Field& f, Diagnostics& diag, std::uint64_t min, std::uint64_t max,
               std::uint64_t& out) {
  if (!f.value.IsScalar()) {
    expected(f, diag, "a size such as 64KiB");
    return false;
  }
  auto r = parse_size(f.value.Scalar());
  if (!r) {
    diag.error(f.mark(), f.name + ": " + r.error().message);
    return false;
  }
  if (r.value() < min || r.value() > max) {
    diag.error(f.mark(), f.name + ": must be between " + format_size(min) + " and " +
                             format_size(max) + ", found " + quote_value(f.value.Scalar()));
    return false;
  }
  out = r.value();
  return true;
}

std::optional<std::size_t> read_choice(const Field& f, Diagnostics& diag,
                                       std::span<const std::string_view> choices) {
  if (f.value.IsScalar()) {
    const std::string& s = f.value.Scalar();
    const auto it = std::find(choices.begin(), choices.end(), s);
    if (it != choices.end()) return static_cast<std::size_t>(it - choices.begin());
    std::string msg =
        f.name + ": expected one of " + join(choices, ", ") + ", found " + quote_value(s);
    const std::string_view hint = closest_match(s, choices);
    if (!hint.empty()) msg.append(" (did you mean '").append(hint).append("'?)");
    diag.error(f.mark(), std::move(msg));
    return std::nullopt;
  }
  expected(f, diag, "one of " + join(choices, ", "));
  return std::nullopt;
}

}  // namespace ghala::config
