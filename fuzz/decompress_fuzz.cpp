// One decompressor on arbitrary bytes. Built once per method (decompress_<method>_fuzz,
// P2P_FUZZ_METHOD names it), so each codec gets its own corpus and coverage.
// Beyond "no crash, no leak, no sanitizer report":
//   * the hard cap holds: the output never exceeds it, and an output that fits exactly is
//     refused (Errc::too_large, never truncated) under a cap one byte smaller;
//   * failures are only Errc::compression or Errc::too_large;
//   * whatever decodes survives a round trip through the compressor.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "p2p/wire/compression.hpp"

#ifndef P2P_FUZZ_METHOD
#error "P2P_FUZZ_METHOD must name a method: snappy, zlib, gzip, bz2 or lzma"
#endif

namespace {

using namespace p2p;
using namespace p2p::wire;
using p2p::fuzz::check;

constexpr Compression method = Compression::P2P_FUZZ_METHOD;
// Small enough that a 4 KiB input can reach it (every codec here can expand that much), so
// the refusal path is fuzzed as often as the success path.
constexpr std::size_t cap = 256 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  Result<Bytes> out = decompress(method, input, cap);
  if (!out) {
    const Errc code = out.error().code;
    check(code == Errc::compression || code == Errc::too_large, "unexpected error code");
    return 0;
  }
  check(out->size() <= cap, "output over the cap");
  if (!out->empty()) {
    Result<Bytes> exact = decompress(method, input, out->size());
    check(exact.ok() && *exact == *out, "an output that fits its cap exactly was refused");
    Result<Bytes> tight = decompress(method, input, out->size() - 1);
    check(!tight && tight.error().code == Errc::too_large, "a cap one byte short was not refused");
  }
  Result<Bytes> again = compress(method, *out);
  check(again.ok(), "compress failed");
  Result<Bytes> back = decompress(method, *again, out->size());
  check(back.ok() && *back == *out, "round trip through the compressor changed the data");
  return 0;
}
