#pragma once
// Text -> one YAML document, with yaml-cpp 0.7's failure modes turned into located errors:
// syntax errors and excessive nesting (it throws), several documents in one file (a config is
// one), and a stray ',' at block level, on which yaml-cpp's LoadAll never terminates and Load
// silently ignores the rest of the file.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string_view>

#include "config/diagnostics.hpp"

namespace ghala::config {

// The document's root (a null node for an empty text), or nullopt after reporting the problem.
std::optional<YAML::Node> parse_document(std::string_view text, Diagnostics& diag);

}  // namespace ghala::config
