// The receive path of one connection: FrameReader over arbitrary chunkings, then open_frame
// with every method and decode_body on each frame.
//
// Input layout: byte 0 = n (mod 16), the next n bytes are chunk sizes (1..256, used in turn),
// the rest is the byte stream. Checks beyond the sanitizers:
//   * the chunked reader hands out exactly the frames (and the status) of a one-shot reader;
//   * an opened frame's id is the sha256 of its body, and the body re-framed with the method
//     it came with opens again to the same body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "p2p/wire/compression.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/ids.hpp"
#include "p2p/wire/message.hpp"

namespace {

using namespace p2p;
using namespace p2p::wire;

constexpr std::size_t max_frame = 4096;
constexpr std::size_t max_body = 64 * 1024;

void check(bool ok) {
  if (!ok) std::abort();
}

struct ReadResult {
  std::vector<Bytes> frames;
  bool ok = true;
  Errc code = Errc::malformed;
};

ReadResult read_all(ByteView stream, const std::vector<std::size_t>& chunk_sizes) {
  ReadResult r;
  FrameReader reader(max_frame);
  auto collect = [&](ByteView content) {
    check(!content.empty() && content.size() <= max_frame);
    r.frames.emplace_back(content.begin(), content.end());
  };
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < stream.size(); ++i) {
    std::size_t n = stream.size() - pos;
    if (!chunk_sizes.empty()) n = std::min(n, chunk_sizes[i % chunk_sizes.size()]);
    Status s = reader.feed(stream.subspan(pos, n), collect);
    pos += n;
    if (!s) {
      r.ok = false;
      r.code = s.error().code;
      // Sticky: the next feed fails the same way and delivers nothing.
      const std::size_t before = r.frames.size();
      Status again = reader.feed(stream.subspan(pos), collect);
      check(!again && again.error().code == r.code && r.frames.size() == before);
      break;
    }
  }
  return r;
}

void open_and_decode(ByteView content) {
  Result<OpenedFrame> opened = open_frame(content, all_compressions, max_body);
  if (!opened) {
    const Errc code = opened.error().code;
    check(code == Errc::checksum_mismatch || code == Errc::too_large);
    return;
  }
  check(opened->body.size() <= max_body);
  check(opened->id == sha256(opened->body));
  (void)decode_body(opened->body);

  Result<Bytes> reframed = make_frame(opened->body, opened->id, opened->method);
  check(reframed.ok());
  const ByteView again = ByteView(*reframed).subspan(frame_header_size);
  Result<OpenedFrame> reopened = open_frame(again, all_compressions, max_body);
  check(reopened.ok() && reopened->body == opened->body && reopened->id == opened->id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t n = std::min<std::size_t>(data[0] % 16, size - 1);
  std::vector<std::size_t> chunk_sizes;
  for (std::size_t i = 0; i < n; ++i) chunk_sizes.push_back(std::size_t{data[1 + i]} + 1);
  const ByteView stream(data + 1 + n, size - 1 - n);

  const ReadResult chunked = read_all(stream, chunk_sizes);
  const ReadResult whole = read_all(stream, {});
  check(chunked.frames == whole.frames && chunked.ok == whole.ok);
  if (!chunked.ok) check(chunked.code == whole.code);

  for (const Bytes& content : chunked.frames) open_and_decode(content);
  return 0;
}
