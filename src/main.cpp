// ghala: an edge reverse proxy and CDN node for low-bandwidth networks.
//
//   ghala [--config FILE] [--ready-file PATH] [--log-level LEVEL]   run the server
//   ghala check [--no-resolve] FILE   (also: --check-config FILE)    validate a config file
//   ghala purge ...         purge cached objects through the admin API (admin/purge_client.hpp)
//   ghala --version | --help

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "default_config.inc"
#include "ghala/admin/purge_client.hpp"
#include "ghala/config/config.hpp"
#include "ghala/config/resolve.hpp"
#include "ghala/core/log.hpp"
#include "ghala_build_config.h"
#include "server/server.hpp"

namespace {

constexpr const char* kUsage =
    "usage: ghala [--config FILE] [--ready-file PATH] [--log-level debug|info|warn|error]\n"
    "       ghala check [--no-resolve] FILE\n"
    "                                validate a config file and resolve its upstream host\n"
    "                                names (--no-resolve: syntax only; also --check-config)\n"
    "       ghala purge [OPTIONS] (URL... | --prefix URL... | --tag TAG...)\n"
    "                                purge cached objects (ghala purge --help)\n"
    "       ghala --version\n"
    "Without --config, ghala serves its embedded default config (the demo site on\n"
    "http://127.0.0.1:8080, admin on 127.0.0.1:9145).\n";

void print_errors(const std::string& path, const std::vector<ghala::config::ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.format().c_str());
  std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), errors.size(),
               errors.size() == 1 ? "" : "s");
}

// Resolves the upstream host names as the server would at startup (on this machine, with its
// resolver), so that `ghala check` passing means `ghala` starts; --no-resolve checks the syntax
// only (a CI machine that cannot see the production DNS).
int check(const std::string& path, bool resolve) {
  auto result = ghala::config::load_file(path);
  if (!result.config) {
    print_errors(path, result.errors);
    return 1;
  }
  const auto& c = *result.config;
  const auto names = ghala::config::host_names(c);
  if (resolve && !names.empty()) {
    ghala::config::AddressBook book;
    auto errors = ghala::config::resolve_names(c, ghala::config::resolve_with_system, book);
    if (!errors.empty()) {
      print_errors(path, errors);
      return 1;
    }
  }
  std::size_t routes = 0;
  for (const auto& s : c.sites) routes += s.routes.size();
  std::string resolved;
  if (!names.empty()) {
    resolved = ", " + std::to_string(names.size()) + " host name" + (names.size() == 1 ? "" : "s") +
               (resolve ? " resolved" : " not resolved");
  }
  std::printf("%s: ok (%zu listeners, %zu sites, %zu routes, %zu upstreams%s, hash %s)\n",
              path.c_str(), c.listeners.size(), c.sites.size(), routes, c.upstreams.size(),
              resolved.c_str(), c.hash.c_str());
  return 0;
}

// The embedded config's relative paths (the demo site) resolve against the source tree's config/
// in a development build, the installed data directory otherwise, else the working directory.
std::string embedded_base_dir() {
  std::error_code ec;
  for (const char* dir : {GHALA_SOURCE_CONFIG_DIR, GHALA_INSTALL_CONFIG_DIR}) {
    if (std::filesystem::is_directory(std::filesystem::path(dir) / "demo-site", ec)) return dir;
  }
  return std::filesystem::current_path(ec).string();
}

bool parse_level(std::string_view s, ghala::LogLevel& out) {
  if (s == "debug")
    out = ghala::LogLevel::Debug;
  else if (s == "info")
    out = ghala::LogLevel::Info;
  else if (s == "warn")
    out = ghala::LogLevel::Warn;
  else if (s == "error")
    out = ghala::LogLevel::Error;
  else
    return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "purge") {
    const std::vector<std::string_view> args(argv + 2, argv + argc);
    return ghala::admin::run_purge_command(args, std::getenv("GHALA_PURGE_TOKEN"));
  }
  ghala::server::ServerOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ghala: %s needs a value\n%s", argv[i], kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "check" || a == "--check-config") {
      bool resolve = true;
      if (i + 1 < argc && std::string_view(argv[i + 1]) == "--no-resolve") {
        resolve = false;
        ++i;
      }
      const char* path = value();
      if (i + 1 < argc && std::string_view(argv[i + 1]) == "--no-resolve") {
        resolve = false;
        ++i;
      }
      return check(path, resolve);
    } else if (a == "--config" || a == "-c") {
      options.config_path = value();
    } else if (a == "--ready-file") {
      options.ready_file = value();
    } else if (a == "--log-level") {
      ghala::LogLevel level;
      if (!parse_level(value(), level)) {
        std::fprintf(stderr, "ghala: unknown log level\n");
        return 2;
      }
      ghala::set_log_level(level);
    } else if (a == "--version") {
      std::printf("ghala %s\n", GHALA_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "ghala: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (options.config_path.empty()) {
    options.embedded_yaml = kDefaultConfigYaml;
    options.embedded_base_dir = embedded_base_dir();
  }
  std::signal(SIGPIPE, SIG_IGN);  // a closed peer is an error code on write, not a signal
  ghala::server::Server server(std::move(options));
  return server.run();
}
