// p2p::sim::Simulator: many core::Node engines on a virtual clock over virtual links.
//
// No sockets, no threads, no wall clock: a discrete-event loop pops the next event (ordered by
// virtual time, then by scheduling order), feeds it to one node, and executes the commands
// that node leaves in its outbox by scheduling further events. The same seed gives the same
// run, bit for bit (trace_hash() proves it).
//
// The link model, and why it looks like this:
// * Latency: one-way delay per frame, plus a uniform jitter in [0, jitter] drawn from the
//   seeded PRNG. A link stays FIFO like TCP: a frame never overtakes the one sent before it in
//   the same direction (its arrival is clamped to the previous arrival).
// * Bandwidth: each direction of a link is a queue that drains `bandwidth` bytes/s; a frame
//   starts serializing when the previous one has left, so bursts build up real backlog.
// * Loss: TCP never loses a frame, it retransmits. A lost segment therefore shows up as delay:
//   with probability `loss` a frame waits one retransmission timeout (max(min_rto, 2 x RTT));
//   each further loss of the same frame doubles the timeout (exponential backoff, at most 8
//   losses: the frame always arrives in the end), and in-order delivery makes every later
//   frame on that link wait behind it (head-of-line blocking), exactly what an application
//   sees over a lossy TCP path.
// * Partitions: a cut link closes at once on both sides (on_closed, or on_dial_failed for a
//   dial still in progress); frames in flight on it are lost; dials across a cut fail after
//   `dial_timeout` (a SYN into the void), dials to an unknown address are refused after one
//   round trip (RST). heal()/restore() only allow new connections: the nodes must redial.
// * Chunking: with probability `split_probability` a frame is delivered in 2..max_chunks
//   pieces at the same instant, to exercise the engine's frame reader.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broadcast_tracker.hpp"
#include "core/node.hpp"
#include "event_queue.hpp"
#include "p2p/error.hpp"
#include "p2p/flags.hpp"
#include "p2p/value.hpp"
#include "rng.hpp"

namespace p2p::sim {

using namespace std::chrono_literals;

struct LinkModel {
  Duration latency = 5ms;                   ///< one-way propagation delay
  Duration jitter = 0ms;                    ///< extra delay, uniform in [0, jitter]
  std::uint64_t bandwidth_bytes_per_s = 0;  ///< per direction; 0 = unlimited
  double loss = 0.0;                        ///< chance that a frame needs a retransmission
  Duration min_rto = 200ms;                 ///< Linux's minimum retransmission timeout
  double split_probability = 0.0;           ///< chance that a frame arrives in pieces
  std::uint32_t max_chunks = 4;
};

struct SimConfig {
  std::uint64_t seed = 1;
  LinkModel link;
  /// How often every node's tick() runs (each node at its own seeded phase).
  Duration tick_interval = 1s;
  /// UTC seconds at virtual time zero (messages are stamped base_utc + elapsed seconds).
  std::uint64_t base_utc = 1'700'000'000;
  /// How long a dial into a partition takes to fail.
  Duration dial_timeout = 3s;
  /// Keep every delivered Message and raised event (tests); off for big benchmarks.
  bool record = true;
};

/// An EventCmd as a node raised it, with where and when.
struct EventRecord {
  NodeIndex node = 0;
  Duration at{0};
  core::EventCmd event;
};

/// Commands the engine issued that no runtime could execute: each one is an engine bug.
struct Anomalies {
  std::uint64_t unknown_conn = 0;         ///< Send/Close for a ConnId the node never had
  std::uint64_t send_on_closed = 0;       ///< Send after the node closed that connection
  std::uint64_t send_before_connect = 0;  ///< Send on a dial not reported connected yet
  std::uint64_t duplicate_dial_id = 0;    ///< DialCmd reusing a live ConnId
  std::uint64_t total() const noexcept {
    return unknown_conn + send_on_closed + send_before_connect + duplicate_dial_id;
  }
};

struct SimStats {
  std::uint64_t events = 0;
  std::uint64_t frames_sent = 0, bytes_sent = 0;
  std::uint64_t frames_delivered = 0, frames_lost = 0;  ///< lost: link gone before arrival
  std::uint64_t retransmissions = 0;
  std::uint64_t dials = 0, dials_refused = 0, dials_unreachable = 0;
  std::uint64_t closes = 0, links_cut = 0;
  std::uint64_t deliveries = 0;
};

class Simulator {
 public:
  explicit Simulator(SimConfig config = {});
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // ---- the nodes ----
  /// Adds a node. Its id salt and PRNG seed are always derived from the simulation seed and
  /// its index (so runs repeat); an empty out_addr.host gets a unique virtual address
  /// (10.x.y.z:4444). It starts ticking at once.
  NodeIndex add_node(core::NodeConfig config = {});
  std::size_t size() const noexcept { return nodes_.size(); }
  core::Node& node(NodeIndex i) { return *nodes_.at(i).node; }
  const core::Node& node(NodeIndex i) const { return *nodes_.at(i).node; }
  std::optional<NodeIndex> index_of(const core::PeerId& id) const;
  std::optional<NodeIndex> index_of(const core::Address& addr) const;
  static core::Address default_address(NodeIndex i);

