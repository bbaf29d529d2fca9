// Handshake, subnet, self-connection, duplicate connection and limits: one engine driven
// with scripted bytes, or two engines on the in-memory network.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace p2p::test {
namespace {

struct OneNode : ::testing::Test {
  Node node{config_for(4000)};
  RawPeer peer;
  Time t0 = at_seconds(0);

  void TearDown() override { expect_counts_match_views(node); }

  ConnId accept() {
    ConnId c = node.on_incoming(Address{"10.9.9.9", 50000}, t0);
    EXPECT_NE(c, 0u);
    return c;
  }
  void feed(ConnId c, const Bytes& b) { node.on_bytes(c, b, t0); }
  bool closed(const std::vector<core::Command>& cmds, ConnId c) {
    for (auto& x : of_kind<core::CloseCmd>(cmds))
      if (x.conn == c) return true;
    return false;
  }
};

TEST_F(OneNode, SendsItsHandshakeFirstOnEveryNewConnection) {
  ConnId c = accept();
  auto cmds = node.take_outbox();
  auto frames = sent_on(cmds, c);
  ASSERT_EQ(frames.size(), 1u);
  auto bodies = decode_frames(frames);
  ASSERT_EQ(bodies.size(), 1u);
  const auto& b = bodies[0];
  EXPECT_EQ(b.msg_type, flags::whisper);
  EXPECT_EQ(b.sender, node.id());
  EXPECT_FALSE(b.sender_is_bin);  // our id travels as str, like js2p's
  ASSERT_EQ(b.payload.size(), 5u);
  EXPECT_EQ(b.payload[0], Value(flags::handshake));
  EXPECT_EQ(b.payload[1], Value(node.id()));
  EXPECT_EQ(b.payload[2], Value(node.protocol().id()));
  EXPECT_EQ(b.payload[3], Value::array({"10.0.0.1", 4000}));
  EXPECT_EQ(b.payload[4], Value::array({0x20, 0x13, 0x11, 0x10, 0x12}));
}

TEST_F(OneNode, AcceptsAValidHandshakeAndAnswersWithPeers) {
  ConnId c = accept();
  node.take_outbox();
  feed(c, peer.handshake(node.protocol().id(), t0.utc));
  auto cmds = node.take_outbox();
  ASSERT_EQ(node.routing_table().size(), 1u);
  EXPECT_EQ(node.routing_table()[0].id, peer.id);
  auto bodies = decode_frames(sent_on(cmds, c));
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0].payload[0], Value(flags::peers));
  EXPECT_EQ(bodies[0].payload[1], Value(Array{}));  // the recipient is not listed to itself
  auto events = of_kind<core::EventCmd>(cmds);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].kind, core::EventKind::connect);
  EXPECT_EQ(events[1].kind, core::EventKind::peer_joined);
}

TEST_F(OneNode, BinIdsAreTheSameKeyAsStrIds) {
  peer.id_bin = true;  // as py2p sends it
  ConnId c = accept();
  feed(c, peer.handshake(node.protocol().id(), t0.utc));
  ASSERT_NE(node.peer(peer.id), nullptr);
  EXPECT_TRUE(node.peer(peer.id)->id_is_bin);
}

TEST_F(OneNode, RefusesAnotherSubnet) {
  ConnId c = accept();
  feed(c, peer.handshake(Protocol("mesh2", "Plaintext").id(), t0.utc));
  auto cmds = node.take_outbox();
  EXPECT_TRUE(closed(cmds, c));
  EXPECT_TRUE(node.routing_table().empty());
  EXPECT_EQ(node.counters().wrong_protocol, 1u);
  bool failed_event = false;
  for (auto& e : of_kind<core::EventCmd>(cmds))
    failed_event |= e.kind == core::EventKind::handshake_failed;
  EXPECT_TRUE(failed_event);
}

