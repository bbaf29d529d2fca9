// Private state of core::Node, shared by the files that implement it (node.cpp for the
// connection life cycle and user commands, node_dispatch.cpp for incoming messages).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/node.hpp"
#include "core/seen_cache.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/message.hpp"

namespace p2p::core {

/// A whisper waiting for a link's handshake (the last step of an indirect reply).
struct QueuedWhisper {
  Array packets;
};

struct Conn {
  Conn(ConnId i, bool out, Address a, std::size_t max_frame)
      : id(i), outgoing(out), remote(std::move(a)), reader(max_frame) {}

  ConnId id;
  bool outgoing;
  Address remote;  ///< dialled address, or where an incoming connection came from
  std::optional<PeerId> expected_id;
  bool dialing = false;     ///< outgoing, not connected yet
  bool handshaked = false;  ///< in the routing table
  bool closing = false;     ///< CloseCmd issued; waiting for on_closed
  bool reconnect_dial = false;
  PeerInfo info;                             ///< valid once handshaked
  std::vector<wire::Compression> try_order;  ///< how to open the peer's frames
  wire::FrameReader reader;
  std::chrono::nanoseconds opened_at{0};
  /// When the partial frame now buffered began: the stall bound is on a frame's total time,
  /// so a peer trickling a byte now and then cannot hold a frame open forever.
  std::chrono::nanoseconds partial_since{0};
  /// The last user-level frame body we sent on this link, for `renegotiate/resend`.
  /// The last user message sent here, as its uncompressed frame (for a resend).
  SharedFrame last_frame;
  wire::Digest256 last_id{};
  bool last_resent = false;
  std::vector<QueuedWhisper> after_handshake;
};

/// A reply waiting for a `response` that tells us where its target is.
struct PendingRequest {
  PeerId target;
  bool target_is_bin = false;
  Array packets;
  std::chrono::nanoseconds deadline{0};
};

/// An address learned from a peers list or a past link, for self-healing.
struct KnownPeer {
  Address addr;
  bool id_is_bin = false;
  std::uint32_t failures = 0;
  std::chrono::nanoseconds next_attempt{0};
};

/// Frames for one message, built lazily once per compression method and shared by every
/// link that uses that method. A relay hands in the frame content it received so that links
/// with the same method forward those exact bytes.
class FrameSet {
 public:
  FrameSet(ByteView body, const wire::Digest256& id) : body_(body), id_(id) {}
  void set_received(std::optional<wire::Compression> method, ByteView content) {
    in_method_ = method;
    in_content_ = content;
    has_in_ = true;
  }
  SharedFrame get(std::optional<wire::Compression> method);
  /// Hands in the message's uncompressed frame, already built (see make_user_message).
  void set_raw(SharedFrame frame) { cache_[slot(std::nullopt)] = std::move(frame); }

 private:
  static std::size_t slot(std::optional<wire::Compression> m);
  ByteView body_;
  const wire::Digest256& id_;
  bool has_in_ = false;
  std::optional<wire::Compression> in_method_;
  ByteView in_content_;
  std::array<SharedFrame, 6> cache_{};
};

/// The heap bytes `body`'s buffers hold (its sender, its arrays' element storage and its
/// strs' and bins' bytes), counted until they pass `limit`: the walk stops there.
std::size_t kept_bytes(const wire::Body& body, std::size_t limit) noexcept;

struct Node::Impl {
  explicit Impl(NodeConfig cfg);

  NodeConfig config;
  PeerId id;
  std::mt19937_64 rng;
  SeenCache seen;
  Counters counters;
  ConnId next_conn = 1;
  std::uint64_t tables_version = 0;  // see Node::tables_version(); bumped by tables_changed()
  void tables_changed() noexcept { ++tables_version; }
  /// Changed only through add_conn, erase_conn, set_handshaked and set_closing (and
  /// on_bytes for partial frames), which keep `tally` and the tables version current.
  std::unordered_map<ConnId, Conn> conns;
  /// Connections that are outgoing and open, awaiting a handshake (open and not handshaked),
  /// or holding a partial frame. Kept as connections change, so that ticks, self-healing and
  /// the connection limits need not scan every connection: with many nodes in one process a
  /// scan costs a cache miss per connection, four times a second, even when all is quiet.
  struct Tally {
    std::size_t outgoing = 0, awaiting = 0, partial = 0;
  } tally;
  // Ordered, so iteration (broadcast fan-out, peers lists) is the same on every platform.
  std::map<PeerId, ConnId> routing;
  std::map<std::string, PendingRequest> requests;
  std::map<PeerId, KnownPeer> known;
  /// Peers whose outgoing link broke without us closing it, oldest first (at most
  /// max_outgoing): self-healing redials them on the recovery links (limits.hpp).
  std::vector<PeerId> lost;
  std::vector<std::shared_ptr<Handler>> handlers;
  /// The body every received frame is decoded into, so that its buffers serve frame after
  /// frame (wire::decode_body_into) instead of being allocated and freed per message. A
  /// message's handlers borrow them; only a message queued for recv() takes them away.
  wire::Body inbound;
  bool inbound_in_use = false;  ///< a frame's dispatch is running on `inbound`
  std::vector<Command> outbox;
  std::size_t outbox_frame_bytes = 0;  ///< of the SendCmds in outbox
  std::chrono::nanoseconds last_peer_refresh{0};
  std::uint64_t request_counter = 0;
  Time last_now;

