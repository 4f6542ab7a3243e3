#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ghala::netem {

struct PageSpec {
  std::string path;
  std::vector<std::string> manifest;  // empty = discover from the HTML
};

struct LoadOptions {
  std::string target_ip = "127.0.0.1";
  int target_port = 80;
  std::string host;  // Host header; defaults to target_ip
  std::vector<PageSpec> pages;
  int users = 1;
  std::string source_base;  // user i binds to source_base + i; empty = no bind
  double ramp_s = 0;
  double think_s = 1;
  double duration_s = 60;
  int pages_per_user = 0;  // 0 = until duration
  double grace_s = 30;     // after duration, how long in-flight pages may finish
  double timeout_s = 60;   // per page
  int max_conns = 6;
  bool preconnect = true;
  bool keep_connections = false;  // keep connections across pages (default: new navigation)
  std::vector<std::pair<std::string, std::string>> hints;  // header name, value
  std::string width_hint;                                  // Width: sent on image requests only
  std::string out_path;
  std::string requests_out_path;
  std::uint64_t seed = 1;
};

// Parses argv; on error returns nullopt and sets `error`.
std::optional<LoadOptions> parse_options(int argc, char** argv, std::string& error);
extern const char* const kUsage;

}  // namespace ghala::netem
