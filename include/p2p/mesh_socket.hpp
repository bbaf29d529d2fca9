// p2p::MeshSocket: a node of a py2p/js2p-compatible mesh network.
//
//   p2p::MeshSocket sock("0.0.0.0", 4444);                // Plaintext, subnet "mesh"
//   sock.connect("192.168.1.14", 4567);
//   sock.send({"this is", "a test"});                     // a broadcast
//   if (auto msg = sock.recv_for(std::chrono::seconds(1)))
//     msg->reply({"got it"});
//
// Threading. A socket runs on one io thread of its own (named p2p-io-<port>), or on a
// caller-supplied asio::io_context (MeshOptions::io_context). Handlers (register_handler)
// and event listeners (on / once) run on that io thread, one at a time per socket. Every
// public method is safe to call from any thread, including from handlers and listeners,
// except the ones that block (recv_for, close): called on an io thread they would wait for
// themselves, so they throw p2p::UsageError instead. Commands (send, connect, ...) from
// other threads may block for backpressure when the node's peers fall behind; on an io
// thread they never do.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "p2p/error.hpp"
#include "p2p/flags.hpp"
#include "p2p/message.hpp"
#include "p2p/options.hpp"
#include "p2p/protocol.hpp"
#include "p2p/status.hpp"
#include "p2p/value.hpp"

namespace p2p {

/// Thrown by the MeshSocket constructor when the operating system refuses (bind, listen).
class SocketError : public std::runtime_error {
 public:
  explicit SocketError(Error error)
      : std::runtime_error(error.to_string()), error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// The events a MeshSocket raises. The seeds' names are "connect" and "message"; the
/// others are p2pmesh's.
enum class Event {
  connect,           ///< "connect": the routing table went from empty to one peer
  message,           ///< "message": a message was queued for recv()
  disconnect,        ///< "disconnect": a peer left the routing table
  peer_joined,       ///< "peer_joined": a peer completed its handshake
  dial_failed,       ///< "dial_failed": a connect() or automatic dial failed or was refused
  handshake_failed,  ///< "handshake_failed": a connection was refused at handshake
};

/// "connect", "message", ...
std::string_view event_name(Event e) noexcept;
/// The Event of a name; throws p2p::UsageError for an unknown one.
Event event_from_name(std::string_view name);

struct EventInfo {
  Event event = Event::connect;
  std::string peer;    ///< the peer concerned, when there is one
  std::string detail;  ///< why, for failures
};

class MeshSocket {
 public:
  /// Stops at the first handler returning true (like py2p); built-in handlers run first.
  /// The Message& and Connection& are valid for the call only: copy or move out what you
  /// keep (the socket reuses them for the next message).
  using Handler = std::function<bool(Message&, Connection&)>;
  using Listener = std::function<void(MeshSocket&, const EventInfo&)>;

  /// The seeds' constructor: binds addr:port ("" / "0.0.0.0": every interface, advertising
  /// the LAN address; port 0: any free port). Throws SocketError when it cannot listen and
  /// UsageError for an unsupported protocol encryption (only "Plaintext" and "SSL").
  MeshSocket(std::string addr, std::uint16_t port,
             Protocol protocol = Protocol("mesh", "Plaintext"),
             std::optional<Endpoint> out_addr = std::nullopt, int debug_level = 0);
  explicit MeshSocket(MeshOptions options);
  /// close().
  ~MeshSocket();
  MeshSocket(const MeshSocket&) = delete;
  MeshSocket& operator=(const MeshSocket&) = delete;
  MeshSocket(MeshSocket&&) = delete;  // handlers and listeners hold `MeshSocket&`
  MeshSocket& operator=(MeshSocket&&) = delete;

  /// Dials host:port, expecting node `id` when given. Asynchronous: an unreachable peer or
  /// a failed handshake shows in the log, status() and a `dial_failed` / `handshake_failed`
  /// event, never as an exception. Returns an error only for arguments unusable at once
  /// (empty host, port 0) or a closed socket.
  Status connect(const std::string& host, std::uint16_t port, std::string id = {});

