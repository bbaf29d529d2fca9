// Whole-network properties: exactly-once delivery at scale, the wire-copy bound,
// determinism, partitions and healing.
#include <gtest/gtest.h>

#include <set>

#include "sim_test_util.hpp"
#include "topology.hpp"

namespace p2p::sim {
namespace {

using testing::bin_packet;
using testing::component_of;
using testing::has_peer;

constexpr Duration kPatience = 120s;  // virtual

// The acceptance test of the issue: 1,000 nodes joined at random, several broadcasts from
// different nodes; every node gets each exactly once at the user level, and the relay rule
// (skip the originator and the previous hop) keeps the copies within 2 x edges.
TEST(Network, ThousandNodeRandomJoinDeliversExactlyOnce) {
  constexpr std::size_t kNodes = 1000;
  SimConfig config;
  config.seed = 7;
  config.record = false;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::random_join, kNodes));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  // Nodes short of max_outgoing keep dialling known peers on tick for a few seconds.
  sim.run_for(20s);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  const std::size_t edges = sim.edges();
  ASSERT_GE(edges, kNodes - 1);
  ASSERT_EQ(component_of(sim, 0).size(), kNodes) << "the mesh must be connected";

  const std::vector<NodeIndex> origins = {0, 1, 499, 998, 999};
  std::vector<std::size_t> ids;
  for (std::size_t k = 0; k < origins.size(); ++k) {
    auto b = sim.broadcast(origins[k], Array{Value("flood"), Value(k)});
    ASSERT_TRUE(b) << b.error().to_string();
    ids.push_back(*b);
    sim.run_for(100ms);  // overlapping floods
  }
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(sim.edges(), edges) << "a flood must not change the topology";

  for (std::size_t k = 0; k < ids.size(); ++k) {
    const BroadcastReport r = sim.report(ids[k]);
    SCOPED_TRACE("broadcast from node " + std::to_string(origins[k]));
    EXPECT_EQ(r.origin, origins[k]);
    EXPECT_EQ(r.reached, kNodes - 1);
    EXPECT_EQ(r.delivered, kNodes - 1);
    EXPECT_EQ(r.delivered_more_than_once, 0u);
    EXPECT_TRUE(r.time_to_all.has_value());
    EXPECT_LE(r.copies, 2 * edges);
    // Every edge is crossed at least once in some direction, except where both ends already
    // had it: at least a spanning tree's worth of copies.
    EXPECT_GE(r.copies, kNodes - 1);
  }
  for (NodeIndex i = 0; i < kNodes; ++i) {
    const std::size_t own = static_cast<std::size_t>(std::count(origins.begin(), origins.end(), i));
    ASSERT_EQ(sim.delivered_count(i), origins.size() - own) << "node " << i;
  }
  EXPECT_EQ(sim.anomalies().total(), 0u);
  EXPECT_EQ(sim.unreadable_frames(), 0u);
  EXPECT_EQ(sim.audit(), std::vector<std::string>{});
}

struct RunSummary {
  std::uint64_t trace = 0;
  std::vector<std::string> ids;
  std::uint64_t copies = 0;
  std::size_t edges = 0;
};

// A busy, lossy, jittery, chunking network: everything the seed drives.
RunSummary run_scenario(std::uint64_t seed) {
  SimConfig config;
  config.seed = seed;
  config.link.jitter = 3ms;
  config.link.loss = 0.05;
  config.link.split_probability = 0.3;
  config.link.bandwidth_bytes_per_s = 1'000'000;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::random_join, 60));
  EXPECT_TRUE(sim.run_until_quiet(kPatience));
  for (int k = 0; k < 4; ++k) {
    EXPECT_TRUE(sim.broadcast(static_cast<NodeIndex>(k * 13), Array{Value(k)}));
    sim.run_for(50ms);
  }
  EXPECT_TRUE(sim.run_until_quiet(kPatience));
  RunSummary s;
  s.trace = sim.trace_hash();
  s.edges = sim.edges();
  for (const BroadcastReport& r : sim.reports()) {
    s.ids.push_back(r.id_hex);
    s.copies += r.copies;
  }
  return s;
}

TEST(Network, SameSeedSameTrace) {
  const RunSummary a = run_scenario(42);
  const RunSummary b = run_scenario(42);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.copies, b.copies);
  EXPECT_EQ(a.edges, b.edges);
  const RunSummary c = run_scenario(43);
  EXPECT_NE(a.trace, c.trace) << "the seed must matter";
  EXPECT_NE(a.ids, c.ids) << "node ids derive from the seed, so message ids do too";
}

