// Helpers for MeshSocket tests on loopback: options, waiting for conditions, chains.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
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

/// Where a handler waits until the test opens it, to hold a socket's io thread. Declare it
/// before the sockets, so that it outlives their handlers, and an OpenAtExit after them: it
/// opens the gate before they close, since close() waits for a handler waiting here.
class Gate {
 public:
  struct OpenAtExit {
    Gate& gate;
    ~OpenAtExit() { gate.open(); }
  };
  void open() {
    std::call_once(once_, [&] { promise_.set_value(); });
  }
  /// Waits until the gate is open.
  void wait() const { opened_.wait(); }
  /// Waits until the gate is open, for at most `limit`.
  void wait_for(std::chrono::milliseconds limit) const { (void)opened_.wait_for(limit); }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_ = promise_.get_future().share();
  std::once_flag once_;
};

/// Ends the process with a message if it is still in scope after `limit`. For tests whose
/// threads could deadlock: deadlocked threads can be neither joined nor closed, and the test
/// would otherwise hang until ctest's timeout (900 s in CI) instead of failing at once.
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::milliseconds limit)
      : thread_([this, what = std::move(what), limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (cv_.wait_for(lock, limit, [&] { return done_; })) return;
          std::fprintf(stderr, "watchdog: %s still running after %lld ms (a deadlock?)\n",
                       what.c_str(), static_cast<long long>(limit.count()));
          std::fflush(nullptr);  // what the test printed before, gtest's failures included
          std::_Exit(1);
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace p2p::testing
