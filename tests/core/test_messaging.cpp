// Broadcast relay, de-duplication, handlers, reply, peers, renegotiation.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace p2p::test {
namespace {

std::size_t chain(MemNet& net, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) net.add(config_for(static_cast<std::uint16_t>(i + 1)));
  for (std::size_t i = 0; i + 1 < n; ++i) net.connect(i, i + 1);
  return n;
}

// MeshSocket::send encodes into a buffer its thread keeps (core::encode_message): the frame
// and id must be prepare_message()'s, whatever the buffer held before, and adopting the
// buffer must hand over exactly the frame.
TEST(Messaging, EncodingIntoAReusedBufferMatchesPrepareMessage) {
  const core::PeerId sender = "sender-id";
  Bytes buffer(2000, 0xee);
  const Array longer{Value(Bytes(900, 1)), Value("x")}, shorter{Value("y")};
  for (const auto* packets : {&longer, &shorter}) {
    auto prepared =
        core::prepare_message(sender, *packets, flags::broadcast, 0, 1'700'000'000, 1u << 20);
    ASSERT_TRUE(prepared);
    auto encoded = core::encode_message(buffer, sender, *packets, flags::broadcast, 0,
                                        1'700'000'000, 1u << 20);
    ASSERT_TRUE(encoded);
    EXPECT_EQ(Bytes(encoded->frame.begin(), encoded->frame.end()), *prepared->raw);
    EXPECT_EQ(encoded->frame.data(), buffer.data());
    EXPECT_EQ(encoded->id, prepared->id);
    EXPECT_EQ(encoded->time, prepared->time);
  }
  auto encoded =
      core::encode_message(buffer, sender, shorter, flags::whisper, 0, 1'700'000'000, 1u << 20);
  ASSERT_TRUE(encoded);
  const Bytes frame(encoded->frame.begin(), encoded->frame.end());
  const core::PreparedMessage adopted = core::adopt_message(*encoded, std::move(buffer));
  EXPECT_EQ(*adopted.raw, frame) << "trimmed to the frame";
  EXPECT_EQ(adopted.flag, flags::whisper);
  // Too large for max_body: refused, like prepare_message.
  Bytes again;
  auto refused =
      core::encode_message(again, sender, longer, flags::broadcast, 0, 1'700'000'000, 100);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::too_large);
}

TEST(Messaging, BroadcastPropagatesOverAChainOfThree) {
  MemNet net;
  auto cfg = [](std::uint16_t p) {
    auto c = config_for(p);
    c.max_outgoing = 1;  // keep the chain a chain: no peer exchange shortcuts
    c.auto_reconnect = false;
    return c;
  };
  net.add(cfg(1));
  net.add(cfg(2));
  net.add(cfg(3));
  net.connect(0, 1);
  net.connect(1, 2);
  ASSERT_EQ(net.node(1).routing_table().size(), 2u);
  ASSERT_TRUE(net.node(0)
                  .send(Array{"hello", Value::bin(as_bytes("\x00\x01"))}, flags::broadcast,
                        flags::broadcast, net.now())
                  .ok());
  net.pump();
  for (std::size_t i : {1u, 2u}) {
    ASSERT_EQ(net.entry(i).delivered.size(), 1u) << "node " << i;
    const auto& m = net.entry(i).delivered[0];
    EXPECT_EQ(m.sender, net.node(0).id());
    EXPECT_EQ(m.packets, (Array{Value(0), "hello", Value::bin(as_bytes("\x00\x01"))}));
  }
  EXPECT_TRUE(net.entry(0).delivered.empty());  // our own echo is dropped
}

TEST(Messaging, WhispersAreNotRelayed) {
  MemNet net;
  chain(net, 3);
  ASSERT_TRUE(net.node(0).send(Array{"psst"}, flags::whisper, flags::whisper, net.now()).ok());
  net.pump();
  EXPECT_EQ(net.entry(1).delivered.size(), 1u);
  // Node 2 may have dialled node 0 via peer exchange; it only hears it if directly linked.
  const bool direct = net.node(2).peer(net.node(0).id()) != nullptr;
  EXPECT_EQ(net.entry(2).delivered.size(), direct ? 1u : 0u);
}

TEST(Messaging, RelayForwardsTheOriginalBytesAndSkipsSenderAndPreviousHop) {
  Node node(config_for(4000));
  const Time t = at_seconds(0);
  RawPeer p1, p2, p3;
  p1.id = "Peer1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  p2.id = "Peer2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  p3.id = "Peer3ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
  p3.methods = {flags::zlib};  // needs a different encoding of the same body
  ConnId c1 = node.on_incoming({"10.1.1.1", 1}, t);
  ConnId c2 = node.on_incoming({"10.1.1.2", 2}, t);
  ConnId c3 = node.on_incoming({"10.1.1.3", 3}, t);
  node.on_bytes(c1, p1.handshake(node.protocol().id(), t.utc, {"10.1.1.1", 1}), t);
  node.on_bytes(c2, p2.handshake(node.protocol().id(), t.utc, {"10.1.1.2", 2}), t);
  node.on_bytes(c3, p3.handshake(node.protocol().id(), t.utc, {"10.1.1.3", 3}), t);
  node.take_outbox();

  // p2 relays a broadcast originally sent by p1: it must go to p3 only.
  Bytes frame = p1.frame(flags::broadcast, {Value(flags::broadcast), Value("m")}, t.utc);
  node.on_bytes(c2, frame, t);
  auto cmds = node.take_outbox();
  EXPECT_TRUE(sent_on(cmds, c1).empty());
  EXPECT_TRUE(sent_on(cmds, c2).empty());
  auto to3 = sent_on(cmds, c3);
  ASSERT_EQ(to3.size(), 1u);
  auto bodies = decode_frames(to3, {wire::Compression::zlib});
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0].sender, p1.id);
  EXPECT_EQ(of_kind<core::DeliverCmd>(cmds).size(), 1u);

  // A raw link gets the exact bytes that arrived.
  RawPeer p4;
  p4.id = "Peer4dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
  ConnId c4 = node.on_incoming({"10.1.1.4", 4}, t);
  node.on_bytes(c4, p4.handshake(node.protocol().id(), t.utc, {"10.1.1.4", 4}), t);
  node.take_outbox();
  Bytes frame2 = p1.frame(flags::broadcast, {Value(flags::broadcast), Value("n")}, t.utc);
  node.on_bytes(c2, frame2, t);
  cmds = node.take_outbox();
  auto to4 = sent_on(cmds, c4);
  ASSERT_EQ(to4.size(), 1u);
  EXPECT_EQ(to4[0], frame2);
}

TEST(Messaging, DropsDuplicatesExpiredBroadcastsAndOurOwnEcho) {
  Node node(config_for(4000));
  const Time t = at_seconds(100);
  RawPeer p;
  ConnId c = node.on_incoming({"10.1.1.1", 1}, t);
  node.on_bytes(c, p.handshake(node.protocol().id(), t.utc), t);
  node.take_outbox();

  Bytes m = p.frame(flags::broadcast, {Value(flags::broadcast), Value("once")}, t.utc);
  node.on_bytes(c, m, t);
  node.on_bytes(c, m, t);
  auto cmds = node.take_outbox();
  EXPECT_EQ(of_kind<core::DeliverCmd>(cmds).size(), 1u);
  EXPECT_EQ(node.counters().duplicates_dropped, 1u);

  Bytes old = p.frame(flags::broadcast, {Value(flags::broadcast), Value("old")}, t.utc - 61);
  node.on_bytes(c, old, t);
  EXPECT_TRUE(of_kind<core::DeliverCmd>(node.take_outbox()).empty());
  EXPECT_EQ(node.counters().expired_dropped, 1u);

  ASSERT_TRUE(node.send(Array{"mine"}, flags::broadcast, flags::broadcast, t).ok());
  auto sent = sent_on(cmds = node.take_outbox(), c);
  ASSERT_EQ(sent.size(), 1u);
  node.on_bytes(c, sent[0], t);  // the peer echoes it back
  EXPECT_TRUE(of_kind<core::DeliverCmd>(node.take_outbox()).empty());
  EXPECT_EQ(node.counters().duplicates_dropped, 2u);
}

TEST(Messaging, SeenCacheExpiresWithTime) {
  Node node(config_for(4000));
  RawPeer p;
  ConnId c = node.on_incoming({"10.1.1.1", 1}, at_seconds(0));
  node.on_bytes(c, p.handshake(node.protocol().id(), at_seconds(0).utc), at_seconds(0));
  node.on_bytes(c, p.frame(flags::broadcast, {Value(0), Value("x")}, at_seconds(0).utc),
                at_seconds(0));
  EXPECT_EQ(node.seen_cache_size(), 1u);
  node.tick(at_seconds(62));
  EXPECT_EQ(node.seen_cache_size(), 0u);
}

TEST(Messaging, HandlersRunInOrderAndTheFirstTrueStopsDelivery) {
  MemNet net;
  chain(net, 2);
  std::vector<std::string> calls;
  net.node(1).register_handler([&](const core::Message& m, const core::LinkView& link) {
    calls.push_back("first");
    EXPECT_NE(link.peer, nullptr);
    return m.packets.size() > 1 && m.packets[1] == Value("take");
  });
  net.node(1).register_handler([&](const core::Message&, const core::LinkView&) {
    calls.push_back("second");
    return false;
  });
  ASSERT_TRUE(net.node(0).send(Array{"take"}, flags::broadcast, flags::broadcast, net.now()).ok());
  net.pump();
  EXPECT_EQ(calls, (std::vector<std::string>{"first"}));
  EXPECT_TRUE(net.entry(1).delivered.empty());
  ASSERT_TRUE(net.node(0).send(Array{"leave"}, flags::broadcast, flags::broadcast, net.now()).ok());
  net.pump();
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "first", "second"}));
  EXPECT_EQ(net.entry(1).delivered.size(), 1u);
}

