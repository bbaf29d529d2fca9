// Many nodes in one process on a caller-supplied io_context: 32 nodes, one broadcast, each
// node receives it exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "mesh_test_util.hpp"
#include "net/asio.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

class SharedContext : public ::testing::TestWithParam<std::string> {};

TEST_P(SharedContext, ThirtyTwoNodesReceiveOneBroadcastExactlyOnce) {
  constexpr std::size_t n = 32;
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { ioc.run(); });

  {
    std::vector<std::unique_ptr<MeshSocket>> nodes;
    for (std::size_t i = 0; i < n; ++i) {
      MeshOptions o = loopback(GetParam());
      o.io_context = &ioc;
      nodes.push_back(std::make_unique<MeshSocket>(std::move(o)));
    }
    // A random tree (each node dials one earlier node); peers lists then add shortcuts, so
    // copies arrive over several paths and the de-duplication has work to do.
    std::mt19937 rng(12345);
    for (std::size_t i = 1; i < n; ++i) {
      const std::size_t parent = std::uniform_int_distribution<std::size_t>(0, i - 1)(rng);
      ASSERT_TRUE(nodes[i]->connect("127.0.0.1", nodes[parent]->port()));
    }
    // Settled: no dial or handshake pending anywhere, and node 0 reaches every node over
    // links that both ends list (a link one end still lacks would not carry the broadcast).
    auto settled = [&] {
      std::vector<std::map<std::string, Connection>> tables;
      std::map<std::string, std::size_t> index;
      for (std::size_t i = 0; i < n; ++i) {
        if (!nodes[i]->awaiting_ids().empty()) return false;
        tables.push_back(nodes[i]->routing_table());
        index[nodes[i]->id()] = i;
      }
      std::vector<bool> seen(n, false);
      std::vector<std::size_t> todo{0};
      seen[0] = true;
      while (!todo.empty()) {
        const std::size_t i = todo.back();
        todo.pop_back();
        for (const auto& [pid, conn] : tables[i]) {
          auto j = index.find(pid);
          if (j == index.end() || seen[j->second]) continue;
          if (!tables[j->second].count(nodes[i]->id())) continue;  // not both ways yet
          seen[j->second] = true;
          todo.push_back(j->second);
        }
      }
      return std::count(seen.begin(), seen.end(), true) == static_cast<long>(n);
    };
    ASSERT_TRUE(wait_until(settled)) << "the 32 nodes never formed one network";

    ASSERT_TRUE(nodes[0]->send({"to everyone"}));
    for (std::size_t i = 1; i < n; ++i) {
      ASSERT_TRUE(wait_until([&] { return nodes[i]->status().recv_queue >= 1; }))
          << "node " << i << " missed the broadcast\n"
          << nodes[i]->status().to_string();
    }
    // A second broadcast marks the end: once every node has it, any copy of the first that
    // was still travelling has had every chance to be delivered twice.
    ASSERT_TRUE(nodes[0]->send({"marker"}));
    std::uint64_t copies = 0, duplicates = 0;
    for (std::size_t i = 1; i < n; ++i) {
      std::vector<Message> got;
      ASSERT_TRUE(wait_until([&] {
        for (auto& m : nodes[i]->recv(8)) got.push_back(std::move(m));
        return got.size() >= 2 && got.back().packets()[1] == Value("marker");
      })) << "node "
          << i;
      ASSERT_EQ(got.size(), 2u) << "node " << i << " received a broadcast twice";
      EXPECT_EQ(got[0].packets(), (Array{flags::broadcast, "to everyone"}));
      EXPECT_EQ(got[0].sender(), nodes[0]->id());
      const auto st = nodes[i]->status();
      copies += st.counter("broadcast_copies_in");
      duplicates += st.counter("duplicates_dropped");
    }
    EXPECT_FALSE(nodes[0]->recv()) << "the sender does not receive its own broadcast";
    // Shortcuts made some copies redundant, and the seen cache dropped them.
    RecordProperty("broadcast_copies_in", std::to_string(copies));
    RecordProperty("duplicates_dropped", std::to_string(duplicates));
    EXPECT_GE(copies, 2 * (n - 1));
    for (auto& node : nodes) node->close();
  }
  work.reset();
  ioc.stop();
  for (auto& t : io_threads) t.join();
}

INSTANTIATE_TEST_SUITE_P(Mesh, SharedContext, ::testing::Values("Plaintext", "SSL"));

}  // namespace
}  // namespace p2p
