// The .xz container through liblzma, as Python's lzma.compress writes it (preset 6, CRC64),
// with the dictionary cut to the input's size.
#include <lzma.h>

#include <algorithm>
#include <string>

#include "wire/compression_bounded.hpp"
#include "wire/compression_codecs.hpp"

namespace p2p::wire::detail {

namespace {

constexpr std::uint32_t encoder_preset = 6;  // Python's lzma.compress default
constexpr lzma_check encoder_check = LZMA_CHECK_CRC64;

// The decoder allocates its dictionary from the stream header, so a peer could ask for
// 1.5 GiB. Preset 6, the only one py2p writes, needs about 9 MiB to decode.
constexpr std::uint64_t decoder_memlimit = 16 * 1024 * 1024;

Error lzma_error(const std::string& what) {
  return Error{Errc::compression, "lzma: " + what};
}

class LzmaDecoder {
 public:
  explicit LzmaDecoder(ByteView input) {
    stream_.next_in = input.data();
    stream_.avail_in = input.size();
    // No LZMA_CONCATENATED: exactly one .xz stream, so anything after it is an error. The
    // stream's own integrity check (CRC64 from Python) is verified by liblzma.
    init_ = lzma_stream_decoder(&stream_, decoder_memlimit, 0);
  }
  ~LzmaDecoder() { lzma_end(&stream_); }
  LzmaDecoder(const LzmaDecoder&) = delete;
  LzmaDecoder& operator=(const LzmaDecoder&) = delete;

  Status status() const {
    if (init_ != LZMA_OK) return lzma_error("lzma_stream_decoder failed");
    return {};
  }

  Result<DecodeStep> step(std::uint8_t* out, std::size_t room) {
    stream_.next_out = out;
    stream_.avail_out = room;
    const lzma_ret rc = lzma_code(&stream_, LZMA_FINISH);
    const DecodeStep step{room - stream_.avail_out, rc == LZMA_STREAM_END};
    switch (rc) {
      case LZMA_STREAM_END:
        if (stream_.avail_in != 0) return lzma_error("trailing bytes after the stream");
        return step;
      case LZMA_OK:
        return step;  // liblzma answers LZMA_BUF_ERROR on a second idle call
      case LZMA_BUF_ERROR:
        return lzma_error("truncated stream");
      case LZMA_FORMAT_ERROR:
        return lzma_error("not an .xz stream");
      case LZMA_OPTIONS_ERROR:
        return lzma_error("unsupported stream options");
      case LZMA_DATA_ERROR:
        return lzma_error("corrupt stream");
      case LZMA_MEMLIMIT_ERROR:
        return lzma_error("stream needs more than " + std::to_string(decoder_memlimit) +
                          " bytes of decoder memory");
      case LZMA_MEM_ERROR:
        return lzma_error("out of memory");
      default:
        return lzma_error("lzma_code failed with code " + std::to_string(rc));
    }
  }

 private:
  lzma_stream stream_ = LZMA_STREAM_INIT;
  lzma_ret init_ = LZMA_PROG_ERROR;
};

}  // namespace

Status lzma_compress(Pieces input, Bytes& out) {
  const std::size_t n = total_size(input);
  // Preset 6 as is, except the dictionary: no match can reach further back than the input
  // is long, so a dictionary the size of the input compresses to the same data, while preset
  // 6's 8 MiB dictionary makes the encoder allocate about 94 MiB for every message and the
  // receiver about 9 MiB to decode it (xz's documented figures for preset 6).
  lzma_options_lzma options{};
  if (lzma_lzma_preset(&options, encoder_preset)) return lzma_error("lzma_lzma_preset failed");
  options.dict_size =
      static_cast<std::uint32_t>(std::clamp<std::size_t>(n, LZMA_DICT_SIZE_MIN, options.dict_size));
  const lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_encoder(&s, filters, encoder_check) != LZMA_OK) {
    return lzma_error("lzma_stream_encoder failed");
  }
  const std::size_t base = out.size();
  out.resize(base + lzma_stream_buffer_bound(n));
  std::size_t written = 0;
  auto run = [&](lzma_action action) {
    lzma_ret rc = LZMA_OK;
    do {
      if (written == out.size() - base) out.resize(out.size() + out.size() / 2 + 64);
      s.next_out = out.data() + base + written;
      s.avail_out = out.size() - base - written;
      rc = lzma_code(&s, action);
      written = out.size() - base - s.avail_out;
    } while (rc == LZMA_OK && (action == LZMA_FINISH || s.avail_in != 0));
    return rc;
  };
  lzma_ret rc = LZMA_OK;
  for (ByteView piece : input) {
    if (piece.empty()) continue;
    s.next_in = piece.data();
    s.avail_in = piece.size();
    rc = run(LZMA_RUN);
    if (rc != LZMA_OK) break;
  }
  if (rc == LZMA_OK) rc = run(LZMA_FINISH);
  lzma_end(&s);
  if (rc != LZMA_STREAM_END) {
    out.resize(base);
    return lzma_error("lzma_code failed with code " + std::to_string(rc));
  }
  out.resize(base + written);
  trim_capacity(out);
  return {};
}

Result<Bytes> lzma_decompress(ByteView input, std::size_t max_output) {
  return decode_bounded<LzmaDecoder>(input, max_output, "lzma");
}

}  // namespace p2p::wire::detail
