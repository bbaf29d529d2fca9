// Hostile msgpack must not make the decoder allocate more than a small multiple of its size.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "heap_meter.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/message.hpp"
#include "p2p/wire/msgpack.hpp"

namespace {

using p2p::Bytes;
using p2p::Errc;
using p2p::Value;
using p2p::test::HeapMeter;

void put_u32(Bytes& b, std::size_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(n >> shift));
}

// `levels` nested array32 headers, each announcing as many elements as the bytes after it,
// i.e. the largest count the decoder's "fits in what is left" check lets through; then one
// bin32 of `filler` bytes. Only one element per level is real, so decoding fails at the end.
Bytes greedy_nested_arrays(std::size_t levels, std::size_t filler) {
  Bytes b;
  std::size_t after = levels * 5 + 5 + filler;
  for (std::size_t i = 0; i < levels; ++i) {
    after -= 5;
    b.push_back(0xdd);
    put_u32(b, after);
  }
  b.push_back(0xc6);
  put_u32(b, filler);
  b.insert(b.end(), filler, 0x00);
  return b;
}

TEST(DecodeMemory, HugeHeaderWithShortInputAllocatesNothingBig) {
  const Bytes hostile = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
  HeapMeter meter;
  auto r = p2p::wire::decode(hostile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_LT(meter.peak(), 4096u);
}

TEST(DecodeMemory, GreedyNestedCountsDoNotMultiplyByDepth) {
  // Reserving each level's announced count would cost 60 x 40 x 256 KiB = 600 MiB here.
  const std::size_t levels = 60;
  const Bytes hostile = greedy_nested_arrays(levels, 256 * 1024);
  HeapMeter meter;
  auto r = p2p::wire::decode(hostile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::truncated);
  // At most one Value per input byte is ever reserved ahead of decoding.
  EXPECT_LT(meter.peak(), 2 * sizeof(Value) * hostile.size()) << "peak " << meter.peak();
}

TEST(DecodeMemory, GreedyNestedBodyDoesNotMultiplyByDepth) {
  Bytes hostile = {0x94, 0x00, 0xa1, 'x', 0x00};  // [0, "x", 0, <greedy payload>]
  const Bytes payload = greedy_nested_arrays(60, 256 * 1024);
  hostile.insert(hostile.end(), payload.begin(), payload.end());
  HeapMeter meter;
  auto r = p2p::wire::decode_body(hostile);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(meter.peak(), 2 * sizeof(Value) * hostile.size()) << "peak " << meter.peak();
}

TEST(DecodeMemory, HonestInputIsDecodedWithinTheSameBound) {
  // An array of 100k small ints: one Value per byte-ish, reserved exactly once.
  Bytes honest = {0xdd};
  put_u32(honest, 100'000);
  honest.insert(honest.end(), 100'000, 0x01);
  HeapMeter meter;
  auto r = p2p::wire::decode(honest);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->as_array().size(), 100'000u);
  EXPECT_LT(meter.peak(), 2 * sizeof(Value) * honest.size()) << "peak " << meter.peak();
}

TEST(DecodeMemory, ASimilarBodyDecodesIntoAUsedOneWithoutAllocating) {
  // What decode_body_into is for: a node decodes every frame into one Body, and a stream of
  // similar messages then allocates nothing per message. Sender, packet array, a bin and a
  // str (both past the small-string size) all fit in what the first body left.
  using p2p::Array;
  p2p::wire::Body body;
  ASSERT_TRUE(p2p::wire::decode_body_into(
                  p2p::wire::encode_body(0x00, std::string(66, 'i'), 1,
                                         Array{0, Bytes(4096, 1), "a label longer than SSO holds"}),
                  body)
                  .ok());
  const Bytes next = p2p::wire::encode_body(
      0x00, std::string(65, 'j'), 2, Array{0, Bytes(4000, 2), "a second label, on the heap"});
  {
    HeapMeter meter;
    ASSERT_TRUE(p2p::wire::decode_body_into(next, body).ok());
    EXPECT_EQ(meter.peak(), 0u) << "the used body's buffers were not reused";
  }
  EXPECT_EQ(body.sender, std::string(65, 'j'));
  EXPECT_EQ(body.time, 2u);
  EXPECT_EQ(body.payload, (Array{0, Bytes(4000, 2), "a second label, on the heap"}));
}

}  // namespace
