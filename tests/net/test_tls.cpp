// TLS: generated certificates, fingerprints, and the verification policies of TlsContext,
// exercised by real handshakes over loopback.
#include <gtest/gtest.h>

#include <optional>

#include "net/asio.hpp"
#include "net/tls.hpp"
#include "tls_fixtures.hpp"

namespace p2p::net {
namespace {

using testing::Identity;
using testing::make_identity;
using testing::TempDir;
using tcp = asio::ip::tcp;

std::shared_ptr<TlsContext> context(const TlsSettings& s) {
  auto ctx = TlsContext::create(s);
  EXPECT_TRUE(ctx.ok()) << (ctx.ok() ? "" : ctx.error().to_string());
  return ctx.ok() ? *ctx : nullptr;
}

struct HandshakeResult {
  std::error_code server, client;
  /// A TLS 1.3 server checks the client's certificate after the client has finished, so a
  /// refused client notices only on its first read: this is that read's outcome.
  std::error_code client_read;
};

/// One TLS handshake between a server and a client context over loopback; then the server
/// writes one byte that the client reads.
HandshakeResult handshake(asio::ssl::context& server, asio::ssl::context& client) {
  asio::io_context ioc;
  tcp::acceptor acc(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ssl::stream<tcp::socket> s(ioc, server), c(ioc, client);
  HandshakeResult r;
  std::uint8_t out = 42, in = 0;
  acc.async_accept(s.next_layer(), [&](std::error_code ec) {
    if (ec) {
      r.server = ec;
      return;
    }
    s.async_handshake(asio::ssl::stream_base::server, [&](std::error_code hec) {
      r.server = hec;
      if (!hec)
        asio::async_write(s, asio::buffer(&out, 1), [](std::error_code, std::size_t) {});
      else
        s.next_layer().close();
    });
  });
  c.next_layer().async_connect(acc.local_endpoint(), [&](std::error_code ec) {
    if (ec) {
      r.client = ec;
      return;
    }
    c.async_handshake(asio::ssl::stream_base::client, [&](std::error_code hec) {
      r.client = hec;
      if (hec) return;
      asio::async_read(c, asio::buffer(&in, 1), [&](std::error_code rec, std::size_t) {
        r.client_read = rec;
        if (!rec && in != 42) r.client_read = asio::error::invalid_argument;
      });
    });
  });
  ioc.run_for(std::chrono::seconds(20));
  return r;
}

HandshakeResult handshake(TlsContext& server, TlsContext& client) {
  return handshake(server.context(), client.context());
}

bool accepted(const HandshakeResult& r) {
  return !r.server && !r.client && !r.client_read;
}

TEST(Tls, GeneratedCertificateHasAStableFingerprint) {
  auto key = generate_key();
  ASSERT_TRUE(key.ok());
  auto cert = make_certificate(key->get(), "node");
  ASSERT_TRUE(cert.ok());
  const std::string fp = fingerprint_sha256(cert->get());
  EXPECT_EQ(fp.size(), 64u);
  EXPECT_EQ(fp, fingerprint_sha256(cert->get()));
  EXPECT_NE(to_pem(cert->get()).find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(to_pem(key->get()).find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(Tls, NormalizesFingerprints) {
  const std::string hex(64, 'a');
  std::string colons;
  for (std::size_t i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  EXPECT_EQ(*normalize_fingerprint(colons), hex);
  EXPECT_EQ(*normalize_fingerprint(hex), hex);
  EXPECT_FALSE(normalize_fingerprint("abc").ok());
  EXPECT_FALSE(normalize_fingerprint(std::string(63, 'a') + "g").ok());
}

TEST(Tls, EachDefaultContextHasItsOwnCertificate) {
  auto a = context({}), b = context({});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->fingerprint().size(), 64u);
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  EXPECT_FALSE(a->verifies_peers());
}

TEST(Tls, DefaultContextsAcceptEachOther) {
  auto a = context({}), b = context({});
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(accepted(handshake(*a, *b)));
}

TEST(Tls, DefaultClientAcceptsAWeakSelfSignedServerKey) {
  // js2p presents an RSA-1024 certificate: an unverifying node must still talk to it.
  // Debian's OpenSSL defaults to security level 2, which refuses such a key even for
  // loading: the stand-in server lowers its own level, as Node.js does.
  PKeyPtr rsa(EVP_RSA_gen(1024));
  ASSERT_TRUE(rsa);
  auto cert = make_certificate(rsa.get(), "example.org");
  ASSERT_TRUE(cert.ok());
  asio::ssl::context server(asio::ssl::context::tls);
  SSL_CTX_set_security_level(server.native_handle(), 0);
  ASSERT_EQ(SSL_CTX_use_certificate(server.native_handle(), cert->get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(server.native_handle(), rsa.get()), 1);
  auto client = context({});
  ASSERT_TRUE(client);
  const auto r = handshake(server, client->context());
  EXPECT_TRUE(accepted(r)) << r.server.message() << " / " << r.client.message();
}

TEST(Tls, LoadsCertificateAndKeyFiles) {
  TempDir dir;
  Identity id = make_identity(dir, "node");
  auto ctx = context({id.cert_file, id.key_file, {}, {}});
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->fingerprint(), id.fingerprint);
}

TEST(Tls, RefusesBadFiles) {
  TempDir dir;
  Identity a = make_identity(dir, "a"), b = make_identity(dir, "b");
  EXPECT_FALSE(TlsContext::create({a.cert_file, "", {}, {}}).ok());
  EXPECT_FALSE(TlsContext::create({a.cert_file, b.key_file, {}, {}}).ok());  // mismatch
  EXPECT_FALSE(TlsContext::create({(dir.path() / "none.crt").string(), a.key_file, {}, {}}).ok());
  EXPECT_FALSE(TlsContext::create({{}, {}, (dir.path() / "none.pem").string(), {}}).ok());
  EXPECT_FALSE(TlsContext::create({{}, {}, {}, {"not-a-fingerprint"}}).ok());
}

TEST(Tls, PinnedClientAcceptsOnlyThePinnedServer) {
  TempDir dir;
  Identity known = make_identity(dir, "known"), stranger = make_identity(dir, "stranger");
  auto client = context({{}, {}, {}, {known.fingerprint}});
  auto good = context({known.cert_file, known.key_file, {}, {}});
  auto bad = context({stranger.cert_file, stranger.key_file, {}, {}});
  ASSERT_TRUE(client && good && bad);
  EXPECT_TRUE(client->verifies_peers());
  EXPECT_TRUE(accepted(handshake(*good, *client)));
  const auto r = handshake(*bad, *client);
  EXPECT_TRUE(r.client) << "the client must refuse an unpinned server";
}

TEST(Tls, PinnedServerRequiresAPinnedClientCertificate) {
  TempDir dir;
  Identity server_id = make_identity(dir, "server"), known = make_identity(dir, "known");
  auto server = context({server_id.cert_file, server_id.key_file, {}, {known.fingerprint}});
  auto good = context({known.cert_file, known.key_file, {}, {}});
  auto stranger = context({});  // a fresh self-signed certificate
  ASSERT_TRUE(server && good && stranger);
  EXPECT_TRUE(accepted(handshake(*server, *good)));
  const auto r = handshake(*server, *stranger);
  EXPECT_TRUE(r.server) << "the server must refuse an unpinned client";
  EXPECT_FALSE(accepted(r));
}

TEST(Tls, CaVerificationBothWays) {
  TempDir dir;
  Identity ca = make_identity(dir, "ca", nullptr, true);
  Identity a = make_identity(dir, "a", &ca), b = make_identity(dir, "b", &ca);
  auto ca_a = context({a.cert_file, a.key_file, ca.cert_file, {}});
  auto ca_b = context({b.cert_file, b.key_file, ca.cert_file, {}});
  auto outsider = context({});
  ASSERT_TRUE(ca_a && ca_b && outsider);
  EXPECT_TRUE(accepted(handshake(*ca_a, *ca_b)));
  EXPECT_TRUE(handshake(*ca_a, *outsider).server) << "server must refuse a client outside the CA";
  EXPECT_TRUE(handshake(*outsider, *ca_b).client) << "client must refuse a server outside the CA";
}

TEST(Tls, CaAndPinTogetherRequireBoth) {
  TempDir dir;
  Identity ca = make_identity(dir, "ca", nullptr, true);
  Identity a = make_identity(dir, "a", &ca), b = make_identity(dir, "b", &ca),
           c = make_identity(dir, "c", &ca);
  auto server = context({a.cert_file, a.key_file, ca.cert_file, {b.fingerprint}});
  auto pinned = context({b.cert_file, b.key_file, ca.cert_file, {}});
  auto other = context({c.cert_file, c.key_file, ca.cert_file, {}});
  ASSERT_TRUE(server && pinned && other);
  EXPECT_TRUE(accepted(handshake(*server, *pinned)));
  EXPECT_TRUE(handshake(*server, *other).server);
}

}  // namespace
}  // namespace p2p::net