// Cut a mesh in two: the cut links close on both sides, no broadcast crosses, dials across
// fail. Heal and reconnect: one network again, every broadcast everywhere exactly once.
TEST(Network, PartitionAndHeal) {
  constexpr std::size_t kNodes = 40;
  Simulator sim;
  build_network(sim, testing::shape(Topology::random_join, kNodes));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(component_of(sim, 0).size(), kNodes);

  std::vector<NodeIndex> left, right;
  for (NodeIndex i = 0; i < kNodes; ++i) (i < kNodes / 2 ? left : right).push_back(i);
  bool crossed = false;
  for (NodeIndex a : left) {
    for (NodeIndex b : right) crossed = crossed || has_peer(sim, a, b);
  }
  ASSERT_TRUE(crossed) << "a random mesh should have links across the halves";

  sim.partition({left, right});
  sim.run_for(30s);  // let self-healing dial (and fail across the cut) for a while
  for (NodeIndex a : left) {
    for (NodeIndex b : right) {
      ASSERT_FALSE(has_peer(sim, a, b)) << a << " still lists " << b;
      ASSERT_FALSE(has_peer(sim, b, a)) << b << " still lists " << a;
    }
  }
  EXPECT_GT(sim.stats().links_cut, 0u);

  // A dial across the cut fails.
  auto dial = sim.connect(0, kNodes - 1);
  ASSERT_TRUE(dial) << dial.error().to_string();
  sim.run_for(2 * sim.config().dial_timeout);
  EXPECT_TRUE(testing::raised(sim, 0, core::EventKind::dial_failed, *dial));
  EXPECT_FALSE(has_peer(sim, 0, kNodes - 1));

  auto during = sim.broadcast(0, bin_packet("left only"));
  ASSERT_TRUE(during);
  sim.run_for(10s);
  const std::vector<NodeIndex> reach = component_of(sim, 0);
  for (NodeIndex b : right) EXPECT_EQ(sim.delivered_count(b), 0u) << "node " << b;
  for (NodeIndex a : reach) {
    if (a != 0) {
      EXPECT_EQ(sim.delivered_count(a), 1u) << "node " << a;
    }
  }
  EXPECT_EQ(sim.report(*during).delivered, reach.size() - 1);

  sim.heal();
  EXPECT_TRUE(sim.reachable(0, kNodes - 1));
  // Healing only allows new connections: join every component to node 0's.
  for (NodeIndex i = 0; i < kNodes; ++i) {
    const auto comp = component_of(sim, 0);
    if (!std::binary_search(comp.begin(), comp.end(), i)) {
      ASSERT_TRUE(sim.connect(i, 0));
      ASSERT_TRUE(sim.run_until_quiet(kPatience));
    }
  }
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(component_of(sim, 0).size(), kNodes);

  std::vector<std::uint64_t> before(kNodes);
  for (NodeIndex i = 0; i < kNodes; ++i) before[i] = sim.delivered_count(i);
  auto after = sim.broadcast(kNodes - 1, bin_packet("everyone"));
  ASSERT_TRUE(after);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  const BroadcastReport r = sim.report(*after);
  EXPECT_EQ(r.delivered, kNodes - 1);
  EXPECT_EQ(r.delivered_more_than_once, 0u);
  for (NodeIndex i = 0; i + 1 < kNodes; ++i) EXPECT_EQ(sim.delivered_count(i), before[i] + 1);
  EXPECT_EQ(sim.anomalies().total(), 0u);
  EXPECT_EQ(sim.audit(), std::vector<std::string>{});
}

// cut()/restore() of one pair: both sides see the close; a dial during the cut fails after
// the dial timeout; after restore() the pair connects again.
TEST(Network, CutAndRestoreOneLink) {
  Simulator sim;
  build_network(sim, testing::shape(Topology::chain, 2));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_TRUE(has_peer(sim, 0, 1) && has_peer(sim, 1, 0));

  sim.cut(0, 1);
  sim.run_for(1ms);
  EXPECT_TRUE(sim.node(0).routing_table().empty());
  EXPECT_TRUE(sim.node(1).routing_table().empty());
  EXPECT_EQ(sim.node(0).connection_count(), 0u);
  EXPECT_EQ(sim.node(1).connection_count(), 0u);

  auto dial = sim.connect(1, 0);
  ASSERT_TRUE(dial);
  const Duration dialed = sim.elapsed();
  ASSERT_TRUE(sim.run_until(
      [&] { return testing::raised(sim, 1, core::EventKind::dial_failed, *dial); }, 10s));
  EXPECT_EQ(sim.elapsed() - dialed, sim.config().dial_timeout);

  sim.restore(0, 1);
  ASSERT_TRUE(sim.connect(1, 0));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_TRUE(has_peer(sim, 0, 1));
  EXPECT_TRUE(has_peer(sim, 1, 0));
  EXPECT_EQ(sim.anomalies().total(), 0u);
}

