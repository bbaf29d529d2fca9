// Helpers for MeshSocket tests on loopback: options, waiting for conditions, chains.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "p2p/mesh_socket.hpp"

namespace p2p::testing {

using namespace std::chrono_literals;

/// Generous: the machine is shared and TLS nodes start with a key generation.
inline constexpr auto deadline = 20s;

/// Polls `pred` until it holds or `limit` passes; returns its last value. The tiny pause
/// between polls only yields the CPU: correctness never depends on it.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = deadline) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

/// A node on 127.0.0.1 with an ephemeral port.
inline MeshOptions loopback(const std::string& encryption = "Plaintext",
                            const std::string& subnet = "mesh") {
  MeshOptions o;
  o.addr = "127.0.0.1";
  o.port = 0;
  o.protocol = Protocol(subnet, encryption);
  if (const char* lvl = std::getenv("P2P_TEST_DEBUG")) o.debug_level = std::atoi(lvl);
  return o;
}

inline std::unique_ptr<MeshSocket> make_node(const std::string& encryption = "Plaintext",
                                             const std::string& subnet = "mesh") {
  return std::make_unique<MeshSocket>(loopback(encryption, subnet));
}

/// Connects `a` to `b` and waits until both list each other.
inline ::testing::AssertionResult link(MeshSocket& a, MeshSocket& b) {
  auto st = a.connect("127.0.0.1", b.port());
  if (!st) return ::testing::AssertionFailure() << "connect: " << st.error().to_string();
  const bool ok = wait_until(
      [&] { return a.routing_table().count(b.id()) == 1 && b.routing_table().count(a.id()) == 1; });
  if (!ok)
    return ::testing::AssertionFailure()
           << "no link between " << a.port() << " and " << b.port() << "\n"
           << a.status().to_string() << b.status().to_string();
  return ::testing::AssertionSuccess();
}

/// Waits for the next message on `s`.
inline std::optional<Message> next_message(MeshSocket& s,
                                           std::chrono::milliseconds limit = deadline) {
  return s.recv_for(limit);
}

}  // namespace p2p::testing