  // ---- the clock ----
  Duration elapsed() const noexcept { return now_; }
  core::Time now() const noexcept;
  const SimConfig& config() const noexcept { return config_; }

  // ---- acting as a node's user (each call executes the node's outbox afterwards) ----
  Result<core::ConnId> connect(NodeIndex from, NodeIndex to, bool with_id = false);
  /// Broadcasts `packets` from `from`; returns the index of its report, or an error when the
  /// node refused or had no peer to write it to.
  Result<std::size_t> broadcast(NodeIndex from, const Array& packets,
                                std::uint8_t type = flags::broadcast);
  Status whisper(NodeIndex from, const Array& packets, std::uint8_t type = flags::whisper);
  Status reply(NodeIndex from, const core::Message& to, const Array& packets);
  /// Runs `action` on node `i` with the current time, then executes its outbox. Handlers
  /// registered on a node need not call this: their outbox is executed after on_bytes.
  void act(NodeIndex i, const std::function<void(core::Node&, core::Time)>& action);

  // ---- running ----
  /// Processes one event; false when none is left.
  bool step();
  /// Processes every event due up to and including `t`, then sets the clock to `t`.
  void run_until(Duration t);
  void run_for(Duration d) { run_until(now_ + d); }
  /// Runs until `done()` holds (checked after every event) or `timeout` of virtual time
  /// passes. Returns done().
  bool run_until(const std::function<bool()>& done, Duration timeout);
  /// Runs until no network event is pending (only ticks remain), or `timeout` passes.
  bool run_until_quiet(Duration timeout);
  std::size_t network_events_pending() const noexcept { return network_pending_; }

  // ---- partitions ----
  /// Splits the nodes into groups that cannot reach each other; nodes not listed form one
  /// more group together. Links across groups are cut at once.
  void partition(const std::vector<std::vector<NodeIndex>>& groups);
  /// Cuts / restores the path between two nodes.
  void cut(NodeIndex a, NodeIndex b);
  void restore(NodeIndex a, NodeIndex b);
  /// Removes every partition and cut.
  void heal();
  bool reachable(NodeIndex a, NodeIndex b) const;

