// SSL verification options at the socket level: a pinned or CA-verified node refuses an
// unknown peer, in both directions, and still links with the peers it trusts.
#include <gtest/gtest.h>

#include <atomic>

#include "../net/tls_fixtures.hpp"
#include "mesh_test_util.hpp"
#include "net/asio.hpp"

namespace p2p {
namespace {

using namespace p2p::testing;
using net::testing::Identity;
using net::testing::make_identity;
using net::testing::TempDir;

MeshOptions ssl_node(TlsOptions tls = {}) {
  MeshOptions o = loopback("SSL");
  o.tls = std::move(tls);
  o.max_outgoing = 0;
  o.auto_reconnect = false;
  return o;
}

TEST(TlsVerify, PinnedNodeLinksWithThePinnedPeerOnly) {
  std::atomic<int> dial_failed{0};
  MeshSocket trusted(ssl_node());
  MeshSocket stranger(ssl_node());
  MeshSocket pinned(ssl_node({{}, {}, {}, {trusted.certificate_fingerprint()}}));

  // Both directions with the trusted peer.
  ASSERT_TRUE(link(pinned, trusted));
  ASSERT_TRUE(pinned.disconnect(trusted.id()));
  ASSERT_TRUE(wait_until([&] { return trusted.routing_table().empty(); }));
  ASSERT_TRUE(link(trusted, pinned));

  // The stranger dials the pinned node: its certificate is refused.
  ASSERT_TRUE(stranger.connect("127.0.0.1", pinned.port()));
  ASSERT_TRUE(wait_until([&] { return pinned.status().counter("tls_failures") == 1; }))
      << pinned.status().to_string();
  // The pinned node dials the stranger: the server certificate is refused.
  pinned.on(Event::dial_failed, [&] { ++dial_failed; });
  ASSERT_TRUE(pinned.connect("127.0.0.1", stranger.port()));
  ASSERT_TRUE(wait_until([&] { return dial_failed == 1; }));
  EXPECT_EQ(pinned.status().counter("tls_failures"), 2u);

  EXPECT_TRUE(wait_until([&] {
    return stranger.routing_table().empty() && stranger.status().connections == 0 &&
           pinned.routing_table().size() == 1;
  })) << stranger.status().to_string();
  EXPECT_EQ(pinned.routing_table().count(stranger.id()), 0u);
  EXPECT_EQ(stranger.status().counter("handshakes_completed"), 0u);
}

TEST(TlsVerify, CaVerifiedNodesRefuseOutsiders) {
  TempDir dir;
  Identity ca = make_identity(dir, "ca", nullptr, true);
  Identity ia = make_identity(dir, "a", &ca), ib = make_identity(dir, "b", &ca);
  MeshSocket a(ssl_node({ia.cert_file, ia.key_file, ca.cert_file, {}}));
  MeshSocket b(ssl_node({ib.cert_file, ib.key_file, ca.cert_file, {}}));
  MeshSocket outsider(ssl_node());
  EXPECT_EQ(a.certificate_fingerprint(), ia.fingerprint);

  ASSERT_TRUE(link(a, b));
  ASSERT_TRUE(a.send({"members only"}));
  auto m = next_message(b);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->packets()[1], Value("members only"));

  ASSERT_TRUE(outsider.connect("127.0.0.1", a.port()));
  ASSERT_TRUE(wait_until([&] { return a.status().counter("tls_failures") == 1; }));
  ASSERT_TRUE(b.connect("127.0.0.1", outsider.port()));
  ASSERT_TRUE(wait_until([&] { return b.status().counter("tls_failures") == 1; }));
  EXPECT_TRUE(wait_until([&] { return outsider.status().connections == 0; }));
  EXPECT_TRUE(outsider.routing_table().empty());
  EXPECT_EQ(a.routing_table().size(), 1u);
  EXPECT_EQ(b.routing_table().size(), 1u);
}

TEST(TlsVerify, SslNodeRefusesAPlaintextClient) {
  MeshSocket ssl(ssl_node());
  asio::io_context ioc;
  asio::ip::tcp::socket raw(ioc);
  raw.connect({asio::ip::make_address("127.0.0.1"), ssl.port()});
  const std::string junk = "this is not a TLS ClientHello, it is plaintext";
  asio::write(raw, asio::buffer(junk));
  EXPECT_TRUE(wait_until([&] { return ssl.status().counter("tls_failures") == 1; }));
  EXPECT_TRUE(wait_until([&] { return ssl.status().connections == 0; }));
}

}  // namespace
}  // namespace p2p
