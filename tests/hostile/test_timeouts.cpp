// Slow peers that hold a connection without finishing anything: no handshake, a partial
// frame left hanging (slowloris), and a frame trickled a byte at a time. Each is closed
// once its timeout has passed, not before, and a well-behaved peer is served meanwhile.
#include <gtest/gtest.h>

#include "hostile_util.hpp"
#include "tls_client.hpp"

namespace p2p::hostile {
namespace {

using p2p::testing::link;
using Clock = std::chrono::steady_clock;

constexpr auto handshake_timeout = 700ms;
constexpr auto stall_timeout = 600ms;

MeshOptions timed_options(const std::string& encryption = "Plaintext") {
  MeshOptions o = node_options(encryption);
  o.limits.handshake_timeout = handshake_timeout;
  o.limits.stalled_frame_timeout = stall_timeout;
  return o;
}

TEST(HostileTimeouts, NoHandshakeIsClosedAfterHandshakeTimeout) {
  LogCapture log;
  MeshOptions o = timed_options();
  // Before a handshake both bounds apply to a partial frame and the first to pass closes
  // it: here the handshake bound.
  o.limits.stalled_frame_timeout = 10s;
  log.attach(o);
  MeshSocket node(o);
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  Forger f(node.protocol().id());
  const Bytes hs = f.handshake();
  const auto t0 = Clock::now();  // before connect: the node's clock starts at its accept
  RawConn silent(node.port());
  RawConn half(node.port());
  ASSERT_TRUE(half.send(ByteView(hs).first(hs.size() / 2)));
  EXPECT_TRUE(silent.wait_closed());
  EXPECT_TRUE(half.wait_closed());
  EXPECT_GE(Clock::now() - t0, handshake_timeout) << "closed before the timeout";
  ASSERT_TRUE(wait_until([&] { return node.status().counter("timeouts") == 2; }));
  EXPECT_EQ(node.status().counter("handshake_failures"), 2u);
  EXPECT_TRUE(log.contains("handshake timed out")) << log.dump();
  EXPECT_TRUE(exchanges(node, good));
}

TEST(HostileTimeouts, SlowlorisPartialFrameIsClosedAfterTheStallTimeout) {
  LogCapture log;
  MeshOptions o = timed_options();
  log.attach(o);
  MeshSocket node(o);
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  Forger f(node.protocol().id());
  RawConn raw(node.port());
  ASSERT_TRUE(raw.send(f.handshake()));
  ASSERT_TRUE(wait_until([&] { return node.routing_table().count(f.id) == 1; }));
  const Bytes frame = f.broadcast({Value(std::string(1000, 'x'))});
  const auto t0 = Clock::now();
  ASSERT_TRUE(raw.send(ByteView(frame).first(frame.size() / 2)));
  // Served while the partial frame hangs.
  EXPECT_TRUE(exchanges(node, good));
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_GE(Clock::now() - t0, stall_timeout) << "closed before the timeout";
  ASSERT_TRUE(wait_until([&] { return node.status().counter("timeouts") == 1; }));
  EXPECT_TRUE(log.contains("partial frame stalled")) << log.dump();
  EXPECT_EQ(node.routing_table().count(f.id), 0u);
  EXPECT_TRUE(exchanges(node, good));
}

TEST(HostileTimeouts, TrickledFrameIsClosedOnceItTakesLongerThanTheStallTimeout) {
  // A slowloris that sends one byte every 100 ms never lets a partial frame sit idle for the
  // timeout. The bound is on the frame's total time, so the link still goes.
  LogCapture log;
  MeshOptions o = timed_options();
  log.attach(o);
  MeshSocket node(o);
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  Forger f(node.protocol().id());
  RawConn raw(node.port());
  ASSERT_TRUE(raw.send(f.handshake()));
  ASSERT_TRUE(wait_until([&] { return node.routing_table().count(f.id) == 1; }));
  const Bytes frame = f.broadcast({Value(std::string(1000, 'x'))});
  const auto t0 = Clock::now();
  bool closed = false;
  for (std::size_t i = 0; i < frame.size() && Clock::now() - t0 < 5s; ++i) {
    if (!raw.send(ByteView(frame).subspan(i, 1))) {
      closed = true;
      break;
    }
    // The attacker's pace: 100 ms between bytes, cut short if the node closes.
    if (raw.wait_closed(100ms)) {
      closed = true;
      break;
    }
  }
  const auto elapsed = Clock::now() - t0;
  EXPECT_TRUE(closed) << "the trickle held the link for 5 s";
  EXPECT_GE(elapsed, stall_timeout) << "closed before the timeout";
  EXPECT_TRUE(wait_until([&] { return node.status().counter("timeouts") == 1; }));
  EXPECT_TRUE(log.contains("partial frame stalled")) << log.dump();
  EXPECT_TRUE(exchanges(node, good));
}

TEST(HostileTimeouts, TlsPeersThatNeverHandshake) {
  MeshOptions o = timed_options("SSL");
  MeshSocket node(o);
  MeshSocket good(node_options("SSL"));
  ASSERT_TRUE(link(good, node));
  const auto t0 = Clock::now();
  // One that never starts TLS, one that finishes TLS and then says nothing.
  RawConn no_tls(node.port());
  TlsClient tls(node.port(), /*handshake=*/true);
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(no_tls.wait_closed());
  EXPECT_TRUE(tls.wait_closed());
  EXPECT_GE(Clock::now() - t0, handshake_timeout);
  ASSERT_TRUE(wait_until([&] { return node.status().counter("timeouts") == 2; }))
      << node.status().to_string();
  EXPECT_TRUE(exchanges(node, good));
}

}  // namespace
}  // namespace p2p::hostile
