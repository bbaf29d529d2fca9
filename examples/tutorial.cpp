// The seeds' tutorial ("Mesh Socket: Basic Usage") in C++: connect, send, recv, reply.
//
// The seeds bind '0.0.0.0':4444 and connect to another machine; to run anywhere, this
// example binds two nodes to 127.0.0.1 on free ports and lets the second play the remote
// peer that answers "yes", "I did".
#include <chrono>
#include <cstdio>
#include <future>

#include "p2p/mesh_socket.hpp"

using namespace std::chrono_literals;

int main() {
  // >>> sock = mesh.MeshSocket('0.0.0.0', 4444)
  p2p::MeshSocket sock("127.0.0.1", 0);
  p2p::MeshSocket peer("127.0.0.1", 0);  // the other end of the tutorial
  std::printf("sock %s listens on %s\n", sock.id().c_str(), sock.out_addr().to_string().c_str());

  // The peer replies to the question, as in the tutorial's transcript. Listeners run on the
  // peer's io thread; recv() and reply() are safe there.
  peer.on("message", [](p2p::MeshSocket& s) {
    while (auto msg = s.recv()) {
      if (msg->packets().size() > 1 && msg->packets()[1] == p2p::Value("Did you get this?"))
        (void)msg->reply({"yes", "I did"});
    }
  });

  // Connecting is asynchronous; the seeds sleep and check the routing table. Waiting for
  // the 'connect' event says the same without guessing a delay.
  std::promise<void> connected;
  sock.once("connect", [&] { connected.set_value(); });
  // >>> sock.connect('192.168.1.14', 4567)
  (void)sock.connect("127.0.0.1", peer.port());
  if (connected.get_future().wait_for(10s) != std::future_status::ready ||
      sock.routing_table().empty()) {
    std::fprintf(stderr, "could not connect\n%s", sock.status().to_string().c_str());
    return 1;
  }

  // >>> sock.send('this is', 'a test')
  (void)sock.send({"this is", "a test"});
  // >>> sock.send('Did you get this?')  # A peer then replies
  (void)sock.send({"Did you get this?"});
  // >>> msg = sock.recv()
  auto msg = sock.recv_for(10s);
  if (!msg) {
    std::fprintf(stderr, "no reply\n");
    return 1;
  }
  // >>> print(msg)
  std::printf("%s\n", msg->repr().c_str());
  // >>> print(msg.packets)   ->  [2, 'yes', 'I did']  (the sub-flag first: 2 is whisper)
  const p2p::Array expected{p2p::flags::whisper, "yes", "I did"};
  std::printf("%s\n", p2p::Value(msg->packets()).repr().c_str());
  if (msg->packets() != expected || msg->sender() != peer.id()) return 1;

  // >>> for msg in sock.recv(10):
  // ...     msg.reply("Replying to a list")
  (void)peer.send({"one"});
  (void)peer.send({"two"});
  std::size_t replied = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (replied < 2 && std::chrono::steady_clock::now() < deadline) {
    if (auto first = sock.recv_for(100ms)) {
      (void)first->reply({"Replying to a list"});
      ++replied;
    }
    for (auto& m : sock.recv(10)) {
      (void)m.reply({"Replying to a list"});
      ++replied;
    }
  }
  std::printf("replied to %zu messages\n", replied);
  return replied == 2 ? 0 : 1;
}
