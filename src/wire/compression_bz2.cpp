// bzip2 streams through libbz2, at block size 9 like Python's bz2.compress, or smaller when
// the input fits a smaller block.
#include <bzlib.h>

#include <algorithm>
#include <string>

#include "wire/compression_bounded.hpp"
#include "wire/compression_codecs.hpp"

namespace p2p::wire::detail {

namespace {

constexpr int max_block_size_100k = 9;  // Python's bz2.compress default compresslevel

// The smallest block size (in 100 kB) that holds `n` bytes in one block, as level 9 would:
// the same compressed data, but the encoder allocates about 1.2 MB instead of 7.6 MB per
// call, and the receiver about 0.5 MB instead of 3.7 MB (bzip2's manual: 400k + 8 x block,
// and 100k + 4 x block). A block holds 100,000 x size - 19 bytes (bzlib's nblockMAX).
int block_size_for(std::size_t n) {
  const std::size_t blocks = (n + 19 + 99'999) / 100'000;
  return static_cast<int>(std::clamp<std::size_t>(blocks, 1, max_block_size_100k));
}
constexpr int default_work_factor = 0;

Error bz2_error(const std::string& what) {
  return Error{Errc::compression, "bz2: " + what};
}

class Bz2Decoder {
 public:
  explicit Bz2Decoder(ByteView input) {
    // bzlib's API is not const-correct; it never writes through next_in.
    stream_.next_in = const_cast<char*>(reinterpret_cast<const char*>(input.data()));
    stream_.avail_in = static_cast<unsigned>(input.size());
    initialised_ = BZ2_bzDecompressInit(&stream_, /*verbosity=*/0, /*small=*/0) == BZ_OK;
  }
  ~Bz2Decoder() {
    if (initialised_) BZ2_bzDecompressEnd(&stream_);
  }
  Bz2Decoder(const Bz2Decoder&) = delete;
  Bz2Decoder& operator=(const Bz2Decoder&) = delete;

  Status status() const {
    if (!initialised_) return bz2_error("BZ2_bzDecompressInit failed");
    return {};
  }

  Result<DecodeStep> step(std::uint8_t* out, std::size_t room) {
    const unsigned in_before = stream_.avail_in;
    stream_.next_out = reinterpret_cast<char*>(out);
    stream_.avail_out = static_cast<unsigned>(room);
    const int rc = BZ2_bzDecompress(&stream_);
    const DecodeStep step{room - stream_.avail_out, rc == BZ_STREAM_END};
    switch (rc) {
      case BZ_STREAM_END:
        if (stream_.avail_in != 0) return bz2_error("trailing bytes after the stream");
        return step;
      case BZ_OK:
        // bzlib reports BZ_OK without progress when the input ends mid-stream.
        if (step.produced == 0 && stream_.avail_in == in_before) {
          return bz2_error("truncated stream");
        }
        return step;
      case BZ_DATA_ERROR_MAGIC:
        return bz2_error("not a bzip2 stream");
      case BZ_DATA_ERROR:
        return bz2_error("corrupt stream");
      case BZ_MEM_ERROR:
        return bz2_error("out of memory");
      default:
        return bz2_error("BZ2_bzDecompress failed with code " + std::to_string(rc));
    }
  }

 private:
  bz_stream stream_{};
  bool initialised_ = false;
};

}  // namespace

Status bz2_compress(Pieces input, Bytes& out) {
  const std::size_t n = total_size(input);
  bz_stream s{};
  if (BZ2_bzCompressInit(&s, block_size_for(n), 0, default_work_factor) != BZ_OK) {
    return bz2_error("BZ2_bzCompressInit failed");
  }
  const std::size_t base = out.size();
  out.resize(base + n + n / 100 + 600);  // bzlib's documented worst case
  std::size_t written = 0;
  auto run = [&](int action, int want) {
    int rc = want;
    do {
      if (written == out.size() - base) out.resize(out.size() + out.size() / 2 + 64);
      s.next_out = reinterpret_cast<char*>(out.data() + base + written);
      s.avail_out = static_cast<unsigned>(out.size() - base - written);
      rc = BZ2_bzCompress(&s, action);
      written = out.size() - base - s.avail_out;
    } while (rc == want && (action == BZ_FINISH || s.avail_in != 0));
    return rc;
  };
  int rc = BZ_RUN_OK;
  for (ByteView piece : input) {
    if (piece.empty()) continue;
    s.next_in = const_cast<char*>(reinterpret_cast<const char*>(piece.data()));
    s.avail_in = static_cast<unsigned>(piece.size());
    rc = run(BZ_RUN, BZ_RUN_OK);
    if (rc != BZ_RUN_OK) break;
  }
  // BZ_FINISH answers BZ_FINISH_OK while it still has output to write.
  if (rc == BZ_RUN_OK) rc = run(BZ_FINISH, BZ_FINISH_OK);
  BZ2_bzCompressEnd(&s);
  if (rc != BZ_STREAM_END) {
    out.resize(base);
    return bz2_error("BZ2_bzCompress failed with code " + std::to_string(rc));
  }
  out.resize(base + written);
  trim_capacity(out);
  return {};
}

Result<Bytes> bz2_decompress(ByteView input, std::size_t max_output) {
  return decode_bounded<Bz2Decoder>(input, max_output, "bz2");
}

}  // namespace p2p::wire::detail
