// Internal to src/wire: one compressor and one capped decompressor per codec.
//
// Compressors take the input as a list of pieces so that make_frame can compress
// `checksum ++ body` without first concatenating them, and append to `out` so that the frame
// header can be written in front without a copy.
#pragma once

#include <cstddef>
#include <span>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"
#include "p2p/wire/compression.hpp"

namespace p2p::wire::detail {

using Pieces = std::span<const ByteView>;

std::size_t total_size(Pieces pieces) noexcept;

/// Compresses the concatenation of `input` with `method`, appending to `out`.
Status compress_pieces(Compression method, Pieces input, Bytes& out);

Status zlib_compress(Pieces input, int window_bits, Bytes& out);
Result<Bytes> zlib_decompress(ByteView input, std::size_t max_output);
Result<Bytes> gzip_decompress(ByteView input, std::size_t max_output);

Status bz2_compress(Pieces input, Bytes& out);
Result<Bytes> bz2_decompress(ByteView input, std::size_t max_output);

Status lzma_compress(Pieces input, Bytes& out);
Result<Bytes> lzma_decompress(ByteView input, std::size_t max_output);

Status snappy_compress(Pieces input, Bytes& out);
Result<Bytes> snappy_decompress(ByteView input, std::size_t max_output);

/// Gives back the slack of an output buffer sized for the worst case when it is large: a frame
/// buffer may be shared by many send queues for a long time.
void trim_capacity(Bytes& out);

}  // namespace p2p::wire::detail
