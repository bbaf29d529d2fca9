// Method names and flags, negotiation, and the dispatch to the per-codec files
// (compression_zlib.cpp, compression_bz2.cpp, compression_lzma.cpp, compression_snappy.cpp).
#include "p2p/wire/compression.hpp"

#include <algorithm>
#include <string>

#include "wire/compression_bounded.hpp"
#include "wire/compression_codecs.hpp"

namespace p2p::wire {

namespace {

// zlib and bzip2 count bytes in `unsigned int`. Refusing inputs above 1 GiB keeps every
// codec's lengths, worst-case output bounds included, in range; no sane frame comes close.
constexpr std::size_t max_codec_input = std::size_t{1} << 30;

constexpr int zlib_window_bits = 15;  // RFC 1950 header, 32 KiB window (py2p's wbits 15)
constexpr int gzip_window_bits = 31;  // 15 + 16: RFC 1952 header (py2p's wbits 31)

Error unknown_method(Compression method) {
  return Error{Errc::compression,
               "unsupported compression method " + std::to_string(static_cast<int>(method))};
}

}  // namespace

std::optional<Compression> compression_from_flag(std::uint64_t flag) noexcept {
  for (Compression c : all_compressions) {
    if (static_cast<std::uint64_t>(c) == flag) return c;
  }
  return std::nullopt;
}

std::string_view compression_name(Compression c) noexcept {
  switch (c) {
    case Compression::snappy:
      return "snappy";
    case Compression::zlib:
      return "zlib";
    case Compression::gzip:
      return "gzip";
    case Compression::bz2:
      return "bz2";
    case Compression::lzma:
      return "lzma";
  }
  return "unknown";
}

std::optional<Compression> compression_from_name(std::string_view name) noexcept {
  for (Compression c : all_compressions) {
    if (compression_name(c) == name) return c;
  }
  return std::nullopt;
}

Result<Bytes> compress(Compression method, ByteView input) {
  const ByteView pieces[] = {input};
  Bytes out;
  if (Status s = detail::compress_pieces(method, pieces, out); !s) return s.error();
  return out;
}

Result<Bytes> decompress(Compression method, ByteView input, std::size_t max_output) {
  if (input.size() > max_codec_input) {
    return Error{Errc::too_large, "compressed input of " + std::to_string(input.size()) +
                                      " bytes exceeds the codec limit"};
  }
  switch (method) {
    // Each accepts only its own header (see compression_zlib.cpp for why). Both references
    // send zlib under 0x13 and gzip under 0x11, and the receiver tries every advertised
    // method, so nothing they send goes unread.
    case Compression::zlib:
      return detail::zlib_decompress(input, max_output);
    case Compression::gzip:
      return detail::gzip_decompress(input, max_output);
    case Compression::bz2:
      return detail::bz2_decompress(input, max_output);
    case Compression::lzma:
      return detail::lzma_decompress(input, max_output);
    case Compression::snappy:
      return detail::snappy_decompress(input, max_output);
  }
  return unknown_method(method);
}

std::optional<Compression> choose_compression(std::span<const Compression> ours,
                                              std::span<const Compression> theirs) noexcept {
  for (Compression mine : ours) {
    for (Compression other : theirs) {
      if (mine == other) return mine;
    }
  }
  return std::nullopt;
}

namespace detail {

Status compress_pieces(Compression method, Pieces input, Bytes& out) {
  if (const std::size_t n = total_size(input); n > max_codec_input) {
    return Error{Errc::too_large,
                 "compression input of " + std::to_string(n) + " bytes exceeds the codec limit"};
  }
  switch (method) {
    case Compression::zlib:
      return zlib_compress(input, zlib_window_bits, out);
    case Compression::gzip:
      return zlib_compress(input, gzip_window_bits, out);
    case Compression::bz2:
      return bz2_compress(input, out);
    case Compression::lzma:
      return lzma_compress(input, out);
    case Compression::snappy:
      return snappy_compress(input, out);
  }
  return unknown_method(method);
}

std::size_t total_size(Pieces pieces) noexcept {
  std::size_t n = 0;
  for (ByteView p : pieces) n += p.size();
  return n;
}

void trim_capacity(Bytes& out) {
  // Output buffers start at the codec's worst-case bound; for compressible data most of it is
  // slack. Copying a small result once is cheaper than keeping the slack alive in send queues.
  constexpr std::size_t tolerated_slack = 4096;
  if (out.capacity() - out.size() > std::max(tolerated_slack, out.size() / 4)) {
    out.shrink_to_fit();
  }
}

std::span<std::uint8_t> decode_scratch() {
  // Lazily allocated so that threads that never decompress pay nothing.
  thread_local Bytes scratch;
  if (scratch.empty()) scratch.resize(64 * 1024);
  return scratch;
}

}  // namespace detail

}  // namespace p2p::wire
