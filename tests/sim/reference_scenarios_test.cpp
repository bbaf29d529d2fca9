// The scenarios of py2p's test_mesh.py (propagation, protocol rejection, handler registry,
// reply), ported to the simulator, plus the indirect reply both references fail at.
#include <gtest/gtest.h>

#include "sim_test_util.hpp"
#include "topology.hpp"

namespace p2p::sim {
namespace {

using testing::bin_packet;
using testing::count_inbox;
using testing::has_peer;

constexpr Duration kPatience = 60s;  // virtual; every wait here ends far sooner

core::NodeConfig with_protocol(Protocol p) {
  core::NodeConfig c;
  c.protocol = std::move(p);
  return c;
}

/// packets as the receiver sees them: [sub_flag, payload...].
Array received(std::uint8_t sub_flag, const Array& payload) {
  Array a{Value(sub_flag)};
  a.insert(a.end(), payload.begin(), payload.end());
  return a;
}

void expect_no_anomalies(const Simulator& sim) {
  EXPECT_EQ(sim.anomalies().total(), 0u);
  EXPECT_EQ(sim.unreadable_frames(), 0u);
}

// test_propagation: node k dials node k+1, node 0 broadcasts, everyone else receives it.
TEST(ReferenceScenarios, PropagationOverThreeNodes) {
  Simulator sim;
  for (int i = 0; i < 3; ++i) sim.add_node(with_protocol(Protocol("", "Plaintext")));
  for (NodeIndex i = 1; i < 3; ++i) {
    ASSERT_TRUE(sim.connect(i - 1, i));
    sim.run_for(500ms);
  }
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  auto b = sim.broadcast(0, bin_packet("hello"));
  ASSERT_TRUE(b) << b.error().to_string();
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  for (NodeIndex i = 1; i < 3; ++i) {
    ASSERT_EQ(sim.inbox(i).size(), 1u) << "node " << i;
    const core::Message& m = sim.inbox(i).front();
    EXPECT_EQ(m.packets.at(1), Value::bin(as_bytes("hello")));
    EXPECT_EQ(m.packets, received(flags::broadcast, bin_packet("hello")));
    EXPECT_EQ(m.msg_type, flags::broadcast);
    EXPECT_EQ(m.sender, sim.node(0).id());
  }
  EXPECT_TRUE(sim.inbox(0).empty()) << "a node does not receive its own broadcast";
  // Delivered on the first copy: at the wire's first arrival, within two hops of latency.
  const BroadcastReport r0 = sim.report(*b);
  ASSERT_TRUE(r0.time_to_all);
  EXPECT_EQ(std::max(sim.inbox_times(1).front(), sim.inbox_times(2).front()) - r0.start,
            *r0.time_to_all);
  EXPECT_LE(*r0.time_to_all, 2 * sim.config().link.latency);
  const BroadcastReport r = sim.report(*b);
  EXPECT_EQ(r.reached, 2u);
  EXPECT_EQ(r.delivered, 2u);
  EXPECT_EQ(r.delivered_more_than_once, 0u);
  expect_no_anomalies(sim);
}

// The same over a strict line 0 - 1 - 2: node 2 can only hear node 0 through node 1's relay.
TEST(ReferenceScenarios, PropagationRelaysThroughTheMiddleNode) {
  Simulator sim;
  build_network(sim, testing::shape(Topology::chain, 3));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_FALSE(has_peer(sim, 0, 2));
  ASSERT_FALSE(has_peer(sim, 2, 0));
  ASSERT_TRUE(has_peer(sim, 1, 0) && has_peer(sim, 1, 2));

  auto b = sim.broadcast(0, bin_packet("hello"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(count_inbox(sim, 1, received(flags::broadcast, bin_packet("hello"))), 1u);
  EXPECT_EQ(count_inbox(sim, 2, received(flags::broadcast, bin_packet("hello"))), 1u);
  const BroadcastReport r = sim.report(*b);
  // 0 -> 1, 1 -> 2; node 1 skips both the originator and the link it came from.
  EXPECT_EQ(r.copies, 2u);
  EXPECT_EQ(r.time_to_all, 2 * sim.config().link.latency);
  expect_no_anomalies(sim);
}

// test_protocol_rejection: nodes of different subnets never join each other's tables.
TEST(ReferenceScenarios, ProtocolRejection) {
  Simulator sim;
  const NodeIndex f = sim.add_node(with_protocol(Protocol("test", "Plaintext")));
  const NodeIndex g = sim.add_node(with_protocol(Protocol("test2", "Plaintext")));
  ASSERT_TRUE(sim.connect(g, f));
  sim.run_for(1s);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  EXPECT_TRUE(sim.node(f).routing_table().empty());
  EXPECT_TRUE(sim.node(f).awaiting().empty());
  EXPECT_TRUE(sim.node(g).routing_table().empty());
  EXPECT_TRUE(sim.node(g).awaiting().empty());
  EXPECT_GE(sim.node(f).counters().wrong_protocol + sim.node(g).counters().wrong_protocol, 1u);
  EXPECT_EQ(sim.node(f).connection_count(), 0u);
  EXPECT_EQ(sim.node(g).connection_count(), 0u);
  EXPECT_FALSE(sim.broadcast(g, bin_packet("anyone?")));
  expect_no_anomalies(sim);
}

// A node of another subnet that dials into a working mesh stays outside it.
TEST(ReferenceScenarios, ForeignSubnetNodeNeverJoinsAMesh) {
  Simulator sim;
  build_network(sim, testing::shape(Topology::random_join, 12));
  const NodeIndex odd = sim.add_node(with_protocol(Protocol("other", "Plaintext")));
  ASSERT_TRUE(sim.connect(odd, 0));
  ASSERT_TRUE(sim.connect(odd, 7));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  EXPECT_TRUE(sim.node(odd).routing_table().empty());
  for (NodeIndex i = 0; i < 12; ++i) EXPECT_FALSE(has_peer(sim, i, odd)) << "node " << i;

  auto b = sim.broadcast(0, bin_packet("members only"));
  ASSERT_TRUE(b);
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  const BroadcastReport r = sim.report(*b);
  EXPECT_EQ(r.delivered, 11u);
  EXPECT_EQ(r.delivered_more_than_once, 0u);
  EXPECT_TRUE(sim.inbox(odd).empty());
  expect_no_anomalies(sim);
}

// test_handler_registry (register_1): a handler answers `test` on the link it came from and
// returns true, so the message never reaches f's receive queue.
TEST(ReferenceScenarios, HandlerRegistryStopsDelivery) {
  Simulator sim;
  const NodeIndex f = sim.add_node();
  const NodeIndex g = sim.add_node();
  int answered = 0;
  sim.node(f).register_handler([&](const core::Message& m, const core::LinkView& link) {
    if (m.packets.size() > 1 && m.packets[1] == Value::bin(as_bytes("test"))) {
      const Status s = sim.node(f).send_to(link.conn, bin_packet("success"), flags::whisper,
                                           flags::whisper, sim.now());
      EXPECT_TRUE(s.ok());
      ++answered;
      return true;
    }
    return false;
  });
  ASSERT_TRUE(sim.connect(g, f));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  ASSERT_TRUE(sim.broadcast(g, bin_packet("test")));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(answered, 1);
  EXPECT_TRUE(sim.inbox(f).empty());
  ASSERT_EQ(sim.inbox(g).size(), 1u);
  EXPECT_EQ(sim.inbox(g).front().packets, received(flags::whisper, bin_packet("success")));
  EXPECT_EQ(sim.inbox(g).front().msg_type, flags::whisper);
  EXPECT_EQ(sim.inbox(g).front().sender, sim.node(f).id());
  EXPECT_EQ(sim.node(f).counters().messages_handled, 1u);

  ASSERT_TRUE(sim.broadcast(g, Array{Value("not test")}));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(answered, 1);
  ASSERT_EQ(sim.inbox(f).size(), 1u);
  EXPECT_EQ(sim.inbox(f).front().packets, received(flags::broadcast, Array{Value("not test")}));
  EXPECT_EQ(sim.inbox(g).size(), 1u);
  expect_no_anomalies(sim);
}

// Handlers run in registration order and the first that returns true ends the chain.
TEST(ReferenceScenarios, HandlerChainRunsInOrderUntilOneTakesTheMessage) {
  Simulator sim;
  const NodeIndex f = sim.add_node();
  const NodeIndex g = sim.add_node();
  std::vector<char> calls;
  sim.node(f).register_handler([&](const core::Message&, const core::LinkView&) {
    calls.push_back('a');
    return false;
  });
  sim.node(f).register_handler([&](const core::Message& m, const core::LinkView&) {
    calls.push_back('b');
    return m.packets.size() > 1 && m.packets[1] == Value("take");
  });
  sim.node(f).register_handler([&](const core::Message&, const core::LinkView&) {
    calls.push_back('c');
    return false;
  });
  ASSERT_TRUE(sim.connect(g, f));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  ASSERT_TRUE(sim.broadcast(g, Array{Value("take")}));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(calls, (std::vector<char>{'a', 'b'}));
  EXPECT_TRUE(sim.inbox(f).empty());

  ASSERT_TRUE(sim.broadcast(g, Array{Value("leave")}));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(calls, (std::vector<char>{'a', 'b', 'a', 'b', 'c'}));
  EXPECT_EQ(sim.inbox(f).size(), 1u);
  expect_no_anomalies(sim);
}

// test_reply (register_2): the handler replies with Message::reply to a direct neighbour.
TEST(ReferenceScenarios, ReplyFromHandlerToNeighbour) {
  Simulator sim;
  const NodeIndex f = sim.add_node();
  const NodeIndex g = sim.add_node();
  sim.node(f).register_handler([&](const core::Message& m, const core::LinkView&) {
    if (m.packets.size() > 1 && m.packets[1] == Value::bin(as_bytes("test"))) {
      EXPECT_TRUE(sim.node(f).reply(m, bin_packet("success"), sim.now()).ok());
      return true;
    }
    return false;
  });
  ASSERT_TRUE(sim.connect(g, f));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  ASSERT_TRUE(sim.broadcast(g, bin_packet("test")));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_TRUE(sim.inbox(f).empty());
  ASSERT_EQ(sim.inbox(g).size(), 1u);
  EXPECT_EQ(sim.inbox(g).front().packets, received(flags::whisper, bin_packet("success")));
  EXPECT_EQ(sim.inbox(g).front().sender, sim.node(f).id());

  ASSERT_TRUE(sim.broadcast(g, Array{Value("not test")}));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(sim.inbox(f).size(), 1u);
  EXPECT_EQ(sim.inbox(g).size(), 1u);
  EXPECT_EQ(sim.node(f).counters().replies_indirect, 0u);
  expect_no_anomalies(sim);
}

// Message::reply from a strict line's far end: no direct link, so the request/response path
// (broadcast `request`, the target's neighbour answers `response`, dial, whisper) delivers it.
void indirect_reply_across_chain(std::size_t length) {
  SCOPED_TRACE("chain of " + std::to_string(length));
  Simulator sim;
  build_network(sim, testing::shape(Topology::chain, length));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  const NodeIndex asker = static_cast<NodeIndex>(length - 1);
  const NodeIndex answerer = 0;
  ASSERT_FALSE(has_peer(sim, answerer, asker));

  ASSERT_TRUE(sim.broadcast(asker, bin_packet("question")));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(sim.inbox(answerer).size(), 1u);
  const core::Message question = sim.inbox(answerer).front();
  EXPECT_EQ(question.sender, sim.node(asker).id());

  const Status s = sim.reply(answerer, question, bin_packet("answer"));
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  ASSERT_TRUE(sim.run_until_quiet(kPatience));

  const Array answer = received(flags::whisper, bin_packet("answer"));
  EXPECT_EQ(count_inbox(sim, asker, answer), 1u);
  for (NodeIndex i = 0; i + 1 < length; ++i) {
    EXPECT_EQ(count_inbox(sim, i, answer), 0u) << "node " << i << " got someone else's reply";
  }
  bool sent_request = false;
  for (const BroadcastReport& r : sim.reports()) {
    if (r.sub_flag == flags::request && r.origin == answerer) sent_request = true;
  }
  EXPECT_TRUE(sent_request) << "the reply should have gone through a `request` broadcast";
  EXPECT_EQ(sim.node(answerer).counters().replies_indirect, 1u);
  // The answerer dialled the asker to deliver: a second reply is a plain direct whisper.
  EXPECT_TRUE(has_peer(sim, answerer, asker));
  ASSERT_TRUE(sim.reply(answerer, question, bin_packet("again")).ok());
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  EXPECT_EQ(count_inbox(sim, asker, received(flags::whisper, bin_packet("again"))), 1u);
  EXPECT_EQ(sim.node(answerer).counters().replies_indirect, 1u);
  expect_no_anomalies(sim);
}

TEST(ReferenceScenarios, IndirectReplyAcrossChainOfFour) {
  indirect_reply_across_chain(4);
}
TEST(ReferenceScenarios, IndirectReplyAcrossChainOfSeven) {
  indirect_reply_across_chain(7);
}

// Reply outside a handler, from the user side, to a neighbour.
TEST(ReferenceScenarios, DirectReplyFromUser) {
  Simulator sim;
  build_network(sim, testing::shape(Topology::chain, 2));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_TRUE(sim.broadcast(0, Array{Value("ping")}));
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(sim.inbox(1).size(), 1u);
  ASSERT_TRUE(sim.reply(1, sim.inbox(1).front(), Array{Value("pong")}).ok());
  ASSERT_TRUE(sim.run_until_quiet(kPatience));
  ASSERT_EQ(sim.inbox(0).size(), 1u);
  EXPECT_EQ(sim.inbox(0).front().packets, received(flags::whisper, Array{Value("pong")}));
  EXPECT_EQ(sim.node(1).counters().replies_indirect, 0u);
  expect_no_anomalies(sim);
}

}  // namespace
}  // namespace p2p::sim
