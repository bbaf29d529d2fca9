// Helpers shared by the fuzz targets: a hard check that libFuzzer reports as a crash, and a
// forward byte reader (not FuzzedDataProvider, which reads integers from the end) so that
// make_seed_corpus.py can write inputs that mean something.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "p2p/bytes.hpp"

namespace p2p::fuzz {

/// Aborts with `what` on stderr: the fuzzer keeps the input as a crash reproducer.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

/// Reads the input front to back; once it is exhausted every read returns zeros and
/// `done()` is true, so a target never reads out of bounds whatever it asks for.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool done() const noexcept { return pos_ >= size_; }
  std::size_t left() const noexcept { return size_ - pos_; }

  std::uint8_t u8() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() noexcept {
    const auto hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  /// Up to `n` bytes (fewer at the end of the input).
  ByteView bytes(std::size_t n) noexcept {
    if (n > left()) n = left();
    ByteView view(data_ + pos_, n);
    pos_ += n;
    return view;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace p2p::fuzz
