#pragma once
// Collects every validation error of one load, each located at a YAML mark, so that an admin sees
// all the problems of a file in one `ghala check` run instead of fixing them one at a time.

#include <yaml-cpp/mark.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/config/config.hpp"

namespace ghala::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // yaml-cpp marks are 0-based; errors are 1-based. A null mark gives an error without a position.
  void error(const YAML::Mark& mark, std::string message);
  void error(std::string message);  // about the file as a whole

  bool empty() const noexcept { return errors_.empty(); }
  std::size_t size() const noexcept { return errors_.size(); }
  const std::string& file() const noexcept { return file_; }
  std::vector<ConfigError> take() && { return std::move(errors_); }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// The candidate closest to `word` by edit distance, when it is close enough to be a plausible typo
// (at most a third of the word's length, and at least 1); empty otherwise.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

// `text` quoted for a message, with control and non-ASCII bytes escaped and long text shortened,
// so that binary junk in a config cannot garble the terminal.
std::string quote_value(std::string_view text);

}  // namespace ghala::config
