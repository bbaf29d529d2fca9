// TLS for the `SSL` transport: certificates, fingerprints and the asio::ssl context.
//
// Like py2p and js2p, a node by default presents a fresh self-signed certificate and accepts
// any certificate from its peers: that encrypts the link but authenticates no one, and it is
// what the references need to interoperate. Two opt-in checks go further than either
// reference can: verification against a CA file, and a set of pinned SHA-256 certificate
// fingerprints. Either one applies in both directions: as a client the node verifies the
// server, as a server it requests and verifies a client certificate.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/asio.hpp"
#include "p2p/error.hpp"

namespace p2p::net {

struct PKeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

/// A fresh EC P-256 key. EC rather than RSA-2048 (py2p's choice) because generating it takes
/// well under a millisecond instead of tens, which matters when a process starts hundreds of
/// SSL nodes; both references negotiate ECDSA certificates.
Result<PKeyPtr> generate_key();

/// A certificate for `key`, valid from yesterday for ten years. Self-signed when `issuer` is
/// null; otherwise signed by issuer/issuer_key. `is_ca` marks it as a CA (tests build a small
/// PKI with it).
Result<X509Ptr> make_certificate(EVP_PKEY* key, std::string_view common_name,
                                 X509* issuer = nullptr, EVP_PKEY* issuer_key = nullptr,
                                 bool is_ca = false);

std::string to_pem(X509* cert);
std::string to_pem(EVP_PKEY* key);  ///< PKCS#8, unencrypted

/// Lower-case hex SHA-256 of the certificate's DER encoding (what `openssl x509 -fingerprint
/// -sha256` prints, without the colons).
std::string fingerprint_sha256(X509* cert);

/// Accepts 64 hex digits, upper or lower case, optionally separated by ':' (the form openssl
/// prints); returns them lower-case without separators, or an error.
Result<std::string> normalize_fingerprint(std::string_view text);

struct TlsSettings {
  std::string cert_file;  ///< PEM certificate (chain); empty: generate a self-signed one
  std::string key_file;   ///< PEM private key for cert_file
  std::string ca_file;    ///< PEM CA bundle: peers must present a certificate it signed
  std::vector<std::string> pinned_sha256;  ///< peers must present one of these certificates
};

/// One asio::ssl::context serving both roles (dialling and accepting) of one node.
class TlsContext {
 public:
  /// Builds the context; fails (Errc::invalid_argument) on unreadable files, a key that does
  /// not match its certificate, or a malformed fingerprint.
  static Result<std::shared_ptr<TlsContext>> create(const TlsSettings& settings);

  asio::ssl::context& context() noexcept { return ctx_; }
  /// SHA-256 fingerprint of the certificate this node presents (to pin it elsewhere).
  const std::string& fingerprint() const noexcept { return fingerprint_; }
  /// True when peers must pass a CA or pin check.
  bool verifies_peers() const noexcept { return verify_; }

 private:
  TlsContext();
  asio::ssl::context ctx_;
  std::string fingerprint_;
  bool verify_ = false;
  bool has_ca_ = false;
  std::set<std::string> pins_;
};

}  // namespace p2p::net
