#include "page_model.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_set>

namespace ghala::netem {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

struct Attribute {
  std::string name;
  std::string value;
};

// Reads the attributes of the tag starting after its name, up to '>'. Advances `i`.
std::vector<Attribute> read_attributes(std::string_view h, std::size_t& i) {
  std::vector<Attribute> attrs;
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (i < h.size() && h[i] != '>') {
    while (i < h.size() && (space(h[i]) || h[i] == '/')) ++i;
    const std::size_t name_start = i;
    while (i < h.size() && !space(h[i]) && h[i] != '=' && h[i] != '>') ++i;
    Attribute a{lower(h.substr(name_start, i - name_start)), {}};
    while (i < h.size() && space(h[i])) ++i;
    if (i < h.size() && h[i] == '=') {
      ++i;
      while (i < h.size() && space(h[i])) ++i;
      if (i < h.size() && (h[i] == '"' || h[i] == '\'')) {
        const char q = h[i++];
        const std::size_t end = h.find(q, i);
        const std::size_t stop = end == std::string_view::npos ? h.size() : end;
        a.value = std::string(h.substr(i, stop - i));
        i = stop == h.size() ? stop : stop + 1;
      } else {
        const std::size_t v = i;
        while (i < h.size() && !space(h[i]) && h[i] != '>') ++i;
        a.value = std::string(h.substr(v, i - v));
      }
    }
    if (!a.name.empty()) attrs.push_back(std::move(a));
    if (i == name_start) ++i;  // never stall on an unexpected character
  }
  return attrs;
}

const std::string* find_attr(const std::vector<Attribute>& attrs, std::string_view name) {
  for (const auto& a : attrs) {
    if (a.name == name) return &a.value;
  }
  return nullptr;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string normalise_dots(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t i = 1;
  while (i <= path.size()) {
    const std::size_t j = std::min(path.find('/', i), path.size());
    const std::string seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (seg != ".") {
      parts.push_back(seg);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  if (out.empty() || (!path.empty() && path.back() == '/' && out.back() != '/')) out += "/";
  return out;
}

}  // namespace

std::string resolve_reference(std::string_view page_path, std::string_view ref_in,
                              std::string_view host, bool& external) {
  external = false;
  std::string ref = trim(ref_in);
  if (const auto hash = ref.find('#'); hash != std::string::npos) ref.resize(hash);
  if (ref.empty()) return {};
  if (starts_with_ci(ref, "http://") || starts_with_ci(ref, "https://") ||
      ref.rfind("//", 0) == 0) {
    const std::size_t host_start = ref.find("//") + 2;
    const std::size_t path_start = std::min(ref.find('/', host_start), ref.size());
    if (lower(ref.substr(host_start, path_start - host_start)) != lower(host)) {
      external = true;
      return {};
    }
    const std::string path = ref.substr(path_start);
    return path.empty() ? "/" : path;
  }
  const auto colon = ref.find(':');
  if (colon != std::string::npos && ref.find('/') > colon) return {};  // data:, mailto:, ...
  std::string query;
  if (const auto q = ref.find('?'); q != std::string::npos) {
    query = ref.substr(q);
    ref.resize(q);
  }
  std::string path;
  if (!ref.empty() && ref[0] == '/') {
    path = ref;
  } else {
    std::string base(page_path.substr(0, page_path.find('?')));
    base.resize(base.rfind('/') + 1);
    path = base + ref;
  }
  return normalise_dots(path) + query;
}

Discovery discover_subresources(std::string_view html, std::string_view page_path,
                                std::string_view host) {
  Discovery d;
  std::unordered_set<std::string> seen;
  auto add = [&](const std::string* ref) {
    if (!ref) return;
    bool external = false;
    std::string p = resolve_reference(page_path, *ref, host, external);
    if (external) d.external.push_back(*ref);
    if (!p.empty() && seen.insert(p).second) d.paths.push_back(std::move(p));
  };
  std::size_t i = 0;
  while ((i = html.find('<', i)) != std::string_view::npos) {
    ++i;
    if (html.substr(i, 3) == "!--") {
      const auto end = html.find("-->", i);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    const std::size_t name_start = i;
    while (i < html.size() && std::isalnum(static_cast<unsigned char>(html[i]))) ++i;
    const std::string tag = lower(html.substr(name_start, i - name_start));
    if (tag.empty()) continue;
    const auto attrs = read_attributes(html, i);
    if (tag == "img" || tag == "script" || tag == "source" || tag == "video" || tag == "audio") {
      add(find_attr(attrs, "src"));
      if (const auto* srcset = find_attr(attrs, "srcset"); srcset && !find_attr(attrs, "src")) {
        const std::string first = trim(srcset->substr(0, srcset->find(',')));
        const std::string url = first.substr(0, first.find(' '));
        add(&url);
      }
    } else if (tag == "link") {
      const auto* rel = find_attr(attrs, "rel");
      const std::string r = rel ? lower(*rel) : "";
      if (r.find("stylesheet") != std::string::npos || r.find("icon") != std::string::npos ||
          r.find("preload") != std::string::npos) {
        add(find_attr(attrs, "href"));
      }
    }
    if (tag == "script" || tag == "style") {  // skip their text: it is not markup
      const auto end =
          lower(html.substr(i, std::min<std::size_t>(html.size() - i, 1 << 20))).find("</" + tag);
      if (end != std::string::npos) i += end;
    }
  }
  return d;
}

ResourceKind kind_of_path(std::string_view path) {
  std::string p = lower(path.substr(0, path.find('?')));
  const auto dot = p.rfind('.');
  const std::string ext =
      dot == std::string::npos || p.find('/', dot) != std::string::npos ? "" : p.substr(dot + 1);
  if (ext.empty() || ext == "html" || ext == "htm") return ResourceKind::Document;
  if (ext == "css") return ResourceKind::Stylesheet;
  if (ext == "js" || ext == "mjs") return ResourceKind::Script;
  if (ext == "woff2" || ext == "woff" || ext == "ttf") return ResourceKind::Font;
  static const char* kImages[] = {"jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "ico"};
  for (const char* e : kImages) {
    if (ext == e) return ResourceKind::Image;
  }
  return ResourceKind::Other;
}

const char* accept_for(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::Document:
      return "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
             "*/*;q=0.8";
    case ResourceKind::Stylesheet:
      return "text/css,*/*;q=0.1";
    case ResourceKind::Image:
      return "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    case ResourceKind::Script:
    case ResourceKind::Font:
    case ResourceKind::Other:
      return "*/*";
  }
  return "*/*";
}

std::vector<std::string> parse_manifest(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t j = std::min(text.find('\n', i), text.size());
    std::string line(text.substr(i, j - i));
    if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
    line = trim(line);
    if (!line.empty()) out.push_back(line);
    i = j + 1;
  }
  return out;
}

}  // namespace ghala::netem
