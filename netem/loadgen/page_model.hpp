#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ghala::netem {

// What a browser's preload scanner would fetch for a page: the subresources named by <img src>,
// <script src>, <source src>, <link rel=stylesheet|icon|preload|modulepreload href> and the first
// candidate of srcset, resolved against the page path. Links to other hosts are returned apart
// (the load generator talks to one host). Anchors (<a href>) are navigation, not subresources.
struct Discovery {
  std::vector<std::string> paths;     // same-host absolute paths, in document order, no duplicates
  std::vector<std::string> external;  // references to other hosts, skipped
};
Discovery discover_subresources(std::string_view html, std::string_view page_path,
                                std::string_view host);

// Resolves a reference against a page path. Returns "" for references to another host or to a
// non-HTTP scheme (data:, mailto:, javascript:).
std::string resolve_reference(std::string_view page_path, std::string_view ref,
                              std::string_view host, bool& external);

enum class ResourceKind { Document, Stylesheet, Script, Image, Font, Other };
ResourceKind kind_of_path(std::string_view path);
// The Accept header Chrome sends for that kind of request.
const char* accept_for(ResourceKind kind);

// A page manifest: one path per line, the page first, then its subresources; '#' comments.
std::vector<std::string> parse_manifest(std::string_view text);

}  // namespace ghala::netem