  // ---- observations ----
  /// Messages delivered to node `i`'s user (only with SimConfig::record).
  const std::vector<core::Message>& inbox(NodeIndex i) const { return nodes_.at(i).inbox; }
  /// Virtual time of each inbox entry (same order, same condition).
  const std::vector<Duration>& inbox_times(NodeIndex i) const { return nodes_.at(i).inbox_times; }
  std::uint64_t delivered_count(NodeIndex i) const { return nodes_.at(i).delivered; }
  const std::vector<EventRecord>& events() const noexcept { return events_; }
  /// Undirected edges: routing-table entries of all nodes / 2.
  std::size_t edges() const;
  std::size_t broadcast_count() const noexcept { return tracker_.size(); }
  BroadcastReport report(std::size_t b) const { return tracker_.report(b, nodes_.size()); }
  std::vector<BroadcastReport> reports() const;
  std::optional<std::size_t> find_broadcast(const wire::Digest256& id) const {
    return tracker_.find(id);
  }
  /// Cross-checks the engines against the network, for use when quiet: every node's
  /// connection count matches the links open at it, and every routing-table entry rides an
  /// open link to the node with that id, which lists us back on the same link. Returns one
  /// line per violation (empty: consistent).
  std::vector<std::string> audit() const;
  /// Order-sensitive hash of everything that happened: same seed, same hash.
  std::uint64_t trace_hash() const noexcept { return trace_; }
  const SimStats& stats() const noexcept { return stats_; }
  const Anomalies& anomalies() const noexcept { return anomalies_; }
  std::uint64_t unreadable_frames() const noexcept { return tracker_.unreadable_frames(); }

 private:
  enum class EndState : std::uint8_t { none, dialing, open, closed };
  struct Endpoint {
    NodeIndex node = 0;
    core::ConnId conn = 0;
    EndState state = EndState::none;
  };
  /// One virtual TCP connection. Side 0 dialed, side 1 accepted. Direction d carries bytes
  /// towards side d.
  struct Link {
    Endpoint end[2];
    Duration queue_free[2]{};    ///< when direction d's sender queue is empty again
    Duration last_arrival[2]{};  ///< arrival of the last frame sent in direction d
    Duration dialed_at{0};
    bool cut = false;
    std::string reason;           ///< why side 0's dial failed, or why the link was cut
    std::string local_reason[2];  ///< the reason of side d's own CloseCmd
  };
  struct SimNode {
    std::unique_ptr<core::Node> node;
    std::unordered_map<core::ConnId, std::uint32_t> links;  ///< ConnId -> link index
    std::vector<core::Message> inbox;
    std::vector<Duration> inbox_times;
    std::uint64_t delivered = 0;
    std::uint32_t group = 0;  ///< partition group
  };

  void schedule(Event e);
  void dispatch(Event& e);
  void flush(NodeIndex i);
  void execute(NodeIndex i, core::Command& cmd);
  void on_send(NodeIndex i, core::SendCmd& cmd);
  void on_dial(NodeIndex i, core::DialCmd& cmd);
  void on_close(NodeIndex i, core::CloseCmd& cmd);
  void on_incoming(std::uint32_t link);
  /// Tells side `side` its connection is gone (on_dial_failed if it never connected).
  void notify_gone(std::uint32_t link, int side, const std::string& reason);
  void cut_links_across();
  /// Latency plus a jitter draw: the delay of a bare packet (SYN, FIN).
  Duration propagation();
  /// When a frame of `bytes` written now in direction `dir` arrives (queueing, serialization,
  /// propagation, retransmissions), kept FIFO with the frames before it.
  Duration arrival_time(std::size_t bytes, Link& link, int dir);
  int side_of(const Link& link, NodeIndex node, core::ConnId conn) const;
  void trace(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);

  SimConfig config_;
  Rng rng_;
  EventQueue queue_;
  Duration now_{0};
  std::size_t network_pending_ = 0;
  std::vector<SimNode> nodes_;
  std::vector<Link> links_;
  std::unordered_map<std::string, NodeIndex> by_address_;
  std::unordered_map<core::PeerId, NodeIndex> by_id_;
  std::set<std::pair<NodeIndex, NodeIndex>> cuts_;
  std::uint16_t next_ephemeral_ = 0;
  BroadcastTracker tracker_;
  std::vector<EventRecord> events_;
  SimStats stats_;
  Anomalies anomalies_;
  std::uint64_t trace_ = 0;
};

}  // namespace p2p::sim
