// Hostile handshakes against a live node: wrong types and counts, a second handshake with
// another id, connections to itself, and what a peer that lies about ids can and cannot do
// (the protocol has no signatures: docs/limits.md, "Identity").
#include <gtest/gtest.h>

#include "hostile_util.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p::hostile {
namespace {

using p2p::testing::link;

TEST(HostileHandshake, WrongTypesAndCountsCloseOnlyThatLink) {
  LogCapture log;
  MeshOptions o = node_options();
  log.attach(o);
  MeshSocket node(o);
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  const std::string pid = node.protocol().id();
  Forger f(pid);
  const Value hs(flags::handshake);
  const Value id(f.id);
  const Value prot(pid);
  const Value addr = Value::array({Value("127.0.0.1"), Value(1)});
  const Value none = Value(Array{});
  struct Case {
    Array payload;
    std::string why;
  };
  Array hundred_methods;
  for (int i = 0; i < 100; ++i) hundred_methods.emplace_back(0x13);
  const std::vector<Case> cases = {
      {{hs, id, prot, addr}, "handshake with 4 elements"},
      {{hs, id, prot, addr, none, Value(1)}, "handshake with 6 elements"},
      {{hs}, "handshake with 1 elements"},
      {{hs, Value(7), prot, addr, none}, "bad id"},
      {{hs, Value(std::string(200, 'A')), prot, addr, none}, "bad id"},
      {{hs, Value(""), prot, addr, none}, "bad id"},
      {{hs, id, Value(5), addr, none}, "bad protocol id"},
      {{hs, id, prot, Value("127.0.0.1:1"), none}, "bad address"},
      {{hs, id, prot, Value::array({Value("127.0.0.1"), Value(70000)}), none}, "bad address"},
      {{hs, id, prot, Value::array({Value("127.0.0.1"), Value("80")}), none}, "bad address"},
      {{hs, id, prot, Value::array({Value("127.0.0.1"), Value(-5)}), none}, "bad address"},
      {{hs, id, prot, addr, Value("zlib")}, "bad compression list"},
      {{hs, id, prot, addr, Value(hundred_methods)}, "bad compression list"},
      {{hs, id, prot, addr, Value::array({Value("zlib")})}, "bad compression flag"},
      {{hs, id, prot, addr, Value::array({Value(256)})}, "bad compression flag"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    RawConn raw(node.port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.send(f.frame(flags::whisper, cases[i].payload)));
    EXPECT_TRUE(raw.wait_closed()) << "case " << i;
    EXPECT_TRUE(wait_until([&] { return has_error(node, cases[i].why); }))
        << "case " << i << ": " << cases[i].why << "\n"
        << log.dump();
  }
  ASSERT_TRUE(
      wait_until([&] { return node.status().counter("handshake_failures") == cases.size(); }));
  const auto st = node.status();
  EXPECT_EQ(st.counter("protocol_errors"), cases.size());
  EXPECT_EQ(st.counter("handshakes_completed"), 1u) << "only the good peer";
  EXPECT_EQ(st.peers, 1u);
  EXPECT_EQ(node.routing_table().count(f.id), 0u);
  EXPECT_TRUE(exchanges(node, good));
}

TEST(HostileHandshake, SecondHandshakeWithAnotherIdClosesTheLink) {
  LogCapture log;
  MeshOptions o = node_options();
  log.attach(o);
  MeshSocket node(o);
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  Forger first(node.protocol().id(), "FirstId" + std::string(60, 'a'));
  Forger second(node.protocol().id(), "OtherId" + std::string(60, 'b'));
  RawConn raw(node.port());
  // The same handshake twice is js2p's habit and harmless: the link keeps working.
  ASSERT_TRUE(raw.send(first.handshake()));
  ASSERT_TRUE(raw.send(first.handshake()));
  ASSERT_TRUE(raw.send(first.broadcast({Value("still-here")})));
  EXPECT_TRUE(p2p::hostile::receives(node, "still-here"));
  ASSERT_TRUE(raw.send(second.handshake()));
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_TRUE(wait_until([&] { return node.routing_table().count(first.id) == 0; }));
  EXPECT_EQ(node.routing_table().count(second.id), 0u);
  EXPECT_TRUE(log.contains("second handshake with another id")) << log.dump();
  EXPECT_EQ(node.status().counter("protocol_errors"), 1u);
  EXPECT_TRUE(exchanges(node, good));
}

TEST(HostileHandshake, ConnectingToItself) {
  MeshSocket node(node_options());
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  // By the address it advertises: refused before dialling (connect() is asynchronous, the
  // refusal is counted and recorded).
  ASSERT_TRUE(node.connect("127.0.0.1", node.port()).ok());
  EXPECT_TRUE(wait_until([&] { return has_error(node, "refusing to dial ourselves"); }));
  EXPECT_EQ(node.status().counter("commands_refused"), 1u);
  EXPECT_EQ(node.status().counter("dials"), 0u);
  // By another name for the same socket: the dial goes out, and each end of the loop sees
  // its own id in the other's handshake.
  ASSERT_TRUE(node.connect("localhost", node.port()).ok());
  ASSERT_TRUE(wait_until([&] { return node.status().counter("self_connections") >= 1; }))
      << node.status().to_string();
  EXPECT_TRUE(wait_until([&] { return node.status().connections == 1; }));
  EXPECT_EQ(node.routing_table().count(node.id()), 0u);
  EXPECT_TRUE(wait_until([&] { return has_error(node, "connected to ourselves"); }));
  EXPECT_TRUE(exchanges(node, good));
}

TEST(HostileHandshake, RawPeerReplayingTheNodesOwnId) {
  MeshSocket node(node_options());
  MeshSocket good(node_options());
  ASSERT_TRUE(link(good, node));
  RawConn raw(node.port());
  auto theirs = raw.read_frame();  // the node's handshake carries its id
  ASSERT_TRUE(theirs);
  const wire::Body body = decode_raw(*theirs);
  ASSERT_EQ(body.sender, node.id());
  Forger mirror(node.protocol().id(), body.sender);
  ASSERT_TRUE(raw.send(mirror.handshake()));
  EXPECT_TRUE(raw.wait_closed());
  ASSERT_TRUE(wait_until([&] { return node.status().counter("self_connections") == 1; }));
  EXPECT_TRUE(wait_until([&] { return has_error(node, "connected to ourselves"); }));
  EXPECT_EQ(node.status().peers, 1u);
  EXPECT_TRUE(exchanges(node, good));
}

/// Receives until `token` arrives; records the tokens (packets()[1]) seen on the way.
std::vector<std::string> tokens_until(MeshSocket& s, const std::string& token) {
  std::vector<std::string> seen;
  const auto end = std::chrono::steady_clock::now() + p2p::testing::deadline;
  while (std::chrono::steady_clock::now() < end) {
    auto m = s.recv_for(100ms);
    if (!m || m->packets().size() < 2 || !m->packets()[1].is_str()) continue;
    seen.push_back(m->packets()[1].as_str());
    if (seen.back() == token) break;
  }
  return seen;
}

TEST(HostileIdentity, ForgedSenderIsDeliveredAsIfFromThatNode) {
  MeshSocket node(node_options());
  MeshSocket victim(node_options());
  MeshSocket bystander(node_options());
  ASSERT_TRUE(link(victim, node));
  ASSERT_TRUE(link(bystander, node));
  Forger liar(node.protocol().id());
  RawConn raw(node.port());
  ASSERT_TRUE(raw.send(liar.handshake()));
  ASSERT_TRUE(wait_until([&] { return node.routing_table().count(liar.id) == 1; }));

  // A broadcast that names the victim as its sender. Nothing in a frame binds the sender
  // field to the link it came from or to a key: the node accepts it.
  ASSERT_TRUE(raw.send(Forger::frame(flags::broadcast, victim.id(),
                                     Array{Value(flags::broadcast), Value("forged")})));
  ASSERT_TRUE(raw.send(liar.broadcast({Value("marker")})));
  std::optional<Message> forged;
  ASSERT_TRUE(wait_until([&] {
    if (!forged) forged = node.recv_for(50ms);
    return forged.has_value();
  }));
  EXPECT_EQ(forged->packets()[1], Value("forged"));
  EXPECT_EQ(forged->sender(), victim.id()) << "delivered with the forged sender";
  // Relayed to third parties under the victim's name...
  auto at_bystander = tokens_until(bystander, "marker");
  ASSERT_FALSE(at_bystander.empty());
  EXPECT_EQ(at_bystander.front(), "forged");
  EXPECT_EQ(at_bystander.back(), "marker");
  // ...but not to the victim: relays skip the original sender, so the victim never sees the
  // message sent in its name. Frames on one link arrive in order, so the marker proves it.
  auto at_victim = tokens_until(victim, "marker");
  ASSERT_FALSE(at_victim.empty());
  EXPECT_EQ(at_victim.back(), "marker");
  EXPECT_EQ(std::count(at_victim.begin(), at_victim.end(), "forged"), 0);
  // A reply goes to the claimed sender, who asked nothing.
  ASSERT_TRUE(forged->reply({"answer"}));
  auto reply = victim.recv_for(p2p::testing::deadline);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->packets(), (Array{Value(flags::whisper), Value("answer")}));
  EXPECT_EQ(reply->sender(), node.id());
  EXPECT_EQ(node.status().counter("protocol_errors"), 0u) << "nothing to detect";
}

TEST(HostileIdentity, ClaimingAConnectedIdWhenThePeerDialledIn) {
  // The victim dialled the node. A second incoming link with the same id loses the
  // conflict rule (both incoming: the older link stays).
  MeshSocket node(node_options());
  MeshSocket victim(node_options());
  ASSERT_TRUE(link(victim, node));
  Forger thief(node.protocol().id(), victim.id());
  RawConn raw(node.port());
  ASSERT_TRUE(raw.send(thief.handshake()));
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_TRUE(wait_until([&] { return node.status().counter("duplicate_connections") == 1; }));
  ASSERT_EQ(node.routing_table().count(victim.id()), 1u);
  EXPECT_EQ(node.routing_table().at(victim.id()).addr(), victim.out_addr());
  EXPECT_TRUE(exchanges(node, victim));
}

TEST(HostileIdentity, ClaimingAConnectedIdWhenTheNodeDialledOut) {
  // The node dialled the victim and the node's id is the smaller one. py2p's crossed-dial
  // rule then keeps the link the victim dialled, so an incoming link that merely claims the
  // victim's id replaces the real one: the rule cannot tell a crossed dial from a thief.
  // Both ids are drawn afresh each round: against one fixed node id, 64 draws would all be
  // smaller with probability 1/65 (the chance that the node's id is the largest of 65).
  std::unique_ptr<MeshSocket> node_ptr;
  std::unique_ptr<MeshSocket> victim;
  for (int i = 0; i < 64 && !victim; ++i) {
    auto n = std::make_unique<MeshSocket>(node_options());
    MeshOptions vo = node_options();
    vo.max_outgoing = 4;  // the victim redials the node when its link is lost
    auto v = std::make_unique<MeshSocket>(vo);
    if (wire::compare_base58_int(n->id(), v->id()) < 0) {
      node_ptr = std::move(n);
      victim = std::move(v);
    }
  }
  ASSERT_TRUE(victim) << "no pair with the node's id the smaller in 64 draws";
  MeshSocket& node = *node_ptr;
  ASSERT_TRUE(link(node, *victim));
  ASSERT_TRUE(node.routing_table().at(victim->id()).outgoing());

  Forger thief(node.protocol().id(), victim->id());
  auto raw = std::make_unique<RawConn>(node.port());
  ASSERT_TRUE(raw->send(thief.handshake()));
  ASSERT_TRUE(wait_until([&] {
    auto t = node.routing_table();
    return t.count(victim->id()) == 1 && t.at(victim->id()).addr().port == 1;
  })) << "the thief's link (advertising port 1) holds the victim's id";
  EXPECT_TRUE(wait_until([&] { return victim->routing_table().count(node.id()) == 0; }));
  // The victim redials; its new link is incoming like the thief's, so the older one (the
  // thief's) is kept and the victim is turned away for as long as the thief stays.
  EXPECT_TRUE(wait_until([&] { return node.status().counter("duplicate_connections") >= 2; }))
      << node.status().to_string();
  EXPECT_EQ(node.routing_table().at(victim->id()).addr().port, 1);
  // The thief leaves: the victim's next redial gets its place back.
  raw.reset();
  ASSERT_TRUE(wait_until([&] {
    auto t = node.routing_table();
    return t.count(victim->id()) == 1 && t.at(victim->id()).addr() == victim->out_addr();
  })) << node.status().to_string();
  EXPECT_TRUE(exchanges(node, *victim));
}

}  // namespace
}  // namespace p2p::hostile
