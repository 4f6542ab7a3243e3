#include "content_decoding.hpp"

#include <brotli/decode.h>
#include <zlib.h>

#include <array>
#include <memory>

namespace ghala::netem {
namespace {

std::optional<std::string> gunzip(std::string_view in, std::size_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return std::nullopt;
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  std::array<char, 65536> buf{};
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    const int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - z.avail_out);
    if (out.size() > max_out) return std::nullopt;
    if (rc == Z_STREAM_END) return out;
    if (rc != Z_OK) return std::nullopt;
  }
}

std::optional<std::string> unbrotli(std::string_view in, std::size_t max_out) {
  std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> st(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!st) return std::nullopt;
  std::size_t avail_in = in.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  std::string out;
  std::array<std::uint8_t, 65536> buf{};
  for (;;) {
    std::size_t avail_out = buf.size();
    std::uint8_t* next_out = buf.data();
    const auto rc = BrotliDecoderDecompressStream(st.get(), &avail_in, &next_in, &avail_out,
                                                  &next_out, nullptr);
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - avail_out);
    if (out.size() > max_out) return std::nullopt;
    if (rc == BROTLI_DECODER_RESULT_SUCCESS) return out;
    if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> decode_body(std::string_view encoding, std::string_view body,
                                       std::size_t max_out) {
  if (encoding.empty() || encoding == "identity") return std::string(body);
  if (encoding == "gzip" || encoding == "x-gzip") return gunzip(body, max_out);
  if (encoding == "br") return unbrotli(body, max_out);
  return std::nullopt;
}

}  // namespace ghala::netem
