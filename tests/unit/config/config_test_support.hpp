#pragma once
// Shared helpers for the config module's tests: the shared temporary directory and small
// assertions over LoadResult errors.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "../temp_dir.hpp"
#include "ghala/config/config.hpp"

namespace ghala::config::testing {

using ghala::testing::TempDir;

// A valid config that needs nothing on disk; tests append or edit sections.
inline constexpr std::string_view kMinimalYaml = R"(listen:
  - 127.0.0.1:8080
upstreams:
  app:
    servers: [http://127.0.0.1:9000]
sites:
  - name: main
    routes:
      - match: /
        upstream: app
)";

inline std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const ConfigError& e : r.errors) out.append(e.format()).append("\n");
  return out;
}

inline LoadResult load(std::string_view yaml, const std::string& base_dir = "/") {
  return load_string(yaml, "test.yaml", base_dir);
}

// The loaded Config; fails the test (showing every error) when loading failed.
inline const Config& loaded(const LoadResult& r) {
  INFO(all_errors(r));
  REQUIRE(r.config);
  return *r.config;
}
// The Config lives in the LoadResult: a temporary would leave the reference dangling.
const Config& loaded(const LoadResult&& r) = delete;

// True when some error is at `line` (1-based; 0 = any line) and contains `text`.
inline bool has_error(const LoadResult& r, int line, std::string_view text) {
  for (const ConfigError& e : r.errors) {
    if ((line == 0 || e.line == line) && e.message.find(text) != std::string::npos) return true;
  }
  return false;
}

// Loads and expects failure with an error on `line` containing `text`.
#define CHECK_LOAD_ERROR(yaml, line, text)                       \
  do {                                                           \
    const auto r_ = ::ghala::config::testing::load(yaml);        \
    INFO("errors:\n", ::ghala::config::testing::all_errors(r_)); \
    CHECK(r_.config == nullptr);                                 \
    CHECK(::ghala::config::testing::has_error(r_, line, text));  \
  } while (0)

}  // namespace ghala::config::testing
