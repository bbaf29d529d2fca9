#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "captured_bodies.hpp"
#include "hex_bytes.hpp"
#include "p2p/flags.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/message.hpp"
#include "p2p/wire/msgpack.hpp"

namespace {

using p2p::Array;
using p2p::Bytes;
using p2p::Errc;
using p2p::Value;
using p2p::test::from_hex;
using p2p::wire::decode_body;
using p2p::wire::DecodeLimits;
using p2p::wire::encode_body;
namespace flags = p2p::flags;
namespace captured = p2p::test;

std::string hex(const Bytes& b) {
  return p2p::to_hex(b);
}

Errc body_error(const Bytes& b, const DecodeLimits& limits = {}) {
  auto r = decode_body(b, limits);
  EXPECT_FALSE(r.ok()) << "decoded " << hex(b).substr(0, 80);
  return r.ok() ? Errc::invalid_argument : r.error().code;
}

TEST(EncodeBody, MatchesTheReferenceLayout) {
  const std::vector<Value> payload = {"a"};
  EXPECT_EQ(hex(encode_body(flags::broadcast, "abc", 0x6b0196f0, payload)),
            "9400a3616263ce6b0196f0a161");
}

TEST(EncodeBody, ReproducesTheCapturedJs2pHandshakeByteForByte) {
  // js2p sends ids as str, as p2pmesh does, so our encoding of the same values must be the
  // exact body js2p sent (and so carry the same message id).
  const std::string id(captured::js2p_id);
  const std::vector<Value> payload = {flags::handshake, id, captured::mesh_plaintext_id,
                                      Value::array({"127.0.0.1", 47641}),
                                      Value::array({flags::zlib, flags::gzip})};
  EXPECT_EQ(hex(encode_body(flags::whisper, id, 0x6b0196f3, payload)),
            captured::js2p_handshake_body_hex);
}

TEST(EncodeBody, SmallestWidthsForTypeAndTime) {
  const std::vector<Value> none;
  EXPECT_EQ(hex(encode_body(0x7f, "", 0, none)), "937fa000");
  EXPECT_EQ(hex(encode_body(0xc8, "", 0x10000, none)), "93ccc8a0ce00010000");
  EXPECT_EQ(hex(encode_body(0, "", 0x100000000, none)), "9300a0cf0000000100000000");
  const std::string long_id(66, 'x');
  EXPECT_EQ(hex(encode_body(0, long_id, 0, none)).substr(0, 8), "9300d942");
}

TEST(EncodeBody, LargePayloadUsesArray16Header) {
  const std::vector<Value> payload(13, Value(1));  // 3 + 13 = 16 elements
  const Bytes b = encode_body(0, "i", 1, payload);
  EXPECT_EQ(hex(b).substr(0, 6), "dc0010");
  auto r = decode_body(b);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->payload.size(), 13u);
}

// One buffer serves message after message (core::encode_message): each body lands after the
// headroom, byte for byte as encode_body() makes it, and nothing before or after it moves.
TEST(EncodeBody, IntoAReusedBufferWritesTheSameBytes) {
  Bytes buffer(300, 0xee);
  const std::vector<Value> small{Value("hi")}, large{Value(Bytes(500, 7)), Value(3)};
  for (const auto* packets : {&small, &large, &small}) {
    const Bytes expected = encode_body(flags::broadcast, "node", 1'700'000'000, 5, *packets, 0);
    const Bytes before = buffer;
    const std::size_t end = p2p::wire::encode_body_into(buffer, flags::broadcast, "node",
                                                        1'700'000'000, 5, *packets, 36);
    ASSERT_EQ(end, 36 + expected.size());
    ASSERT_GE(buffer.size(), end);
    EXPECT_EQ(Bytes(buffer.begin() + 36, buffer.begin() + static_cast<std::ptrdiff_t>(end)),
              expected);
    EXPECT_TRUE(std::equal(buffer.begin(), buffer.begin() + 36, before.begin()))
        << "the headroom is the caller's";
    for (std::size_t i = end; i < std::min(before.size(), buffer.size()); ++i)
      ASSERT_EQ(buffer[i], before[i]) << "byte " << i << " after the body";
  }
  EXPECT_GE(buffer.size(), 36 + 500u) << "grown by the large message and kept";
}

TEST(DecodeBody, Py2pHandshakeWithBinIds) {
  auto r = decode_body(from_hex(captured::py2p_handshake_body_hex));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->msg_type, flags::whisper);
  EXPECT_EQ(r->sender, captured::py2p_id);
  EXPECT_TRUE(r->sender_is_bin);
  EXPECT_EQ(r->time, 0x6b0196f0u);
  ASSERT_EQ(r->payload.size(), 5u);
  EXPECT_EQ(r->payload[0], Value(flags::handshake));
  EXPECT_EQ(r->payload[1], Value::bin(p2p::as_bytes(captured::py2p_id)));
  EXPECT_EQ(r->payload[2], Value(captured::mesh_plaintext_id));
  EXPECT_EQ(r->payload[3], Value::array({"127.0.0.1", 47640}));
  EXPECT_EQ(r->payload[4],
            Value::array({flags::snappy, flags::zlib, flags::gzip, flags::bz2, flags::lzma}));
}

TEST(DecodeBody, Js2pHandshakeWithStrIds) {
  auto r = decode_body(from_hex(captured::js2p_handshake_body_hex));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->msg_type, flags::whisper);
  EXPECT_EQ(r->sender, captured::js2p_id);
  EXPECT_FALSE(r->sender_is_bin);
  EXPECT_EQ(r->time, 0x6b0196f3u);
  ASSERT_EQ(r->payload.size(), 5u);
  EXPECT_EQ(r->payload[1], Value(captured::js2p_id));
  EXPECT_EQ(r->payload[3], Value::array({"127.0.0.1", 47641}));
  EXPECT_EQ(r->payload[4], Value::array({flags::zlib, flags::gzip}));
}

