// The seeds' custom handler ("Advanced Usage"): relay Bitcoin transactions to services.
//
//   >>> def relay_tx(msg, handler):
//   ...     packets = msg.packets
//   ...     if packets[0] == b'tx_relay':
//   ...         relay = tx.Tx.from_bin(packets[1]); services...send_tx(relay)
//   ...         return True   # stop calling handlers
//   >>> sock.register_handler(relay_tx)
//
// packets() starts with the sub-flag, so the marker is packets()[1] here. The "services"
// are a callback; the example checks that transactions reach it and that other messages
// still reach recv().
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "p2p/mesh_socket.hpp"

using namespace std::chrono_literals;

namespace {

/// Stand-in for pycoin's services: where a relayed transaction goes.
using SendTx = std::function<void(const p2p::Bytes& raw_tx)>;

/// A handler that takes `tx_relay` messages off the mesh and hands them to `send_tx`.
p2p::MeshSocket::Handler relay_tx(SendTx send_tx) {
  return [send_tx = std::move(send_tx)](p2p::Message& msg, p2p::Connection&) {
    const p2p::Array& packets = msg.packets();  // [sub_flag, marker, tx]
    if (packets.size() == 3 && packets[1] == p2p::Value::bin(p2p::as_bytes("tx_relay")) &&
        packets[2].is_bin()) {
      send_tx(packets[2].as_bin());
      return true;  // handled: not queued for recv(), no other handler called
    }
    return false;
  };
}

}  // namespace

int main() {
  std::mutex mu;
  std::vector<p2p::Bytes> relayed;  // what the "services" received

  p2p::MeshSocket relay("127.0.0.1", 0);
  relay.register_handler(relay_tx([&](const p2p::Bytes& tx) {
    std::lock_guard<std::mutex> lock(mu);  // handlers run on the relay's io thread
    relayed.push_back(tx);
  }));

  p2p::MeshSocket wallet("127.0.0.1", 0);
  (void)wallet.connect("127.0.0.1", relay.port());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (relay.routing_table().empty() || wallet.routing_table().empty()) {
    if (std::chrono::steady_clock::now() > deadline) return 1;
    std::this_thread::sleep_for(10ms);
  }

  const p2p::Bytes tx{0x01, 0x00, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
  (void)wallet.send({p2p::Value::bin(p2p::as_bytes("tx_relay")), tx});
  (void)wallet.send({"just chatting"});

  // The chat message is not a transaction: it reaches recv().
  auto chat = relay.recv_for(10s);
  if (!chat || chat->packets()[1] != p2p::Value("just chatting")) return 1;
  std::lock_guard<std::mutex> lock(mu);
  std::printf("relayed %zu transaction(s); recv() got %s\n", relayed.size(), chat->repr().c_str());
  // Both came over one link in order, so the transaction was handled before the chat.
  return relayed.size() == 1 && relayed[0] == tx && !relay.recv() ? 0 : 1;
}