TEST_F(OneNode, RefusesMalformedHandshakes) {
  const std::string pid = node.protocol().id();
  std::vector<Array> bad = {
      {Value(flags::handshake), Value(peer.id), Value(pid), Value::array({"h", 1})},  // 4 items
      {Value(flags::handshake), Value(peer.id), Value(pid), Value::array({"h", 1}), Value(Array{}),
       Value(1)},  // 6 items
      {Value(flags::handshake), Value(7), Value(pid), Value::array({"h", 1}), Value(Array{})},
      {Value(flags::handshake), Value(peer.id), Value(5), Value::array({"h", 1}), Value(Array{})},
      {Value(flags::handshake), Value(peer.id), Value(pid), Value("h:1"), Value(Array{})},
      {Value(flags::handshake), Value(peer.id), Value(pid), Value::array({"h", 70000}),
       Value(Array{})},
      {Value(flags::handshake), Value(peer.id), Value(pid), Value::array({"h", 1}), Value("zlib")},
      {Value(flags::handshake), Value(peer.id), Value(pid), Value::array({"h", 1}),
       Value::array({"zlib"})},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    ConnId c = accept();
    feed(c, peer.frame(flags::whisper, bad[i], t0.utc));
    auto cmds = node.take_outbox();
    EXPECT_TRUE(closed(cmds, c)) << "case " << i;
    node.on_closed(c, "closed", t0);
  }
  EXPECT_TRUE(node.routing_table().empty());
  EXPECT_EQ(node.counters().handshake_failures, bad.size());
}

TEST_F(OneNode, ToleratesARepeatedHandshakeButNotAnotherId) {
  ConnId c = accept();
  feed(c, peer.handshake(node.protocol().id(), t0.utc));
  feed(c, peer.handshake(node.protocol().id(), t0.utc));  // js2p sends it twice
  auto cmds = node.take_outbox();
  EXPECT_FALSE(closed(cmds, c));
  EXPECT_EQ(node.routing_table().size(), 1u);

  RawPeer other = peer;
  other.id = "AnotherId22222222222222222222222222222222222222222222222222222222";
  feed(c, other.handshake(node.protocol().id(), t0.utc));
  cmds = node.take_outbox();
  EXPECT_TRUE(closed(cmds, c));
  EXPECT_TRUE(node.routing_table().empty());
}

TEST_F(OneNode, DetectsAConnectionToItself) {
  ConnId c = accept();
  RawPeer me;
  me.id = node.id();
  feed(c, me.handshake(node.protocol().id(), t0.utc, node.out_addr()));
  auto cmds = node.take_outbox();
  EXPECT_TRUE(closed(cmds, c));
  EXPECT_EQ(node.counters().self_connections, 1u);
  EXPECT_FALSE(node.connect(node.out_addr(), std::nullopt, t0).ok());
}

TEST_F(OneNode, IgnoresMessagesBeforeTheHandshake) {
  ConnId c = accept();
  feed(c, peer.frame(flags::broadcast, {Value(flags::broadcast), Value("early")}, t0.utc));
  auto cmds = node.take_outbox();
  EXPECT_TRUE(of_kind<core::DeliverCmd>(cmds).empty());
  EXPECT_FALSE(closed(cmds, c));
}

TEST_F(OneNode, GarbageClosesOnlyThatConnection) {
  ConnId good = accept();
  feed(good, peer.handshake(node.protocol().id(), t0.utc));
  ConnId bad = accept();
  Bytes junk = {0, 0, 0, 40};
  junk.resize(44, 0xAB);  // checksum cannot match
  feed(bad, junk);
  auto cmds = node.take_outbox();
  EXPECT_TRUE(closed(cmds, bad));
  EXPECT_FALSE(closed(cmds, good));
  EXPECT_EQ(node.counters().checksum_failures, 1u);
  ConnId huge = accept();
  feed(huge, Bytes{0xff, 0xff, 0xff, 0xff});  // a 4 GiB length header
  cmds = node.take_outbox();
  EXPECT_TRUE(closed(cmds, huge));
  EXPECT_EQ(node.counters().oversize_frames, 1u);
  EXPECT_EQ(node.routing_table().size(), 1u);
}

