// p2p::core::Node: the mesh protocol as a deterministic state machine (sans-I/O).
//
// A runtime (src/net) or the simulator (sim/) feeds it inputs -- a connection opened, bytes
// received, a connection closed, the passage of time -- and executes the commands it leaves
// in its outbox: write these bytes, dial that address, close that connection, deliver this
// message, raise this event. The Node never touches a socket, a thread or a clock, so the
// same inputs always give the same outputs.
//
// Re-entrancy: user handlers run inside on_bytes(); they may call any public method (send,
// reply, disconnect -- even of the connection being processed). The Node looks connections
// up again after every callback, so this is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/limits.hpp"
#include "core/message.hpp"
#include "core/types.hpp"
#include "p2p/error.hpp"
#include "p2p/protocol.hpp"
#include "p2p/value.hpp"
#include "p2p/wire/compression.hpp"

namespace p2p::core {

struct NodeConfig {
  Protocol protocol;
  /// The address advertised in our handshake (where peers can dial us).
  Address out_addr;
  /// Random per-process salt for the node id (the runtime draws it; the simulator derives it
  /// from its seed so runs repeat).
  std::string id_salt;
  /// Methods we advertise, in order of preference. Empty: never compress.
  std::vector<wire::Compression> compression{wire::all_compressions.begin(),
                                             wire::all_compressions.end()};
  /// Outgoing links the node keeps (py2p's `max_outgoing`).
  std::size_t max_outgoing = 4;
  /// Dial learned peers to refill max_outgoing when links are lost (self-healing).
  bool auto_reconnect = true;
  Limits limits;
  /// Seed of the node's PRNG (peer-list shuffling, backoff jitter).
  std::uint64_t seed = 0;
  /// Optional log sink: level 1 (connections) .. 5 (every message in or out), like the
  /// references' debug_level. Called synchronously; may be empty.
  std::function<void(int level, const std::string& text)> log;
  int log_level = 0;
};

// ---- outbox commands ----------------------------------------------------------------------
struct SendCmd {
  ConnId conn;
  SharedFrame frame;  ///< a whole frame, header included
};
struct DialCmd {
  ConnId conn;  ///< the id this connection will have once the runtime reports on it
  Address addr;
};
struct CloseCmd {
  ConnId conn;
  std::string reason;
};
struct DeliverCmd {
  Message msg;  ///< no handler took it: queue it for recv() and raise `message`
};
enum class EventKind {
  connect,           ///< routing table went from 0 to 1 peer
  peer_joined,       ///< a handshake completed; `peer` is in the routing table
  peer_left,         ///< `peer` left the routing table (`disconnect` event)
  dial_failed,       ///< a dial we asked for failed (`detail` says why)
  handshake_failed,  ///< a connection was refused at handshake (`detail` says why)
};
struct EventCmd {
  EventKind kind;
  ConnId conn = 0;
  PeerId peer;
  std::string detail;
};
using Command = std::variant<SendCmd, DialCmd, CloseCmd, DeliverCmd, EventCmd>;

// ---- read-only views ------------------------------------------------------------------------
struct PeerInfo {
  PeerId id;
  bool id_is_bin = false;
  ConnId conn = 0;
  Address addr;  ///< the address the peer advertised in its handshake
  bool outgoing = false;
  std::optional<wire::Compression> compression;  ///< what we use when writing to it
  std::vector<std::uint8_t> advertised;          ///< the peer's advertised method flags
};
struct PendingInfo {
  ConnId conn = 0;
  bool outgoing = false;
  Address addr;  ///< remote address (incoming) or dialled address (outgoing)
  std::optional<PeerId> expected_id;
};

/// Counters of everything the node did or refused; status() in the API reports them.
struct Counters {
  std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t messages_delivered = 0;   ///< user-level messages queued for recv()
  std::uint64_t messages_handled = 0;     ///< user-level messages a user handler took
  std::uint64_t broadcasts_sent = 0;      ///< our own broadcasts
  std::uint64_t broadcasts_relayed = 0;   ///< broadcasts we forwarded (once per message)
  std::uint64_t broadcast_copies_in = 0;  ///< broadcast frames received, duplicates included
  std::uint64_t duplicates_dropped = 0, expired_dropped = 0;
  std::uint64_t seen_evicted = 0;  ///< seen-cache entries evicted because it was full
  std::uint64_t handshakes_completed = 0, handshake_failures = 0, wrong_protocol = 0;
  std::uint64_t self_connections = 0, duplicate_connections = 0;
  std::uint64_t protocol_errors = 0;  ///< malformed frames/bodies/handshakes (link closed)
  std::uint64_t checksum_failures = 0;
  /// Frames over max_frame_bytes, or whose body decompresses beyond max_body_bytes.
  std::uint64_t oversize_frames = 0;
  std::uint64_t connections_refused = 0;  ///< over max_connections / max_awaiting
  std::uint64_t timeouts = 0;             ///< handshake or stalled-frame timeouts
  std::uint64_t dials = 0, dial_failures = 0, reconnect_dials = 0;
  std::uint64_t requests_sent = 0, requests_answered = 0, requests_expired = 0;
  std::uint64_t replies_indirect = 0;
  std::uint64_t ignored = 0;  ///< well-formed messages with nothing to do (unknown flags)
};

/// The `Connection&` handed to user handlers: the link a message arrived on.
struct LinkView {
  ConnId conn = 0;
  const PeerInfo* peer = nullptr;  ///< null if the link has no completed handshake
};

/// Handlers get the message mutably so that the API layer can lend its packets to the
/// user's handler (and take them back for the next one) instead of copying them.
using Handler = std::function<bool(Message&, const LinkView&)>;

/// A user message already encoded into its uncompressed frame, as a node with id `sender`
/// sends it. Building one is pure (no node state), so a MeshSocket encodes and hashes on
/// the caller's thread and the node's thread only de-duplicates and fans out.
struct PreparedMessage {
  SharedFrame raw;  ///< the whole uncompressed frame: length, checksum, body
  wire::Digest256 id{};
  std::uint8_t flag = 0;  ///< broadcast or whisper
  std::uint64_t time = 0;
  ByteView body() const noexcept { return ByteView(*raw).subspan(raw_overhead); }
  static constexpr std::size_t raw_overhead = 36;  ///< wire::raw_frame_overhead
};

/// Encodes [flag, sender, time, type, packets...] (flag: broadcast or whisper) and hashes
/// it. Errc::too_large beyond `max_body` bytes.
Result<PreparedMessage> prepare_message(const PeerId& sender, const Array& packets,
                                        std::uint8_t flag, std::uint8_t type, std::uint64_t time,
                                        std::size_t max_body);

/// A message encoded like prepare_message() does, but into a buffer of the caller's, which
/// can serve message after message: a sender that reuses one allocates nothing per message.
struct EncodedMessage {
  ByteView frame;  ///< the first bytes of the buffer: the whole uncompressed frame
  wire::Digest256 id{};
  std::uint8_t flag = 0;
  std::uint64_t time = 0;
};
Result<EncodedMessage> encode_message(Bytes& buffer, const PeerId& sender, const Array& packets,
                                      std::uint8_t flag, std::uint8_t type, std::uint64_t time,
                                      std::size_t max_body);
/// The message `encoded` as a PreparedMessage that owns its frame: `buffer` (the one it was
/// encoded into) is trimmed to the frame and taken, not copied.
PreparedMessage adopt_message(const EncodedMessage& encoded, Bytes&& buffer);
/// The same with the frame already made by the caller (whose shared_ptr may recycle the
/// buffer, net::FramePool): `frame` is the encoded frame, exactly.
PreparedMessage adopt_message(const EncodedMessage& encoded, SharedFrame frame);

class Node {
 public:
  explicit Node(NodeConfig config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // ---- inputs from the runtime ----
  /// An incoming connection was accepted. Returns its ConnId (the Node queues a CloseCmd for
  /// it at once if a connection limit is reached).
  ConnId on_incoming(const Address& remote, Time now);
  /// A dial asked for by a DialCmd completed (on_dial_connected) or failed.
  void on_dial_connected(ConnId conn, Time now);
  void on_dial_failed(ConnId conn, const std::string& reason, Time now);
  /// Bytes arrived on a connection.
  void on_bytes(ConnId conn, ByteView data, Time now);
  /// The connection is gone (peer closed, I/O error, or our own CloseCmd done).
  void on_closed(ConnId conn, const std::string& reason, Time now);
  /// Timeouts, cache expiry and self-healing. Call at least once a second.
  void tick(Time now);

  // ---- user commands ----
  /// Sends payload `packets` as [flag, id, time, type, packets...] to every peer.
  /// flag: broadcast (relayed) or whisper (direct peers only).
  Status send(const Array& packets, std::uint8_t flag, std::uint8_t type, Time now);
  /// send() for a message prepare_message() built with this node's id and the limits'
  /// max_body_bytes. A broadcast whose (id, time) was already used is restamped with the
  /// next free second, as send() does.
  Status send_prepared(PreparedMessage message, Time now);
  /// A hint that send_prepared(message) comes soon: starts loading its de-duplication slot
  /// (see SeenCache::prefetch), so that a queue of sends overlaps those cache misses.
  void prefetch(const PreparedMessage& message) const noexcept;
  /// Sends [flag, id, time, type, packets...] on one established link only.
  Status send_to(ConnId conn, const Array& packets, std::uint8_t flag, std::uint8_t type, Time now);
  /// Dials `addr`, expecting `id` when given. Refused (error) for our own address or id, and
  /// for an id already connected or being dialled.
  Result<ConnId> connect(const Address& addr, std::optional<PeerId> id, Time now);
  /// Closes a connection (and removes it from the routing table).
  void disconnect(ConnId conn, const std::string& reason = "closed by user");
  /// Replies to the sender of `to`: a direct whisper when it is a neighbour, else the
  /// request/response path (broadcast `request`, wait for `response`, dial, deliver).
  Status reply(const Message& to, const Array& packets, Time now);
  /// Asks every neighbour for its peers (`request` with "*").
  void request_peers(Time now);
  /// Appends a user handler; built-in handlers always run first.
  void register_handler(Handler handler);

  // ---- outputs ----
  /// Moves every pending command out (in the order produced).
  std::vector<Command> take_outbox();
  /// Moves the outbox into `into` (which must be empty) and leaves `into`'s old buffer as
  /// the new outbox: a runtime that passes the same vector back each time allocates nothing.
  void take_outbox(std::vector<Command>& into);
  bool outbox_empty() const noexcept;
  /// Bytes of the frames waiting in the outbox (SendCmd), for callers that pace themselves.
  std::size_t outbox_frame_bytes() const noexcept;

  // ---- views ----
  const PeerId& id() const noexcept;
  const Protocol& protocol() const noexcept;
  const Address& out_addr() const noexcept;
  std::vector<PeerInfo> routing_table() const;
  const PeerInfo* peer(const PeerId& id) const;
  std::vector<PendingInfo> awaiting() const;
  /// awaiting().size(), without building the list.
  std::size_t awaiting_count() const noexcept;
  /// Open outgoing connections, handshaked or not.
  std::size_t outgoing_count() const noexcept;
  /// Changes whenever routing_table(), awaiting() or outgoing_count() may have changed: a
  /// connection opened or gone, a handshake, a close, a renegotiated compression. Some of
  /// these happen without a command (a peer's renegotiation), so a caller that caches the
  /// views compares this instead of watching the outbox.
  std::uint64_t tables_version() const noexcept;
  std::size_t connection_count() const noexcept;
  const Counters& counters() const noexcept;
  void reset_counters() noexcept;
  std::size_t seen_cache_size() const noexcept;
  /// Addresses remembered for self-healing (from handshakes and peers lists); at most
  /// limits.max_known_peers.
  std::size_t known_peer_count() const noexcept;
  /// Heap bytes the reused decoding body keeps between frames (see Impl::inbound); at most
  /// inbound_keep_bytes after any frame.
  std::size_t inbound_kept_bytes() const noexcept;
  /// The most a node keeps of the buffers its last frame was decoded into. Frames up to a
  /// few KiB, the common ones, then decode without allocating; a larger or many-valued
  /// frame gives its buffers back at once, so that one such frame from a peer does not pin
  /// its size in every node for good.
  static constexpr std::size_t inbound_keep_bytes = std::size_t{64} << 10;
  const NodeConfig& config() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p::core
