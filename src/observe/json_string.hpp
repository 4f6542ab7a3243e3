#pragma once
// JSON string literals for log lines built from untrusted bytes.

#include <string>
#include <string_view>

namespace ghala::observe {

// Appends `s` as a quoted JSON string (RFC 8259 §7). The result is always valid JSON and valid
// UTF-8 whatever `s` holds:
//  - '"' and '\\' are backslash-escaped;
//  - C0 controls, DEL, C1 controls (U+0080..U+009F) and U+2028/U+2029 become \u00XX / \u20XX, so a
//    line can neither be split nor drive a terminal that displays it;
//  - every byte that is not part of a well-formed UTF-8 sequence (RFC 3629 §4: no overlong forms,
//    no surrogates, nothing above U+10FFFF) becomes U+FFFD, one per byte.
// Everything else is copied as is.
void append_json_string(std::string_view s, std::string& out);

}  // namespace ghala::observe
