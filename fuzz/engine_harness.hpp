// A fuzzing runtime for core::Node: plays the part of src/net (connections opening, bytes,
// closes, dial results, the clock) and executes the outbox after every step, checking that
// what the engine asks for makes sense and that its state stays inside its limits.
//
// Invariants checked after every step (besides "no exception escapes", "no sanitizer
// report"):
//   * every SendCmd names a connection that is open (accepted, or dialled and connected)
//     and that the engine has not asked to close; every CloseCmd a connection it has;
//     every DialCmd a fresh id and an address that is not our own;
//   * every frame the engine writes is well formed: one frame, its checksum verifies, its
//     body decodes, and the sender is the engine's own id (but for relayed broadcasts);
//   * the engine holds exactly the connections the runtime has not yet reported gone;
//   * routing table <= max_connections (each entry an open, handshaked link, never us),
//     incoming connections awaiting a handshake <= max_awaiting, seen cache <= its bound;
//   * counters only grow.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/node.hpp"
#include "fuzz_support.hpp"
#include "p2p/flags.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/message.hpp"
#include "p2p/wire/msgpack.hpp"

namespace p2p::fuzz {

using core::Address;
using core::ConnId;
using core::Time;

/// Golden vectors are stamped 1500000000: start the clock there so they are not expired.
inline constexpr std::uint64_t utc_base = 1'500'000'000;

/// Small bounds, so that a short input reaches every one of them.
inline core::Limits small_limits() {
  core::Limits l;
  l.max_frame_bytes = 2048;
  l.max_body_bytes = 4096;
  l.max_depth = 8;
  l.max_connections = 6;
  l.max_awaiting = 3;
  l.handshake_timeout = std::chrono::seconds(2);
  l.stalled_frame_timeout = std::chrono::seconds(3);
  l.seen_cache_entries = 16;
  l.max_pending_requests = 3;
  l.request_timeout = std::chrono::seconds(5);
  l.max_known_peers = 6;
  return l;
}

class EngineHarness {
 public:
  enum class State { dialing, open };

  explicit EngineHarness(core::NodeConfig config) : node_(std::move(config)) {
    limits_ = node_.config().limits;
    snapshot_counters(prev_counters_);
  }

  core::Node& node() { return node_; }
  Time now() const { return now_; }
  const std::deque<core::Message>& delivered() const { return delivered_; }
  const std::vector<std::string>& request_ids() const { return request_ids_; }

  /// Connections the runtime knows about (not yet reported closed), in id order.
  const std::map<ConnId, State>& conns() const { return conns_; }
  bool asked_to_close(ConnId c) const { return closing_.contains(c); }

  void advance(std::chrono::nanoseconds d) {
    now_.mono += d;
    now_.utc = utc_base + static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::seconds>(now_.mono).count());
  }

  // ---- runtime events, each followed by the outbox and the invariants ----
  ConnId incoming(const Address& remote) {
    const ConnId c = node_.on_incoming(remote, now_);
    check(c > max_id_, "on_incoming returned a reused connection id");
    max_id_ = c;
    conns_[c] = State::open;
    return c;
  }
  void dial_connected(ConnId c) {
    node_.on_dial_connected(c, now_);
    if (auto it = conns_.find(c); it != conns_.end()) it->second = State::open;
  }
  void dial_failed(ConnId c) {
    node_.on_dial_failed(c, "fuzz: refused", now_);
    forget(c);
  }
  void closed(ConnId c) {
    node_.on_closed(c, "fuzz: closed", now_);
    forget(c);
  }
  void bytes(ConnId c, ByteView data) { node_.on_bytes(c, data, now_); }

  /// Executes the outbox, then checks every invariant. Call after each step.
  void settle() {
    for (auto& cmd : node_.take_outbox()) execute(cmd);
    check_state();
  }

  /// Remembers request ids the engine broadcast (for well-formed `response` frames).
  void capture_request_ids(bool on) { capture_requests_ = on; }

 private:
  void forget(ConnId c) {
    conns_.erase(c);
    closing_.erase(c);
  }

  void execute(core::Command& cmd) {
    if (auto* s = std::get_if<core::SendCmd>(&cmd)) {
      auto it = conns_.find(s->conn);
      check(it != conns_.end(), "SendCmd for a connection the runtime does not have");
      check(it->second == State::open, "SendCmd for a connection still dialling");
      check(!closing_.contains(s->conn), "SendCmd after CloseCmd on the same connection");
      check(s->frame != nullptr, "SendCmd without a frame");
      check_frame(*s->frame);
    } else if (auto* d = std::get_if<core::DialCmd>(&cmd)) {
      check(d->conn > max_id_, "DialCmd with a reused connection id");
      check(!(d->addr == node_.out_addr()), "DialCmd to our own address");
      check(!d->addr.host.empty() && d->addr.port != 0, "DialCmd to an invalid address");
      max_id_ = d->conn;
      conns_[d->conn] = State::dialing;
    } else if (auto* c = std::get_if<core::CloseCmd>(&cmd)) {
      check(conns_.contains(c->conn), "CloseCmd for a connection the runtime does not have");
      check(closing_.insert(c->conn).second, "CloseCmd twice for one connection");
    } else if (auto* m = std::get_if<core::DeliverCmd>(&cmd)) {
      check(m->msg.via != 0 && m->msg.via <= max_id_, "DeliverCmd via an unknown connection");
      delivered_.push_back(std::move(m->msg));
      if (delivered_.size() > 4) delivered_.pop_front();
    } else if (auto* e = std::get_if<core::EventCmd>(&cmd)) {
      check(e->conn <= max_id_, "EventCmd for an unknown connection");
    }
  }

