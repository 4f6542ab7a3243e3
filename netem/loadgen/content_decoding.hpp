#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ghala::netem {

// Decodes an HTML body the way a browser must before scanning it: "gzip" (zlib) or "br"
// (brotli); identity passes through. Returns nullopt on a corrupt body or one over max_out.
std::optional<std::string> decode_body(std::string_view encoding, std::string_view body,
                                       std::size_t max_out = 16U << 20);

}  // namespace ghala::netem