TEST_F(OneNode, CountsACompressionBombAsAnOversizeFrame) {
  auto cfg = config_for(4001);
  cfg.limits.max_body_bytes = 64u << 10;
  Node small(cfg);
  RawPeer zpeer;
  zpeer.methods = {flags::zlib};
  const ConnId c = small.on_incoming(Address{"10.9.9.9", 50000}, t0);
  small.on_bytes(c, zpeer.handshake(small.protocol().id(), t0.utc), t0);
  ASSERT_EQ(small.routing_table().size(), 1u);
  // 1 MiB of zeros: a few KiB on the wire, 16 times the body bound once inflated.
  const Bytes bomb =
      zpeer.frame(flags::broadcast, {Value(flags::broadcast), Value::bin(Bytes(1u << 20))}, t0.utc,
                  wire::Compression::zlib);
  ASSERT_LT(bomb.size(), 64u << 10);
  small.on_bytes(c, bomb, t0);
  EXPECT_TRUE(closed(small.take_outbox(), c));
  EXPECT_EQ(small.counters().oversize_frames, 1u);
  EXPECT_EQ(small.counters().protocol_errors, 1u);
  EXPECT_EQ(small.counters().messages_delivered, 0u);
}

TEST_F(OneNode, ClosesStalledPartialFramesAndSlowHandshakes) {
  ConnId slow_hs = accept();
  ConnId partial = accept();
  feed(partial, peer.handshake(node.protocol().id(), t0.utc));
  Bytes half = peer.frame(flags::whisper, {Value(flags::whisper), Value("x")}, t0.utc);
  half.resize(half.size() / 2);
  feed(partial, half);
  node.take_outbox();
  node.tick(at_seconds(5));
  EXPECT_TRUE(of_kind<core::CloseCmd>(node.take_outbox()).empty());
  node.tick(at_seconds(11));  // handshake_timeout = 10 s
  auto cmds = node.take_outbox();
  EXPECT_TRUE(closed(cmds, slow_hs));
  EXPECT_FALSE(closed(cmds, partial));
  node.tick(at_seconds(61));  // stalled_frame_timeout = 60 s
  EXPECT_TRUE(closed(node.take_outbox(), partial));
  EXPECT_EQ(node.counters().timeouts, 2u);
}

TEST_F(OneNode, TricklingBytesDoesNotExtendAStalledFrame) {
  ConnId c = accept();
  feed(c, peer.handshake(node.protocol().id(), t0.utc));
  const Bytes frame = peer.frame(flags::whisper, {Value(flags::whisper), Value("slow")}, t0.utc);
  // One byte every 10 s: the connection is never idle for 60 s, but the frame is unfinished
  // after 60 s and closed then.
  bool was_closed = false;
  double t = 0;
  for (std::size_t i = 0; i + 1 < frame.size() && !was_closed; ++i, t += 10) {
    node.on_bytes(c, ByteView(frame).subspan(i, 1), at_seconds(t));
    node.tick(at_seconds(t + 1));
    was_closed = closed(node.take_outbox(), c);
    EXPECT_TRUE(!was_closed || t >= 60) << "closed at " << t << " s";
  }
  EXPECT_TRUE(was_closed);
  EXPECT_EQ(node.counters().timeouts, 1u);
}

