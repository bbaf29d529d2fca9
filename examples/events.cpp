// Events (on / once), as in the seeds:
//
//   >>> @sock.once('connect')         # called once, on the first connection
//   >>> @sock.on('connect')           # called every time the routing table goes 0 -> 1
//   >>> @sock.on('message')           # a message is waiting in recv()
//
// plus p2pmesh's 'disconnect' and 'dial_failed'. Listeners run on the socket's io thread.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "p2p/mesh_socket.hpp"

using namespace std::chrono_literals;

namespace {

template <class Pred>
bool wait_for(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

int main() {
  std::atomic<int> connects{0}, first_connects{0}, messages{0}, disconnects{0}, failures{0};

  p2p::MeshOptions options;
  options.addr = "127.0.0.1";
  options.auto_reconnect = false;  // so that a disconnect stays one
  p2p::MeshSocket sock(options);
  p2p::MeshSocket peer("127.0.0.1", 0);

  sock.once("connect", [&](p2p::MeshSocket&) {
    ++first_connects;
    std::printf("connected for the first time\n");
  });
  sock.on("connect", [&] { ++connects; });
  sock.on("message", [&](p2p::MeshSocket& s) {
    // Not handed the message: it is waiting in recv() (if another listener did not take it).
    if (auto msg = s.recv()) {
      std::printf("message: %s\n", msg->repr().c_str());
      ++messages;
    }
  });
  sock.on(p2p::Event::disconnect, [&](const p2p::EventInfo& e) {
    std::printf("peer %.12s... left\n", e.peer.c_str());
    ++disconnects;
  });
  sock.on("dial_failed", [&](const p2p::EventInfo& e) {
    std::printf("dial failed: %s\n", e.detail.c_str());
    ++failures;
  });

  (void)sock.connect("127.0.0.1", peer.port());
  if (!wait_for([&] { return connects == 1 && !peer.routing_table().empty(); })) return 1;
  (void)peer.send({"hello", 1});
  if (!wait_for([&] { return messages == 1; })) return 1;

  (void)sock.disconnect(peer.id());
  if (!wait_for([&] { return disconnects == 1 && peer.routing_table().empty(); })) return 1;
  (void)sock.connect("127.0.0.1", peer.port());  // 'connect' fires again, 'once' does not
  if (!wait_for([&] { return connects == 2; })) return 1;

  // An address where nobody listens: an event, never an exception.
  std::uint16_t dead = 0;
  {
    p2p::MeshSocket gone("127.0.0.1", 0);
    dead = gone.port();
  }
  (void)sock.connect("127.0.0.1", dead);
  if (!wait_for([&] { return failures == 1; })) return 1;

  std::printf("connect x%d, once x%d, message x%d, disconnect x%d, dial_failed x%d\n",
              connects.load(), first_connects.load(), messages.load(), disconnects.load(),
              failures.load());
  return first_connects == 1 ? 0 : 1;
}
