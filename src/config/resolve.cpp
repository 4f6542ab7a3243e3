#include "ghala/config/resolve.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "config/address.hpp"
#include "config/diagnostics.hpp"

namespace ghala::config {
namespace {

bool names_a_host(const UpstreamServer& s) {
  return !is_ip_literal(s.address.host);
}

void add_unique(std::vector<std::string>& out, const std::string& name) {
  if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
}

}  // namespace

Result<AddressList> resolve_with_system(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (rc != 0) return make_error(ErrorKind::NotFound, gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(res, &::freeaddrinfo);
  AddressList out;
  char text[NI_MAXHOST];
  for (const addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) ==
        0) {
      out.emplace_back(text);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) return make_error(ErrorKind::NotFound, "no IPv4 or IPv6 address");
  return out;
}

std::vector<std::string> host_names(const Upstream& upstream) {
  std::vector<std::string> out;
  if (upstream.kind != OriginKind::Http) return out;
  for (const auto& s : upstream.servers) {
    if (names_a_host(s)) add_unique(out, s.address.host);
  }
  return out;
}

std::vector<std::string> host_names(const Config& config) {
  std::vector<std::string> out;
  for (const auto& u : config.upstreams) {
    for (const auto& name : host_names(u)) add_unique(out, name);
  }
  return out;
}

ConfigError resolve_error(const Config& config, const Upstream& upstream, std::string_view name,
                          std::string_view why) {
  ConfigError e;
  e.file = config.source;
  for (const auto& s : upstream.servers) {
    if (s.address.host == name) {
      e.line = s.line;
      e.col = s.col;
      break;
    }
  }
  e.message = "upstream " + quote_value(upstream.name) + ": cannot resolve " + quote_value(name) +
              ": " + std::string(why);
  return e;
}

std::vector<ConfigError> resolve_names(const Config& config, const ResolveFn& resolve,
                                       AddressBook& book) {
  std::vector<ConfigError> errors;
  std::map<std::string, std::string, std::less<>> failed;  // name -> why
  for (const auto& name : host_names(config)) {
    auto r = resolve(name);
    if (r) {
      book[name] = std::move(r).value();
    } else {
      failed.emplace(name, r.error().message);
    }
  }
  for (const auto& u : config.upstreams) {
    for (const auto& name : host_names(u)) {
      if (auto it = failed.find(name); it != failed.end()) {
        errors.push_back(resolve_error(config, u, name, it->second));
      }
    }
  }
  return errors;
}

ConfigPtr with_addresses(const Config& loaded, const AddressBook& book) {
  auto out = std::make_shared<Config>(loaded);
  for (auto& u : out->upstreams) {
    if (u.kind != OriginKind::Http) continue;
    std::vector<UpstreamServer> servers;
    for (const auto& s : u.servers) {
      if (!names_a_host(s)) {
        servers.push_back(s);
        continue;
      }
      const auto it = book.find(s.address.host);
      if (it == book.end()) continue;
      for (const auto& ip : it->second) {
        UpstreamServer e = s;
        e.host_name = s.address.host;
        e.address.host = ip;
        e.address.text = address_text(ip, s.address.port);
        servers.push_back(std::move(e));
      }
    }
    u.servers = std::move(servers);
  }
  return out;
}

}  // namespace ghala::config
