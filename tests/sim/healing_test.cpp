// Self-healing across a partition: two islands that each refilled max_outgoing links on their
// own side must merge again once the partition heals (the recovery links of limits.hpp), and
// without recovery links they provably never do.
#include <gtest/gtest.h>

#include "sim_test_util.hpp"
#include "topology.hpp"

namespace p2p::sim {
namespace {

using testing::component_of;
using testing::has_peer;

constexpr Duration kPatience = 120s;  // virtual
constexpr std::size_t kNodes = 40;

/// Outgoing links with a completed handshake (dials in progress do not count).
std::size_t established_outgoing(const Simulator& sim, NodeIndex i) {
  std::size_t n = 0;
  for (const core::PeerInfo& p : sim.node(i).routing_table()) n += p.outgoing ? 1 : 0;
  return n;
}

bool any_link_between(const Simulator& sim, const std::vector<NodeIndex>& a,
                      const std::vector<NodeIndex>& b) {
  for (NodeIndex x : a) {
    for (NodeIndex y : b) {
      if (has_peer(sim, x, y) || has_peer(sim, y, x)) return true;
    }
  }
  return false;
}

struct Islands {
  std::vector<NodeIndex> left, right;
};

/// A connected random mesh of kNodes, cut in two halves; runs until both halves have refilled
/// every node's max_outgoing links on their own side. Returns the halves.
Islands build_islands(Simulator& sim, std::size_t recovery_links) {
  NetworkSpec spec = testing::shape(Topology::random_join, kNodes);
  spec.configure = [&](NodeIndex, core::NodeConfig& c) {
    c.limits.recovery_links = recovery_links;
  };
  build_network(sim, spec);
  EXPECT_TRUE(sim.run_until_quiet(kPatience));
  sim.run_for(30s);  // nodes short of max_outgoing dial known peers on tick
  EXPECT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(component_of(sim, 0).size(), kNodes);

  Islands is;
  for (NodeIndex i = 0; i < kNodes; ++i) (i < kNodes / 2 ? is.left : is.right).push_back(i);
  EXPECT_TRUE(any_link_between(sim, is.left, is.right)) << "a random mesh links the halves";
  sim.partition({is.left, is.right});
  sim.run_for(1ms);  // the cut links close now
  EXPECT_FALSE(any_link_between(sim, is.left, is.right));
  // Each side refills on its own: lost links are redialled, and dials across the cut fail.
  const std::size_t max_out = sim.node(0).config().max_outgoing;
  const bool refilled = sim.run_until(
      [&] {
        for (NodeIndex i = 0; i < kNodes; ++i) {
          if (established_outgoing(sim, i) < max_out) return false;
        }
        return true;
      },
      600s);
  EXPECT_TRUE(refilled) << "an island did not refill max_outgoing links";
  EXPECT_FALSE(any_link_between(sim, is.left, is.right));
  return is;
}

// The defect recovery links fix, kept as a control: once every node has max_outgoing links
// inside its island, nothing ever dials across, so healing the partition changes nothing.
TEST(Healing, WithoutRecoveryLinksIslandsStayApart) {
  Simulator sim;
  const Islands is = build_islands(sim, 0);
  sim.heal();
  sim.run_for(600s);
  EXPECT_FALSE(any_link_between(sim, is.left, is.right));
  EXPECT_LT(component_of(sim, 0).size(), kNodes);
}

// The scenario: islands refilled internally, partition healed, the network merges
// within a bounded virtual time and every broadcast reaches every node exactly once.
TEST(Healing, IslandsMergeAfterPartitionHeals) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimConfig config;
    config.seed = seed;
    config.link.jitter = 2ms;
    Simulator sim(config);
    const Islands is = build_islands(sim, 1);
    const core::Limits& lim = sim.node(0).config().limits;
    const std::size_t max_out = sim.node(0).config().max_outgoing;

