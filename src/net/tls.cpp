#include "net/tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdint>

#include "p2p/bytes.hpp"

namespace p2p::net {

namespace {

/// The most recent OpenSSL error as text (and clears the queue).
std::string openssl_error(std::string_view what) {
  std::string text(what);
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text += ": ";
    text += buf;
  }
  return text;
}

Error tls_error(std::string_view what) {
  return Error{Errc::invalid_argument, openssl_error(what)};
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

Result<PKeyPtr> generate_key() {
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return tls_error("EC key generation failed");
  return key;
}

Result<X509Ptr> make_certificate(EVP_PKEY* key, std::string_view common_name, X509* issuer,
                                 EVP_PKEY* issuer_key, bool is_ca) {
  X509Ptr cert(X509_new());
  if (!cert) return tls_error("X509_new");
  X509_set_version(cert.get(), 2);  // v3, for the extensions
  // A random positive 63-bit serial: certificates of different runs must not collide for a
  // peer that caches them.
  std::uint64_t serial = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) != 1)
    return tls_error("RAND_bytes");
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1);
  constexpr long day = 24L * 60 * 60;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -day);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650 * day);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  if (!add_extension(cert.get(), issuer, NID_basic_constraints,
                     is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
      !add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash"))
    return tls_error("certificate extensions");
  if (is_ca && !add_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign"))
    return tls_error("certificate key usage");
  if (issuer && !add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always"))
    return tls_error("certificate authority key id");
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
    return tls_error("certificate signature");
  return cert;
}

std::string to_pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  std::string out = bio_text(bio);
  BIO_free(bio);
  return out;
}

std::string to_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::string out = bio_text(bio);
  BIO_free(bio);
  return out;
}

std::string fingerprint_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  return to_hex(ByteView(md, n));
}

Result<std::string> normalize_fingerprint(std::string_view text) {
  std::string hex;
  for (char ch : text) {
    if (ch == ':' || ch == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch)))
      return Error{Errc::invalid_argument,
                   "fingerprint '" + std::string(text) + "' holds a non-hex character"};
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  if (hex.size() != 64)
    return Error{Errc::invalid_argument,
                 "fingerprint '" + std::string(text) + "' is not 32 bytes of SHA-256 in hex"};
  return hex;
}

TlsContext::TlsContext() : ctx_(asio::ssl::context::tls) {}

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsSettings& s) {
  std::shared_ptr<TlsContext> t(new TlsContext());
  SSL_CTX* ctx = t->ctx_.native_handle();
  // TLS 1.2 is the floor of both references' defaults (Python 3.11 and Node 20).
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  t->ctx_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);

  if (s.cert_file.empty() != s.key_file.empty())
    return Error{Errc::invalid_argument, "cert_file and key_file must be given together"};
  if (!s.cert_file.empty()) {
    std::error_code ec;
    t->ctx_.use_certificate_chain_file(s.cert_file, ec);
    if (ec)
      return Error{Errc::invalid_argument, "cannot load " + s.cert_file + ": " + ec.message()};
    t->ctx_.use_private_key_file(s.key_file, asio::ssl::context::pem, ec);
    if (ec) return Error{Errc::invalid_argument, "cannot load " + s.key_file + ": " + ec.message()};
    if (SSL_CTX_check_private_key(ctx) != 1)
      return tls_error("the key in " + s.key_file + " does not match " + s.cert_file);
  } else {
    auto key = generate_key();
    if (!key) return key.error();
    auto cert = make_certificate(key->get(), "p2pmesh");
    if (!cert) return cert.error();
    if (SSL_CTX_use_certificate(ctx, cert->get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key->get()) != 1)
      return tls_error("cannot install the generated certificate");
  }
  t->fingerprint_ = fingerprint_sha256(SSL_CTX_get0_certificate(ctx));

  for (const auto& pin : s.pinned_sha256) {
    auto norm = normalize_fingerprint(pin);
    if (!norm) return norm.error();
    t->pins_.insert(*norm);
  }
  if (!s.ca_file.empty()) {
    std::error_code ec;
    t->ctx_.load_verify_file(s.ca_file, ec);
    if (ec)
      return Error{Errc::invalid_argument,
                   "cannot load CA file " + s.ca_file + ": " + ec.message()};
    t->has_ca_ = true;
  }
  t->verify_ = t->has_ca_ || !t->pins_.empty();

  if (!t->verify_) {
    // The references' behaviour: encrypt, authenticate no one. Peer certificates are not
    // checked at all, so js2p's RSA-1024 certificate is accepted too.
    t->ctx_.set_verify_mode(asio::ssl::verify_none);
    return t;
  }
  // Client role: verify the server. Server role: request a client certificate and refuse a
  // client without one. Host names are not checked: mesh peers are addressed by IP and
  // identified by their certificate.
  t->ctx_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  TlsContext* self = t.get();
  t->ctx_.set_verify_callback([self](bool preverified, asio::ssl::verify_context& vc) {
    X509_STORE_CTX* store = vc.native_handle();
    const int depth = X509_STORE_CTX_get_error_depth(store);
    if (self->has_ca_ && !preverified) return false;
    // Above the leaf only the CA check (already applied) has a say.
    if (depth > 0) return true;
    if (self->pins_.empty()) return preverified;
    return self->pins_.contains(fingerprint_sha256(X509_STORE_CTX_get_current_cert(store)));
  });
  return t;
}

}  // namespace p2p::net