TEST(NodeLimits, KnownPeersStayWithinMaxKnownPeers) {
  // Peers lists are advice from strangers: however many entries arrive, in however many
  // lists, the node remembers at most max_known_peers addresses.
  NodeConfig cfg = config_for(4000);
  cfg.limits.max_known_peers = 8;
  cfg.max_outgoing = 0;  // remember only, dial nothing
  Node node(cfg);
  RawPeer peer;
  const Time t0 = at_seconds(0);
  const ConnId c = node.on_incoming(Address{"10.9.9.9", 50000}, t0);
  node.on_bytes(c, peer.handshake(node.protocol().id(), t0.utc), t0);
  ASSERT_EQ(node.routing_table().size(), 1u);
  EXPECT_EQ(node.known_peer_count(), 1u);  // the peer itself, from its handshake
  auto list = [&](int first, int count) {
    Array entries;
    for (int i = first; i < first + count; ++i)
      entries.push_back(
          Value::array({Value::array({Value("10.1.0." + std::to_string(i % 250)), Value(5000 + i)}),
                        Value("KnownPeer" + std::to_string(i) + std::string(50, 'k'))}));
    return peer.frame(flags::whisper, {Value(flags::peers), Value(std::move(entries))}, t0.utc);
  };
  node.on_bytes(c, list(0, 5), t0);
  EXPECT_EQ(node.known_peer_count(), 6u);
  for (int round = 0; round < 20; ++round) {
    node.on_bytes(c, list(100 + round * 1000, 1000), t0);
    EXPECT_EQ(node.known_peer_count(), 8u) << "round " << round;
  }
  EXPECT_EQ(node.routing_table().size(), 1u) << "the peer that sent them is still linked";
  EXPECT_EQ(node.counters().protocol_errors, 0u);
}

TEST(NodeLimits, RefusesConnectionsBeyondTheAwaitingBound) {
  auto cfg = config_for(4000);
  cfg.limits.max_awaiting = 3;
  Node node(cfg);
  std::vector<ConnId> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(node.on_incoming(Address{"10.1.1.1", 1000}, at_seconds(0)));
  auto closes = of_kind<core::CloseCmd>(node.take_outbox());
  ASSERT_EQ(closes.size(), 2u);
  EXPECT_EQ(closes[0].conn, ids[3]);
  EXPECT_EQ(closes[1].conn, ids[4]);
  EXPECT_EQ(node.counters().connections_refused, 2u);
}

TEST(NodePair, HandshakeCompletesOnBothSides) {
  MemNet net;
  auto a = net.add(config_for(1));
  auto b = net.add(config_for(2));
  net.connect(a, b);
  ASSERT_EQ(net.node(a).routing_table().size(), 1u);
  ASSERT_EQ(net.node(b).routing_table().size(), 1u);
  EXPECT_EQ(net.node(a).routing_table()[0].id, net.node(b).id());
  EXPECT_TRUE(net.node(a).routing_table()[0].outgoing);
  EXPECT_FALSE(net.node(b).routing_table()[0].outgoing);
  EXPECT_EQ(net.node(a).routing_table()[0].compression, wire::Compression::snappy);
  EXPECT_TRUE(net.node(a).awaiting().empty());
}

TEST(NodePair, DifferentSubnetsNeverJoin) {
  MemNet net;
  auto a = net.add(config_for(1, "mesh"));
  auto b = net.add(config_for(2, "mesh2"));
  net.connect(a, b);
  EXPECT_TRUE(net.node(a).routing_table().empty());
  EXPECT_TRUE(net.node(b).routing_table().empty());
  EXPECT_EQ(net.node(a).counters().wrong_protocol + net.node(b).counters().wrong_protocol, 2u);
}

TEST(NodePair, CrossedDialsKeepExactlyOneLinkChosenAlikeOnBothSides) {
  MemNet net;
  auto a = net.add(config_for(1));
  auto b = net.add(config_for(2));
  // Both dial before either handshake is processed.
  ASSERT_TRUE(net.node(a).connect(net.node(b).out_addr(), std::nullopt, net.now()).ok());
  ASSERT_TRUE(net.node(b).connect(net.node(a).out_addr(), std::nullopt, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.node(a).routing_table().size(), 1u);
  ASSERT_EQ(net.node(b).routing_table().size(), 1u);
  EXPECT_EQ(net.node(a).connection_count(), 1u);
  EXPECT_EQ(net.node(b).connection_count(), 1u);
  // The surviving link is one link: outgoing on exactly one side.
  EXPECT_NE(net.node(a).routing_table()[0].outgoing, net.node(b).routing_table()[0].outgoing);
  const bool a_larger = wire::compare_base58_int(net.node(a).id(), net.node(b).id()) > 0;
  EXPECT_EQ(net.node(a).routing_table()[0].outgoing, a_larger);
}

}  // namespace
}  // namespace p2p::test
