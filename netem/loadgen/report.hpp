#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.hpp"

namespace ghala::netem {

struct RequestRecord {
  std::string path;
  int status = 0;
  double start_ms = 0;  // relative to the page's start
  double ttfb_ms = -1;
  double end_ms = -1;
  std::uint64_t bytes = 0;  // response bytes on the socket: status line, headers and body
  std::string content_encoding;
  std::string cache_status;  // Cache-Status (or nginx's X-Cache-Status), as received
  std::string error;         // empty if it completed
  int retries = 0;
};

struct PageRecord {
  int user = 0;
  int seq = 0;  // the user's n-th page
  std::string page;
  double start_ms = 0;     // relative to the run's start
  double ttfb_ms = -1;     // of the HTML
  double plt_ms = -1;      // until the last subresource finished
  double connect_ms = -1;  // TCP handshake of the page's first connection: an idle-link RTT sample
  std::uint64_t bytes = 0;
  int connections = 0;
  bool ok = false;
  bool aborted = false;  // still loading when the run stopped
  std::vector<RequestRecord> requests;
  std::vector<std::string> errors;
};

// Writes the result JSON (and, if asked, one JSON line per request). Returns false on I/O error.
// loop_lag_ms: the generator's event-loop lag samples (main.cpp), summarised as p50/p99/max.
bool write_report(const LoadOptions& o, const std::vector<PageRecord>& pages, double elapsed_s,
                  double cpu_s, std::vector<double> loop_lag_ms, std::string& error);
std::string json_escape(const std::string& s);

}  // namespace ghala::netem
