// Internal to src/wire: runs a streaming decoder with a hard cap on its output.
//
// A decompression bomb must not be able to make us allocate more than `max_output` bytes, and
// a growing std::vector briefly holds both its old and new buffers when it reallocates. So the
// output is measured before it is stored:
//   pass 1 decodes into a fixed per-thread scratch buffer, counting bytes and stopping with
//          Errc::too_large the moment the count passes `max_output`. When the whole output fits
//          in the scratch buffer (the common case of small messages) it is copied out and we
//          are done;
//   pass 2 (only for outputs larger than the scratch buffer) decodes again straight into a
//          vector of the exact measured size.
// Memory is therefore the output itself plus the codec's own state and the scratch buffer; a
// bomb costs no allocation at all. The price is decoding large outputs twice.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "p2p/bytes.hpp"
#include "p2p/error.hpp"

namespace p2p::wire::detail {

/// What one call of a decoder's step() did.
struct DecodeStep {
  std::size_t produced = 0;  ///< bytes written to the output window
  bool ended = false;        ///< the stream's end marker was reached (and nothing follows it)
};

/// The per-thread scratch buffer of pass 1 (64 KiB, allocated on first use).
std::span<std::uint8_t> decode_scratch();

inline Error output_too_large(const char* codec, std::size_t max_output) {
  return Error{Errc::too_large, std::string(codec) + ": decompressed output exceeds the " +
                                    std::to_string(max_output) + " byte limit"};
}

/// `Decoder` is constructed from the whole input and offers
///   Status status() const;                                  // initialisation result
///   Result<DecodeStep> step(std::uint8_t* out, std::size_t room);  // room >= 1
/// Each step() makes progress, reaches the end or fails (truncated input is an error, since
/// the decoder has the whole input from the start), so the loops below terminate.
template <class Decoder>
Result<Bytes> decode_bounded(ByteView input, std::size_t max_output, const char* codec) {
  const std::span<std::uint8_t> scratch = decode_scratch();
  std::uint8_t probe = 0;  // one byte to learn whether output continues past a full window

  // Pass 1: measure.
  std::size_t total = 0;
  {
    Decoder decoder(input);
    if (Status s = decoder.status(); !s) return s.error();
    for (bool ended = false; !ended;) {
      const std::size_t allowed = max_output - total;
      std::uint8_t* window = &probe;
      std::size_t room = 1;
      if (allowed > 0 && total < scratch.size()) {
        // Keep the first scratch-full intact: it is the result when the output is small.
        window = scratch.data() + total;
        room = std::min(scratch.size() - total, allowed);
      } else if (allowed > 0) {
        window = scratch.data();
        room = std::min(scratch.size(), allowed);
      }
      Result<DecodeStep> step = decoder.step(window, room);
      if (!step) return step.error();
      if (allowed == 0 && step->produced > 0) return output_too_large(codec, max_output);
      total += step->produced;
      ended = step->ended;
    }
  }
  if (total <= scratch.size()) return Bytes(scratch.begin(), scratch.begin() + total);

  // Pass 2: decode again into a buffer of exactly the measured size.
  Bytes out(total);
  Decoder decoder(input);
  if (Status s = decoder.status(); !s) return s.error();
  const Error inconsistent{Errc::compression,
                           std::string(codec) + ": output differs between two decodings"};
  std::size_t pos = 0;
  for (bool ended = false; !ended;) {
    const bool full = pos == total;
    Result<DecodeStep> step = full ? decoder.step(&probe, 1) : decoder.step(&out[pos], total - pos);
    if (!step) return step.error();
    if (full && step->produced > 0) return inconsistent;
    pos += step->produced;
    ended = step->ended;
  }
  if (pos != total) return inconsistent;
  return out;
}

}  // namespace p2p::wire::detail