  /// Sends `packets` to the network: flag = flags::broadcast relays it to every node,
  /// flags::whisper to direct peers only. `type` is the sub-flag receivers see as packet 0
  /// (leave it at broadcast unless a handler of yours acts on it).
  /// Identical broadcasts within one second would share an id (it hashes the body and its
  /// time in seconds) and receivers would drop the repeat, as py2p and js2p do; p2pmesh
  /// stamps a repeat with the next free second instead, so each send is its own message.
  /// Backpressure: called off the io thread, it blocks while max_pending_commands commands
  /// wait for a backlogged peer (see MeshOptions::max_queued_bytes_per_peer).
  /// The packets are encoded before send() returns and not kept: one array can be filled
  /// in place and sent again.
  Status send(const Array& packets, std::uint8_t flag = flags::broadcast,
              std::uint8_t type = flags::broadcast);

  /// The oldest waiting message, or nullopt.
  std::optional<Message> recv();
  /// Up to `n` waiting messages, oldest first.
  std::vector<Message> recv(std::size_t n);
  /// Waits up to `timeout` for a message. Throws UsageError on an io thread.
  std::optional<Message> recv_for(std::chrono::milliseconds timeout);

  /// Appends a handler; see Handler. Applies to messages processed after it is installed.
  void register_handler(Handler handler);

  /// Calls `fn` on every `event`. `fn` takes (MeshSocket&, const EventInfo&), (MeshSocket&),
  /// (const EventInfo&) or nothing. Event names: see Event.
  template <class F>
  void on(Event event, F&& fn) {
    add_listener(event, adapt(std::forward<F>(fn)), false);
  }
  template <class F>
  void on(std::string_view event, F&& fn) {
    on(event_from_name(event), std::forward<F>(fn));
  }
  /// Calls `fn` on the next `event` only.
  template <class F>
  void once(Event event, F&& fn) {
    add_listener(event, adapt(std::forward<F>(fn)), true);
  }
  template <class F>
  void once(std::string_view event, F&& fn) {
    once(event_from_name(event), std::forward<F>(fn));
  }

  /// Peers with a completed handshake, by node id.
  std::map<std::string, Connection> routing_table() const;
  /// Connections waiting for a handshake.
  std::vector<Connection> awaiting_ids() const;
  /// The outgoing links of the routing table.
  std::vector<Connection> outgoing() const;
  /// Counters, sizes and recent errors.
  MeshStatus status() const;

  /// This node's id (base58 text).
  const std::string& id() const noexcept;
  const Protocol& protocol() const noexcept;
  /// The port actually bound.
  std::uint16_t port() const noexcept;
  /// The address advertised to peers.
  Endpoint out_addr() const;
  /// SHA-256 fingerprint of the certificate this node presents (SSL), for pinning it
  /// elsewhere; empty for Plaintext.
  std::string certificate_fingerprint() const;

  /// Closes one link (and removes it from the routing table).
  Status disconnect(const Connection& conn);
  /// Closes the link to the peer with this id; Errc::invalid_argument when there is none.
  Status disconnect(std::string_view peer_id);
  /// Asks every neighbour for its peers (they answer with their peer lists).
  Status request_peers();

  /// Closes every connection and the listener, wakes recv_for, and (own io thread) joins
  /// the io thread. It waits for a handler or listener that is running, and none runs after
  /// it returns. With a caller-supplied io_context it does not wait for the context: the
  /// sockets close when the caller next runs it (or destroys it). Idempotent; the destructor
  /// calls it. Throws UsageError on a thread running its io_context. From a handler of a
  /// socket on another io_context it waits like anywhere else, so two such sockets whose
  /// handlers close each other at the same time wait for each other, like two threads
  /// joining each other.
  void close();
  bool closed() const noexcept;

 private:
  struct Impl;
  void add_listener(Event event, Listener fn, bool once);

  template <class F>
  static Listener adapt(F&& fn) {
    using Fn = std::decay_t<F>;
    if constexpr (std::is_invocable_v<Fn&, MeshSocket&, const EventInfo&>) {
      return Listener(std::forward<F>(fn));
    } else if constexpr (std::is_invocable_v<Fn&, MeshSocket&>) {
      return [f = Fn(std::forward<F>(fn))](MeshSocket& s, const EventInfo&) mutable { f(s); };
    } else if constexpr (std::is_invocable_v<Fn&, const EventInfo&>) {
      return [f = Fn(std::forward<F>(fn))](MeshSocket&, const EventInfo& e) mutable { f(e); };
    } else {
      static_assert(std::is_invocable_v<Fn&>,
                    "a listener takes (MeshSocket&, const EventInfo&), (MeshSocket&), "
                    "(const EventInfo&) or nothing");
      return [f = Fn(std::forward<F>(fn))](MeshSocket&, const EventInfo&) mutable { f(); };
    }
  }

  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p
