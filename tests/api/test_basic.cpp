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

INSTANTIATE_TEST_SUITE_P(Mesh, Transport, ::testing::Values("Plaintext", "SSL"));

}  // namespace
}  // namespace p2p
