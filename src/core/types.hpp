// Plain types shared by the sans-I/O core and everything that drives it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "p2p/bytes.hpp"

namespace p2p::core {

/// Identifies one connection for the life of a Node. Assigned by the Node, never reused;
/// 0 is never a valid id.
using ConnId = std::uint64_t;

/// A node id as bytes (it travels as msgpack str or bin; both map to the same key).
using PeerId = std::string;

/// An immutable frame shared by every outgoing queue it is written to (design principle 2:
/// encode once, share everywhere).
using SharedFrame = std::shared_ptr<const Bytes>;

struct Address {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const Address&, const Address&) = default;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

/// The core never reads a clock: every input carries the time. `mono` orders timeouts;
/// `utc` (seconds) stamps messages and ages broadcasts, as the protocol defines them.
struct Time {
  std::chrono::nanoseconds mono{0};
  std::uint64_t utc = 0;
};

}  // namespace p2p::core
