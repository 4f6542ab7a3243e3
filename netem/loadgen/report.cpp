#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "cache_status.hpp"

namespace ghala::netem {

std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// The cause of an error without its variable details ("http 502", "connect ECONNREFUSED").
std::string cause_of(const std::string& e) {
  const auto colon = e.find(':');
  return colon == std::string::npos ? e : e.substr(0, colon);
}

void write_page(std::ostream& o, const PageRecord& p) {
  o << "{\"user\":" << p.user << ",\"seq\":" << p.seq << ",\"page\":\"" << json_escape(p.page)
    << "\",\"start_ms\":" << p.start_ms << ",\"ttfb_ms\":" << p.ttfb_ms
    << ",\"plt_ms\":" << p.plt_ms << ",\"connect_ms\":" << p.connect_ms << ",\"bytes\":" << p.bytes
    << ",\"requests\":" << p.requests.size() << ",\"connections\":" << p.connections
    << ",\"ok\":" << (p.ok ? "true" : "false") << ",\"aborted\":" << (p.aborted ? "true" : "false")
    << ",\"errors\":[";
  for (std::size_t i = 0; i < p.errors.size(); ++i) {
    o << (i ? "," : "") << '"' << json_escape(p.errors[i]) << '"';
  }
  o << "]}";
}

}  // namespace

bool write_report(const LoadOptions& opt, const std::vector<PageRecord>& pages, double elapsed_s,
                  double cpu_s, std::vector<double> loop_lag_ms, std::string& error) {
  std::sort(loop_lag_ms.begin(), loop_lag_ms.end());
  auto lag_at = [&loop_lag_ms](double q) {
    if (loop_lag_ms.empty()) return 0.0;
    return loop_lag_ms[static_cast<std::size_t>(q * static_cast<double>(loop_lag_ms.size() - 1))];
  };
  std::map<std::string, int> causes;
  std::map<std::string, std::size_t> cache;  // completed requests by what the edge did
  int ok = 0, failed = 0, aborted = 0;
  std::size_t requests = 0;
  for (const auto& p : pages) {
    if (p.aborted)
      ++aborted;
    else if (p.ok)
      ++ok;
    else
      ++failed;
    requests += p.requests.size();
    for (const auto& q : p.requests) {
      if (q.error.empty() && q.end_ms >= 0) {
        cache[cache_class_name(classify_cache_status(q.cache_status))]++;
      }
    }
    for (const auto& e : p.errors) causes[cause_of(e)]++;
  }
  std::ofstream o(opt.out_path.empty() ? "/dev/stdout" : opt.out_path, std::ios::trunc);
  o.setf(std::ios::fixed);
  o.precision(3);
  o << "{\"tool\":\"ghala-netem-loadgen\",\"target\":\"" << json_escape(opt.target_ip) << ':'
    << opt.target_port << "\",\"host\":\"" << json_escape(opt.host) << "\",\"users\":" << opt.users
    << ",\"ramp_s\":" << opt.ramp_s << ",\"think_s\":" << opt.think_s
    << ",\"duration_s\":" << opt.duration_s << ",\"pages_per_user\":" << opt.pages_per_user
    << ",\"max_conns\":" << opt.max_conns << ",\"elapsed_s\":" << elapsed_s
    << ",\"cpu_s\":" << cpu_s << ",\"loop_lag_ms\":{\"samples\":" << loop_lag_ms.size()
    << ",\"p50\":" << lag_at(0.5) << ",\"p99\":" << lag_at(0.99) << ",\"max\":" << lag_at(1.0)
    << "},\n\"summary\":{\"pages\":" << pages.size() << ",\"ok\":" << ok << ",\"failed\":" << failed
    << ",\"aborted\":" << aborted << ",\"requests\":" << requests << ",\"errors_by_cause\":{";
  bool first = true;
  for (const auto& [cause, n] : causes) {
    o << (first ? "" : ",") << '"' << json_escape(cause) << "\":" << n;
    first = false;
  }
  o << "},\"cache\":{";
  first = true;
  for (const auto& [cls, n] : cache) {
    o << (first ? "" : ",") << '"' << cls << "\":" << n;
    first = false;
  }
  o << "}},\n\"pages\":[\n";
  for (std::size_t i = 0; i < pages.size(); ++i) {
    write_page(o, pages[i]);
    o << (i + 1 < pages.size() ? ",\n" : "\n");
  }
  o << "]}\n";
  if (!o) {
    error = "cannot write " + opt.out_path;
    return false;
  }
  if (opt.requests_out_path.empty()) return true;
  std::ofstream r(opt.requests_out_path, std::ios::trunc);
  r.setf(std::ios::fixed);
  r.precision(3);
  for (const auto& p : pages) {
    for (const auto& q : p.requests) {
      r << "{\"user\":" << p.user << ",\"seq\":" << p.seq << ",\"path\":\"" << json_escape(q.path)
        << "\",\"status\":" << q.status << ",\"start_ms\":" << q.start_ms
        << ",\"ttfb_ms\":" << q.ttfb_ms << ",\"end_ms\":" << q.end_ms << ",\"bytes\":" << q.bytes
        << ",\"encoding\":\"" << json_escape(q.content_encoding) << "\",\"cache_status\":\""
        << json_escape(q.cache_status) << "\",\"retries\":" << q.retries << ",\"error\":\""
        << json_escape(q.error) << "\"}\n";
    }
  }
  if (!r) {
    error = "cannot write " + opt.requests_out_path;
    return false;
  }
  return true;
}

}  // namespace ghala::netem
