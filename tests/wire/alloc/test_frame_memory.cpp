// Decompression bombs and hostile frame headers must not make the wire layer allocate what
// they announce: the peak of live heap bytes is measured around each call.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "heap_meter.hpp"
#include "p2p/wire/compression.hpp"
#include "p2p/wire/frame.hpp"

namespace p2p::wire {
namespace {

using test::HeapMeter;

constexpr std::size_t one_mib = std::size_t{1} << 20;

Bytes text_like(std::size_t size) {
  Bytes out(size);
  std::uint32_t x = 12345;
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<std::uint8_t>('a' + (x >> 16) % 8);
  }
  return out;
}

std::string name_of(const testing::TestParamInfo<Compression>& info) {
  return std::string(compression_name(info.param));
}

class CodecMemory : public testing::TestWithParam<Compression> {};

TEST_P(CodecMemory, BombFailsWithoutAllocatingItsOutput) {
  // 16 MiB of zeros against a 1 MiB cap. The codec's own state (zlib window, bzip2 blocks,
  // the xz dictionary) is malloc'd inside the C libraries and not counted: it is fixed.
  const Bytes bomb = compress(GetParam(), Bytes(16 * one_mib, 0)).value();
  ASSERT_LT(bomb.size(), one_mib);  // snappy's best ratio is 64:3
  (void)decompress(GetParam(), compress(GetParam(), text_like(10)).value(), one_mib);  // warm-up
  HeapMeter meter;
  Result<Bytes> out = decompress(GetParam(), bomb, one_mib);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::too_large) << out.error().to_string();
  EXPECT_LT(meter.peak(), std::size_t{4096});  // error strings only; the cap is never allocated
}

TEST_P(CodecMemory, LargeOutputCostsItsOwnSize) {
  // Above the 64 KiB scratch buffer the output is measured first and allocated once: no
  // growing vector holding an old and a new buffer at the same time.
  const Bytes input = text_like(one_mib);
  const Bytes packed = compress(GetParam(), input).value();
  // Warm-up: the per-thread 64 KiB scratch buffer is allocated on first use.
  (void)decompress(GetParam(), compress(GetParam(), text_like(10)).value(), one_mib);
  HeapMeter meter;
  Result<Bytes> out = decompress(GetParam(), packed, 8 * one_mib);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, input);
  EXPECT_LT(meter.peak(), input.size() + 4096);
}

INSTANTIATE_TEST_SUITE_P(AllMethods, CodecMemory, testing::ValuesIn(all_compressions), name_of);

TEST(FrameMemory, BombFrameIsTooLargeWithoutAllocatingIt) {
  const Bytes frame = make_frame(Bytes(16 * one_mib, 0), Compression::zlib).value();
  const ByteView content = ByteView(frame).subspan(frame_header_size);
  (void)open_frame(content, all_compressions, one_mib);  // warm-up
  HeapMeter meter;
  Result<OpenedFrame> opened = open_frame(content, all_compressions, one_mib);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Errc::too_large) << opened.error().to_string();
  EXPECT_LT(meter.peak(), std::size_t{16} << 10);
}

TEST(FrameMemory, WholeFramesInAChunkAreNotCopied) {
  Bytes stream;
  for (int i = 0; i < 30; ++i) {
    const Bytes frame = make_frame(text_like(50 + i)).value();
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  FrameReader reader(one_mib);
  int frames = 0;
  HeapMeter meter;
  ASSERT_TRUE(reader.feed(stream, [&](ByteView) { ++frames; }));
  EXPECT_EQ(frames, 30);
  EXPECT_EQ(meter.peak(), 0u);
}

TEST(FrameMemory, HugeHeaderAllocatesNothing) {
  FrameReader reader(4 * one_mib);
  const Bytes header = {0xff, 0xff, 0xff, 0xff, 0x00};
  HeapMeter meter;
  Status s = reader.feed(header, [](ByteView) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::too_large);
  EXPECT_LT(meter.peak(), std::size_t{1024});  // the error message, nothing sized by the header
}

TEST(FrameMemory, PartialFrameBufferFollowsReceivedBytes) {
  // A peer that announces a 4 MiB frame and sends three bytes of it must not make the reader
  // reserve the announced size.
  FrameReader reader(4 * one_mib);
  const Bytes start = {0x00, 0x3f, 0xff, 0xff, 1, 2, 3};
  HeapMeter meter;
  ASSERT_TRUE(reader.feed(start, [](ByteView) {}));
  EXPECT_EQ(reader.buffered(), start.size());
  EXPECT_LT(meter.peak(), std::size_t{1024});
}

}  // namespace
}  // namespace p2p::wire
