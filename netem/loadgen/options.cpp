#include "options.hpp"

#include <fstream>
#include <sstream>

#include "page_model.hpp"

namespace ghala::netem {

const char* const kUsage =
    "usage: ghala-netem-loadgen --target IP:PORT [--host NAME] (--page PATH | --manifest FILE)...\n"
    "  [--users N] [--source-base IP] [--ramp S] [--think S] [--duration S] [--pages N]\n"
    "  [--grace S] [--timeout S] [--max-conns N] [--no-preconnect] [--keep-connections]\n"
    "  [--hints save-data=on,ect=3g,downlink=1.6,rtt=300,dpr=2,width=400]\n"
    "  [--out FILE] [--requests-out FILE] [--seed N]\n";

namespace {

bool parse_hints(const std::string& text, LoadOptions& o, std::string& error) {
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto eq = item.find('=');
    const std::string k = item.substr(0, eq);
    const std::string v = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (k == "save-data")
      o.hints.emplace_back("Save-Data", v.empty() ? "on" : v);
    else if (k == "ect")
      o.hints.emplace_back("ECT", v);
    else if (k == "downlink")
      o.hints.emplace_back("Downlink", v);
    else if (k == "rtt")
      o.hints.emplace_back("RTT", v);
    else if (k == "dpr")
      o.hints.emplace_back("DPR", v);
    else if (k == "width")
      o.width_hint = v;
    else {
      error = "unknown hint '" + k + "'";
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<LoadOptions> parse_options(int argc, char** argv, std::string& error) {
  LoadOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) {
        error = a + " needs a value";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    auto number = [&](double& out) {
      const auto v = value();
      if (!v) return false;
      try {
        out = std::stod(*v);
        return true;
      } catch (...) {
        error = "bad number for " + a;
        return false;
      }
    };
    double n = 0;
    if (a == "--target") {
      const auto v = value();
      if (!v) return std::nullopt;
      const auto colon = v->rfind(':');
      if (colon == std::string::npos) {
        error = "--target wants IP:PORT";
        return std::nullopt;
      }
      o.target_ip = v->substr(0, colon);
      o.target_port = std::atoi(v->c_str() + colon + 1);
    } else if (a == "--host") {
      const auto v = value();
      if (!v) return std::nullopt;
      o.host = *v;
    } else if (a == "--page") {
      const auto v = value();
      if (!v) return std::nullopt;
      o.pages.push_back({*v, {}});
    } else if (a == "--manifest") {
      const auto v = value();
      if (!v) return std::nullopt;
      std::ifstream f(*v);
      std::stringstream text;
      text << f.rdbuf();
      auto paths = parse_manifest(text.str());
      if (!f || paths.empty()) {
        error = "cannot read manifest " + *v;
        return std::nullopt;
      }
      const std::string page = paths.front();
      paths.erase(paths.begin());
      o.pages.push_back({page, std::move(paths)});
    } else if (a == "--source-base") {
      const auto v = value();
      if (!v) return std::nullopt;
      o.source_base = *v;
    } else if (a == "--hints") {
      const auto v = value();
      if (!v || !parse_hints(*v, o, error)) return std::nullopt;
    } else if (a == "--out" || a == "--requests-out") {
      const auto v = value();
      if (!v) return std::nullopt;
      (a == "--out" ? o.out_path : o.requests_out_path) = *v;
    } else if (a == "--no-preconnect") {
      o.preconnect = false;
    } else if (a == "--keep-connections") {
      o.keep_connections = true;
    } else if (a == "--users" || a == "--pages" || a == "--max-conns" || a == "--seed") {
      if (!number(n)) return std::nullopt;
      if (a == "--users")
        o.users = static_cast<int>(n);
      else if (a == "--pages")
        o.pages_per_user = static_cast<int>(n);
      else if (a == "--max-conns")
        o.max_conns = static_cast<int>(n);
      else
        o.seed = static_cast<std::uint64_t>(n);
    } else if (a == "--ramp" || a == "--think" || a == "--duration" || a == "--grace" ||
               a == "--timeout") {
      if (!number(n)) return std::nullopt;
      if (a == "--ramp")
        o.ramp_s = n;
      else if (a == "--think")
        o.think_s = n;
      else if (a == "--duration")
        o.duration_s = n;
      else if (a == "--grace")
        o.grace_s = n;
      else
        o.timeout_s = n;
    } else {
      error = "unknown argument " + a;
      return std::nullopt;
    }
  }
  if (o.pages.empty()) {
    error = "no --page or --manifest";
    return std::nullopt;
  }
  if (o.users < 1 || o.max_conns < 1 || o.target_port <= 0) {
    error = "--users, --max-conns and the port must be positive";
    return std::nullopt;
  }
  if (o.host.empty()) o.host = o.target_ip;
  return o;
}

}  // namespace ghala::netem
