// py2p's test_mesh.py scenarios, in C++, over Plaintext and SSL: propagation over a 3-node
// chain, protocol rejection, the handler registry (handler.send and msg.reply).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "mesh_test_util.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

class Py2pScenario : public ::testing::TestWithParam<std::string> {
 protected:
  std::string enc() const { return GetParam(); }
};

// py2p: propagation_validation. Each node connects to the next; the first sends b"hello";
// every other node receives it.
TEST_P(Py2pScenario, PropagationOverAChain) {
  std::vector<std::unique_ptr<MeshSocket>> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(make_node(enc(), ""));
  ASSERT_TRUE(link(*nodes[0], *nodes[1]));
  ASSERT_TRUE(link(*nodes[1], *nodes[2]));
  ASSERT_TRUE(nodes[0]->send({Bytes{'h', 'e', 'l', 'l', 'o'}}));
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    auto m = next_message(*nodes[i]);
    ASSERT_TRUE(m) << "node " << i << " got nothing\n" << nodes[i]->status().to_string();
    ASSERT_EQ(m->packets().size(), 2u);
    EXPECT_EQ(m->packets()[1], Value(Bytes{'h', 'e', 'l', 'l', 'o'}));
    EXPECT_EQ(m->sender(), nodes[0]->id());
  }
}

// py2p: protocol_rejection_validation. Subnets 'test' and 'test2' never link, and nothing
// is left waiting on either side.
TEST_P(Py2pScenario, ProtocolRejection) {
  std::atomic<int> refused{0};
  auto f = make_node(enc(), "test"), g = make_node(enc(), "test2");
  f->on(Event::handshake_failed, [&] { ++refused; });
  g->on(Event::handshake_failed, [&] { ++refused; });
  ASSERT_TRUE(g->connect("127.0.0.1", f->port()));
  ASSERT_TRUE(wait_until([&] {
    return f->status().counter("wrong_protocol") + g->status().counter("wrong_protocol") >= 1;
  })) << f->status().to_string()
      << g->status().to_string();
  EXPECT_TRUE(wait_until([&] {
    return f->routing_table().empty() && f->awaiting_ids().empty() && g->routing_table().empty() &&
           g->awaiting_ids().empty() && f->status().connections == 0 &&
           g->status().connections == 0;
  })) << f->status().to_string()
      << g->status().to_string();
  EXPECT_GE(refused.load(), 1);
}

// py2p: register_1 answers through the connection, register_2 through the message.
bool register_1(Message& msg, Connection& handler) {
  const auto& packets = msg.packets();
  if (packets.size() > 1 && packets[1] == Value(Bytes{'t', 'e', 's', 't'})) {
    (void)handler.send(flags::whisper, flags::whisper, {Bytes{'s', 'u', 'c', 'c', 'e', 's', 's'}});
    return true;
  }
  return false;
}

bool register_2(Message& msg, Connection&) {
  const auto& packets = msg.packets();
  if (packets.size() > 1 && packets[1] == Value(Bytes{'t', 'e', 's', 't'})) {
    (void)msg.reply({Bytes{'s', 'u', 'c', 'c', 'e', 's', 's'}});
    return true;
  }
  return false;
}

// py2p: handler_registry_validation.
void handler_registry(const std::string& enc, MeshSocket::Handler reg) {
  auto f = make_node(enc, ""), g = make_node(enc, "");
  f->register_handler(std::move(reg));
  ASSERT_TRUE(link(*g, *f));

  ASSERT_TRUE(g->send({Bytes{'t', 'e', 's', 't'}}));
  auto answer = next_message(*g);
  ASSERT_TRUE(answer) << g->status().to_string();
  EXPECT_EQ(answer->type(), flags::whisper);
  EXPECT_EQ(answer->packets(), (Array{flags::whisper, Bytes{'s', 'u', 'c', 'c', 'e', 's', 's'}}));
  EXPECT_EQ(answer->sender(), f->id());
  EXPECT_FALSE(f->recv()) << "the handler took the message: it must not reach recv()";
  EXPECT_EQ(f->status().counter("messages_handled"), 1u);

  ASSERT_TRUE(g->send({"not test"}));
  auto plain = next_message(*f);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->packets(), (Array{flags::broadcast, "not test"}));
  EXPECT_FALSE(g->recv()) << "only 'test' gets an answer";
  EXPECT_EQ(f->status().counter("messages_handled"), 1u);
}

// Not a py2p scenario: a handler that returns true owns the message and may move it out
// (the CLI keeps every message it takes that way). Later handlers and recv() see only the
// messages it left.
TEST_P(Py2pScenario, HandlerThatTakesAMessageMayMoveIt) {
  auto f = make_node(enc(), ""), g = make_node(enc(), "");
  std::mutex mu;
  std::vector<Message> kept;
  std::vector<Array> seen_later;
  f->register_handler([&](Message& msg, Connection&) {
    if (msg.packets().size() < 2 || msg.packets()[1] != Value("keep")) return false;
    std::lock_guard lock(mu);
    kept.push_back(std::move(msg));
    return true;
  });
  f->register_handler([&](Message& msg, Connection&) {
    std::lock_guard lock(mu);
    seen_later.push_back(msg.packets());
    return false;
  });
  ASSERT_TRUE(link(*g, *f));
  ASSERT_TRUE(g->send({"keep", 1}));
  ASSERT_TRUE(g->send({"pass", 2}));
  auto passed = next_message(*f);
  ASSERT_TRUE(passed) << f->status().to_string();
  EXPECT_EQ(passed->packets(), (Array{flags::broadcast, "pass", 2}));
  EXPECT_FALSE(f->recv()) << "the kept message must not reach recv()";
  std::lock_guard lock(mu);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].packets(), (Array{flags::broadcast, "keep", 1}));
  EXPECT_EQ(kept[0].sender(), g->id());
  EXPECT_EQ(kept[0].type(), flags::broadcast);
  EXPECT_EQ(seen_later, (std::vector<Array>{Array{flags::broadcast, "pass", 2}}));
}

TEST_P(Py2pScenario, HandlerRegistryConnectionSend) {
  handler_registry(enc(), register_1);
}
TEST_P(Py2pScenario, HandlerRegistryReply) {
  handler_registry(enc(), register_2);
}

INSTANTIATE_TEST_SUITE_P(Mesh, Py2pScenario, ::testing::Values("Plaintext", "SSL"));

}  // namespace
}  // namespace p2p
