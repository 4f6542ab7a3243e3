#pragma once
// How a route's `match` or a cache rule's `match.path` compares with a request path.

namespace ghala::config {

// Prefix: the path starts with the text. Glob: the whole path matches the pattern (glob_match in
// router.hpp). The loader picks Glob when the text contains '*' or '?'.
enum class MatchKind { Prefix, Glob };

}  // namespace ghala::config