TEST(Messaging, HandledAndQueuedMessagesEachKeepTheirContents) {
  // Every frame decodes into one reused body. A message a handler takes gives the body's
  // buffers back for the next frame; one queued for recv() keeps them. Alternating the two,
  // with packets that change type and count, each message must carry its own contents.
  MemNet net;
  chain(net, 2);
  std::vector<Array> handled;
  net.node(1).register_handler([&](const core::Message& m, const core::LinkView&) {
    if (m.packets.size() < 2 || m.packets[1] != Value("handled")) return false;
    handled.push_back(m.packets);
    return true;
  });
  std::vector<Array> want_handled, want_queued;
  for (int i = 0; i < 12; ++i) {
    const auto n = static_cast<std::uint8_t>(i);
    Array packets;
    if (i % 2 == 0) {
      packets = {"handled", Bytes(static_cast<std::size_t>(50 + 40 * i), n)};
    } else {
      packets = {"queued", std::string(static_cast<std::size_t>(20 + i), 'a'),
                 Value::array({i, Bytes{n}})};
    }
    if (i % 3 == 0) packets.emplace_back(i);
    ASSERT_TRUE(net.node(0).send(packets, flags::broadcast, flags::broadcast, net.now()).ok());
    net.pump();
    Array arrived{Value(flags::broadcast)};  // the sub-flag comes first
    arrived.insert(arrived.end(), packets.begin(), packets.end());
    (i % 2 == 0 ? want_handled : want_queued).push_back(std::move(arrived));
  }
  EXPECT_EQ(handled, want_handled);
  std::vector<Array> queued;
  for (const auto& m : net.entry(1).delivered) queued.push_back(m.packets);
  EXPECT_EQ(queued, want_queued);
}

