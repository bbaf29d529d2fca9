// The first things a user does: start nodes, connect them, send, receive.
#include <gtest/gtest.h>

#include "mesh_test_util.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;

class Transport : public ::testing::TestWithParam<std::string> {};

TEST_P(Transport, TwoNodesExchangeABroadcast) {
  auto a = make_node(GetParam()), b = make_node(GetParam());
  EXPECT_NE(a->port(), 0);
  EXPECT_EQ(a->out_addr(), (Endpoint{"127.0.0.1", a->port()}));
  EXPECT_NE(a->id(), b->id());
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(a->send({"hello", Bytes{1, 2, 3}, 42, -7, 1.5, Array{"x", nullptr}}));
  auto m = next_message(*b);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sender(), a->id());
  EXPECT_EQ(m->type(), flags::broadcast);
  const Array expected{flags::broadcast, "hello", Bytes{1, 2, 3}, 42, -7, 1.5, Array{"x", nullptr}};
  EXPECT_EQ(m->packets(), expected);
  EXPECT_EQ(m->id().size(), 64u);
  EXPECT_FALSE(a->recv()) << "a node does not receive its own broadcast";
  if (GetParam() == "SSL") {
    EXPECT_EQ(a->certificate_fingerprint().size(), 64u);
    EXPECT_NE(a->certificate_fingerprint(), b->certificate_fingerprint());
  } else {
    EXPECT_EQ(a->certificate_fingerprint(), "");
  }
  EXPECT_EQ(a->protocol(), Protocol("mesh", GetParam()));
}

TEST_P(Transport, ValuesOutliveTheirSocket) {
  auto a = make_node(GetParam()), b = make_node(GetParam());
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(a->send({"keep me"}));
  auto m = next_message(*b);
  ASSERT_TRUE(m);
  const Connection to_a = b->routing_table().at(a->id());
  EXPECT_TRUE(m->reply({"while alive"}));
  b.reset();  // closes and destroys the socket the message and connection came from
  const Status r = m->reply({"too late"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::closed);
  const Status s = to_a.send(flags::whisper, flags::whisper, {"too late"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::closed);
  EXPECT_EQ(m->packets()[1], Value("keep me")) << "the message itself stays readable";
  EXPECT_FALSE(Message().reply({"x"}).ok()) << "a default Message belongs to no socket";
}

TEST_P(Transport, IdenticalSendsInOneSecondAreAllDelivered) {
  // The message id hashes the body, whose time has one-second resolution: py2p and js2p
  // lose the second of two identical broadcasts in one second as a duplicate. p2pmesh
  // stamps the repeat with the next free second, so each send is its own message.
  auto a = make_node(GetParam()), b = make_node(GetParam());
  ASSERT_TRUE(link(*a, *b));
  ASSERT_TRUE(a->send({"same"}));
  ASSERT_TRUE(a->send({"same"}));
  ASSERT_TRUE(a->send({"different"}));
  std::vector<Message> got;
  ASSERT_TRUE(wait_until([&] {
    for (auto& m : b->recv(10)) got.push_back(std::move(m));
    return got.size() >= 3;
  }));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].packets()[1], Value("same"));
  EXPECT_EQ(got[1].packets()[1], Value("same"));
  EXPECT_NE(got[0].id(), got[1].id());
  EXPECT_NE(got[0].time(), got[1].time());
  EXPECT_EQ(b->status().counter("duplicates_dropped"), 0u);
}

TEST_P(Transport, OneArrayFilledInPlaceSendsEachContent) {
  // send() takes its packets by reference and is done with them when it returns, so a
  // sender may refill one array in place for every message (as the throughput benchmark
  // does). Sizes cross the 1 KiB line between frames copied into the command queue and
  // frames handed over by reference.
  auto a = make_node(GetParam()), b = make_node(GetParam());
  ASSERT_TRUE(link(*a, *b));
  Array packets{"seq", Bytes(8), std::string("label")};
  Bytes& body = *packets[1].if_bin();
  std::string& label = *packets[2].if_str();
  constexpr int count = 60;
  for (int i = 0; i < count; ++i) {
    body.assign(static_cast<std::size_t>(8 + (i * 97) % 2500), static_cast<std::uint8_t>(i));
    label = "label " + std::to_string(i);
    ASSERT_TRUE(a->send(packets));
  }
  std::vector<Message> got;
  ASSERT_TRUE(wait_until([&] {
    for (auto& m : b->recv(count)) got.push_back(std::move(m));
    return got.size() >= count;
  }));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const Array expected{
        flags::broadcast, "seq",
        Bytes(static_cast<std::size_t>(8 + (i * 97) % 2500), static_cast<std::uint8_t>(i)),
        "label " + std::to_string(i)};
    EXPECT_EQ(got[static_cast<std::size_t>(i)].packets(), expected) << "message " << i;
  }
}

TEST_P(Transport, CloseRightAfterSendsDeliversThem) {
  // send() accepted them, so close() must not drop them: it runs the queued commands and
  // lets the write queues drain (bounded) before closing.
  auto a = make_node(GetParam()), b = make_node(GetParam());
  ASSERT_TRUE(link(*a, *b));
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(a->send({"last words", i}));
  a->close();
  std::vector<Message> got;
  ASSERT_TRUE(wait_until([&] {
    for (auto& m : b->recv(n)) got.push_back(std::move(m));
    return got.size() >= static_cast<std::size_t>(n);
  }));
  EXPECT_EQ(got.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(got.back().packets()[2], Value(n - 1));
}

INSTANTIATE_TEST_SUITE_P(Mesh, Transport, ::testing::Values("Plaintext", "SSL"));

}  // namespace
}  // namespace p2p
