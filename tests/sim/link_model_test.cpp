// The simulator's link model: latency, bandwidth, jitter (FIFO kept), loss as retransmission
// delay, chunked delivery, refused dials, closes.
#include <gtest/gtest.h>

#include <set>

#include "sim_test_util.hpp"
#include "topology.hpp"

namespace p2p::sim {
namespace {

using testing::bin_packet;
using testing::has_peer;

constexpr Duration kPatience = 120s;  // virtual

TEST(LinkModel, BandwidthAddsSerializationDelay) {
  SimConfig config;
  config.link.latency = 5ms;
  config.link.bandwidth_bytes_per_s = 10'000;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::chain, 2));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  const std::uint64_t bytes_before = sim.stats().bytes_sent;
  Rng rng(99);  // incompressible payload: the frame size must not depend on the codec
  Bytes noise(500);
  for (auto& byte : noise) byte = static_cast<std::uint8_t>(rng.next());
  auto b = sim.broadcast(0, Array{Value(noise)});
  ASSERT_TRUE(b);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  const std::uint64_t frame = sim.stats().bytes_sent - bytes_before;  // the one copy 0 -> 1
  ASSERT_GT(frame, 500u);
  const BroadcastReport r = sim.report(*b);
  ASSERT_EQ(r.copies, 1u);
  const Duration expected =
      5ms + Duration(static_cast<std::int64_t>(static_cast<double>(frame) * 1e9 / 10'000));
  EXPECT_EQ(r.time_to_all, expected);
}

TEST(LinkModel, JitterNeverReordersALink) {
  SimConfig config;
  config.link.latency = 2ms;
  config.link.jitter = 50ms;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::chain, 2));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  for (int k = 0; k < 50; ++k) {
    ASSERT_TRUE(sim.whisper(0, Array{Value(k)}).ok());
    sim.run_for(1ms);
  }
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(sim.inbox(1).size(), 50u);
  for (int k = 0; k < 50; ++k) {
    EXPECT_EQ(sim.inbox(1)[static_cast<std::size_t>(k)].packets.at(1), Value(k));
  }
}

// On one idle link, a broadcast arrives after latency + rto * (2^k - 1) for k losses.
TEST(LinkModel, LossBecomesRetransmissionDelay) {
  SimConfig config;
  config.link.latency = 5ms;
  config.link.loss = 0.5;
  config.seed = 3;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::chain, 2));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  const Duration rto = std::max(config.link.min_rto, 4 * config.link.latency);
  std::set<int> losses_seen;
  for (int k = 0; k < 20; ++k) {
    const std::uint64_t retransmissions = sim.stats().retransmissions;
    auto b = sim.broadcast(0, Array{Value(k)});
    ASSERT_TRUE(b);
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    const auto losses = static_cast<int>(sim.stats().retransmissions - retransmissions);
    losses_seen.insert(losses);
    EXPECT_EQ(sim.report(*b).time_to_all, 5ms + rto * ((1 << losses) - 1)) << "k=" << k;
    EXPECT_EQ(sim.report(*b).delivered, 1u);
  }
  EXPECT_GE(losses_seen.size(), 3u) << "a fair coin should give 0, 1 and 2 losses in 20 tries";
  EXPECT_EQ(sim.delivered_count(1), 20u);
}

// A lossy mesh still delivers every broadcast exactly once: TCP retransmits.
TEST(LinkModel, LossNeverDropsOrDuplicates) {
  SimConfig config;
  config.link.loss = 0.1;
  config.seed = 5;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::random_join, 20));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  for (int k = 0; k < 5; ++k) {
    auto b = sim.broadcast(static_cast<NodeIndex>(k), Array{Value(k)});
    ASSERT_TRUE(b);
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.report(*b).delivered, 19u);
    EXPECT_EQ(sim.report(*b).delivered_more_than_once, 0u);
  }
  EXPECT_GT(sim.stats().retransmissions, 0u);
  EXPECT_EQ(sim.anomalies().total(), 0u);
}

TEST(LinkModel, ChunkedDeliveryExercisesTheFrameReader) {
  SimConfig config;
  config.link.split_probability = 1.0;
  config.link.max_chunks = 16;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::random_join, 30));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_GE(sim.edges(), 29u);
  for (int k = 0; k < 3; ++k) {
    auto b = sim.broadcast(static_cast<NodeIndex>(k * 10), bin_packet(std::string(300, 'c')));
    ASSERT_TRUE(b);
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.report(*b).delivered, 29u);
    EXPECT_EQ(sim.report(*b).delivered_more_than_once, 0u);
  }
  std::uint64_t errors = 0;
  for (NodeIndex i = 0; i < sim.size(); ++i) errors += sim.node(i).counters().protocol_errors;
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(sim.anomalies().total(), 0u);
}

TEST(LinkModel, DialToUnknownAddressIsRefusedAfterOneRoundTrip) {
  Simulator sim;
  const NodeIndex a = sim.add_node();
  std::optional<core::ConnId> conn;
  sim.act(a, [&](core::Node& n, core::Time now) {
    auto r = n.connect(core::Address{"10.99.99.99", 1}, std::nullopt, now);
    ASSERT_TRUE(r);
    conn = *r;
  });
  ASSERT_TRUE(conn);
  const Duration start = sim.elapsed();
  ASSERT_TRUE(sim.run_until(
      [&] { return testing::raised(sim, a, core::EventKind::dial_failed, *conn); }, 10s));
  EXPECT_EQ(sim.elapsed() - start, 2 * sim.config().link.latency);
  EXPECT_EQ(sim.stats().dials_refused, 1u);
  EXPECT_EQ(sim.node(a).connection_count(), 0u);
}

TEST(LinkModel, DisconnectClosesBothSides) {
  Simulator sim;
  build_network(sim, testing::shape(Topology::chain, 2));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_TRUE(has_peer(sim, 1, 0));
  const core::PeerInfo* peer = sim.node(1).peer(sim.node(0).id());
  ASSERT_NE(peer, nullptr);
  const core::ConnId conn = peer->conn;
  sim.act(1, [&](core::Node& n, core::Time) { n.disconnect(conn, "test"); });
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_FALSE(has_peer(sim, 1, 0));
  EXPECT_FALSE(has_peer(sim, 0, 1));
  EXPECT_EQ(sim.node(0).connection_count(), 0u);
  EXPECT_EQ(sim.node(1).connection_count(), 0u);
  EXPECT_EQ(sim.anomalies().total(), 0u);
}

TEST(LinkModel, TopologiesHaveTheirShape) {
  struct Case {
    Topology t;
    std::size_t n, edges;
  };
  for (const Case c : {Case{Topology::chain, 8, 7}, Case{Topology::ring, 8, 8},
                       Case{Topology::star, 8, 7}, Case{Topology::complete, 8, 28}}) {
    SCOPED_TRACE(std::string(topology_name(c.t)));
    Simulator sim;
    build_network(sim, testing::shape(c.t, c.n));
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.edges(), c.edges);
    auto b = sim.broadcast(3, Array{Value("shape")});
    ASSERT_TRUE(b);
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.report(*b).delivered, c.n - 1);
    EXPECT_EQ(sim.report(*b).delivered_more_than_once, 0u);
    EXPECT_EQ(sim.anomalies().total(), 0u);
    EXPECT_EQ(sim.audit(), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace p2p::sim
