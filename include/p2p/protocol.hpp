// Protocol: the subnet + encryption pair that decides which nodes may talk to each other.
#pragma once

#include <string>
#include <utility>

namespace p2p {

/// The protocol version this implementation speaks (py2p / js2p 0.7.x).
inline constexpr const char* protocol_version = "0.7";

class Protocol {
 public:
  /// `encryption` is "Plaintext" or "SSL" (the transports p2pmesh implements).
  Protocol(std::string subnet = "mesh", std::string encryption = "Plaintext");

  const std::string& subnet() const noexcept { return subnet_; }
  const std::string& encryption() const noexcept { return encryption_; }

  /// base58(int(sha256(subnet + encryption + "0.7"))), e.g. ('mesh','Plaintext') ->
  /// "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD". Computed once at construction.
  const std::string& id() const noexcept { return id_; }

  friend bool operator==(const Protocol& a, const Protocol& b) noexcept { return a.id_ == b.id_; }

 private:
  std::string subnet_;
  std::string encryption_;
  std::string id_;
};

}  // namespace p2p
