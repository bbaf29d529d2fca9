// Message and Connection: what recv() returns and what a handler is handed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "p2p/error.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/compression.hpp"
#include "p2p/wire/ids.hpp"

namespace p2p {

namespace detail {
struct SocketHandle;
struct Access;
}  // namespace detail

/// A network address: where a peer listens, or where a connection comes from.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// A message received from the mesh.
///
/// `packets()` starts with the sub-flag, as in the seeds: `sock.send({"a", 1})` arrives as
/// `[0, "a", 1]` (0 = flags::broadcast), a reply as `[2, ...]` (flags::whisper).
/// A Message is a value: copy it, move it, keep it after its socket is gone (reply() then
/// returns an error).
class Message {
 public:
  Message() = default;

  /// [sub_flag, payload...]
  const Array& packets() const noexcept { return packets_; }
  Array& packets() noexcept { return packets_; }
  /// The original sender's node id (base58 text).
  const std::string& sender() const noexcept { return sender_; }
  /// UTC seconds, as the sender stamped it.
  std::uint64_t time() const noexcept { return time_; }
  /// The message id: lower-case hex of the SHA-256 of the message body.
  std::string id() const { return wire::digest_hex(digest_); }
  const wire::Digest256& digest() const noexcept { return digest_; }
  /// The main flag it travelled with: flags::broadcast (relayed) or flags::whisper (direct).
  std::uint8_t type() const noexcept { return type_; }
  /// True when the sender's id travelled as msgpack bin (a py2p node).
  bool sender_is_bin() const noexcept { return sender_is_bin_; }

  /// Replies to the sender: a whisper `[flags::whisper, packets...]` straight to it when it
  /// is a neighbour, else through the request/response path (ask the mesh where the sender
  /// is, dial it, then whisper). Asynchronous; safe from any thread. Off the io thread it
  /// waits for room, like MeshSocket::send, while max_pending_commands commands are queued.
  /// Returns Errc::closed when the socket that received the message is closed or gone.
  Status reply(Array packets) const;

  /// `Message(type=2, packets=[2, 'yes'], sender=6VnYj...)`, like py2p's repr.
  std::string repr() const;

 private:
  friend struct detail::Access;
  Array packets_;
  std::string sender_;
  bool sender_is_bin_ = false;
  std::uint64_t time_ = 0;
  wire::Digest256 digest_{};
  std::uint8_t type_ = 0;
  std::uint64_t via_ = 0;
  std::shared_ptr<detail::SocketHandle> owner_;
};

/// One link of a MeshSocket: the `Connection&` a handler receives (the link the message
/// arrived on) and the values of routing_table(), awaiting_ids() and outgoing(). It is a
/// snapshot plus a way to send on the link; a Connection outlives its link harmlessly
/// (send() then returns Errc::closed).
class Connection {
 public:
  Connection() = default;

  /// The peer's node id; empty while its handshake has not arrived (and no id was expected).
  const std::string& id() const noexcept { return id_; }
  /// The address the peer advertised in its handshake (where it can be dialled), or before
  /// the handshake the address we dialled / the one it came from.
  const Endpoint& addr() const noexcept { return addr_; }
  /// True when we dialled it.
  bool outgoing() const noexcept { return outgoing_; }
  /// True once the peer's handshake completed (it is in the routing table).
  bool established() const noexcept { return established_; }
  /// The compression we use towards it (none before the handshake or when nothing matches).
  std::optional<wire::Compression> compression() const noexcept { return compression_; }
  /// The runtime's number for this link (unique for the socket's lifetime).
  std::uint64_t conn_id() const noexcept { return conn_; }

  /// Sends `[flag, our id, now, type, packets...]` on this link only, like py2p's
  /// `handler.send(flags.whisper, flags.whisper, b"success")`. `flag` must be
  /// flags::broadcast or flags::whisper. Asynchronous when called off the io thread, where
  /// it waits for room like MeshSocket::send.
  Status send(std::uint8_t flag, std::uint8_t type, Array packets) const;

 private:
  friend struct detail::Access;
  std::string id_;
  Endpoint addr_;
  bool outgoing_ = false;
  bool established_ = false;
  std::optional<wire::Compression> compression_;
  std::uint64_t conn_ = 0;
  std::shared_ptr<detail::SocketHandle> owner_;
};

}  // namespace p2p