  /// A user-level message encoded once: the frame every raw link shares, and its id.
  using UserMessage = PreparedMessage;

  // ---- helpers (node.cpp) ----
  /// Encodes [flag, id, now, type, packets...], checks its size, and records a broadcast in
  /// the seen cache (so its echo is dropped).
  Result<UserMessage> make_user_message(const Array& packets, std::uint8_t flag, std::uint8_t type,
                                        Time now);
  /// Sends it on `c` and remembers it as the link's last message (for `resend`).
  void send_user_message(Conn& c, const UserMessage& m, FrameSet& frames);
  /// Records a broadcast of ours in the seen cache (so its echo is dropped), restamping it
  /// with the next free second while its (id, time) is taken.
  Status admit_broadcast(UserMessage& m);
  /// Records the methods a peer advertised and derives how we write to it and read from it.
  /// Returns the ones p2pmesh implements, in the peer's order.
  std::vector<wire::Compression> set_peer_methods(Conn& c, std::vector<std::uint8_t> advertised);
  void log(int level, const std::string& text) const;
  Conn* find(ConnId c);
  std::size_t outgoing_count() const noexcept { return tally.outgoing; }
  std::size_t awaiting_count() const noexcept { return tally.awaiting; }
  Conn& add_conn(ConnId cid, bool outgoing, const Address& remote);
  void erase_conn(ConnId cid);
  void set_handshaked(Conn& c, bool handshaked);
  void set_closing(Conn& c);
  /// Adds (sign 1) or removes (-1) c's share of tally.outgoing and tally.awaiting.
  void count_in_tally(const Conn& c, int sign) noexcept;
  void emit(Command&& cmd);
  void event(EventKind kind, ConnId conn, PeerId peer, std::string detail);
  void send_frame(Conn& c, SharedFrame frame);
  /// Encodes [flag, id, now, payload...] and sends it on `c` with c's compression (or
  /// uncompressed when `raw`).
  void send_internal(Conn& c, std::uint8_t flag, const Array& payload, Time now, bool raw = false);
  void send_handshake(Conn& c, Time now);
  void send_peers(Conn& c, Time now);
  Array peer_list_for(ConnId exclude);
  void close_conn(Conn& c, const std::string& reason);
  void remove_from_routing(Conn& c);
  Result<ConnId> dial(const Address& addr, std::optional<PeerId> id, bool id_is_bin, Time now,
                      bool reconnect);
  void remember_peer(const PeerId& pid, bool is_bin, const Address& addr);
  void self_heal(Time now);
  /// Sets kp's next attempt after an exponential backoff with jitter, then dials it.
  bool redial(const PeerId& pid, KnownPeer& kp, Time now);
  /// Redials lost peers on the recovery links, above max_outgoing.
  void recover_lost(Time now);
  Value id_value(const PeerId& pid, bool is_bin) const;

  // ---- incoming (node_dispatch.cpp) ----
  void on_frame(Conn& c, ByteView content, Time now);
  void dispatch(Conn& c, wire::Body& body, const wire::OpenedView& opened, ByteView content,
                Time now);
  void relay(Conn& from, const wire::Body& body, const wire::OpenedView& opened, ByteView content);
  void handle_message(Conn& c, wire::Body& body, const wire::OpenedView& opened, Time now);
  void handle_renegotiate(Conn& c, const wire::Body& body, Time now);
  void handle_handshake(Conn& c, const wire::Body& body, Time now);
  void handle_peers(Conn& c, const wire::Body& body, Time now);
  void handle_request(Conn& c, const wire::Body& body, Time now);
  void handle_response(Conn& c, const wire::Body& body, Time now);
  void protocol_violation(Conn& c, const std::string& why);
  void install_peer(Conn& c, PeerId pid, bool is_bin, Address addr,
                    std::vector<std::uint8_t> advertised, Time now);
};

}  // namespace p2p::core
