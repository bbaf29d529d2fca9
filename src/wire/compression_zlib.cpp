// zlib (RFC 1950) and gzip (RFC 1952) through the system zlib.
#include <zlib.h>

#include <memory>
#include <string>

#include "wire/compression_bounded.hpp"
#include "wire/compression_codecs.hpp"

namespace p2p::wire::detail {

namespace {

// A 32 KiB window with the zlib header (15) or the gzip header (15 + 16). Each method's
// decoder accepts only its own header, so that the method open_frame() reports is the one
// the bytes really use: a relay forwards those bytes unchanged to every link with the same
// method, and js2p's zlib decoder rejects gzip bytes (it then drops the link).
constexpr int zlib_window_bits = 15;
constexpr int gzip_window_bits = 15 + 16;
constexpr int default_mem_level = 8;  // zlib's and Python's default

Error zlib_error(const char* what, const z_stream& s) {
  std::string message = std::string("zlib: ") + what;
  if (s.msg != nullptr) message += std::string(" (") + s.msg + ")";
  return Error{Errc::compression, std::move(message)};
}

template <int WindowBits>
class ZlibDecoder {
 public:
  explicit ZlibDecoder(ByteView input) {
    stream_.next_in = const_cast<Bytef*>(input.data());  // zlib's API is not const-correct
    stream_.avail_in = static_cast<uInt>(input.size());
    initialised_ = inflateInit2(&stream_, WindowBits) == Z_OK;
  }
  ~ZlibDecoder() {
    if (initialised_) inflateEnd(&stream_);
  }
  ZlibDecoder(const ZlibDecoder&) = delete;
  ZlibDecoder& operator=(const ZlibDecoder&) = delete;

  Status status() const {
    if (!initialised_) return Error{Errc::compression, "zlib: inflateInit2 failed"};
    return {};
  }

  Result<DecodeStep> step(std::uint8_t* out, std::size_t room) {
    stream_.next_out = out;
    stream_.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&stream_, Z_NO_FLUSH);
    const DecodeStep step{room - stream_.avail_out, rc == Z_STREAM_END};
    switch (rc) {
      case Z_STREAM_END:
        if (stream_.avail_in != 0) return zlib_error("trailing bytes after the stream", stream_);
        return step;
      case Z_OK:
        return step;
      case Z_BUF_ERROR:
        // No progress although there is output room: the input ends mid-stream.
        return zlib_error("truncated stream", stream_);
      case Z_NEED_DICT:
        return zlib_error("stream needs a preset dictionary", stream_);
      case Z_DATA_ERROR:
        return zlib_error("corrupt stream", stream_);
      case Z_MEM_ERROR:
        return zlib_error("out of memory", stream_);
      default:
        return zlib_error("inflate failed", stream_);
    }
  }

 private:
  z_stream stream_{};
  bool initialised_ = false;
};

/// A deflate stream kept per thread and per window size and reset between messages: creating
/// one allocates and clears about 256 KiB, which cost more than compressing a small message.
class CachedDeflater {
 public:
  explicit CachedDeflater(int window_bits) {
    ok_ = deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, default_mem_level,
                       Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~CachedDeflater() {
    if (ok_) deflateEnd(&stream_);
  }
  CachedDeflater(const CachedDeflater&) = delete;
  CachedDeflater& operator=(const CachedDeflater&) = delete;

  /// The stream, reset to the state deflateInit2 left it in; nullptr if zlib failed.
  z_stream* fresh() {
    if (!ok_ || deflateReset(&stream_) != Z_OK) return nullptr;
    return &stream_;
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

z_stream* thread_deflater(int window_bits) {
  thread_local std::unique_ptr<CachedDeflater> zlib_header;
  thread_local std::unique_ptr<CachedDeflater> gzip_header;
  std::unique_ptr<CachedDeflater>& slot = window_bits > 15 ? gzip_header : zlib_header;
  if (!slot) slot = std::make_unique<CachedDeflater>(window_bits);
  z_stream* stream = slot->fresh();
  if (stream == nullptr) slot.reset();  // retry from scratch next time
  return stream;
}

}  // namespace

Status zlib_compress(Pieces input, int window_bits, Bytes& out) {
  z_stream* const stream = thread_deflater(window_bits);
  if (stream == nullptr) return Error{Errc::compression, "zlib: deflateInit2 failed"};
  z_stream& s = *stream;
  const std::size_t base = out.size();
  out.resize(base + deflateBound(&s, static_cast<uLong>(total_size(input))));
  std::size_t written = 0;
  auto run = [&](int flush) {
    int rc = Z_OK;
    do {
      if (written == out.size() - base) out.resize(out.size() + out.size() / 2 + 64);
      s.next_out = out.data() + base + written;
      s.avail_out = static_cast<uInt>(out.size() - base - written);
      rc = deflate(&s, flush);
      written = out.size() - base - s.avail_out;
    } while (rc == Z_OK && (s.avail_in != 0 || flush == Z_FINISH));
    return rc;
  };
  int rc = Z_OK;
  for (ByteView piece : input) {
    if (piece.empty()) continue;
    s.next_in = const_cast<Bytef*>(piece.data());
    s.avail_in = static_cast<uInt>(piece.size());
    rc = run(Z_NO_FLUSH);
    if (rc != Z_OK) break;
  }
  if (rc == Z_OK) rc = run(Z_FINISH);
  s.next_in = nullptr;  // the cached stream must not keep pointers into this call's buffers
  s.next_out = nullptr;
  if (rc != Z_STREAM_END) {
    out.resize(base);
    return Error{Errc::compression, "zlib: deflate failed with code " + std::to_string(rc)};
  }
  out.resize(base + written);
  trim_capacity(out);
  return {};
}

Result<Bytes> zlib_decompress(ByteView input, std::size_t max_output) {
  return decode_bounded<ZlibDecoder<zlib_window_bits>>(input, max_output, "zlib");
}

Result<Bytes> gzip_decompress(ByteView input, std::size_t max_output) {
  return decode_bounded<ZlibDecoder<gzip_window_bits>>(input, max_output, "gzip");
}

}  // namespace p2p::wire::detail
