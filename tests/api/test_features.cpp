// The rest of issue 4's list, over Plaintext and SSL: whisper, recv(n), events with on/once,
// request_peers, disconnect, close with traffic in flight, reply through request/response
// across 4 nodes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "mesh_test_util.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

class Feature : public ::testing::TestWithParam<std::string> {
 protected:
  /// A node that never dials on its own: topologies stay exactly what the test built.
  std::unique_ptr<MeshSocket> fixed_node() {
    MeshOptions o = loopback(GetParam());
    o.max_outgoing = 0;
    o.auto_reconnect = false;
    return std::make_unique<MeshSocket>(std::move(o));
  }
};

TEST_P(Feature, WhisperReachesDirectPeersOnly) {
  auto a = fixed_node(), b = fixed_node(), c = fixed_node();
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(link(*b, *c));
  ASSERT_EQ(a->routing_table().count(c->id()), 0u);
  ASSERT_TRUE(a->send({"secret"}, flags::whisper));
  auto at_b = next_message(*b);
  ASSERT_TRUE(at_b);
  EXPECT_EQ(at_b->type(), flags::whisper);
  EXPECT_EQ(at_b->packets(), (Array{flags::broadcast, "secret"}));
  // b relays in order: had it relayed the whisper, c would see it before this broadcast.
  ASSERT_TRUE(a->send({"public"}));
  auto at_c = next_message(*c);
  ASSERT_TRUE(at_c);
  EXPECT_EQ(at_c->packets(), (Array{flags::broadcast, "public"}));
  EXPECT_EQ(at_c->type(), flags::broadcast);
}

TEST_P(Feature, RecvN) {
  auto a = fixed_node(), b = fixed_node();
  ASSERT_TRUE(link(*a, *b));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->send({i}));
  ASSERT_TRUE(wait_until([&] { return b->status().recv_queue == 5; }));
  auto first = b->recv(3);
  ASSERT_EQ(first.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(first[i].packets()[1], Value(i));
  auto rest = b->recv(10);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].packets()[1], Value(3));
  EXPECT_EQ(rest[1].packets()[1], Value(4));
  EXPECT_TRUE(b->recv(10).empty());
  EXPECT_FALSE(b->recv());
}

