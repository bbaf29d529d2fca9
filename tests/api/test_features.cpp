// The rest of issue 4's list, over Plaintext and SSL: whisper, recv(n), events with on/once,
// request_peers, disconnect, close with traffic in flight, reply through request/response
// across 4 nodes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// A handler's Message and Connection are reused from message to message (MeshSocket::Impl::
// wrap): each message must still find them describing itself and its link, whether the last
// call left them untouched or moved them out, and what a handler moved out stays usable.
TEST_P(Feature, HandlerValuesDescribeEachMessageAndItsLink) {
  auto hub = fixed_node(), g = fixed_node(), h = fixed_node();
  ASSERT_TRUE(link(*g, *hub));
  ASSERT_TRUE(link(*h, *hub));
  struct Seen {
    std::string sender, conn_id;
    Endpoint addr;
    bool established = false, outgoing = true;
    Array packets;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  std::vector<Message> kept_messages;
  std::vector<Connection> kept_links;
  hub->register_handler([&](Message& msg, Connection& conn) {
    std::lock_guard lock(mu);
    seen.push_back(Seen{msg.sender(), conn.id(), conn.addr(), conn.established(), conn.outgoing(),
                        msg.packets()});
    if (seen.size() % 2 == 1) {  // every other call moves both values out
      kept_messages.push_back(std::move(msg));
      kept_links.push_back(std::move(conn));
    }
    return true;
  });
  const std::vector<MeshSocket*> from = {g.get(), h.get(), g.get(), h.get(), h.get(), g.get()};
  for (std::size_t i = 0; i < from.size(); ++i) {
    ASSERT_TRUE(from[i]->send({"n", static_cast<std::int64_t>(i)}));
    ASSERT_TRUE(wait_until([&] {
      std::lock_guard lock(mu);
      return seen.size() == i + 1;
    })) << "message "
        << i << " did not reach the hub\n"
        << hub->status().to_string();
  }
  std::lock_guard lock(mu);
  for (std::size_t i = 0; i < from.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    EXPECT_EQ(seen[i].sender, from[i]->id());
    EXPECT_EQ(seen[i].conn_id, from[i]->id()) << "the link it arrived on";
    EXPECT_EQ(seen[i].addr, (Endpoint{"127.0.0.1", from[i]->port()}));
    EXPECT_TRUE(seen[i].established);
    EXPECT_FALSE(seen[i].outgoing) << "the peers dialled the hub";
    EXPECT_EQ(seen[i].packets, (Array{flags::broadcast, "n", static_cast<std::int64_t>(i)}));
  }
  ASSERT_EQ(kept_messages.size(), 3u);
  ASSERT_EQ(kept_links.size(), 3u);
  for (std::size_t k = 0; k < kept_messages.size(); ++k) {
    SCOPED_TRACE("kept " + std::to_string(k));
    const MeshSocket* sender = from[2 * k];
    EXPECT_EQ(kept_messages[k].sender(), sender->id());
    EXPECT_EQ(kept_messages[k].packets(),
              (Array{flags::broadcast, "n", static_cast<std::int64_t>(2 * k)}));
    EXPECT_EQ(kept_links[k].id(), sender->id());
  }
  // What was moved out still reaches the socket: a reply from a kept message (h's) arrives.
  // h's queue also holds g's broadcasts, which the hub relayed.
  ASSERT_TRUE(kept_messages[2].reply({"answer"}));
  std::optional<Message> answer;
  while ((answer = next_message(*h)) && answer->packets() != Array{flags::whisper, "answer"}) {
  }
  ASSERT_TRUE(answer) << h->status().to_string();
  EXPECT_EQ(answer->sender(), hub->id());
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