    sim.heal();
    // Bound: a lost peer's next redial is at most one capped backoff with the top jitter
    // (1.5 x reconnect_backoff_max) away, plus one tick to notice and a round trip to connect.
    const auto bound = std::chrono::duration_cast<Duration>(lim.reconnect_backoff_max * 3 / 2) +
                       2 * sim.config().tick_interval;
    const Duration healed_at = sim.elapsed();
    bool merged = false;
    while (!merged && sim.elapsed() - healed_at <= bound) {
      sim.run_for(100ms);
      merged = component_of(sim, 0).size() == kNodes;
    }
    ASSERT_TRUE(merged) << "islands still apart " << (sim.elapsed() - healed_at).count() / 1e9
                        << " s after the heal";
    RecordProperty("merge_ms_seed" + std::to_string(seed),
                   std::to_string((sim.elapsed() - healed_at).count() / 1'000'000));
    ASSERT_TRUE(sim.run_until_quiet(kPatience));

    // Bounded links: recovery adds at most recovery_links outgoing links per node.
    for (NodeIndex i = 0; i < kNodes; ++i) {
      EXPECT_GE(established_outgoing(sim, i), max_out) << "node " << i;
      EXPECT_LE(sim.node(i).outgoing_count(), max_out + lim.recovery_links) << "node " << i;
    }

    std::vector<std::uint64_t> before(kNodes);
    for (NodeIndex i = 0; i < kNodes; ++i) before[i] = sim.delivered_count(i);
    const NodeIndex origins[] = {is.left.front(), is.right.back()};
    for (NodeIndex origin : origins) {
      auto b = sim.broadcast(origin, Array{Value("after the heal"), Value(origin)});
      ASSERT_TRUE(b) << b.error().to_string();
      ASSERT_TRUE(sim.run_until_quiet(kPatience));
      const BroadcastReport r = sim.report(*b);
      EXPECT_EQ(r.delivered, kNodes - 1) << "from node " << origin;
      EXPECT_EQ(r.delivered_more_than_once, 0u);
    }
    for (NodeIndex i = 0; i < kNodes; ++i) {
      const bool origin = i == origins[0] || i == origins[1];
      EXPECT_EQ(sim.delivered_count(i) - before[i], origin ? 1u : 2u) << "node " << i;
    }
    EXPECT_EQ(sim.anomalies().total(), 0u);
    EXPECT_EQ(sim.audit(), std::vector<std::string>{});
  }
}

// Recovery keeps the dial rate bounded: a node whose lost peers are gone for good redials
// each at most once per capped backoff, and never holds more than recovery_links extra dials.
TEST(Healing, RecoveryOfVanishedPeersIsRateLimited) {
  Simulator sim;
  build_network(sim, testing::shape(Topology::random_join, 12));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  sim.run_for(30s);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  // Node 0's outgoing peers vanish for good (isolated), the rest stay reachable.
  std::vector<std::vector<NodeIndex>> gone;
  for (const core::PeerInfo& p : sim.node(0).routing_table()) {
    if (p.outgoing) gone.push_back({*sim.index_of(p.id)});
  }
  ASSERT_FALSE(gone.empty());
  sim.partition(gone);
  sim.run_for(120s);  // refill and backoffs grow to the cap
  const std::uint64_t dials_before = sim.node(0).counters().reconnect_dials;
  const Duration window = 640s;
  sim.run_for(window);
  const std::uint64_t dials = sim.node(0).counters().reconnect_dials - dials_before;
  const core::Limits& lim = sim.node(0).config().limits;
  // Each vanished peer at most once per 0.5 x backoff cap (the lowest jitter), plus one.
  const std::uint64_t per_peer =
      static_cast<std::uint64_t>(window / (lim.reconnect_backoff_max / 2)) + 1;
  RecordProperty("reconnect_dials_in_window", std::to_string(dials));
  EXPECT_LE(dials, per_peer * gone.size());
  EXPECT_GE(dials, gone.size()) << "vanished peers must still be retried";
  EXPECT_LE(sim.node(0).outgoing_count(), sim.node(0).config().max_outgoing + lim.recovery_links);
  EXPECT_EQ(sim.anomalies().total(), 0u);
}

}  // namespace
}  // namespace p2p::sim
