// Hostile frames against a live node: a 4 GiB length header, compression bombs, malformed
// bodies behind a correct checksum and wrong checksums. Each closes only the hostile link,
// is counted, costs no memory beyond the bounds, and a well-behaved peer is served after.
#include <gtest/gtest.h>

#include "hostile_util.hpp"
#include "tls_client.hpp"

namespace p2p::hostile {
namespace {

/// A node with a well-behaved peer linked to it, and the node's log.
struct Mesh {
  LogCapture log;
  std::unique_ptr<MeshSocket> node;
  std::unique_ptr<MeshSocket> good;
  std::string protocol_id;

  explicit Mesh(MeshOptions o = node_options()) {
    const std::string enc = o.protocol.encryption();
    log.attach(o);
    node = std::make_unique<MeshSocket>(o);
    good = std::make_unique<MeshSocket>(node_options(enc));
    protocol_id = node->protocol().id();
  }
  ::testing::AssertionResult linked() { return p2p::testing::link(*good, *node); }
};

TEST(HostileFrames, FourGiBLengthHeaderIsRefusedBeforeBuffering) {
  Mesh m;
  ASSERT_TRUE(m.linked());
  RssGuard rss;
  // Before a handshake, and after one: the header alone closes the link.
  RawConn early(m.node->port());
  ASSERT_TRUE(early.ok());
  ASSERT_TRUE(early.send(Bytes{0xff, 0xff, 0xff, 0xff, 1, 2, 3}));
  EXPECT_TRUE(early.wait_closed());

  RawConn late(m.node->port());
  Forger f(m.protocol_id);
  ASSERT_TRUE(late.send(f.handshake()));
  ASSERT_TRUE(wait_until([&] { return m.node->routing_table().count(f.id) == 1; }));
  ASSERT_TRUE(late.send(Bytes{0xff, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(late.wait_closed());
  EXPECT_TRUE(wait_until([&] { return m.node->routing_table().count(f.id) == 0; }));

  const auto st = m.node->status();
  EXPECT_EQ(st.counter("oversize_frames"), 2u);
  EXPECT_EQ(st.counter("protocol_errors"), 2u);
  EXPECT_TRUE(has_error(*m.node, "4294967295 bytes exceeds the 4194304 byte limit"))
      << st.to_string();
  EXPECT_TRUE(m.log.contains("frame of 4294967295 bytes exceeds")) << m.log.dump();
  EXPECT_EQ(st.peers, 1u);
  EXPECT_TRUE(exchanges(*m.node, *m.good));
  rss.check(16u << 20, "4 GiB header");  // nothing near the announced size was reserved
}

TEST(HostileFrames, FourGiBLengthHeaderInsideTls) {
  Mesh m(node_options("SSL"));
  ASSERT_TRUE(m.linked());
  TlsClient tls(m.node->port(), /*handshake=*/true);
  ASSERT_TRUE(tls.ok());
  ASSERT_TRUE(tls.write(Bytes{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}));
  // The node sends its handshake first, then closes: read until the stream ends.
  EXPECT_TRUE(tls.wait_closed()) << "the node kept the TLS link open";
  EXPECT_TRUE(wait_until([&] { return m.node->status().counter("oversize_frames") == 1; }));
  EXPECT_EQ(m.node->status().counter("tls_failures"), 0u) << "TLS itself was fine";
  EXPECT_TRUE(exchanges(*m.node, *m.good));
}

/// A frame whose body decompresses to `inflated` bytes (zeros in a bin packet).
Bytes bomb(const Forger& f, wire::Compression method, std::size_t inflated) {
  const Bytes body = wire::encode_body(flags::broadcast, f.id, utc_now(),
                                       Array{Value(flags::broadcast), Value::bin(Bytes(inflated))});
  return wire::make_frame(body, method).value();
}

class Bomb : public ::testing::TestWithParam<wire::Compression> {};

TEST_P(Bomb, DecompressesNoFurtherThanMaxBodyBytes) {
  const wire::Compression method = GetParam();
  MeshOptions o = node_options();
  o.limits.max_body_bytes = 1u << 20;
  Mesh m(o);
  ASSERT_TRUE(m.linked());
  Forger f(m.protocol_id);
  // 32 times the body bound. Snappy expands at most ~21x, so its bomb is a ~1.5 MiB frame:
  // within max_frame_bytes, as every bomb here must be to reach the decompressor.
  const std::size_t inflated = 32u << 20;
  const Bytes frame = bomb(f, method, inflated);
  ASSERT_LE(frame.size(), o.limits.max_frame_bytes) << "the bomb must pass the frame bound";
  RssGuard rss;
  RawConn raw(m.node->port());
  ASSERT_TRUE(raw.ok());
  // Advertising only this method makes the node open our frames with it.
  ASSERT_TRUE(raw.send(f.handshake(Array{Value(static_cast<std::uint8_t>(method))})));
  ASSERT_TRUE(wait_until([&] { return m.node->routing_table().count(f.id) == 1; }));
  EXPECT_EQ(m.node->routing_table().at(f.id).compression(), method);
  ASSERT_TRUE(raw.send(frame));
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_TRUE(wait_until([&] { return m.node->routing_table().count(f.id) == 0; }));
  const auto st = m.node->status();
  EXPECT_EQ(st.counter("oversize_frames"), 1u) << st.to_string();
  EXPECT_EQ(st.counter("protocol_errors"), 1u);
  EXPECT_EQ(st.counter("messages_delivered"), 0u);
  EXPECT_TRUE(m.log.contains("protocol violation on connection 2 (127.0.0.1:")) << m.log.dump();
  EXPECT_TRUE(m.log.contains("too_large")) << m.log.dump();
  EXPECT_TRUE(exchanges(*m.node, *m.good));
  // The bomb would cost 32 MiB inflated; the decoder measures into a 64 KiB scratch buffer.
  rss.check(16u << 20, "compression bomb");
}

INSTANTIATE_TEST_SUITE_P(Hostile, Bomb,
                         ::testing::Values(wire::Compression::zlib, wire::Compression::bz2,
                                           wire::Compression::lzma, wire::Compression::snappy),
                         [](const auto& param_info) {
                           return std::string(wire::compression_name(param_info.param));
                         });

TEST(HostileFrames, MalformedBodiesBehindACorrectChecksum) {
  Mesh m;
  ASSERT_TRUE(m.linked());
  Forger f(m.protocol_id);
  const std::vector<Bytes> bodies = {
      Bytes{0xc1},                          // a msgpack byte that is never valid
      Bytes{0x93, 0x00},                    // an array of 3 that ends after one element
      Bytes{0xdd, 0xff, 0xff, 0xff, 0xff},  // array32 announcing 4 G elements in 5 bytes
      wire::encode(Value::array({Value(0), Value(f.id)})),  // envelope of 2 elements
      wire::encode(Value("not an array")),
      wire::encode(Value::array({Value(300), Value(f.id), Value(1)})),  // type >= 256
      wire::encode(Value::array({Value(0), Value(5), Value(1)})),       // sender not str/bin
      wire::encode(Value::array({Value(0), Value(f.id), Value(-1)})),   // negative time
  };
  std::uint64_t closed = 0;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    RawConn raw(m.node->port());
    ASSERT_TRUE(raw.ok());
    Forger peer(m.protocol_id, "Hostile" + std::to_string(i) + std::string(60, 'x'));
    ASSERT_TRUE(raw.send(peer.handshake()));
    ASSERT_TRUE(raw.send(wire::make_frame(bodies[i]).value()));  // the checksum is right
    EXPECT_TRUE(raw.wait_closed()) << "body " << i;
    ++closed;
  }
  ASSERT_TRUE(wait_until([&] { return m.node->status().counter("protocol_errors") == closed; }));
  const auto st = m.node->status();
  EXPECT_EQ(st.counter("checksum_failures"), 0u);
  EXPECT_EQ(st.counter("messages_delivered"), 0u);
  EXPECT_TRUE(m.log.contains("undecodable body")) << m.log.dump();
  EXPECT_TRUE(wait_until([&] { return m.node->routing_table().size() == 1; }));
  EXPECT_TRUE(exchanges(*m.node, *m.good));
}

TEST(HostileFrames, WrongChecksumClosesTheLink) {
  Mesh m;
  ASSERT_TRUE(m.linked());
  Forger f(m.protocol_id);
  RawConn raw(m.node->port());
  ASSERT_TRUE(raw.send(f.handshake()));
  ASSERT_TRUE(wait_until([&] { return m.node->routing_table().count(f.id) == 1; }));
  Bytes frame = f.broadcast({Value("tampered")});
  frame[wire::frame_header_size] ^= 0x01;  // first checksum byte
  ASSERT_TRUE(raw.send(frame));
  EXPECT_TRUE(raw.wait_closed());
  ASSERT_TRUE(wait_until([&] { return m.node->status().counter("checksum_failures") == 1; }));
  EXPECT_EQ(m.node->status().counter("messages_delivered"), 0u);
  EXPECT_TRUE(m.log.contains("matching sha256")) << m.log.dump();
  // Same before a handshake: a checksum failure there is also a failed handshake.
  RawConn early(m.node->port());
  ASSERT_TRUE(early.send(frame));
  EXPECT_TRUE(early.wait_closed());
  ASSERT_TRUE(wait_until([&] { return m.node->status().counter("checksum_failures") == 2; }));
  EXPECT_TRUE(has_error(*m.node, "matching sha256"));
  EXPECT_TRUE(exchanges(*m.node, *m.good));
}

}  // namespace
}  // namespace p2p::hostile
