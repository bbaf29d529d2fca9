// Raw snappy blocks (python-snappy's snappy.compress, no framing format) through libsnappy.
#include <snappy-sinksource.h>
#include <snappy.h>

#include <algorithm>
#include <string>

#include "wire/compression_codecs.hpp"

namespace p2p::wire::detail {

namespace {

// The largest expansion a valid raw snappy block can encode: a 3-byte copy element yields at
// most 64 bytes. A length header claiming more than this ratio is a lie, refused before the
// output is allocated.
constexpr std::size_t max_expansion = 22;

Error snappy_error(const std::string& what) {
  return Error{Errc::compression, "snappy: " + what};
}

/// Presents several byte ranges to snappy as one input, so that no concatenated copy is made.
class PiecesSource final : public snappy::Source {
 public:
  explicit PiecesSource(Pieces pieces) : pieces_(pieces), left_(total_size(pieces)) {}

  std::size_t Available() const override { return left_; }

  const char* Peek(std::size_t* len) override {
    while (index_ < pieces_.size() && offset_ == pieces_[index_].size()) {
      ++index_;
      offset_ = 0;
    }
    if (index_ == pieces_.size()) {
      *len = 0;
      return nullptr;
    }
    *len = pieces_[index_].size() - offset_;
    return reinterpret_cast<const char*>(pieces_[index_].data() + offset_);
  }

  void Skip(std::size_t n) override {
    left_ -= n;
    while (n > 0) {
      const std::size_t here = std::min(n, pieces_[index_].size() - offset_);
      offset_ += here;
      n -= here;
      if (offset_ == pieces_[index_].size()) {
        ++index_;
        offset_ = 0;
      }
    }
  }

 private:
  Pieces pieces_;
  std::size_t index_ = 0;
  std::size_t offset_ = 0;
  std::size_t left_;
};

}  // namespace

Status snappy_compress(Pieces input, Bytes& out) {
  const std::size_t base = out.size();
  out.resize(base + snappy::MaxCompressedLength(total_size(input)));
  char* dest = reinterpret_cast<char*>(out.data() + base);
  std::size_t written = 0;
  if (input.size() == 1) {
    snappy::RawCompress(reinterpret_cast<const char*>(input[0].data()), input[0].size(), dest,
                        &written);
  } else {
    PiecesSource source(input);
    snappy::UncheckedByteArraySink sink(dest);
    written = snappy::Compress(&source, &sink);
  }
  out.resize(base + written);
  trim_capacity(out);
  return {};
}

Result<Bytes> snappy_decompress(ByteView input, std::size_t max_output) {
  // A raw block announces its uncompressed length up front, so the cap is checked before any
  // allocation and the output is decoded in one step into a buffer of exactly that size.
  const char* data = reinterpret_cast<const char*>(input.data());
  std::size_t length = 0;
  if (!snappy::GetUncompressedLength(data, input.size(), &length)) {
    return snappy_error("bad length header");
  }
  if (length > max_expansion * input.size()) {
    return snappy_error("length header of " + std::to_string(length) +
                        " bytes is impossible for a block of " + std::to_string(input.size()));
  }
  if (length > max_output) {
    return Error{Errc::too_large, "snappy: decompressed output of " + std::to_string(length) +
                                      " bytes exceeds the " + std::to_string(max_output) +
                                      " byte limit"};
  }
  Bytes out(length);
  // RawUncompress validates every element and demands that the input ends exactly where the
  // announced length is reached, so corrupt input and trailing bytes both fail here.
  if (!snappy::RawUncompress(data, input.size(), reinterpret_cast<char*>(out.data()))) {
    return snappy_error("corrupt block");
  }
  return out;
}

}  // namespace p2p::wire::detail
