#pragma once
// Typed, error-collecting reads from yaml-cpp nodes. Every reader reports a located error and
// leaves its output untouched when the value is wrong, so the loader keeps going and finds the
// next problem too. Nothing here throws yaml-cpp's conversion exceptions: scalars are parsed by
// hand (yaml-cpp's as<T>() throws, and accepts more than we want, such as "yes" for true).

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"
#include "ghala/config/config.hpp"

namespace ghala::config {

// One key/value pair of a mapping, or one list item (then `key` is undefined).
struct Field {
  std::string name;  // key text, or "<parent>[i]" for a list item: used to prefix messages
  YAML::Node key;
  YAML::Node value;

  // Where an error about the value points: the value itself, or its key when the value is empty
  // (yaml-cpp places an empty value's mark on the following line).
  YAML::Mark mark() const;
};

// "a map", "a list", "an empty value", "'text'": for "expected X, found Y" messages.
std::string describe(const YAML::Node& node);

// The entries of a mapping in file order. Reports (and skips) non-scalar keys and duplicate keys.
// nullopt, after reporting "<what> must be a map", when the node is not a mapping.
std::optional<std::vector<Field>> map_entries(const Field& field, Diagnostics& diag);

// The items of a list as Fields named "<name>[i]"; nullopt after an error when not a list.
std::optional<std::vector<Field>> list_items(const Field& field, Diagnostics& diag);

// A mapping with a fixed set of keys: unknown keys are reported once, with a "did you mean"
// suggestion when one is close. `reserved` keys are known names that this version does not
// implement yet; they get a "not supported yet" message instead.
class MapView {
 public:
  MapView(const Field& field, std::span<const std::string_view> known, Diagnostics& diag,
          std::span<const std::string_view> reserved = {});

  bool valid() const noexcept { return valid_; }  // false: not a mapping (already reported)
  const Field* find(std::string_view key) const noexcept;
  YAML::Mark mark() const { return mark_; }

 private:
  bool valid_ = false;
  YAML::Mark mark_;
  std::vector<Field> fields_;
};

// The readers: true and `out` set when valid; otherwise an error is reported at the value.
bool read_string(const Field& f, Diagnostics& diag, std::string& out);
bool read_bool(const Field& f, Diagnostics& diag, bool& out);
bool read_uint(const Field& f, Diagnostics& diag, std::uint64_t min, std::uint64_t max,
               std::uint64_t& out);
bool read_uint32(const Field& f, Diagnostics& diag, std::uint32_t min, std::uint32_t max,
                 std::uint32_t& out);
// allow_zero: "0s" is meaningful for this key (a grace period), not a mistake.
bool read_duration(const Field& f, Diagnostics& diag, bool allow_zero, Millis& out);
bool read_size(const Field& f, Diagnostics& diag, std::uint64_t min, std::uint64_t max,
               std::uint64_t& out);
// The index of the value in `choices`; nullopt after an error naming the choices.
std::optional<std::size_t> read_choice(const Field& f, Diagnostics& diag,
                                       std::span<const std::string_view> choices);

}  // namespace ghala::config
