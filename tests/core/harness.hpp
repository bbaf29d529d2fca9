// Test harnesses for the sans-I/O core: an in-memory network that moves bytes between
// engines instantly, and a scripted raw peer that speaks the wire format by hand.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "p2p/flags.hpp"
#include "p2p/wire/frame.hpp"
#include "p2p/wire/message.hpp"

namespace p2p::test {

using core::Address;
using core::ConnId;
using core::Node;
using core::NodeConfig;
using core::Time;

inline Time at_seconds(double s, std::uint64_t utc_base = 1'800'000'000) {
  return Time{std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)),
              utc_base + static_cast<std::uint64_t>(s)};
}

inline NodeConfig config_for(std::uint16_t port, std::string subnet = "mesh") {
  NodeConfig c;
  c.protocol = Protocol(std::move(subnet), "Plaintext");
  c.out_addr = Address{"10.0.0.1", port};
  c.id_salt = "salt-" + std::to_string(port);
  c.seed = port;
  return c;
}

/// The counts a node keeps as its connections change (awaiting_count, outgoing_count) agree
/// with its views, which scan the connections.
inline void expect_counts_match_views(const Node& n) {
  const auto awaiting = n.awaiting();
  std::size_t outgoing = 0;
  for (const auto& p : awaiting) outgoing += p.outgoing;
  for (const auto& p : n.routing_table()) outgoing += p.outgoing;
  EXPECT_EQ(n.awaiting_count(), awaiting.size());
  EXPECT_EQ(n.outgoing_count(), outgoing);
}

/// Engines connected by perfect, instant, in-order links. `pump()` executes every outbox
/// until nothing moves; delivered messages and events are kept per node.
class MemNet {
 public:
  struct Entry {
    std::unique_ptr<Node> node;
    std::vector<core::Message> delivered;
    std::vector<core::EventCmd> events;
    std::map<ConnId, std::pair<std::size_t, ConnId>> links;  // our conn -> (node, their conn)
    std::uint64_t frames_sent = 0;
  };

  std::size_t add(NodeConfig cfg) {
    nodes_.push_back(Entry{std::make_unique<Node>(std::move(cfg)), {}, {}, {}, 0});
    return nodes_.size() - 1;
  }
  Node& node(std::size_t i) { return *nodes_.at(i).node; }
  Entry& entry(std::size_t i) { return nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }
  Time now() const { return now_; }
  void advance(double seconds) {
    now_ = Time{now_.mono + std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9)),
                now_.utc + static_cast<std::uint64_t>(seconds)};
  }

  void connect(std::size_t from, std::size_t to) {
    auto r = node(from).connect(node(to).out_addr(), std::nullopt, now_);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    pump();
  }

  void tick_all() {
    for (auto& e : nodes_) e.node->tick(now_);
    pump();
  }

  /// Runs every outbox until quiet; bounded so a livelock fails the test instead of hanging.
  void pump(std::size_t max_rounds = 100000) {
    for (std::size_t round = 0; round < max_rounds; ++round) {
      bool moved = false;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        auto cmds = nodes_[i].node->take_outbox();
        if (!cmds.empty()) moved = true;
        for (auto& cmd : cmds) execute(i, cmd);
      }
      if (!moved) {
        expect_counts_match_views();
        return;
      }
    }
    FAIL() << "network did not settle";
  }

  // Checked whenever the network settles, so every scenario of these tests exercises them.
  void expect_counts_match_views() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      SCOPED_TRACE("node " + std::to_string(i));
      p2p::test::expect_counts_match_views(*nodes_[i].node);
    }
  }

 private:
  std::optional<std::size_t> by_addr(const Address& a) {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].node->out_addr() == a) return i;
    return std::nullopt;
  }

  void execute(std::size_t i, core::Command& cmd) {
    Entry& e = nodes_[i];
    if (auto* s = std::get_if<core::SendCmd>(&cmd)) {
      auto it = e.links.find(s->conn);
      if (it == e.links.end()) return;
      ++e.frames_sent;
      nodes_[it->second.first].node->on_bytes(it->second.second, *s->frame, now_);
    } else if (auto* d = std::get_if<core::DialCmd>(&cmd)) {
      auto target = by_addr(d->addr);
      if (!target) {
        e.node->on_dial_failed(d->conn, "no such address", now_);
        return;
      }
      const ConnId theirs = node(*target).on_incoming(e.node->out_addr(), now_);
      e.links[d->conn] = {*target, theirs};
      nodes_[*target].links[theirs] = {i, d->conn};
      e.node->on_dial_connected(d->conn, now_);
    } else if (auto* c = std::get_if<core::CloseCmd>(&cmd)) {
      auto it = e.links.find(c->conn);
      if (it != e.links.end()) {
        auto [other, their_conn] = it->second;
        e.links.erase(it);
        nodes_[other].links.erase(their_conn);
        nodes_[other].node->on_closed(their_conn, "peer closed", now_);
      }
      e.node->on_closed(c->conn, c->reason, now_);
    } else if (auto* m = std::get_if<core::DeliverCmd>(&cmd)) {
      e.delivered.push_back(m->msg);
    } else if (auto* ev = std::get_if<core::EventCmd>(&cmd)) {
      e.events.push_back(*ev);
    }
  }

  std::deque<Entry> nodes_;
  Time now_ = at_seconds(0);
};