  void check_frame(const Bytes& frame) {
    check(frame.size() > wire::frame_header_size, "empty frame");
    const std::size_t announced = (std::size_t{frame[0]} << 24) | (std::size_t{frame[1]} << 16) |
                                  (std::size_t{frame[2]} << 8) | std::size_t{frame[3]};
    check(announced == frame.size() - wire::frame_header_size, "frame length header is wrong");
    const ByteView content = ByteView(frame).subspan(wire::frame_header_size);
    // Raw first (handshakes always are), then the methods the engine may write with: trying
    // every decoder on every frame would dominate the run time.
    auto opened = wire::open_frame(content, {}, 1u << 24);
    if (!opened) opened = wire::open_frame(content, node_.config().compression, 1u << 24);
    check(opened.ok(), "engine wrote a frame that does not open");
    auto body = wire::decode_body(opened->body);
    check(body.ok(), "engine wrote a body that does not decode");
    // Relayed broadcasts keep their original sender; everything else is ours.
    check(body->msg_type == flags::broadcast || body->sender == node_.id(),
          "engine wrote a message with another sender");
    if (capture_requests_ && body->payload.size() == 3 && body->payload[0] == Value(flags::request))
      if (const auto* rid = body->payload[1].if_str()) {
        request_ids_.push_back(*rid);
        if (request_ids_.size() > 4) request_ids_.erase(request_ids_.begin());
      }
  }

  void check_state() {
    check(node_.connection_count() == conns_.size(),
          "engine and runtime disagree on the open connections");
    const auto table = node_.routing_table();
    check(table.size() <= limits_.max_connections, "routing table over max_connections");
    std::set<ConnId> links;
    for (const auto& p : table) {
      check(p.id != node_.id(), "we are in our own routing table");
      auto it = conns_.find(p.conn);
      check(it != conns_.end() && it->second == State::open, "routing entry without an open link");
      check(!closing_.contains(p.conn), "routing entry on a link being closed");
      check(links.insert(p.conn).second, "two routing entries on one link");
    }
    std::size_t incoming_awaiting = 0;
    const auto awaiting = node_.awaiting();
    for (const auto& a : awaiting) {
      check(conns_.contains(a.conn) && !closing_.contains(a.conn), "awaiting a closed link");
      check(!links.contains(a.conn), "a link both awaiting and in the routing table");
      if (!a.outgoing) ++incoming_awaiting;
    }
    check(incoming_awaiting <= limits_.max_awaiting, "incoming awaiting over max_awaiting");
    // The counts the engine keeps as connections change, against its views, which scan.
    check(node_.awaiting_count() == awaiting.size(), "awaiting_count disagrees with awaiting()");
    std::size_t outgoing = 0;
    for (const auto& a : awaiting) outgoing += a.outgoing;
    for (const auto& p : table) outgoing += p.outgoing;
    check(node_.outgoing_count() == outgoing, "outgoing_count disagrees with the views");
    check(table.size() + awaiting.size() <= limits_.max_connections,
          "live connections over max_connections");
    check(node_.inbound_kept_bytes() <= core::Node::inbound_keep_bytes,
          "the decoding body kept more than inbound_keep_bytes");
    check(node_.seen_cache_size() <= limits_.seen_cache_entries, "seen cache over its bound");
    check(node_.known_peer_count() <= limits_.max_known_peers, "known peers over their bound");

    std::array<std::uint64_t, counter_fields> now_counters{};
    snapshot_counters(now_counters);
    for (std::size_t i = 0; i < counter_fields; ++i)
      check(now_counters[i] >= prev_counters_[i], "a counter went down");
    prev_counters_ = now_counters;
  }

  static constexpr std::size_t counter_fields = sizeof(core::Counters) / sizeof(std::uint64_t);
  static_assert(sizeof(core::Counters) == counter_fields * sizeof(std::uint64_t),
                "Counters is a plain list of uint64");
  void snapshot_counters(std::array<std::uint64_t, counter_fields>& out) const {
    std::memcpy(out.data(), &node_.counters(), sizeof(core::Counters));
  }

  core::Node node_;
  core::Limits limits_;
  Time now_{std::chrono::nanoseconds(0), utc_base};
  std::map<ConnId, State> conns_;
  std::set<ConnId> closing_;  ///< the engine asked to close these; on_closed not yet called
  ConnId max_id_ = 0;
  std::deque<core::Message> delivered_;
  std::vector<std::string> request_ids_;
  bool capture_requests_ = false;
  std::array<std::uint64_t, counter_fields> prev_counters_{};
};

}  // namespace p2p::fuzz