// Two nodes dial each other at the same instant: both must keep the same one connection.
// Jitter varies which handshake lands first.
TEST(Network, MutualDialKeepsOneConnection) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimConfig config;
    config.seed = seed;
    config.link.jitter = Duration(static_cast<Duration::rep>(seed % 5) * 1'000'000);
    Simulator sim(config);
    const NodeIndex a = sim.add_node();
    const NodeIndex b = sim.add_node();
    ASSERT_TRUE(sim.connect(a, b));
    ASSERT_TRUE(sim.connect(b, a));
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    sim.run_for(10s);  // ticks: nothing may reopen or drop the link
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.node(a).routing_table().size(), 1u);
    EXPECT_EQ(sim.node(b).routing_table().size(), 1u);
    EXPECT_EQ(sim.node(a).connection_count(), 1u);
    EXPECT_EQ(sim.node(b).connection_count(), 1u);
    EXPECT_GE(
        sim.node(a).counters().duplicate_connections + sim.node(b).counters().duplicate_connections,
        1u);
    EXPECT_EQ(sim.audit(), std::vector<std::string>{});
    auto msg = sim.broadcast(a, Array{Value("once")});
    ASSERT_TRUE(msg);
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.delivered_count(b), 1u);
    EXPECT_EQ(sim.anomalies().total(), 0u);
  }
}

// Nodes drop off (isolated by a partition) and come back, again and again: every broadcast
// reaches exactly the live component once, and afterwards self-healing has restored a
// connected mesh whose routing tables agree with the links.
TEST(Network, ChurnKeepsDeliveryExactAndTablesConsistent) {
  constexpr std::size_t kNodes = 60;
  SimConfig config;
  config.seed = 11;
  config.link.jitter = 2ms;
  config.link.split_probability = 0.2;
  Simulator sim(config);
  build_network(sim, testing::shape(Topology::random_join, kNodes));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  Rng rng(11);
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::vector<NodeIndex>> isolated;
    for (int k = 0; k < 5; ++k)
      isolated.push_back({static_cast<NodeIndex>(1 + rng.below(kNodes - 1))});
    sim.partition(isolated);
    sim.run_for(Duration(static_cast<Duration::rep>(rng.below(3'000'000'000))));
    const std::vector<NodeIndex> reach = component_of(sim, 0);
    std::vector<std::uint64_t> before(kNodes);
    for (NodeIndex i = 0; i < kNodes; ++i) before[i] = sim.delivered_count(i);
    auto b = sim.broadcast(0, Array{Value(round)});
    ASSERT_TRUE(b);
    sim.run_for(2s);
    for (NodeIndex i = 1; i < kNodes; ++i) {
      const bool member = std::binary_search(reach.begin(), reach.end(), i);
      EXPECT_EQ(sim.delivered_count(i) - before[i], member ? 1u : 0u) << "node " << i;
    }
    sim.heal();
    sim.run_for(Duration(static_cast<Duration::rep>(rng.below(20'000'000'000))));
  }
  sim.run_for(120s);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(component_of(sim, 0).size(), kNodes);
  EXPECT_EQ(sim.audit(), std::vector<std::string>{});
  EXPECT_EQ(sim.anomalies().total(), 0u);
}

// Nodes advertising different compression lists (none, one, several, exotic only): a relay
// re-encodes for each next link, and nothing is lost, duplicated or refused.
TEST(Network, MixedCompressionListsInterwork) {
  using C = wire::Compression;
  SimConfig config;
  config.link.split_probability = 0.3;
  Simulator sim(config);
  NetworkSpec spec = testing::shape(Topology::random_join, 60);
  spec.configure = [](NodeIndex i, core::NodeConfig& c) {
    switch (i % 5) {
      case 0:
        c.compression = {};
        break;
      case 1:
        c.compression = {C::zlib};
        break;
      case 2:
        c.compression = {C::gzip, C::zlib};
        break;
      case 3:
        c.compression = {C::lzma, C::bz2};
        break;
      default:
        break;  // all five, snappy first
    }
  };
  build_network(sim, spec);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  for (NodeIndex origin : {0u, 1u, 2u, 3u, 4u}) {
    auto b = sim.broadcast(origin, Array{Value(origin), Value(Bytes(300, 7))});
    ASSERT_TRUE(b);
    ASSERT_TRUE(sim.run_until_quiet(kPatience));
    EXPECT_EQ(sim.report(*b).delivered, 59u) << "from node " << origin;
    EXPECT_EQ(sim.report(*b).delivered_more_than_once, 0u);
  }
  for (NodeIndex i = 0; i < sim.size(); ++i) {
    EXPECT_EQ(sim.node(i).counters().protocol_errors, 0u) << "node " << i;
    EXPECT_EQ(sim.node(i).counters().checksum_failures, 0u) << "node " << i;
  }
  EXPECT_EQ(sim.unreadable_frames(), 0u);
  EXPECT_EQ(sim.audit(), std::vector<std::string>{});
}

}  // namespace
}  // namespace p2p::sim