TEST(Messaging, OnlyASmallBodysBuffersAreKeptForTheNextFrame) {
  // The reused decoding body keeps what the last frame needed, but never more than
  // inbound_keep_bytes: neither a large packet nor many small values stay behind.
  MemNet net;
  chain(net, 2);
  Node& b = net.node(1);
  auto send = [&](Array packets) {
    ASSERT_TRUE(net.node(0).send(packets, flags::broadcast, flags::broadcast, net.now()).ok());
    net.pump();
  };
  send(Array{Bytes(4096, 1)});
  ASSERT_EQ(net.entry(1).delivered.size(), 1u);
  b.register_handler([](const core::Message&, const core::LinkView&) { return true; });
  send(Array{Bytes(4096, 2)});  // handled: its buffers go back for the next frame
  EXPECT_GE(b.inbound_kept_bytes(), 4096u);
  EXPECT_LE(b.inbound_kept_bytes(), Node::inbound_keep_bytes);
  send(Array{Bytes(200'000, 3)});
  // (Later small frames, such as the link's own, may have refilled a little of it.)
  EXPECT_LT(b.inbound_kept_bytes(), 4096u) << "a large packet's buffer stayed";
  send(Array{Bytes(4096, 4)});
  EXPECT_GE(b.inbound_kept_bytes(), 4096u);
  send(Array{Value(Array(20'000))});  // ~20 KB on the wire, 20,000 Values decoded
  EXPECT_LT(b.inbound_kept_bytes(), 4096u) << "many small values stayed";
}

TEST(Messaging, HandlersMayCallBackIntoTheNode) {
  MemNet net;
  chain(net, 2);
  Node& b = net.node(1);
  b.register_handler([&](const core::Message& m, const core::LinkView& link) {
    EXPECT_TRUE(b.reply(m, Array{"pong"}, net.now()).ok());
    b.disconnect(link.conn);  // closing the link being processed is allowed
    return true;
  });
  ASSERT_TRUE(net.node(0).send(Array{"ping"}, flags::whisper, flags::whisper, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(0).delivered.size(), 1u);
  EXPECT_EQ(net.entry(0).delivered[0].packets, (Array{Value(2), "pong"}));
  EXPECT_TRUE(b.routing_table().empty());
}

TEST(Messaging, DirectReplyIsAWhisper) {
  MemNet net;
  chain(net, 2);
  ASSERT_TRUE(net.node(0).send(Array{"q"}, flags::broadcast, flags::broadcast, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(1).delivered.size(), 1u);
  ASSERT_TRUE(net.node(1).reply(net.entry(1).delivered[0], Array{"a", 1}, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(0).delivered.size(), 1u);
  EXPECT_EQ(net.entry(0).delivered[0].msg_type, flags::whisper);
  EXPECT_EQ(net.entry(0).delivered[0].packets, (Array{Value(2), "a", 1}));
}

TEST(Messaging, IndirectReplyCrossesAChainOfFour) {
  MemNet net;
  for (std::uint16_t i = 1; i <= 4; ++i) {
    auto c = config_for(i);
    c.max_outgoing = 1;  // no shortcuts from peer exchange: 0-1-2-3 stays a chain
    c.auto_reconnect = false;
    net.add(c);
  }
  for (std::size_t i = 0; i + 1 < 4; ++i) net.connect(i, i + 1);
  ASSERT_EQ(net.node(0).peer(net.node(3).id()), nullptr);
  ASSERT_TRUE(net.node(0).send(Array{"who?"}, flags::broadcast, flags::broadcast, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(3).delivered.size(), 1u);
  ASSERT_TRUE(net.node(3).reply(net.entry(3).delivered[0], Array{"me"}, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(0).delivered.size(), 1u);
  EXPECT_EQ(net.entry(0).delivered[0].sender, net.node(3).id());
  EXPECT_EQ(net.entry(0).delivered[0].packets, (Array{Value(2), "me"}));
  EXPECT_NE(net.node(3).peer(net.node(0).id()), nullptr);  // the replier dialled the requester
  EXPECT_EQ(net.node(3).counters().replies_indirect, 1u);
  // Nobody else saw the whisper, and nobody got the request as a message.
  EXPECT_EQ(net.entry(1).delivered.size(), 1u);
  EXPECT_EQ(net.entry(2).delivered.size(), 1u);
}

TEST(Messaging, PendingIndirectRepliesAreBoundedAndExpire) {
  auto cfg = config_for(1);
  cfg.limits.max_pending_requests = 2;
  cfg.limits.request_timeout = std::chrono::seconds(5);
  Node node(cfg);
  // Replies to senders that are not neighbours each wait for a `response`.
  auto far = [](int i) {
    core::Message m;
    m.msg_type = flags::broadcast;
    m.sender = "FarAway" + std::to_string(i) + std::string(60, 'f');
    return m;
  };
  const Time t0 = at_seconds(0);
  EXPECT_TRUE(node.reply(far(1), Array{"a"}, t0).ok());
  EXPECT_TRUE(node.reply(far(2), Array{"b"}, t0).ok());
  auto refused = node.reply(far(3), Array{"c"}, t0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::too_large);
  EXPECT_EQ(node.counters().requests_sent, 2u);
  node.tick(at_seconds(4));
  EXPECT_EQ(node.counters().requests_expired, 0u);
  node.tick(at_seconds(6));
  EXPECT_EQ(node.counters().requests_expired, 2u);
  EXPECT_TRUE(node.reply(far(3), Array{"c"}, at_seconds(6)).ok()) << "room again";
}

TEST(Messaging, PeersListsDialUpToMaxOutgoing) {
  MemNet net;
  for (std::uint16_t i = 1; i <= 7; ++i) net.add(config_for(i));
  // Hub 0 knows everyone; newcomer 6 connects to the hub only.
  for (std::size_t i = 1; i <= 5; ++i) net.connect(i, 0);
  net.connect(6, 0);
  EXPECT_EQ(net.node(6).outgoing_count(), 4u);  // max_outgoing
  EXPECT_EQ(net.node(6).routing_table().size(), 4u);
}

TEST(Messaging, RequestPeersIsAnsweredForStrAndBinStar) {
  Node node(config_for(4000));
  const Time t = at_seconds(0);
  RawPeer p;
  ConnId c = node.on_incoming({"10.1.1.1", 1}, t);
  node.on_bytes(c, p.handshake(node.protocol().id(), t.utc), t);
  node.take_outbox();
  for (Value star : {Value("*"), Value::bin(as_bytes("*"))}) {
    node.on_bytes(c, p.frame(flags::whisper, {Value(flags::request), star}, t.utc), t);
    auto cmds = node.take_outbox();
    auto bodies = decode_frames(sent_on(cmds, c), {wire::Compression::snappy});
    ASSERT_EQ(bodies.size(), 1u);
    EXPECT_EQ(bodies[0].payload[0], Value(flags::peers));
  }
}

TEST(Messaging, RenegotiationChangesCompressionAndResendRepeatsTheLastMessageOnce) {
  Node node(config_for(4000));
  const Time t = at_seconds(0);
  RawPeer p;
  p.methods = {flags::zlib};
  ConnId c = node.on_incoming({"10.1.1.1", 1}, t);
  node.on_bytes(c, p.handshake(node.protocol().id(), t.utc), t);
  node.take_outbox();
  ASSERT_EQ(node.peer(p.id)->compression, wire::Compression::zlib);
  ASSERT_TRUE(node.send(Array{"last"}, flags::whisper, flags::whisper, t).ok());
  node.take_outbox();

  // py2p's reaction to a message it cannot handle: compression [] then resend.
  node.on_bytes(c, p.frame(flags::renegotiate, {Value(flags::compression), Value(Array{})}, t.utc),
                t);
  EXPECT_EQ(node.peer(p.id)->compression, std::nullopt);
  auto cmds = node.take_outbox();
  auto answer = decode_frames(sent_on(cmds, c));
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0].msg_type, flags::renegotiate);
  EXPECT_EQ(answer[0].payload, (Array{Value(flags::compression), Value(Array{})}));

  node.on_bytes(c, p.frame(flags::renegotiate, {Value(flags::resend)}, t.utc), t);
  auto resent = decode_frames(sent_on(cmds = node.take_outbox(), c));  // raw now
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].msg_type, flags::whisper);
  EXPECT_EQ(resent[0].payload, (Array{Value(flags::whisper), "last"}));
  node.on_bytes(c, p.frame(flags::renegotiate, {Value(flags::resend)}, t.utc), t);
  EXPECT_TRUE(sent_on(cmds = node.take_outbox(), c).empty());  // once only
}

TEST(Messaging, SelfHealingRedialsKnownPeersWithBackoff) {
  MemNet net;
  for (std::uint16_t i = 1; i <= 3; ++i) net.add(config_for(i));
  net.connect(0, 1);
  net.connect(2, 1);  // 2 learns 0 from 1's peers list and dials it
  ASSERT_NE(net.node(2).peer(net.node(0).id()), nullptr);
  // Cut 2's links; ticking heals them from the addresses it learned.
  for (auto& p : net.node(2).routing_table()) net.node(2).disconnect(p.conn, "test cut");
  net.pump();
  ASSERT_TRUE(net.node(2).routing_table().empty());
  for (int i = 0; i < 5 && net.node(2).routing_table().size() < 2; ++i) {
    net.advance(2);
    net.tick_all();
  }
  EXPECT_EQ(net.node(2).routing_table().size(), 2u);
  EXPECT_GE(net.node(2).counters().reconnect_dials, 2u);
}

}  // namespace
}  // namespace p2p::test

namespace p2p::test {
namespace {

TEST(Messaging, IdenticalBroadcastsInOneSecondAreDistinctMessages) {
  MemNet net;
  chain(net, 2);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        net.node(0).send(Array{"same"}, flags::broadcast, flags::broadcast, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(1).delivered.size(), 3u);
  EXPECT_EQ(net.entry(1).delivered[0].time, net.now().utc);
  EXPECT_EQ(net.entry(1).delivered[1].time, net.now().utc + 1);
  EXPECT_EQ(net.entry(1).delivered[2].time, net.now().utc + 2);
  EXPECT_EQ(net.node(1).counters().duplicates_dropped, 0u);
  // A later second starts again from the clock, skipping the seconds already used.
  net.advance(1);
  ASSERT_TRUE(net.node(0).send(Array{"same"}, flags::broadcast, flags::broadcast, net.now()).ok());
  net.pump();
  ASSERT_EQ(net.entry(1).delivered.size(), 4u);
  EXPECT_EQ(net.entry(1).delivered[3].time, net.now().utc + 2);
}

}  // namespace
}  // namespace p2p::test

namespace p2p::test {
namespace {

TEST(Messaging, FramesInFlightAcrossARenegotiationStillOpen) {
  Node node(config_for(4000));
  const Time t = at_seconds(0);
  RawPeer p;
  p.methods = {flags::snappy};
  ConnId c = node.on_incoming({"10.1.1.1", 1}, t);
  node.on_bytes(c, p.handshake(node.protocol().id(), t.utc), t);
  // py2p: compression [] (uncompressed), then a resend request still snappy-compressed.
  node.on_bytes(c, p.frame(flags::renegotiate, {Value(flags::compression), Value(Array{})}, t.utc),
                t);
  node.on_bytes(c,
                p.frame(flags::whisper, {Value(flags::whisper), Value("late")}, t.utc,
                        wire::Compression::snappy),
                t);
  auto cmds = node.take_outbox();
  EXPECT_TRUE(of_kind<core::CloseCmd>(cmds).empty());
  ASSERT_EQ(of_kind<core::DeliverCmd>(cmds).size(), 1u);
  EXPECT_EQ(node.counters().checksum_failures, 0u);
}

}  // namespace
}  // namespace p2p::test

namespace p2p::test {
namespace {

// The runtime republishes routing_table()/awaiting() only when tables_version() moves, so
// every change to those views must move it, including the ones no command announces.
TEST(Messaging, TablesVersionMovesWithEveryChangeToTheViewsAndOnlyThen) {
  Node node(config_for(4000));
  Time t = at_seconds(0);
  auto version = node.tables_version();
  const auto moved = [&] {
    const bool changed = node.tables_version() != version;
    version = node.tables_version();
    return changed;
  };
  RawPeer p;
  p.methods = {flags::zlib};
  ConnId c = node.on_incoming({"10.1.1.1", 1}, t);
  EXPECT_TRUE(moved()) << "a connection awaiting its handshake";
  node.on_bytes(c, p.handshake(node.protocol().id(), t.utc), t);
  EXPECT_TRUE(moved()) << "the handshake";
  ASSERT_EQ(node.peer(p.id)->compression, wire::Compression::zlib);
  node.take_outbox();

  node.on_bytes(c, p.frame(flags::whisper, {Value(flags::whisper), Value("hi")}, t.utc), t);
  ASSERT_TRUE(node.send(Array{"out"}, flags::broadcast, flags::broadcast, t).ok());
  t = at_seconds(0.5);
  node.tick(t);
  node.take_outbox();
  EXPECT_FALSE(moved()) << "messages and a quiet tick leave the tables alone";

  // A renegotiation changes the link's compression and emits nothing but a frame.
  node.on_bytes(c, p.frame(flags::renegotiate, {Value(flags::compression), Value(Array{})}, t.utc),
                t);
  auto cmds = node.take_outbox();
  EXPECT_TRUE(of_kind<core::CloseCmd>(cmds).empty());
  EXPECT_TRUE(of_kind<core::EventCmd>(cmds).empty());
  EXPECT_TRUE(moved()) << "a renegotiation";
  EXPECT_EQ(node.peer(p.id)->compression, std::nullopt);

  node.disconnect(c, "test");
  EXPECT_TRUE(moved()) << "a close asked for";
  node.on_closed(c, "test", t);
  EXPECT_TRUE(moved()) << "the connection gone";
  EXPECT_TRUE(node.routing_table().empty());

  auto dialled = node.connect({"10.1.1.2", 2}, std::nullopt, t);
  ASSERT_TRUE(dialled.ok());
  EXPECT_TRUE(moved()) << "a dial";
  EXPECT_EQ(node.awaiting().size(), 1u);
  node.on_dial_failed(*dialled, "refused", t);
  EXPECT_TRUE(moved()) << "a failed dial";
  EXPECT_TRUE(node.awaiting().empty());
}

}  // namespace
}  // namespace p2p::test
