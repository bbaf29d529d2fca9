// Test PKI: keys, certificates and PEM files in a temporary directory.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "net/tls.hpp"

namespace p2p::net::testing {

/// A temporary directory removed with the object.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("p2pmesh-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// A key and its certificate, with PEM files on disk.
struct Identity {
  PKeyPtr key;
  X509Ptr cert;
  std::string cert_file, key_file, fingerprint;
};

/// A self-signed identity (issuer == nullptr) or one signed by `ca`.
inline Identity make_identity(const TempDir& dir, const std::string& name,
                              const Identity* ca = nullptr, bool is_ca = false) {
  Identity id;
  id.key = std::move(generate_key()).value();
  id.cert = std::move(make_certificate(id.key.get(), name, ca ? ca->cert.get() : nullptr,
                                       ca ? ca->key.get() : nullptr, is_ca))
                .value();
  id.cert_file = dir.write(name + ".crt", to_pem(id.cert.get()));
  id.key_file = dir.write(name + ".key", to_pem(id.key.get()));
  id.fingerprint = fingerprint_sha256(id.cert.get());
  return id;
}

}  // namespace p2p::net::testing
