// Every decompressor on arbitrary bytes with a 1 MiB cap. The first byte picks the codec.
// Beyond "no crash, no leak, no sanitizer report": the cap holds, and whatever decodes
// survives a compress/decompress round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "p2p/wire/compression.hpp"

namespace {

constexpr std::size_t cap = std::size_t{1} << 20;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace p2p;
  using namespace p2p::wire;
  if (size == 0) return 0;
  const Compression method = all_compressions[data[0] % all_compressions.size()];
  const ByteView input(data + 1, size - 1);

  Result<Bytes> out = decompress(method, input, cap);
  if (!out) {
    const Errc code = out.error().code;
    check(code == Errc::compression || code == Errc::too_large);
    return 0;
  }
  check(out->size() <= cap);
  // The same output under a tighter cap must be refused, not truncated.
  if (!out->empty()) {
    Result<Bytes> tight = decompress(method, input, out->size() - 1);
    check(!tight && tight.error().code == Errc::too_large);
  }
  Result<Bytes> again = compress(method, *out);
  check(again.ok());
  Result<Bytes> back = decompress(method, *again, out->size());
  check(back.ok() && *back == *out);
  return 0;
}