TEST(DecodeBody, Js2pPeersReplyAndPy2pBroadcast) {
  const std::string id(captured::js2p_id);
  auto peers =
      decode_body(from_hex("9502d942" + p2p::to_hex(p2p::as_bytes(id)) + "ce6b0196f30790"));
  ASSERT_TRUE(peers.ok()) << peers.error().to_string();
  EXPECT_EQ(peers->payload, (Array{flags::peers, Value::array({})}));

  const std::string py_id(captured::py2p_id);
  auto bcast = decode_body(from_hex("9600c442" + p2p::to_hex(p2p::as_bytes(py_id)) +
                                    "ce6b0196f000a766726f6d2d7079c403000102"));
  ASSERT_TRUE(bcast.ok()) << bcast.error().to_string();
  EXPECT_EQ(bcast->msg_type, flags::broadcast);
  EXPECT_TRUE(bcast->sender_is_bin);
  EXPECT_EQ(bcast->payload, (Array{flags::broadcast, "from-py", Value(Bytes{0, 1, 2})}));
}

TEST(DecodeBody, RoundTripsEncodeBody) {
  const std::vector<Value> payload = {flags::whisper, Value::map({{"k", Value(Bytes{9})}}), -7, 2.5,
                                      nullptr};
  auto r = decode_body(encode_body(flags::renegotiate, "node", 1'700'000'000, payload));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->msg_type, flags::renegotiate);
  EXPECT_EQ(r->sender, "node");
  EXPECT_FALSE(r->sender_is_bin);
  EXPECT_EQ(r->time, 1'700'000'000u);
  EXPECT_EQ(r->payload, Array(payload.begin(), payload.end()));
}

TEST(DecodeBody, IntoAUsedBodyMatchesAFreshDecode) {
  // A node decodes every frame into one Body. Whatever the last body left in it (more or
  // fewer packets, other types at each place, a bin or str sender), the next must come out
  // exactly as decode_body() gives it.
  const std::string long_id(70, 'c');
  const std::vector<Bytes> bodies = {
      encode_body(flags::broadcast, "alice", 7,
                  Array{0, "text", Bytes{1, 2, 3}, Array{"x", Array{1, Bytes{9}}}}),
      from_hex(captured::py2p_handshake_body_hex),  // a bin sender
      encode_body(flags::whisper, "b", 8, Array{2}),
      encode_body(
          flags::broadcast, long_id, 9,
          Array{Bytes(300, 7), "a str where a bin was", nullptr, Value::map({{"k", Bytes{1}}})}),
      encode_body(1, "d", 10, Array{}),
      encode_body(flags::broadcast, "alice", 11, Array{Array{Bytes{5}}, 1.5, -3, true}),
      from_hex(captured::js2p_handshake_body_hex),
  };
  p2p::wire::Body reused;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      SCOPED_TRACE("body " + std::to_string(i) + ", round " + std::to_string(round));
      const auto fresh = decode_body(bodies[i]);
      ASSERT_TRUE(fresh.ok()) << fresh.error().to_string();
      const auto into = p2p::wire::decode_body_into(bodies[i], reused);
      ASSERT_TRUE(into.ok()) << into.error().to_string();
      EXPECT_EQ(reused.msg_type, fresh->msg_type);
      EXPECT_EQ(reused.sender, fresh->sender);
      EXPECT_EQ(reused.sender_is_bin, fresh->sender_is_bin);
      EXPECT_EQ(reused.time, fresh->time);
      EXPECT_EQ(reused.payload, fresh->payload);
    }
  }
}

TEST(DecodeBody, EnvelopeOnlyHasEmptyPayload) {
  auto r = decode_body(from_hex("9300a0ce6b0196f0"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->payload.empty());
  EXPECT_TRUE(r->sender.empty());
}

TEST(DecodeBody, FloatTimeIsTruncated) {
  // js2p's msgpack-lite writes integers >= 2^32 as float64.
  auto r =
      decode_body(from_hex("9300a1"
                           "78"
                           "cb41f0000000080000"));  // 4294967296.5
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->time, 4294967296u);
  auto f32 =
      decode_body(from_hex("9300a178"
                           "ca3fc00000"));  // 1.5
  ASSERT_TRUE(f32.ok()) << f32.error().to_string();
  EXPECT_EQ(f32->time, 1u);
}

TEST(DecodeBody, EnvelopeViolationsAreProtocolErrors) {
  const char* cases[] = {
      "81a178a178",  // a map, not an array
      "00",          // a scalar
      "a3616263",    // a str
      "92"
      "00"
      "a178",  // only two elements
      "90",    // empty array
      "93"
      "cd0100"
      "a178"
      "00",  // msg_type 256
      "93"
      "ff"
      "a178"
      "00",  // msg_type -1
      "93"
      "a130"
      "a178"
      "00",  // msg_type as str
      "93"
      "c0"
      "a178"
      "00",  // msg_type nil
      "93"
      "ca3f800000"
      "a178"
      "00",  // msg_type 1.0 as float
      "93"
      "00"
      "01"
      "00",  // sender an int
      "93"
      "00"
      "91a178"
      "00",  // sender an array
      "93"
      "00"
      "a178"
      "ff",  // negative time
      "93"
      "00"
      "a178"
      "a130",  // time as str
      "93"
      "00"
      "a178"
      "c0",  // time nil
      "93"
      "00"
      "a178"
      "cbbff0000000000000",  // time -1.0
      "93"
      "00"
      "a178"
      "cb7ff8000000000000",  // time NaN
      "93"
      "00"
      "a178"
      "cb43f0000000000000",  // time 2^64
  };
  for (const char* text : cases) EXPECT_EQ(body_error(from_hex(text)), Errc::protocol) << text;
}

TEST(DecodeBody, MsgpackErrorsKeepTheirCodes) {
  EXPECT_EQ(body_error(from_hex("9300a178"
                                "00"
                                "00")),
            Errc::malformed);  // trailing byte
  EXPECT_EQ(body_error(from_hex("9400a17800"
                                "c1")),
            Errc::malformed);
  EXPECT_EQ(body_error(from_hex("9400a17800"
                                "d40100")),
            Errc::malformed);  // ext
  EXPECT_EQ(body_error(from_hex("ddffffffff"
                                "00a17800")),
            Errc::truncated);
  EXPECT_EQ(body_error(from_hex("9400a17800"
                                "dbffffffff61")),
            Errc::truncated);
}

TEST(DecodeBody, TruncatedAtEveryOffset) {
  const Bytes b = from_hex(captured::py2p_handshake_body_hex);
  for (std::size_t n = 0; n < b.size(); ++n) {
    const Bytes prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(body_error(prefix), Errc::truncated) << "prefix of " << n << " bytes";
  }
}

TEST(DecodeBody, EnvelopeCountsAsOneLevelOfNesting) {
  const DecodeLimits limits{4};
  // [0, "x", 0, [[[0]]]]: envelope + 3 levels = 4.
  EXPECT_TRUE(decode_body(from_hex("9400a17800"
                                   "919191"
                                   "00"),
                          limits)
                  .ok());
  EXPECT_EQ(body_error(from_hex("9400a17800"
                                "91919191"
                                "00"),
                       limits),
            Errc::depth_exceeded);
  EXPECT_EQ(body_error(from_hex("9300a17800"), DecodeLimits{0}), Errc::depth_exceeded);
}

}  // namespace
