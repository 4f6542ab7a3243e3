#pragma once
// `ghala purge`: the purge API's command-line client (docs/operations.md, "Purge an object").
//
//   ghala purge [--config FILE | --admin HOST:PORT] [--token TOKEN] [--soft] [--timeout SECONDS]
//               (URL... | --prefix URL... | --tag TAG...)
//
// The admin address comes from --admin (which overrides the config's), else the config's
// admin.listen, else 127.0.0.1:9145 (the default config's). The token comes from --token, else
// $GHALA_PURGE_TOKEN, else the config's cache.purge section. It POSTs one form to /admin/purge over
// plain HTTP/1.1, prints the JSON answer on stdout and exits 0 on a 200; otherwise it prints why on
// stderr and exits 1 (2 for a usage error).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ghala/admin/purge.hpp"
#include "ghala/core/result.hpp"

namespace ghala::admin {

struct PurgeCommand {
  std::string config_path;           // --config
  std::string admin;                 // --admin HOST:PORT
  std::optional<std::string> token;  // --token
  int timeout_seconds = 60;
  bool help = false;
  PurgeRequest request;
};

// The arguments after "purge". Error (Invalid) with a message for a usage error.
Result<PurgeCommand> parse_purge_command(const std::vector<std::string_view>& args);

// application/x-www-form-urlencoded encoding of one value: unreserved bytes kept, others %XX.
std::string form_encode(std::string_view value);
// The request body for r: "mode=soft&url=...&url=...".
std::string purge_form(const PurgeRequest& r);

struct HttpReply {
  int status = 0;
  std::string body;
};
// A complete HTTP/1.1 response read until the server closed (Content-Length honoured when
// present). Error (Invalid) when it is not one.
Result<HttpReply> parse_http_reply(std::string_view raw);

// Runs the command; returns the exit status. env_token: $GHALA_PURGE_TOKEN or null.
int run_purge_command(const std::vector<std::string_view>& args, const char* env_token);

extern const char* const kPurgeUsage;

}  // namespace ghala::admin
