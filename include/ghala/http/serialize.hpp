#pragma once
// HTTP/1.1 wire serialisation of message heads and chunked framing (RFC 9112 §3, §4, §7.1).

#include <cstddef>
#include <string>

#include "ghala/http/message.hpp"

namespace ghala::http {

// "METHOD target HTTP/1.1\r\n" + fields + "\r\n". Always HTTP/1.1 towards the origin.
void serialize_request_head(const RequestHead& head, std::string& out);
// "HTTP/1.1 status reason\r\n" + fields + "\r\n". The reason is the standard phrase for the status
// when the head carries none.
void serialize_response_head(const ResponseHead& head, std::string& out);
// Chunk size line for n bytes ("1a2b\r\n"); n must be > 0.
void append_chunk_size(std::size_t n, std::string& out);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace ghala::http
