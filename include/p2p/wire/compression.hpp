// Compression codecs of the protocol, each decompressor with a hard cap on its output.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"
#include "p2p/flags.hpp"

namespace p2p::wire {

enum class Compression : std::uint8_t {
  snappy = flags::snappy,  ///< raw snappy block (python-snappy `snappy.compress`)
  zlib = flags::zlib,      ///< RFC 1950
  gzip = flags::gzip,      ///< RFC 1952
  bz2 = flags::bz2,        ///< bzip2 stream
  lzma = flags::lzma,      ///< .xz container, as Python's `lzma.compress` writes
};

/// Every method p2pmesh implements, in its order of preference (py2p's order).
inline constexpr std::array<Compression, 5> all_compressions = {
    Compression::snappy, Compression::zlib, Compression::gzip, Compression::bz2, Compression::lzma};

/// The method a flag byte names, or nullopt for flags p2pmesh does not implement.
std::optional<Compression> compression_from_flag(std::uint64_t flag) noexcept;

/// "snappy", "zlib", "gzip", "bz2", "lzma".
std::string_view compression_name(Compression c) noexcept;
std::optional<Compression> compression_from_name(std::string_view name) noexcept;

Result<Bytes> compress(Compression method, ByteView input);

/// Decompresses `input`; fails with Errc::too_large as soon as the output would exceed
/// `max_output` bytes (so a decompression bomb costs at most `max_output` of memory), and
/// with Errc::compression on corrupt input or trailing garbage. zlib accepts only an RFC 1950
/// header and gzip only an RFC 1952 one, so the method that opens a frame names its bytes
/// exactly (py2p auto-detects either; both references send each under its own flag).
/// Exactly one stream is accepted: a second concatenated stream is trailing garbage.
Result<Bytes> decompress(Compression method, ByteView input, std::size_t max_output);

/// The method a sender uses towards a peer: the first of `ours` that `theirs` also lists.
std::optional<Compression> choose_compression(std::span<const Compression> ours,
                                              std::span<const Compression> theirs) noexcept;

}  // namespace p2p::wire