TEST_P(Feature, EventsOnAndOnce) {
  // Listener state first: it must outlive the nodes, whose teardown still raises events.
  std::atomic<int> on_connect{0}, once_connect{0}, disconnects{0}, joined{0};
  std::string joined_peer;
  std::mutex mu;
  std::string b_id;
  auto a = fixed_node(), b = fixed_node();
  b_id = b->id();
  a->on("connect", [&](MeshSocket& s) {
    EXPECT_EQ(&s, a.get());
    ++on_connect;
  });
  a->once("connect", [&] { ++once_connect; });
  a->on(Event::disconnect, [&](const EventInfo& e) {
    EXPECT_EQ(e.peer, b_id);
    ++disconnects;
  });
  a->on(Event::peer_joined, [&](MeshSocket&, const EventInfo& e) {
    std::lock_guard<std::mutex> lock(mu);
    joined_peer = e.peer;
    ++joined;
  });
  EXPECT_THROW(a->on("no-such-event", [] {}), UsageError);

  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(wait_until([&] { return on_connect == 1 && joined == 1; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(joined_peer, b->id());
  }
  ASSERT_TRUE(a->disconnect(b->id()));
  ASSERT_TRUE(wait_until([&] { return disconnects == 1 && a->routing_table().empty(); }));
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(wait_until([&] { return on_connect == 2; }));
  EXPECT_EQ(once_connect.load(), 1) << "once() listeners fire a single time";
}

TEST_P(Feature, MessageEventListenerRecvsAndReplies) {
  // The seeds' pattern: the 'message' listener calls recv() and replies.
  auto a = fixed_node(), b = fixed_node();
  b->on("message", [](MeshSocket& s) {
    if (auto m = s.recv()) (void)m->reply({"this is an example"});
  });
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(a->send({"ping"}));
  auto answer = next_message(*a);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->packets(), (Array{flags::whisper, "this is an example"}));
  EXPECT_EQ(answer->sender(), b->id());
}

TEST_P(Feature, RequestPeersLearnsAndDialsNewPeers) {
  MeshOptions oa = loopback(GetParam());
  oa.auto_reconnect = false;  // no periodic peer requests of its own
  auto a = std::make_unique<MeshSocket>(oa);
  auto b = fixed_node(), c = fixed_node();
  ASSERT_TRUE(link(*a, *b));  // b knows no one yet: a learns nothing
  ASSERT_TRUE(link(*c, *b));  // c would dial a from b's list, but never dials on its own
  ASSERT_EQ(a->routing_table().count(c->id()), 0u);
  ASSERT_TRUE(a->request_peers());
  EXPECT_TRUE(wait_until([&] { return a->routing_table().count(c->id()) == 1; }))
      << a->status().to_string();
  EXPECT_EQ(a->outgoing().size(), 2u);
}

TEST_P(Feature, DisconnectByConnectionAndById) {
  auto a = fixed_node(), b = fixed_node(), c = fixed_node();
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(link(*a, *c));
  auto table = a->routing_table();
  ASSERT_EQ(table.size(), 2u);
  const Connection to_b = table.at(b->id());
  EXPECT_EQ(to_b.id(), b->id());
  EXPECT_TRUE(to_b.outgoing());
  EXPECT_TRUE(to_b.established());
  EXPECT_EQ(to_b.addr(), (Endpoint{"127.0.0.1", b->port()}));
  ASSERT_TRUE(a->disconnect(to_b));
  EXPECT_TRUE(
      wait_until([&] { return a->routing_table().size() == 1 && b->routing_table().empty(); }));
  ASSERT_TRUE(c->disconnect(a->id()));
  EXPECT_TRUE(wait_until([&] { return a->routing_table().empty() && c->routing_table().empty(); }));
  // A Connection outlives its link harmlessly: the send is refused and counted.
  EXPECT_TRUE(to_b.send(flags::whisper, flags::whisper, {"late"}));
  EXPECT_TRUE(wait_until([&] { return a->status().counter("commands_refused") == 1; }));
}

TEST_P(Feature, CloseWithTrafficInFlight) {
  auto a = fixed_node(), b = fixed_node();
  ASSERT_TRUE(link(*a, *b));
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    const Bytes payload(512, 0x5a);
    while (!stop) {
      if (!a->send({payload, sent.load()})) break;  // closed
      ++sent;
    }
  });
  ASSERT_TRUE(wait_until([&] { return b->status().counter("messages_delivered") > 100; }));
  b->close();
  a->close();
  stop = true;
  sender.join();
  EXPECT_TRUE(a->closed());
  EXPECT_TRUE(b->closed());
  auto st = a->send({"after"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::closed);
  EXPECT_TRUE(a->routing_table().empty());
  // Messages received before the close stay readable; then recv_for returns at once.
  EXPECT_FALSE(b->recv(1u << 20).empty());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(b->recv_for(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  a->close();  // idempotent
}

TEST_P(Feature, ReplyThroughRequestResponseAcrossFourNodes) {
  // a - b - c - d in a line: d is three hops from a, so its reply takes the indirect path
  // (request flood, response from b, d dials a, whisper).
  auto a = fixed_node(), b = fixed_node(), c = fixed_node(), d = fixed_node();
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(link(*b, *c));
  ASSERT_TRUE(link(*c, *d));
  ASSERT_EQ(d->routing_table().count(a->id()), 0u);
  ASSERT_TRUE(a->send({"who is there?"}));
  auto at_d = next_message(*d);
  ASSERT_TRUE(at_d);
  ASSERT_EQ(at_d->sender(), a->id());
  ASSERT_TRUE(at_d->reply({"d is"}));
  auto answer = next_message(*a);
  ASSERT_TRUE(answer) << a->status().to_string() << d->status().to_string();
  EXPECT_EQ(answer->sender(), d->id());
  EXPECT_EQ(answer->type(), flags::whisper);
  EXPECT_EQ(answer->packets(), (Array{flags::whisper, "d is"}));
  EXPECT_EQ(d->status().counter("replies_indirect"), 1u);
  EXPECT_EQ(d->routing_table().count(a->id()), 1u) << "d dialled a to deliver";
}

TEST_P(Feature, UnreachablePeerIsAnEventNotAnException) {
  std::atomic<int> failures{0};
  auto a = fixed_node();
  a->on(Event::dial_failed, [&] { ++failures; });
  // A port nobody listens on: bind one, then close it.
  std::uint16_t dead_port = 0;
  {
    auto tmp = fixed_node();
    dead_port = tmp->port();
  }
  ASSERT_TRUE(a->connect("127.0.0.1", dead_port));
  EXPECT_TRUE(wait_until([&] { return failures == 1; }));
  EXPECT_TRUE(wait_until([&] { return a->status().counter("dial_failures") == 1; }));
  EXPECT_FALSE(a->status().nominal());
  EXPECT_TRUE(a->awaiting_ids().empty());
  // A refused connect (ourselves) is reported the same way.
  ASSERT_TRUE(a->connect(a->out_addr().host, a->port()));
  EXPECT_TRUE(wait_until([&] { return failures == 2; }));
  EXPECT_FALSE(a->connect("", 1).ok());
}

INSTANTIATE_TEST_SUITE_P(Mesh, Feature, ::testing::Values("Plaintext", "SSL"));

}  // namespace
}  // namespace p2p