/// A hand-driven peer: builds frames with the wire layer and reads what a Node sends it.
struct RawPeer {
  std::string id = "RawPeerId1111111111111111111111111111111111111111111111111111111";
  bool id_bin = false;
  std::vector<std::uint8_t> methods;  // what we advertise (none: raw frames)

  Value id_value() const { return id_bin ? Value::bin(as_bytes(id)) : Value(id); }

  Bytes frame(std::uint8_t flag, Array payload, std::uint64_t time,
              std::optional<wire::Compression> method = std::nullopt) const {
    Array body{Value(flag), id_value(), Value(time)};
    body.insert(body.end(), payload.begin(), payload.end());
    return wire::make_frame(wire::encode(Value(body)), method).value();
  }

  Bytes handshake(const std::string& protocol_id, std::uint64_t time,
                  Address addr = {"10.9.9.9", 9999}) const {
    Array m;
    for (auto f : methods) m.emplace_back(f);
    return frame(flags::whisper,
                 {Value(flags::handshake), id_value(), Value(protocol_id),
                  Value::array({Value(addr.host), Value(addr.port)}), Value(m)},
                 time);
  }
};

/// Splits a stream of frames a Node wrote into decoded bodies (raw frames only unless
/// `methods` says how to open them).
inline std::vector<wire::Body> decode_frames(const std::vector<Bytes>& frames,
                                             std::vector<wire::Compression> methods = {}) {
  std::vector<wire::Body> out;
  wire::FrameReader reader(64u << 20);
  for (const auto& f : frames) {
    auto st = reader.feed(f, [&](ByteView content) {
      auto opened = wire::open_frame(content, methods, 64u << 20);
      EXPECT_TRUE(opened.ok());
      if (!opened) return;
      auto body = wire::decode_body(opened->body);
      EXPECT_TRUE(body.ok());
      if (body) out.push_back(std::move(body).value());
    });
    EXPECT_TRUE(st.ok());
  }
  return out;
}

/// The frames among `cmds` that go to one connection, in order.
inline std::vector<Bytes> sent_on(const std::vector<core::Command>& cmds, ConnId conn) {
  std::vector<Bytes> out;
  for (auto& c : cmds)
    if (auto* s = std::get_if<core::SendCmd>(&c); s && s->conn == conn) out.push_back(*s->frame);
  return out;
}

template <class T>
std::vector<T> of_kind(const std::vector<core::Command>& cmds) {
  std::vector<T> out;
  for (auto& c : cmds)
    if (auto* x = std::get_if<T>(&c)) out.push_back(*x);
  return out;
}

}  // namespace p2p::test
